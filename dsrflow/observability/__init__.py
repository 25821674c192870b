"""Metrics, health endpoints and tracing (docs/operations.md, "Observability").

Wired by the composition root (``dsrflow.runtime``); nothing here reads settings itself.
"""
