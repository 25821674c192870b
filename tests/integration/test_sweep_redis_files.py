"""The Redis and files residual sweeps, on the real local Redis and a real folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from dsrflow.adapters.files.adapter import FilesAdapter, FilesConfig
from dsrflow.adapters.redis import RedisAdapter, RedisConfig
from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.domain import Identity
from tests.fixtures.redis_store import REDIS_URL

SUBJECT = "mia.park@example.org"
TWIN = "mia.park+shop@example.org"
CANARY = "canary.r8y@example.org"


def her(*extra: Identity) -> Subject:
    return Subject.of([Identity("email", SUBJECT), Identity("customer_id", "7"), *extra])


def hits(report) -> dict[str, tuple[int, str]]:  # type: ignore[no-untyped-def]
    return {h.location: (h.count, h.kind) for h in report.hits}


@pytest.fixture
def cache(redis_prefix: str, tmp_path: Path) -> RedisAdapter:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    p = redis_prefix
    r.set(f"{p}session:7:a", f"user={SUBJECT.upper()}")  # mapped by the catalog
    r.set(f"{p}login:  Mia.Park@Example.org ", "1")  # unmapped key named after her
    r.hset(f"{p}profile:7", mapping={"contact": " Mia.Park@example.ORG", "plan": "gold"})
    r.rpush(f"{p}outbox", "hello", f"to: {SUBJECT}")
    r.sadd(f"{p}vip", TWIN, "someone@example.org")  # the twin only: never a hit
    r.zadd(f"{p}scores", {TWIN: 1.0})
    r.set(f"{p}phonebook:1", "+44 20 7946 0018")
    r.set(f"{p}blob", "x" * 5000)
    r.close()
    cfg = RedisConfig.model_validate({
        "connection": {"url": REDIS_URL}, "key_prefix": p,
        "collections": {"sessions": {"keys": "session:{customer_id}:*"}},
    })  # fmt: skip
    adapter = RedisAdapter.create(cfg, AdapterContext("cache", tmp_path, {}))
    yield adapter
    adapter.close()


def test_redis_sweep_finds_keys_and_values_outside_the_catalog(
    cache: RedisAdapter, redis_prefix: str
) -> None:
    phone = Identity("phone", "+44 20 7946 0018")
    report = cache.sweep(her(phone), SweepBudget(), after="erasure")
    # the session (mapped) and the phone book entry (E.164 of a whole value) are strings
    assert sorted((h.location, h.count, h.kind) for h in report.hits) == [
        (f"keys:{redis_prefix}*", 1, "email"),  # the key named after her, padded, mixed case
        ("values:hash", 1, "email"),
        ("values:list", 1, "email"),
        ("values:string", 1, "email"),
        ("values:string", 1, "phone"),
    ]
    assert report.complete and report.method == "redis-scan"
    assert report.kinds == ["email", "phone"]


def test_redis_sweep_after_access_excludes_mapped_keys(cache: RedisAdapter) -> None:
    report = cache.sweep(her(), SweepBudget(), after="access")
    assert [(e.location, e.count, e.reason) for e in report.excluded] == [
        ("values:string", 1, "accessed")
    ]
    assert "values:string" not in hits(report)  # the session is in the package
    assert hits(report)["values:hash"] == (1, "email")


def test_redis_twin_and_budget(cache: RedisAdapter, redis_prefix: str) -> None:
    twin = cache.sweep(Subject.of([Identity("email", TWIN)]), SweepBudget())
    assert hits(twin) == {"values:set": (1, "email"), "values:zset": (1, "email")}
    small = cache.sweep(her(), SweepBudget(max_keys=2, max_bytes=100))
    assert any("more than max_keys (2)" in r for r in small.not_swept)
    full = cache.sweep(her(), SweepBudget(max_bytes=100))
    assert full.not_swept == ["values:string: over max_bytes (100): 1 keys"]


def test_redis_canary_never_in_report(
    cache: RedisAdapter, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    r = redis.Redis.from_url(REDIS_URL)
    r.set(f"{redis_prefix}canary:{CANARY}", CANARY)
    r.close()
    caplog.set_level("DEBUG")
    report = cache.sweep(Subject.of([Identity("email", CANARY)]), SweepBudget())
    assert hits(report) == {f"keys:{redis_prefix}*": (1, "email"), "values:string": (1, "email")}
    assert CANARY not in repr(report) + report.reason() + caplog.text


@pytest.fixture
def uploads(tmp_path: Path) -> FilesAdapter:
    root = tmp_path / "root"
    (root / "avatars").mkdir(parents=True)
    (root / "avatars" / "7.png").write_bytes(b"\x89PNG" + SUBJECT.encode())  # mapped
    (root / "exports").mkdir()
    (root / "exports" / "Mia.Park@Example.org.csv").write_text("id\n7\n")  # name only
    (root / "exports" / "all.csv").write_text(f"a,{SUBJECT.upper()}\nb,{TWIN}\n")
    (root / "exports" / "twin.txt").write_text(TWIN)
    (root / "big").mkdir()
    (root / "big" / "dump.log").write_text("x" * 2000)
    cfg = FilesConfig.model_validate(
        {"root": str(root), "collections": {"avatars": {"paths": "avatars/{customer_id}.*"}}}
    )
    return FilesAdapter.create(cfg, AdapterContext("uploads", tmp_path, {}))


def test_files_sweep_finds_names_and_contents(uploads: FilesAdapter) -> None:
    report = uploads.sweep(her(), SweepBudget(), after="erasure")
    assert hits(report) == {"names": (1, "email"), "contents": (2, "email")}
    assert report.complete and report.method == "files-scan"
    accessed = uploads.sweep(her(), SweepBudget(), after="access")
    assert hits(accessed) == {"names": (1, "email"), "contents": (1, "email")}
    assert [(e.location, e.count) for e in accessed.excluded] == [("contents", 1)]


def test_files_twin_and_size_budget(uploads: FilesAdapter) -> None:
    twin = uploads.sweep(Subject.of([Identity("email", TWIN)]), SweepBudget())
    assert hits(twin) == {"contents": (2, "email")}  # all.csv and twin.txt, never her files
    small = uploads.sweep(her(), SweepBudget(max_bytes=1000))
    assert small.not_swept == ["contents:big/: 1 files over max_bytes (1000)"]
    assert SUBJECT not in repr(small) and "mia.park" not in repr(small).lower()
