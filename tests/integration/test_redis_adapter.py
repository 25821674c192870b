"""The Redis adapter against the real local Redis: the conformance kit plus Redis specifics."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import redis

from dsrflow.adapters.redis import RedisAdapter, RedisConfig
from dsrflow.adapters.sdk import (
    AdapterContext,
    OperationReceipt,
    PermanentAdapterError,
    RetryableAdapterError,
    Subject,
)
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded
from dsrflow.domain import Identity
from tests.fixtures.redis_store import REDIS_URL

COLLECTIONS = {
    "sessions": {"keys": "session:{customer_id}:*"},
    "profile": {"keys": "user:{customer_id}", "fields": ["email", "name"]},
    "newsletter": {"keys": "newsletter", "member": "{email}"},
    "recent": {"keys": "recent", "member": "{email}"},
}


def make(prefix: str, tmp_path: Path, **conn: object) -> RedisAdapter:
    cfg = RedisConfig.model_validate({
        "connection": {"url": REDIS_URL, **conn}, "key_prefix": prefix,
        "collections": COLLECTIONS, "batch_size": 50,
    })  # fmt: skip
    return RedisAdapter.create(cfg, AdapterContext("cache", tmp_path, {"WRONG": "nope"}))


class RedisHarness(Harness):
    batch_size = 50

    def __init__(self, prefix: str, tmp_path: Path) -> None:
        self.prefix = prefix
        self.r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.adapter = make(prefix, tmp_path)
        self.ids = itertools.count(1)

    def _subject(self, tag: str) -> tuple[int, str, Subject]:
        cid = next(self.ids)
        email = f"{tag}-{cid}@example.com"
        return cid, email, Subject.of([Identity("email", email), Identity("customer_id", str(cid))])

    def seed(self, tag: str) -> Seeded:
        cid, email, subject = self._subject(tag)
        seeded = Seeded(subject, records=5)
        p = self.prefix
        self.r.set(f"{p}session:{cid}:a", seeded.marker)
        self.r.set(f"{p}session:{cid}:b", "cart")
        profile = {"email": email, "name": seeded.marker, "plan": "gold"}
        self.r.hset(f"{p}user:{cid}", mapping=profile)
        self.r.sadd(f"{p}newsletter", email)
        self.r.rpush(f"{p}recent", email)
        return seeded

    def seed_large(self, n: int) -> Seeded:
        cid, _, subject = self._subject("large")
        pipe = self.r.pipeline()
        for i in range(n):
            pipe.set(f"{self.prefix}session:{cid}:{i}", "x")
        pipe.execute()
        return Seeded(subject, records=n)

    def close(self) -> None:
        self.adapter.close()
        self.r.close()


class TestRedisConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, redis_prefix: str, tmp_path: Path) -> RedisHarness:
        h = RedisHarness(redis_prefix, tmp_path)
        h.seed("present")  # check_connection wants every key pattern to exist
        yield h
        h.close()


def test_erase_keeps_other_hash_fields_and_members(redis_prefix: str, tmp_path: Path) -> None:
    h = RedisHarness(redis_prefix, tmp_path)
    a, b = h.seed("a"), h.seed("b")
    receipt = h.adapter.erase(a.subject)
    assert {c.collection: (c.matched, c.affected, c.residual) for c in receipt.collections} == {
        "sessions": (2, 2, 0), "profile": (1, 1, 0), "newsletter": (1, 1, 0), "recent": (1, 1, 0),
    }  # fmt: skip
    assert h.r.hgetall(f"{redis_prefix}user:1") == {"plan": "gold"}
    assert h.r.smembers(f"{redis_prefix}newsletter") == {"b-2@example.com"}
    assert h.r.lrange(f"{redis_prefix}recent", 0, -1) == ["b-2@example.com"]
    assert len(list(h.adapter.access(b.subject))) == 5
    h.close()


def test_on_commit_gets_the_receipt_before_anything_is_deleted(
    redis_prefix: str, tmp_path: Path
) -> None:
    """The activity journals the receipt there: if that fails, nothing of the subject goes."""
    h = RedisHarness(redis_prefix, tmp_path)
    a = h.seed("a")
    before = sorted(h.r.scan_iter(match=f"{redis_prefix}*"))
    seen: list[int] = []

    def refuse(receipt: OperationReceipt) -> None:
        seen.append(receipt.affected)
        # Still all there when the receipt is handed over.
        assert sorted(h.r.scan_iter(match=f"{redis_prefix}*")) == before
        raise RetryableAdapterError("store 'cache': the receipt journal could not record it")

    with pytest.raises(RetryableAdapterError):
        h.adapter.erase(a.subject, on_commit=refuse)
    assert seen == [5]
    assert sorted(h.r.scan_iter(match=f"{redis_prefix}*")) == before
    assert len(list(h.adapter.access(a.subject))) == 5

    handed: list[OperationReceipt] = []
    receipt = h.adapter.erase(a.subject, on_commit=handed.append)
    assert [(r.matched, r.affected) for r in handed] == [(5, 5)]
    assert (receipt.matched, receipt.affected) == (5, 5)
    h.adapter.erase(a.subject, on_commit=handed.append)  # nothing left: not handed over
    assert len(handed) == 1
    h.close()


def test_glob_characters_in_a_value_cannot_widen(redis_prefix: str, tmp_path: Path) -> None:
    h = RedisHarness(redis_prefix, tmp_path)
    h.seed("victim")
    sneaky = Subject.of([Identity("customer_id", "*")])
    assert list(h.adapter.access(sneaky)) == []
    assert h.adapter.erase(sneaky).affected == 0
    assert h.r.exists(f"{redis_prefix}session:1:a")
    h.close()


def test_wrong_password_is_permanent_and_names_the_store(redis_prefix: str, tmp_path: Path) -> None:
    adapter = make(redis_prefix, tmp_path, password_env="WRONG", username="nosuchuser")
    with pytest.raises(PermanentAdapterError, match="store 'cache'"):
        adapter.verify(Subject.of([Identity("email", "x@example.com")]))
    report = adapter.check_connection()
    assert not report.ok and "store 'cache'" in report.checks[0].detail


def test_unreachable_redis_is_retryable(tmp_path: Path) -> None:
    cfg = RedisConfig.model_validate({"connection": {"url": "redis://127.0.0.1:1/0", "timeout": 1},
                                      "collections": COLLECTIONS})  # fmt: skip
    adapter = RedisAdapter.create(cfg, AdapterContext("cache", tmp_path, {}))
    with pytest.raises(RetryableAdapterError, match=r"store 'cache'.*ConnectionError"):
        list(adapter.access(Subject.of([Identity("email", "x@example.com")])))


def test_config_refuses_inline_password_and_templates_without_identity() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="password_env"):
        RedisConfig.model_validate({"connection": {"url": "redis://u:secret@h:6379/0"},
                                    "collections": COLLECTIONS})  # fmt: skip
    with pytest.raises(ValidationError, match="must name an identity"):
        RedisConfig.model_validate({"connection": {"url": REDIS_URL},
                                    "collections": {"all": {"keys": "session:*"}}})  # fmt: skip
