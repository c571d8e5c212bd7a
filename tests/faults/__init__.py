"""The randomized fault harness (issue 27): traffic under seeded faults, a recorder and a checker."""
