"""Audit categories: what kind of thing an audit entry records, for the people who read it.

``decision`` a person changed a request (submit, approve, retry a store...); ``view`` someone
looked at a request or a subject's data; ``download`` someone took a result away; ``decode`` the
codec server showed Temporal payloads to someone (or refused to); ``system`` everything else
(purge, key changes, store tests without a subject).

The ledger owns them because it stores and classifies the entries (``Ledger.audit``, migration
0003); the application layer uses them as ``dsrflow.service.categories``.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The category of an audit entry."""

    DECISION = "decision"
    VIEW = "view"
    DOWNLOAD = "download"
    DECODE = "decode"
    SYSTEM = "system"


DECISIONS = frozenset(
    {
        "submit",
        "verify_identity",
        "approve",
        "deny",
        "extend",
        "cancel",
        "hold",
        "release",
        "retry_store",
        "skip_store",
        "exempt_store",
        "complete_task",
    }
)


def category_for(action: str) -> str:
    """The category of an action written without one (older entries, the codec server).

    Args:
        action: The audit entry's action name.

    Returns:
        The category's value.
    """
    if action in DECISIONS:
        return Category.DECISION.value
    if action == "view":
        return Category.VIEW.value
    if action == "download":
        return Category.DOWNLOAD.value
    if action.startswith("codec_"):
        return Category.DECODE.value
    return Category.SYSTEM.value
