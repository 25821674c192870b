"""Thin on purpose: fixtures live in tests/fixtures and load as plugins."""

pytest_plugins = [
    "pytester",  # tests/unit/test_tiers.py runs the tier rules on small generated suites
    "tests.fixtures.hypothesis_profiles",  # before any test module builds its settings
    "tests.fixtures.tiers",
    "tests.fixtures.services",
    "tests.fixtures.databases",
    "tests.fixtures.redis_store",
    "tests.fixtures.opendsr_processor",
    "tests.fixtures.stack",
    "tests.fixtures.timeskip",
    "tests.fixtures.lifecycle",
    "tests.fixtures.mailbox",
    "tests.fixtures.activities",
    "tests.fixtures.browser",
    "tests.fixtures.console_stack",
]
