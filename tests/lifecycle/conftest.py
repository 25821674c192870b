"""Lifecycle-only fixtures (the shared ones load as plugins from tests/conftest.py)."""

from tests.lifecycle.stand_ins import checks_harness  # noqa: F401
