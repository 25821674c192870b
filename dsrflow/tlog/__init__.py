"""The controller's append-only transparency log of evidence envelopes (RFC 9162, C2SP).

``merkle`` and ``checkpoint`` are pure (standard library and ``cryptography``): the offline
verifier uses them. ``store`` keeps the log in the ledger database and imports SQLAlchemy, so
nothing here imports it at package level.
"""
