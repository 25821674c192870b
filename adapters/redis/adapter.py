"""The Redis adapter: finds a subject's keys with SCAN, returns values, deletes, re-scans.

Three kinds of collection (see ``config.py``): whole keys, fields of hashes, and members of a
shared set/list/sorted set. Redis has no multi-statement rollback, so each batch of deletions is
one ``MULTI``/``EXEC`` pipeline: atomic per batch, idempotent across retries.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self, cast

import redis
from redis import exceptions as rex

from dsrflow.adapters.redis.config import RedisCollection, RedisConfig, named_kinds, placeholders
from dsrflow.adapters.redis.sweep import sweep_redis
from dsrflow.adapters.sdk import (
    AdapterContext,
    AdapterError,
    Capability,
    Check,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    RetryableAdapterError,
    Subject,
    SweepBudget,
    operation_digest,
)
from dsrflow.adapters.sdk.identity import casefold, casefold_glob
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sdk.redact import first_line
from dsrflow.adapters.sdk.sweeps import SweepReport

_GLOB = re.compile(r"([*?\[\]\\])")
_REMOVE = {"set": "SREM", "zset": "ZREM", "list": "LREM"}


def _escape(value: str) -> str:
    return _GLOB.sub(r"\\\1", value)


def _text(value: bytes | str) -> str | dict[str, str]:
    """A reply as text, or as base64 when it is not UTF-8 (values are returned, not mangled).

    redis-py types every reply as ``bytes | str`` (``decode_responses`` is a run-time choice);
    the client here asks for bytes, and a str is already text.
    """
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _name(value: bytes | str) -> str:
    """A reply that is a name (a key's type), as text."""
    return value if isinstance(value, str) else value.decode("ascii", errors="replace")


class RedisAdapter:
    """Access, erasure and verification of a subject's keys, hash fields and set members."""

    name = "redis"
    version = "0.1.0"
    capabilities = frozenset(
        {Capability.ACCESS, Capability.ERASE, Capability.VERIFY, Capability.SWEEP}
    )
    config_model = RedisConfig
    # The sweep searches strong kinds only; the others recognise what the catalog accounts for.
    sweep_uses_all_identities = True
    # ``erase`` hands the receipt over before its first EXEC (journaled; see ``erase``).
    supports_on_commit = True

    def __init__(self, config: RedisConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.store = ctx.store
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @classmethod
    def identity_kinds_used(cls, config: RedisConfig) -> list[tuple[tuple[str, ...], str, bool]]:
        """Every ``{kind}`` the key and member templates name, for the catalog loader."""
        out: list[tuple[tuple[str, ...], str, bool]] = []
        for name, coll in config.collections.items():
            for field_name in ("keys", "member"):
                template = getattr(coll, field_name) or ""
                kinds = named_kinds(template)
                out += [(("collections", name, field_name), k, False) for k in kinds]
        return out

    @classmethod
    def create(cls, config: RedisConfig, ctx: AdapterContext) -> Self:
        """Build the adapter; connects lazily on first use."""
        return cls(config, ctx)

    @property
    def client(self) -> redis.Redis:
        """The connection pool's client, created on first use."""
        with self._lock:
            if self._client is None:
                conn = self.config.connection
                password = conn.password_env and self.ctx.secret(conn.password_env, "password")
                self._client = redis.Redis.from_url(
                    conn.url,
                    username=conn.username,
                    password=password or None,
                    socket_timeout=conn.timeout,
                    socket_connect_timeout=conn.timeout,
                    decode_responses=False,
                )
            return self._client

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- finding the subject's data ------------------------------------------------------

    def _render(self, template: str, subject: Subject, glob: bool) -> list[str]:
        """The template with the subject's normalised values; as a SCAN glob if ``glob``.

        In a glob, a ``casefold`` kind (e-mail) matches in any letter case (``[mM]``), and every
        value's glob characters are escaped, so a value never widens the match.
        """
        kinds = self.ctx.identity_kinds
        names = placeholders(template)
        choices = []
        for kind in names:
            values = sorted(
                {v for v in (kinds.normalize(kind, x) for x in subject.values(kind)) if v}
            )
            if glob and kinds.mode(kind) == "casefold":
                choices.append([casefold_glob(v, _escape) for v in values])
            else:
                choices.append([_escape(v) if glob else v for v in values])
        out = []
        for combo in itertools.product(*choices):
            text = template
            for kind, value in zip(names, combo, strict=True):
                text = text.replace("{" + kind + "}", value, 1)
            out.append(text)
        return out

    def _folds(self, template: str) -> bool:
        """Whether a template names a case-insensitive kind (found by SCAN, not looked up)."""
        return any(self.ctx.identity_kinds.mode(k) == "casefold" for k in placeholders(template))

    def _keys(self, coll: RedisCollection, subject: Subject) -> list[bytes]:
        """Keys of one collection that belong to the subject (SCAN for patterns, never KEYS)."""
        prefix = self.config.key_prefix
        found: dict[bytes, None] = {}
        exact = "*" not in coll.keys and not self._folds(coll.keys)
        for rendered in self._render(coll.keys, subject, glob=not exact):
            if exact:
                key = (prefix + rendered).encode()
                if self.client.exists(key):
                    found[key] = None
                continue
            pattern = _escape(prefix) + rendered
            for key in self.client.scan_iter(match=pattern, count=self.config.batch_size):
                found[key] = None
        return list(found)

    def _items(self, coll: RedisCollection, subject: Subject) -> list[tuple[bytes, Any]]:
        """``(key, detail)`` for everything of the subject in one collection.

        ``detail`` is the key's type for whole keys, the present fields for hashes, and
        ``(type, member)`` for set/list members.
        """
        items: list[tuple[bytes, Any]] = []
        for key in self._keys(coll, subject):
            if coll.kind == "key":
                items.append((key, _name(self.client.type(key))))
            elif coll.kind == "hash_fields":
                values = self.client.hmget(key, coll.fields)
                present = [f for f, v in zip(coll.fields, values, strict=True) if v is not None]
                if present:
                    items.append((key, present))
            else:
                kind = _name(self.client.type(key))
                items += [(key, (kind, m)) for m in self._members(key, kind, coll, subject)]
        return items

    def _members(
        self, key: bytes, kind: str, coll: RedisCollection, subject: Subject
    ) -> list[bytes | str]:
        """The subject's members of one set/sorted set/list, as stored."""
        template = coll.member or ""
        if not self._folds(template):
            members = self._render(template, subject, glob=False)
            return [m for m in members if self._is_member(key, kind, m)]
        c = self.client
        found: dict[bytes | str, None] = {}
        for pattern in self._render(template, subject, glob=True):
            if kind == "set":
                found.update(dict.fromkeys(c.sscan_iter(key, match=pattern)))
            elif kind == "zset":
                found.update(dict.fromkeys(m for m, _ in c.zscan_iter(key, match=pattern)))
        if kind == "list":
            # Lists have no scan with MATCH: compare each element's lower case.
            wanted = {casefold(m) for m in self._render(template, subject, glob=False)}
            for m in c.lrange(key, 0, -1):
                text = _text(m)
                if isinstance(text, str) and casefold(text) in wanted:
                    found[m] = None
        return list(found)

    def _is_member(self, key: bytes, kind: str, member: str) -> bool:
        if kind == "set":
            return bool(self.client.sismember(key, member))
        if kind == "zset":
            return self.client.zscore(key, member) is not None
        if kind == "list":
            return self.client.lpos(key, member) is not None
        return False

    def _value(self, key: bytes, kind: str) -> Any:
        c = self.client
        if kind == "string":
            return _text(c.get(key) or b"")
        if kind == "hash":
            return {_text(k): _text(v) for k, v in c.hgetall(key).items()}
        if kind == "list":
            return [_text(v) for v in c.lrange(key, 0, -1)]
        if kind == "set":
            return sorted(_text(v) for v in c.smembers(key))
        if kind == "zset":
            # With withscores=True the reply is (member, score) pairs; redis-py's return type
            # does not depend on the flag, so it is stated here.
            pairs = cast("list[tuple[bytes | str, float]]", c.zrange(key, 0, -1, withscores=True))
            return [[_text(m), s] for m, s in pairs]
        return None  # streams and module types: the key is reported, not its value

    # -- verbs -----------------------------------------------------------------------------

    def access(self, subject: Subject) -> Iterator[Record]:
        """Yield each key's value, the hash fields, or the membership, per collection."""
        with self._errors("reading the subject's keys"):
            for name, coll in self.config.collections.items():
                for key, detail in self._items(coll, subject):
                    data: dict[str, Any] = {"key": _text(key)}
                    if coll.kind == "key":
                        data.update(type=detail, value=self._value(key, detail))
                    elif coll.kind == "hash_fields":
                        values = self.client.hmget(key, detail)
                        data["fields"] = {
                            f: _text(v) for f, v in zip(detail, values, strict=True) if v
                        }
                    else:
                        member = detail[1]
                        data["member"] = _text(member) if isinstance(member, bytes) else member
                    yield Record(name, data)

    def erase(
        self,
        subject: Subject,
        progress: Progress | None = None,
        *,
        on_commit: Callable[[OperationReceipt], None] | None = None,
    ) -> OperationReceipt:
        """Delete keys, hash fields or memberships in batches; re-scan for the residual.

        Args:
            subject: Whose keys.
            progress: Called with the running count of deleted items (heartbeats).
            on_commit: Gets the receipt of what is about to be deleted (every item found,
                residual 0) before the first MULTI/EXEC; if it raises, nothing is deleted.
                The activity journals it there, so a worker lost after the EXEC leaves a
                receipt a re-run recovers instead of reporting "nothing found".
        """
        counts: list[CollectionCount] = []
        done = 0
        with self._errors("erasing"):
            found = [
                (name, coll, self._items(coll, subject))
                for name, coll in self.config.collections.items()
            ]
            if on_commit is not None and any(items for _, _, items in found):
                on_commit(
                    self._receipt(
                        "erase",
                        [CollectionCount(n, "delete", len(i), len(i), 0) for n, _, i in found],
                    )
                )
            for name, coll, items in found:
                affected = 0
                for start in range(0, len(items), self.config.batch_size):
                    batch = items[start : start + self.config.batch_size]
                    affected += self._delete(coll, batch)
                    done += len(batch)
                    if progress:
                        progress(done)
                left = len(self._items(coll, subject))
                counts.append(CollectionCount(name, "delete", len(items), affected, residual=left))
        return self._receipt("erase", counts)

    def _delete(self, coll: RedisCollection, batch: list[tuple[bytes, Any]]) -> int:
        pipe = self.client.pipeline(transaction=True)
        for key, detail in batch:
            if coll.kind == "key":
                pipe.unlink(key)
            elif coll.kind == "hash_fields":
                pipe.hdel(key, *detail)
            elif detail[0] == "list":
                pipe.lrem(key, 0, detail[1])
            elif detail[0] == "zset":
                pipe.zrem(key, detail[1])
            else:
                pipe.srem(key, detail[1])
        return sum(1 for n in pipe.execute() if n)

    def verify(self, subject: Subject) -> OperationReceipt:
        """Re-scan: keys, fields and memberships of the subject still present."""
        with self._errors("verifying erasure"):
            counts = [
                CollectionCount(name, "verify", len(self._items(coll, subject)), 0)
                for name, coll in self.config.collections.items()
            ]
        return self._receipt("verify", counts)

    def sweep(
        self,
        subject: Subject,
        budget: SweepBudget,
        *,
        after: str = "erasure",
        progress: Progress | None = None,
    ) -> SweepReport:
        """The independent residual sweep: SCAN every key under the prefix (``sweep.py``).

        After an access, keys the catalog's collections return are recorded as exclusions
        (the package holds them); after an erasure nothing is excluded (Redis keeps nothing).
        """
        with self._errors("sweeping the keyspace"):
            accounted: set[bytes] = set()
            if after == "access":
                for coll in self.config.collections.values():
                    accounted.update(self._keys(coll, subject))
            return sweep_redis(
                self.client,
                store=self.store,
                prefix=self.config.key_prefix,
                subject=subject,
                budget=budget,
                kinds=getattr(self.ctx, "identity_kinds", None),
                accounted=accounted,
                progress=progress,
            )

    def _receipt(self, action: str, counts: list[CollectionCount]) -> OperationReceipt:
        return OperationReceipt(
            action=action,
            matched=sum(c.matched for c in counts),
            affected=sum(c.affected for c in counts),
            operation_digest=operation_digest(self._templates(action)),
            collections=counts,
        )

    def access_digest(self, subject: Subject) -> str:
        """Digest of what ``access`` does (for the access receipt)."""
        return operation_digest(self._templates("access"))

    def _templates(self, action: str) -> list[str]:
        out = []
        for coll in self.config.collections.values():
            scan = f"SCAN MATCH COUNT {self.config.batch_size}"
            find = "EXISTS" if "*" not in coll.keys else scan
            verb = {"key": "UNLINK", "hash_fields": "HDEL " + " ".join(coll.fields)}.get(
                coll.kind, "SREM|ZREM|LREM " + (coll.member or "")
            )
            step = {"erase": verb, "access": "read by type"}.get(action, "count")
            out.append(f"{find} {self.config.key_prefix}{coll.keys} -> {step}")
        return out

    # -- checks ----------------------------------------------------------------------------

    def check_connection(self) -> CheckReport:
        """PING, then per collection: the key pattern exists and a no-op delete is allowed."""
        checks: list[Check] = []
        try:
            with self._errors("connecting"):
                self.client.ping()
            checks.append(Check("connect", True, self.config.connection.url))
        except AdapterError as exc:
            return CheckReport(self.store, [Check("connect", False, str(exc))])
        for name, coll in self.config.collections.items():
            pattern = _escape(self.config.key_prefix) + re.sub(r"\{[a-z0-9_]+\}", "*", coll.keys)
            try:
                with self._errors(f"scanning {pattern}"):
                    hit = next(self.client.scan_iter(match=pattern, count=1000), None)
                ok = hit is not None
                detail = f"keys match {pattern}" if ok else f"no key matches {pattern}"
                checks.append(Check(f"keys:{name}", ok, detail))
                with self._errors(f"probing delete on {pattern}"):
                    self._probe(coll)
                checks.append(Check(f"privileges:{name}", True, "delete allowed (no-op probe)"))
            except AdapterError as exc:
                checks.append(Check(f"privileges:{name}", False, str(exc)))
        return CheckReport(self.store, checks)

    def _probe(self, coll: RedisCollection) -> None:
        # A delete of a key/member that cannot exist proves the ACL allows it, changing nothing.
        token = f"dsrflow-probe-{secrets.token_hex(8)}"
        key = self.config.key_prefix + re.sub(r"\{[a-z0-9_]+\}", token, coll.keys).replace("*", "x")
        if coll.kind == "key":
            self.client.unlink(key)
        elif coll.kind == "hash_fields":
            self.client.hdel(key, *coll.fields)
        else:
            kind = _name(self.client.type(key))
            {"list": lambda: self.client.lrem(key, 0, token),
             "zset": lambda: self.client.zrem(key, token)}.get(
                kind, lambda: self.client.srem(key, token))()  # fmt: skip

    def _errors(self, doing: str) -> _RedisErrors:
        return _RedisErrors(self.store, doing)


class _RedisErrors:
    """Context manager mapping redis-py exceptions to typed adapter errors without values."""

    def __init__(self, store: str, doing: str) -> None:
        self.store, self.doing = store, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, etype: Any, exc: BaseException | None, _tb: Any) -> None:
        # Never swallows: an exception leaves either as it came or as a typed adapter error.
        if exc is None or isinstance(exc, AdapterError) or not isinstance(exc, rex.RedisError):
            return
        detail = first_line(str(exc))
        text = f"store {self.store!r}: {type(exc).__name__} while {self.doing}: {detail}"
        lowered = detail.lower()
        if isinstance(exc, rex.AuthenticationError | rex.AuthorizationError) or any(
            m in lowered for m in ("wrongpass", "noauth", "noperm", "invalid username")
        ):
            raise PermanentAdapterError(text) from None
        if isinstance(exc, rex.ConnectionError | rex.TimeoutError | rex.BusyLoadingError):
            raise RetryableAdapterError(text) from None
        raise PermanentAdapterError(text) from None
