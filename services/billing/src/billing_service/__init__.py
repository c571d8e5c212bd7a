"""billing: Credit ledger, plans, exhaustion and restoration."""
