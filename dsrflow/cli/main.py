"""Entry point of the ``dsrflow`` command.

The plain forms of ``request list`` and ``request show ID`` start fast (``dsrflow.cli.fast``:
no Typer, no SQLAlchemy, no pydantic); every other command line goes to the Typer app
(``dsrflow.cli.app``), which imports a command's module only when that command runs. Both paths
raise the same errors into the same handler here, so they print and exit alike.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from dsrflow.cli import fast
from dsrflow.errors import UserError

_APP_NAMES = frozenset({"app", "_COMMANDS", "MIGRATING_COMMANDS", "_LazyGroup"})


def __getattr__(name: str) -> Any:
    # The Typer app and its tables, for callers of their old home (tests, docs tooling).
    if name in _APP_NAMES:
        from dsrflow.cli import app as app_module

        return getattr(app_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI; user errors print one line and exit non-zero, never a stack trace."""
    try:
        code = fast.run(sys.argv[1:])
        if code is None:  # not a form the fast start handles: the whole Typer app
            from dsrflow.cli.app import app

            app(prog_name="dsrflow")
        else:
            sys.exit(code)
    except UserError as exc:
        from dsrflow.cli import output  # Rich's console: imported only to print an error

        output.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        from dsrflow.cli import output

        output.error("interrupted")
        sys.exit(130)
    except ModuleNotFoundError as exc:
        # The base install carries only what offline verification needs (docs/evidence-format.md).
        from dsrflow.cli import output

        output.error(
            f"this command needs the orchestrator stack (missing module {exc.name!r}); "
            "install it with: pip install 'dsrflow[server]'"
        )
        sys.exit(2)
    except Exception as exc:  # a bug: say so briefly, trace only on request
        # Read here, not from Settings: settings may be what failed, and the verifier's base
        # install has no pydantic. Same meaning as the ``debug`` setting.
        if os.environ.get("DSRFLOW_DEBUG", "").lower() not in ("", "0", "false", "no", "off"):
            raise
        from dsrflow.cli import output
        from dsrflow.redact import first_line

        output.error(
            f"internal error: {type(exc).__name__}: {first_line(str(exc))} "
            "(set DSRFLOW_DEBUG=1 for a trace)"
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
