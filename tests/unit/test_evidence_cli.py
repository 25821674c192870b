"""The evidence commands as people run them: keys, log, verify; and the signing activity."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dsrflow.activities.results import ResultActivities
from dsrflow.artifacts import OPENING
from dsrflow.evidence import example
from dsrflow.ledger import Ledger
from dsrflow.runtime import Runtime
from dsrflow.settings import Settings
from dsrflow.tlog.store import SqlLog
from tests.fixtures.cli import CliRun, invoke


def run(tmp_path: Path, *args: str) -> CliRun:
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"),
           "DSRFLOW_VERIFIER_STATE": str(tmp_path / "verifier.json"),
           "DSRFLOW_ACTOR": "admin:test", "DSRFLOW_CONTROLLER": "Ctl Ltd"}  # fmt: skip
    return invoke(*args, env=env)


def test_keys_lifecycle_through_the_cli(tmp_path: Path) -> None:
    assert run(tmp_path, "ledger", "upgrade").returncode == 0
    r = run(tmp_path, "keys", "init")
    assert r.returncode == 0, r.stderr
    assert "root key fingerprint (publish it): sha256:" in r.stdout
    assert "NOT encrypted at rest" in r.stdout  # no passphrase in this environment
    r = run(tmp_path, "keys", "init")
    assert r.returncode == 2 and "already initialised" in r.stderr and "Traceback" not in r.stderr
    r = run(tmp_path, "keys", "rotate", "--purpose", "log")
    assert r.returncode == 0 and "keyring v2: new log key" in r.stdout
    r = run(tmp_path, "keys", "rotate", "--purpose", "nonsense")
    assert r.returncode == 2 and "--purpose: 'nonsense'" in r.stderr
    ring = json.loads((tmp_path / "state" / "keys" / "keyring.json").read_text())
    assert ring["payloadType"] == "application/vnd.dsrflow.keyring+json"
    r = run(tmp_path, "keys", "export-public", "--out", str(tmp_path / "pub" / "keyring.json"))
    assert r.returncode == 0 and "keyring v2" in r.stdout
    r = run(tmp_path, "keys", "list")
    assert r.stdout.count("superseded") == 1 and r.stdout.count("active") == 2
    ledger = Ledger(f"sqlite:///{tmp_path / 'state' / 'ledger.db'}", migrate=True)
    assert [(a.actor, a.action) for a in ledger.audit_entries()] == [
        ("admin:test", "ledger.upgrade"),  # the schema was changed on purpose, by someone
        ("admin:test", "keys.init"), ("admin:test", "keys.rotate"),
    ]  # fmt: skip


def test_log_consistency_round_trip(tmp_path: Path) -> None:
    assert run(tmp_path, "ledger", "upgrade").returncode == 0
    assert run(tmp_path, "keys", "init").returncode == 0
    rt = Runtime(
        Settings.load({"DSRFLOW_STATE_DIR": str(tmp_path / "state")}), {}, migrate_ledger=True
    )
    log, signer, origin = rt.tlog, rt.keys.signer("log"), rt.keys.keyring().log_origin

    def grow(n: int) -> None:
        for _ in range(n):
            log.append(hashlib.sha256(os.urandom(8)).digest(), "r", signer, origin)

    grow(3)
    assert run(tmp_path, "log", "checkpoint", "--out", str(tmp_path / "old.txt")).returncode == 0
    grow(6)
    r = run(tmp_path, "log", "checkpoint")
    assert r.returncode == 0 and r.stdout.startswith(f"{origin}\n9\n")
    (tmp_path / "new.txt").write_text(r.stdout)
    r = run(tmp_path, "log", "prove-consistency", str(tmp_path / "old.txt"),
            str(tmp_path / "new.txt"), "--out", str(tmp_path / "proof.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    keyring = str(rt.keys.keyring_path)
    r = run(tmp_path, "log", "verify-consistency", str(tmp_path / "proof.json"),
            "--keyring", keyring, "--old", str(tmp_path / "old.txt"))  # fmt: skip
    assert r.returncode == 3 and "VERIFIED (root key not pinned)" in r.stdout, r.stdout
    r = run(tmp_path, "log", "verify-consistency", str(tmp_path / "proof.json"), "--keyring",
            keyring, "--old", str(tmp_path / "old.txt"), "--trust-on-first-use")  # fmt: skip
    assert r.returncode == 0, r.stdout
    assert "the log grew from 3 to 9 entries by appends only" in r.stdout

    # Sizes work too, and a tampered proof is caught.
    r = run(tmp_path, "log", "prove-consistency", "2", "9")
    proof = json.loads(r.stdout)
    proof["proof"][0] = "00" * 32
    from dsrflow.evidence.format import canonical

    (tmp_path / "bad.json").write_bytes(canonical(proof))
    r = run(tmp_path, "log", "verify-consistency", str(tmp_path / "bad.json"), "--keyring", keyring)
    assert r.returncode == 1 and "the log was NOT only appended to" in r.stdout

    # An auditor's checkpoint that the log does not contain: the log was rewritten (or forked).
    from dsrflow.tlog import checkpoint

    fork = checkpoint.sign(checkpoint.Checkpoint(origin, 3, b"\x07" * 32), signer)
    (tmp_path / "fork.txt").write_text(fork)
    r = run(tmp_path, "log", "prove-consistency", str(tmp_path / "fork.txt"), "9")
    assert r.returncode == 2 and "does not have this root: the log was rewritten" in r.stderr
    r = run(tmp_path, "log", "verify-consistency", str(tmp_path / "proof.json"),
            "--keyring", keyring, "--old", str(tmp_path / "fork.txt"))  # fmt: skip
    assert r.returncode == 1 and "kept checkpoint: size 3" in r.stdout


def test_signing_activity_writes_a_bundle_that_verifies(tmp_path: Path) -> None:
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CONTROLLER": "Ctl Ltd",
           "DSRFLOW_SIGNING_PASSPHRASE": "pw"}  # fmt: skip
    rt = Runtime(Settings.load(env), env, migrate_ledger=True)
    acts = ResultActivities(rt.artifacts, rt.evidence_issuer)  # keys created on first use
    inp = example.example_input()
    first = acts.build_evidence_bundle(inp)
    second = acts.build_evidence_bundle(example.example_input(request_id="dsr-second"))
    assert SqlLog(rt.ledger).size() == 2
    out = tmp_path / "out"
    rt.artifacts.export(inp.request.request_id, out)
    opening = out / f"{inp.request.request_id}-subject-opening.json"
    assert json.loads(opening.read_text())["identifier"] == "email:jane.doe@example.org"
    (tmp_path / "keyring.json").write_bytes(rt.keys.keyring_path.read_bytes())
    keyring = str(tmp_path / "keyring.json")
    rid = inp.request.request_id
    args = ["--keyring", keyring, "--request-id", rid, "--subject-opening", str(opening)]
    r = run(tmp_path, "verify", first.path, *args, "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["verdict"] == "VERIFIED (root key not pinned)"
    root = json.loads(r.stdout)["passed"][1].split()[-1]
    r = run(tmp_path, "verify", first.path, *args, "--root-keyid", root, "--json")
    assert r.returncode == 0, r.stdout
    report = json.loads(r.stdout)
    assert report["ok"] and report["log"]["index"] == 0
    assert "binding: request id dsr-20260302-example and subject opening match" in report["passed"]
    # The same opening does not open the other request's bundle.
    r = run(tmp_path, "verify", second.path, "--keyring", str(tmp_path / "keyring.json"),
            "--subject-opening", str(opening))  # fmt: skip
    assert r.returncode == 1 and "subject opening is for request 'dsr-20260302-example'" in r.stdout
    assert "NOT VERIFIED" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_a_retried_signing_activity_returns_the_bundle_it_made(tmp_path: Path) -> None:
    # The worker dies after the bundle was saved, before Temporal heard: the retry must not
    # sign and log a second bundle for the same request.
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CONTROLLER": "Ctl Ltd",
           "DSRFLOW_SIGNING_PASSPHRASE": "pw"}  # fmt: skip
    rt = Runtime(Settings.load(env), env, migrate_ledger=True)
    acts = ResultActivities(rt.artifacts, rt.evidence_issuer)
    inp = example.example_input()
    first = acts.build_evidence_bundle(inp)
    again = acts.build_evidence_bundle(inp)
    assert again == first and SqlLog(rt.ledger).size() == 1
    # A bundle without its opening (a crash between the two saves, in the old order) is not
    # taken as issued: the retry signs a fresh one with a fresh opening.
    (rt.artifacts.dir(inp.request.request_id) / OPENING).unlink()
    third = acts.build_evidence_bundle(inp)
    assert third.sha256 != first.sha256 and SqlLog(rt.ledger).size() == 2
    assert not list(rt.artifacts.dir(inp.request.request_id).glob("*.part"))


def test_verify_input_errors_are_one_line(tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(example.build_example().bundle.data)
    r = run(tmp_path, "verify", str(bundle), "--keyring", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "none.json: cannot read keyring (No such file" in r.stderr
    (tmp_path / "k.json").write_bytes(example.build_example().keyring)
    (tmp_path / "verifier.json").write_text("{not json")
    r = run(tmp_path, "verify", str(bundle), "--keyring", str(tmp_path / "k.json"))
    assert r.returncode == 2 and "verifier.json: not a verifier state file" in r.stderr
    r = run(tmp_path, "verify", str(bundle), "--keyring", str(tmp_path / "k.json"),
            "--state", str(tmp_path / "fresh.json"), "--subject-opening", str(bundle))  # fmt: skip
    assert r.returncode == 2 and "b.zip: not a JSON subject opening" in r.stderr
    for res in (r,):
        assert "Traceback" not in res.stdout + res.stderr
