"""The application layer: every use case of dsrflow, behind one door.

Each use case is one object (``Submit``, ``Decide``, ``ShowRequest``, ``DownloadResult``,
``Purge``, ``CompleteTask``, ``TestStores``...) that validates its input, authorises a
:class:`~dsrflow.service.principal.Principal`, performs the operation and writes the audit entry,
in that order and in one place. The CLI (and the coming HTTP API and console) are thin adapters:
they parse, build a principal, call a use case and render what it returns; none of them writes an
audit entry or touches a ledger row. See ``docs/architecture.md`` ("The application layer").

This package's ``__init__`` stays import-free, so importing one use case loads only what it needs.
"""
