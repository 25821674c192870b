"""``dsrflow scan`` of a Redis store: key shapes mapped by the catalog's templates, unmapped
shapes with personal data found in values, hash fields, members and key names; never a key or
a value in the report."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from tests.fixtures.cli import invoke
from tests.fixtures.redis_store import REDIS_URL

CANARY = "canary-9c1e77@example.com"
CARD = "4539578763621486"


def test_redis_shapes_and_canaries(redis_prefix: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    p = redis_prefix
    client.set(f"{p}session:{CANARY}", "opaque-token")  # mapped by the template
    client.hset(f"{p}profile:1", mapping={"email": CANARY, "plan": "gold"})
    client.hset(f"{p}profile:2", mapping={"email": "b@example.com", "plan": "free"})
    client.sadd(f"{p}payments:2026", CARD, "5425233430109903")
    client.set(f"{p}counter:visits", "42")
    client.set(f"{p}lead:{CANARY}", "1")  # the e-mail is in the key name itself
    client.close()
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(
        "version: 1\nstores:\n  cache:\n    adapter: redis\n"
        f"    connection: {{url: '{REDIS_URL}'}}\n    key_prefix: '{p}'\n"
        "    scan:\n      ignore:\n        'payments:*': held in the processor's vault\n"
        "    collections:\n      sessions:\n        keys: 'session:{email}'\n"
    )
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ACTOR": "local:eng"}  # fmt: skip
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    outputs = []
    for fmt in ("table", "json", "sarif"):
        run = invoke("scan", "cache", "--format", fmt, "--fail-on-unmapped", env=env, cwd=tmp_path)
        assert run.returncode == 1, run.output
        outputs.append(run.output)
    report = json.loads(outputs[1])
    (store,) = report["stores"]
    status = {t["table"]: t["status"] for t in store["tables"]}
    assert status == {"session:*": "mapped", "profile:*": "unmapped", "payments:*": "ignored",
                      "counter:*": "clean", "lead:*": "unmapped"}  # fmt: skip
    profile = next(t for t in store["tables"] if t["table"] == "profile:*")
    cols = {c["column"]: c["status"] for c in profile["columns"]}
    assert cols == {"(key)": "clean", "email": "unmapped", "plan": "clean"}
    lead = next(t for t in store["tables"] if t["table"] == "lead:*")
    assert {c["column"] for c in lead["columns"] if c["status"] == "unmapped"} == {"(key)"}
    assert store["budget"]["rows_read"] == 6  # keys scanned
    for text in outputs:
        assert CANARY not in text and CARD not in text and "canary" not in text
