"""Contracts and plumbing shared by the Customer Agent services.

Nothing here knows a service's tables or business rules: event schemas, topic
names, settings, clients, reliable messaging and observability only.
"""
