"""The CLI's acting person when none is configured (``--actor``, ``DSRFLOW_ACTOR``)."""

from __future__ import annotations


def local_actor() -> str:
    """The operating-system user as an actor id (``local:NAME``)."""
    import getpass
    import re

    return "local:" + (re.sub(r"[^A-Za-z0-9._@+-]", "_", getpass.getuser())[:98] or "user")
