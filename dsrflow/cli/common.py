"""Shared CLI plumbing: the lazily built runtime, output helpers.

Imported by every command, so it imports only what every command needs (asyncio, settings and
logging are loaded by the commands that use them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from dsrflow.cli.actor import local_actor as _local_actor
from dsrflow.cli.output import err as err
from dsrflow.cli.output import error as error
from dsrflow.cli.output import out as out

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime
    from dsrflow.service.principal import Principal

T = TypeVar("T")


@dataclass
class CliState:
    """Global options, turned into a ``Runtime`` the first time a command needs one."""

    overrides: dict[str, str] = field(default_factory=dict)
    actor: str | None = None
    migrate_ledger: bool = False
    _runtime: Runtime | None = None

    def runtime(self) -> Runtime:
        """The process's composition root (``Settings.load`` happens here, once)."""
        if self._runtime is None:
            from dsrflow.logging import configure
            from dsrflow.runtime import Runtime
            from dsrflow.settings import Settings

            env = {**os.environ, **self.overrides}
            settings = Settings.load(env)
            configure(settings.log.format, settings.log.level)
            self._runtime = Runtime(settings, env, migrate_ledger=self.migrate_ledger)
        return self._runtime

    def who(self) -> str:
        """The acting person for the audit log (``--actor``, ``DSRFLOW_ACTOR``, the OS user)."""
        return self.actor or self.runtime().settings.actor or _local_actor()

    def principal(self) -> Principal:
        """The CLI's caller: ``--actor``/``DSRFLOW_ACTOR``, roles from ``DSRFLOW_ROLES``.

        The CLI is the local operator's tool (whoever runs it can read the state folder), so
        its principal holds ``admin`` unless ``DSRFLOW_ROLES`` narrows it (comma-separated).
        """
        from dsrflow.service.principal import Principal

        return Principal.of(self.who(), self.runtime().settings.roles.split(","))


def state(ctx: typer.Context) -> CliState:
    """The CLI state from a Typer context."""
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion."""
    import asyncio

    return asyncio.run(coro)


def is_tty() -> bool:
    """Whether stdout is an interactive terminal."""
    return sys.stdout.isatty()
