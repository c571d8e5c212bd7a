"""conversation: Grounded answers with citations in the visitor's language."""
