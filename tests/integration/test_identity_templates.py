"""Redis key templates and files path templates follow the identity matching rules.

An e-mail matches in any letter case, a phone by its E.164 form, and a plus-tagged or dotted
address never matches its untagged neighbour. Glob characters in a value stay literal.
"""

from __future__ import annotations

from pathlib import Path

import redis

from dsrflow.adapters.files import FilesAdapter, FilesConfig
from dsrflow.adapters.redis import RedisAdapter, RedisConfig
from dsrflow.adapters.sdk import AdapterContext, Subject
from dsrflow.domain import Identity
from dsrflow.identity import BUILTIN_KINDS, IdentityKinds
from tests.fixtures.redis_store import REDIS_URL

KINDS_44 = IdentityKinds(dict(BUILTIN_KINDS), default_country_code="44")
TAGGED = "mia.park+shop@example.org"
UNTAGGED = "mia.park@example.org"


def subject(**values: str) -> Subject:
    return Subject.of([Identity(kind, value) for kind, value in values.items()])


def redis_adapter(prefix: str, tmp_path: Path) -> RedisAdapter:
    cfg = RedisConfig.model_validate({
        "connection": {"url": REDIS_URL}, "key_prefix": prefix,
        "collections": {
            "profile": {"keys": "profile:{email}"},
            "tel": {"keys": "tel:{phone}"},
            "news": {"keys": "news", "member": "{email}"},
            "ranked": {"keys": "ranked", "member": "{email}"},
            "recent": {"keys": "recent", "member": "{email}"},
        },
    })  # fmt: skip
    return RedisAdapter.create(cfg, AdapterContext("cache", tmp_path, {}, KINDS_44))


def test_redis_email_case_insensitive_and_plus_tags_apart(
    redis_prefix: str, tmp_path: Path
) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    p = redis_prefix
    r.set(f"{p}profile:Mia.Park+shop@Example.org", "tagged")
    r.set(f"{p}profile:{UNTAGGED}", "untagged")
    r.set(f"{p}profile:mia.parkX+shop@example.org", "other")
    r.set(f"{p}tel:+442079460018", "phone")
    r.sadd(f"{p}news", "MIA.PARK+SHOP@EXAMPLE.ORG", UNTAGGED)
    r.zadd(f"{p}ranked", {"Mia.Park+Shop@example.org": 1, UNTAGGED: 2})
    r.rpush(f"{p}recent", UNTAGGED, "mia.park+SHOP@example.org")
    adapter = redis_adapter(p, tmp_path)
    try:
        got = {(rec.collection, rec.data.get("member") or rec.data["key"]) for rec in
               adapter.access(subject(email=TAGGED, phone="020 7946 0018"))}  # fmt: skip
        assert got == {
            ("profile", f"{p}profile:Mia.Park+shop@Example.org"),
            ("tel", f"{p}tel:+442079460018"),
            ("news", "MIA.PARK+SHOP@EXAMPLE.ORG"),
            ("ranked", "Mia.Park+Shop@example.org"),
            ("recent", "mia.park+SHOP@example.org"),
        }
        receipt = adapter.erase(subject(email=TAGGED))
        assert (receipt.matched, receipt.affected) == (4, 4)
        assert adapter.verify(subject(email=TAGGED)).matched == 0
        # The untagged neighbour is untouched everywhere.
        assert r.get(f"{p}profile:{UNTAGGED}") == "untagged"
        assert r.smembers(f"{p}news") == {UNTAGGED}
        assert r.zrange(f"{p}ranked", 0, -1) == [UNTAGGED]
        assert r.lrange(f"{p}recent", 0, -1) == [UNTAGGED]
        assert r.get(f"{p}profile:mia.parkX+shop@example.org") == "other"
    finally:
        adapter.close()
        r.close()


def test_redis_glob_characters_in_a_value_stay_literal(redis_prefix: str, tmp_path: Path) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    r.set(f"{redis_prefix}profile:ab@example.org", "someone else")
    adapter = redis_adapter(redis_prefix, tmp_path)
    try:
        assert list(adapter.access(subject(email="a*@example.org"))) == []
        assert list(adapter.access(subject(email="[a]b@example.org"))) == []
        assert len(list(adapter.access(subject(email="AB@example.org")))) == 1
    finally:
        adapter.close()
        r.close()


def test_files_email_case_insensitive_and_plus_tags_apart(tmp_path: Path) -> None:
    root = tmp_path / "files"
    (root / "exports").mkdir(parents=True)
    (root / "exports" / "Mia.Park+shop@Example.org.csv").write_text("tagged")
    (root / "exports" / f"{UNTAGGED}.csv").write_text("untagged")
    (root / "exports" / "a[b]@example.org.csv").write_text("brackets")
    (root / "exports" / "ab@example.org.csv").write_text("someone else")
    (root / "calls").mkdir()
    (root / "calls" / "+442079460018.txt").write_text("phone")
    collections = {"exports": {"paths": "exports/{email}.*"}, "calls": {"paths": "calls/{phone}.*"}}
    cfg = FilesConfig.model_validate({"root": "files", "collections": collections})
    adapter = FilesAdapter.create(cfg, AdapterContext("uploads", tmp_path, {}, KINDS_44))
    found = {
        r.data["path"] for r in adapter.access(subject(email=TAGGED, phone="0044 20 7946 0018"))
    }
    assert found == {"exports/Mia.Park+shop@Example.org.csv", "calls/+442079460018.txt"}
    found = {r.data["path"] for r in adapter.access(subject(email="A[B]@example.org"))}
    assert found == {"exports/a[b]@example.org.csv"}
    receipt = adapter.erase(subject(email=TAGGED))
    assert (receipt.matched, receipt.affected) == (1, 1)
    assert (root / "exports" / f"{UNTAGGED}.csv").read_text() == "untagged"
    assert adapter.verify(subject(email=TAGGED)).matched == 0
