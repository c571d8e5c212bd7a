"""Routing service: decides who owns every thread (AI agent, a human, or nobody)."""
