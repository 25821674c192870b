"""Scan one Redis store for personal data: SCAN the keyspace under its prefix, sample values.

Keys are grouped by *shape*: the first segment after the store's ``key_prefix`` when it is a
plain word (``session``, ``user``), every other segment ``*`` (``user:*:*``), so a report never
names a key (a key may hold an e-mail). A shape is ``mapped`` when its keys match one of the
catalog's key templates. Per shape, up to ``sample_rows`` keys are read: a string's value, a
hash's fields (each field a "column"), up to 50 members of a list, set or sorted set, and the
key's own segments (``(key)``). SCAN only (never KEYS), at most ``max_rows`` keys per store.
"""

from __future__ import annotations

import fnmatch
import re
import time
from typing import Any

import redis.exceptions as rex

from dsrflow.adapters.redis.adapter import RedisAdapter
from dsrflow.adapters.redis.config import RedisConfig
from dsrflow.adapters.sdk import AdapterContext
from dsrflow.catalog.model import StoreEntry
from dsrflow.discovery.report import WORD, Budget, StoreScan, group_report

_MEMBERS = 50
_MAX_FIELDS = 100
_MAX_VALUE = 20_000


def shape(key: str) -> str:
    """The key's shape: a plain first word kept, every other segment ``*``."""
    first, *rest = key.split(":")
    return ":".join([first if WORD.fullmatch(first) else "*", *("*" for _ in rest)])


def _text(value: Any) -> str:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return raw[:_MAX_VALUE].decode("utf-8", "replace")


def scan_redis_store(
    entry: StoreEntry, ctx: AdapterContext, budget: Budget, *, min_confidence: float
) -> StoreScan:
    """The coverage report of one Redis store (``entry.config`` is the Redis adapter's)."""
    config = entry.config
    assert isinstance(config, RedisConfig)
    adapter = RedisAdapter.create(config, ctx)
    prefix = config.key_prefix
    globs = [re.sub(r"\{[^}]*\}", "*", c.keys) for c in config.collections.values()]
    started, scanned, commands = time.monotonic(), 0, 0
    groups: dict[str, list[bytes]] = {}
    mapped: dict[str, bool] = {}
    try:
        client = adapter.client
        pattern = prefix.replace("*", r"\*").replace("?", r"\?") + "*"
        for key in client.scan_iter(match=pattern, count=config.batch_size):
            scanned += 1
            name = _text(key)[len(prefix) :]
            group = shape(name)
            mapped[group] = mapped.get(group, False) or any(
                fnmatch.fnmatchcase(name, g) for g in globs
            )
            if len(groups.setdefault(group, [])) < budget.sample_rows:
                groups[group].append(key)
            if scanned >= budget.max_rows or time.monotonic() - started > budget.max_seconds:
                break
        tables = []
        for group in sorted(groups):
            columns: dict[str, list[str]] = {}
            if not mapped[group]:
                for key in groups[group]:
                    commands += 1
                    _read(client, key, prefix, columns)
            tables.append(group_report(entry, "keys", group, columns, mapped[group],
                                       len(groups[group]), min_confidence))  # fmt: skip
    except rex.RedisError as exc:  # the class only: a message may quote a key
        return StoreScan(entry.name, "redis", error=f"store {entry.name!r}: "
                         f"{type(exc).__name__} while scanning")  # fmt: skip
    finally:
        adapter.close()
    used = Budget(
        max_rows=budget.max_rows, max_seconds=budget.max_seconds, sample_rows=budget.sample_rows,
        statement_timeout_s=budget.statement_timeout_s, rows_read=scanned,
        seconds=round(time.monotonic() - started, 3), statements=commands,
    )  # fmt: skip
    return StoreScan(entry.name, "redis", tuple(tables), used)


def _read(client: Any, key: bytes, prefix: str, columns: dict[str, list[str]]) -> None:
    kind = _text(client.type(key))
    segments = _text(key)[len(prefix) :].split(":")[1:]
    columns.setdefault("(key)", []).extend(segments)
    if kind == "string":
        columns.setdefault("(value)", []).append(_text(client.get(key)))
    elif kind == "hash":
        for i, (field, value) in enumerate(client.hscan_iter(key, count=_MAX_FIELDS)):
            if i >= _MAX_FIELDS:
                break
            columns.setdefault(_text(field), []).append(_text(value))
    elif kind in ("list", "set", "zset"):
        members = (
            client.lrange(key, 0, _MEMBERS - 1) if kind == "list"
            else client.srandmember(key, _MEMBERS) if kind == "set"
            else client.zrange(key, 0, _MEMBERS - 1)
        )  # fmt: skip
        columns.setdefault("(members)", []).extend(_text(m) for m in members or [])
