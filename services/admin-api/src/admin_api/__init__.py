"""admin-api: Accounts, keys, agent profile, sources, channels, handoff, users, credits, audit."""
