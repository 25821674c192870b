"""The tier rules (tests/fixtures/tiers.py) on small generated suites, run in this process."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest

pytest_plugins = ["tests.fixtures.tiers"]


@pytest.fixture
def pg_schema():  # named like the real fixture: the name is what marks a test
    return "t_fake"
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for folder in ("tests/unit", "tests/integration", "tests/replay"):
        (pytester.path / folder).mkdir(parents=True)
    return pytester


def _write(pytester: pytest.Pytester, path: str, source: str) -> None:
    (pytester.path / path).write_text(source)


def test_a_unit_test_that_starts_a_process_fails_even_if_it_swallows_the_error(
    suite: pytest.Pytester,
) -> None:
    _write(
        suite,
        "tests/unit/test_spawns.py",
        """
import asyncio, os, subprocess, sys

def test_run():
    subprocess.run([sys.executable, "-c", "pass"], check=True)

def test_swallowed():
    try:
        os.system("true")
    except Exception:
        pass

def test_async_subprocess():
    async def go():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await proc.wait()
    asyncio.run(go())

def test_in_process():
    assert sum([1, 2]) == 3
""",
    )
    _write(
        suite,
        "tests/integration/test_may_spawn.py",
        """
import subprocess, sys

def test_run():
    assert subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True,
                          text=True).stdout == "7\\n"
""",
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)  # the integration test may start one
    result.stdout.fnmatch_lines(["*SubprocessInFastTier: started a process: *-c pass): unit *"])
    result.stdout.fnmatch_lines(["*test_swallowed (call) started a process: system(true)*"])


def test_a_service_fixture_marks_the_test_and_is_refused_in_the_fast_tiers(
    suite: pytest.Pytester,
) -> None:
    body = "def test_db(pg_schema):\n    assert pg_schema\n\ndef test_plain():\n    pass\n"
    _write(suite, "tests/integration/test_db.py", body)
    _write(suite, "tests/unit/test_db_in_unit.py", body)
    selected = suite.runpytest("-p", "no:cacheprovider", "-m", "postgres", "tests/integration")
    selected.assert_outcomes(passed=1, deselected=1)
    unit = suite.runpytest("-p", "no:cacheprovider", "tests/unit")
    unit.assert_outcomes(passed=1, errors=1)
    unit.stdout.fnmatch_lines(["*a unit test may not use postgres*move it to tests/integration*"])


def test_the_folder_gives_the_tier(suite: pytest.Pytester) -> None:
    for folder in ("unit", "integration", "replay"):
        _write(suite, f"tests/{folder}/test_{folder}_tier.py", "def test_it():\n    pass\n")
    fast = suite.runpytest("-p", "no:cacheprovider", "-m", "unit or replay")
    fast.assert_outcomes(passed=2, deselected=1)


def test_reaching_a_service_needs_its_marker(suite: pytest.Pytester) -> None:
    _write(
        suite,
        "tests/integration/test_reach.py",
        """
import pytest
from tests.fixtures.tiers import check_marked

def test_unmarked():
    check_marked("redis")

@pytest.mark.redis
def test_marked():
    check_marked("redis")

@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def engine(request):
    if request.param == "redis":
        check_marked("redis")
    return request.param

def test_per_param(engine):
    assert engine
""",
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked uses redis but is not marked @pytest.mark.redis*"])
