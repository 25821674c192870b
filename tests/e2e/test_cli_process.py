"""What only a fresh process shows: the installed console script's imports, exit codes and
output (the unit tests run the same entry point in-process, ``tests/fixtures/cli.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The console script the distribution installs; ``-m`` where this interpreter has none.
_SCRIPT = Path(sys.executable).parent / "dsrflow"
DSRFLOW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "dsrflow.cli.main"]
# A log line of structlog's console renderer, stdlib logging or Alembic's own messages.
LOG_LINE = re.compile(r"\[(debug|info|warning)\s*\]|\bINFO\b|alembic|Running upgrade|Context impl")


def run(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSRFLOW_STATE_DIR": str(state), "DSRFLOW_LOG_LEVEL": "info",
           "DSRFLOW_ENV_FILE": os.devnull, "DSRFLOW_ACTOR": "staff:test"}  # fmt: skip
    return subprocess.run(
        [*DSRFLOW, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_verify_imports_no_orchestrator_stack() -> None:
    """The offline verifier path must not pull in Temporal, SQLAlchemy or a web framework."""
    code = (
        "import sys\n"
        "from dsrflow.cli import main\n"
        "from dsrflow.verify import verify_bundle\n"
        "from dsrflow.verify.consistency import verify_consistency\n"
        "heavy = [m for m in ('temporalio', 'sqlalchemy', 'fastapi', 'starlette', 'dsrflow.ledger',"
        " 'dsrflow.tlog.store', 'jinja2', 'structlog', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_fresh_processes_print_no_log_lines_and_exit_with_codes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    behind = run(state, "request", "list")
    assert behind.returncode == 2 and behind.stderr.startswith("error: ledger "), behind.stderr
    runs = [
        run(state, "ledger", "upgrade"),
        run(state, "request", "list"),
        run(state, "keys", "init"),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    for r in [behind, *runs]:
        assert not LOG_LINE.search(r.stdout + r.stderr), (r.args, r.stdout + r.stderr)
        assert "Traceback" not in r.stderr


def test_list_and_show_start_without_the_heavy_stack(tmp_path: Path) -> None:
    """The fast start (``cli/fast.py``): a plain list imports no SQLAlchemy, Typer, pydantic or
    Rich (docs/benchmarks.md, "CLI start-up"); its errors need Rich's console only."""
    state = tmp_path / "state"
    assert run(state, "ledger", "upgrade").returncode == 0
    code = (
        "import atexit, sys\n"
        "heavy = ('sqlalchemy', 'typer', 'pydantic', 'pydantic_settings', 'rich', 'structlog')\n"
        "atexit.register(lambda: print('heavy:' + ','.join(m for m in heavy if m in sys.modules),"
        " file=sys.stderr))\n"
        "sys.argv = ['dsrflow', *sys.argv[1:]]\n"
        "from dsrflow.cli.main import main\n"
        "main()\n"
    )
    env = {**os.environ, "DSRFLOW_STATE_DIR": str(state), "DSRFLOW_ENV_FILE": os.devnull,
           "DSRFLOW_ACTOR": "staff:test"}  # fmt: skip
    for args in (["request", "list"], ["request", "show", "dsr-none"]):
        r = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
            timeout=60, check=False,
        )  # fmt: skip
        [loaded] = [x[6:] for x in r.stderr.splitlines() if x.startswith("heavy:")]
        # An error is printed through Rich's console (the only heavy import it may need).
        assert loaded == ("" if args[1] == "list" else "rich"), r.stderr
        assert r.returncode == (0 if args[1] == "list" else 2), r.stderr
    assert "┃ request ┃" in run(state, "request", "list").stdout


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"]])
def test_console_script_help(args: list[str], tmp_path: Path) -> None:
    r = run(tmp_path, *args)
    assert r.returncode == 0 and "Usage: dsrflow" in r.stdout, r.stdout + r.stderr
