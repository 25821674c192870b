"""The adapter conformance kit: one test suite every adapter runs against its real store.

Like SQLAlchemy's ``testing.suite``: subclass ``AdapterConformance`` in your test module, give it
a ``harness`` fixture that seeds subjects in a real store, and pytest collects every check. See
``docs/writing-an-adapter.md``.
"""

from dsrflow.adapters.testing.suite import AdapterConformance, Harness, Seeded

__all__ = ["AdapterConformance", "Harness", "Seeded"]
