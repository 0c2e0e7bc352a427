"""Workflows that touch several tables, commit or publish; called by routes, the ingester and CLI."""
