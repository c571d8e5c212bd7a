"""Root pytest configuration: shared fixtures for the real local stack."""

pytest_plugins = ["customer_agent_shared.testing.fixtures"]
