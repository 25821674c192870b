"""The Redis store's independent residual sweep: SCAN every key under the prefix, read every value.

It does not use the catalog's key templates to decide where to look. It SCANs (never KEYS) the
keyspace under the store's ``key_prefix`` (the whole database when there is none), at most
``max_keys`` keys, and looks for the subject's strong identifiers, case-insensitively, in key
names and in values: strings, hash fields and values, list, set and sorted-set members. A value
that is a whole phone number also matches by its E.164 form. It reports counts of keys per
location (``keys:<prefix>*``, ``values:<type>``), never a key or a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis

from dsrflow.adapters.sdk import Subject, SweepBudget
from dsrflow.adapters.sdk.sweeping import NO_STRONG_IDENTIFIER, normalize, searchable
from dsrflow.adapters.sdk.sweeps import SweepExclusion, SweepHit, SweepReport

METHOD = "redis-scan"
_TYPES = ("string", "hash", "list", "set", "zset")
_CHUNK = 500
_PHONE_MAX = 40
_NAMES = "names"  # a longer value is text, not a phone number


class Finder:
    """Which strong kinds a piece of text holds (case-insensitive substring; phone as E.164)."""

    def __init__(self, found: dict[str, tuple[str, tuple[str, ...]]], country: str | None):
        self.found = found
        self.country = country
        self.lowered = {k: tuple(v.lower() for v in vals) for k, (_, vals) in found.items()}

    def kinds_in(self, text: str) -> set[str]:
        """The kinds whose value occurs in ``text``."""
        low = text.lower()
        out = {k for k, vals in self.lowered.items() if any(v in low for v in vals)}
        for kind, (mode, vals) in self.found.items():
            short = mode == "phone" and kind not in out and len(text) <= _PHONE_MAX
            if short and normalize("phone", text, self.country) in vals:
                out.add(kind)
        return out

    def rules(self) -> list[str]:
        """The match rules, for the report."""
        out = [f"{k}: key name or value contains value (case-insensitive)" for k in self.found]
        out += [f"{k}: whole value in E.164 form = value" for k, (m, _) in self.found.items()
                if m == "phone"]  # fmt: skip
        return out


def sweep_redis(
    client: redis.Redis,
    *,
    store: str,
    prefix: str,
    subject: Subject,
    budget: SweepBudget,
    kinds: Any = None,
    accounted: set[bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepReport:
    """SCAN the keyspace under ``prefix`` for the subject's strong identifiers.

    Args:
        client: A redis-py client (``decode_responses=False``).
        store: The store's name.
        prefix: The store's key prefix ('' = the whole database).
        subject: The subject (only strong kinds are searched).
        budget: ``max_keys`` bounds the scan; ``max_bytes`` bounds one string value.
        kinds: The catalog's identity-kind registry, when known.
        accounted: Keys the caller accounts for (after an access: the keys the package
            holds); their hits are recorded as exclusions (``accessed``).
        progress: Called with the number of keys scanned so far.

    """
    found = searchable(subject, kinds)
    finder = Finder(found, getattr(kinds, "default_country_code", None))
    pattern = _glob_escape(prefix) + "*"
    rules = [*finder.rules(), f"SCAN MATCH {prefix}* (at most {budget.max_keys} keys)"]
    if not found:
        return SweepReport(store, METHOD, not_swept=[NO_STRONG_IDENTIFIER], rules=rules)
    counts: dict[tuple[str, str], int] = {}
    kept: dict[tuple[str, str], int] = {}
    not_swept: dict[str, int] = {}
    for scanned, key in enumerate(client.scan_iter(match=pattern, count=_CHUNK), 1):
        if scanned > budget.max_keys:
            not_swept[f"keys:{prefix}*: more than max_keys ({budget.max_keys}) keys"] = 0
            break
        where = _hits_of_key(client, key, finder, budget, not_swept)
        target = kept if accounted and key in accounted else counts
        for loc, kind in where:
            loc_kind = (f"keys:{prefix}*" if loc == _NAMES else loc, kind)
            target[loc_kind] = target.get(loc_kind, 0) + 1
        if progress is not None and scanned % 1000 == 0:
            progress(scanned)
    names = f"keys:{prefix}*"
    locations = [names, *(f"values:{t}" for t in _TYPES)]
    return SweepReport(
        store=store,
        method=METHOD,
        searched=sorted(locations),
        hits=[SweepHit(loc, n, kind, "substring") for (loc, kind), n in sorted(counts.items())],
        excluded=[SweepExclusion(loc, n, "accessed") for (loc, _), n in sorted(kept.items())],
        not_swept=sorted(f"{k}" if n == 0 else f"{k}: {n} keys" for k, n in not_swept.items()),
        rules=rules,
        kinds=sorted(found),
    )


def _hits_of_key(
    client: redis.Redis,
    key: bytes,
    finder: Finder,
    budget: SweepBudget,
    not_swept: dict[str, int],
) -> set[tuple[str, str]]:
    """``(location, kind)`` pairs one key holds the subject at."""
    out = {(_NAMES, kind) for kind in finder.kinds_in(_text(key))}
    kind_of = _text(client.type(key))
    if kind_of not in _TYPES:
        if kind_of != "none":  # none: expired between SCAN and TYPE
            reason = f"values:{kind_of}: not searched (type {kind_of})"
            not_swept[reason] = not_swept.get(reason, 0) + 1
        return out
    if kind_of == "string" and (client.strlen(key) or 0) > budget.max_bytes:
        reason = f"values:string: over max_bytes ({budget.max_bytes})"
        not_swept[reason] = not_swept.get(reason, 0) + 1
        return out
    for text in _values(client, key, kind_of):
        for kind in finder.kinds_in(text):
            out.add((f"values:{kind_of}", kind))
    return out


def _values(client: redis.Redis, key: bytes, kind: str) -> Iterator[str]:
    """Every value of a key as text, chunk by chunk (never the whole of a large key at once)."""
    if kind == "string":
        yield _text(client.get(key) or b"")
    elif kind == "hash":
        for field, value in client.hscan_iter(key, count=_CHUNK):
            yield _text(field)
            yield _text(value)
    elif kind == "set":
        yield from _texts(client.sscan_iter(key, count=_CHUNK))
    elif kind == "zset":
        yield from _texts(m for m, _ in client.zscan_iter(key, count=_CHUNK))
    elif kind == "list":
        length = client.llen(key)
        for start in range(0, length, _CHUNK):
            yield from _texts(client.lrange(key, start, start + _CHUNK - 1))


def _texts(items: Iterable[bytes | str]) -> Iterator[str]:
    for item in items:
        yield _text(item)


def _text(value: bytes | str) -> str:
    # redis-py types every reply as bytes | str (decode_responses is a run-time choice); the
    # client here asks for bytes, and a str would already be text.
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")


def _glob_escape(value: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in value)
