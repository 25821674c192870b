"""Temporal activities: all I/O (adapters, ledger, artifacts, evidence) happens here.

Activity classes take their collaborators through the constructor; the worker (composition root)
builds them once. Each activity takes one frozen dataclass and returns one.
"""
