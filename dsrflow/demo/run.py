"""``make demo``: the main job on the embedded stack, through the real CLI, start to finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dsrflow.demo import data
from dsrflow.devserver import die_with_parent
from dsrflow.errors import UserError

console = Console(highlight=False)


def _dsrflow() -> list[str]:
    script = Path(sys.executable).parent / "dsrflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dsrflow.cli.main"]


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _cli(env: dict[str, str], *args: str) -> int:
    console.print(f"[dim]$ dsrflow {' '.join(args)}[/]")
    return subprocess.call([*_dsrflow(), *args], env=env)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return
        if proc.poll() is not None:
            raise RuntimeError(
                f"dsrflow dev exited ({proc.returncode}):\n{log.read_text()[-2000:]}"
            )
        time.sleep(0.2)
    raise UserError(f"dsrflow dev not ready after {timeout:.0f}s; see {log}")


def run_demo(out_dir: Path, overrides: dict[str, str]) -> int:
    """Run the whole demo; returns the process exit code."""
    # SIGTERM (from `timeout`, CI, an impatient parent) must still run the clean-up below.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    out_dir = out_dir.resolve()
    _step("1. Seed two demo stores (shop, support) with several subjects")
    catalog = data.seed(out_dir)
    before_others = data.others_digest(out_dir)
    console.print(f"catalog {catalog}")
    console.print(f"subject rows before: {data.subject_counts(out_dir)}")

    env = {
        **os.environ,
        **overrides,
        "DSRFLOW_CATALOG": str(catalog),
        "DSRFLOW_ACTOR": os.environ.get("DSRFLOW_ACTOR", "staff:demo-analyst"),
    }
    # From the settings, as `dsrflow dev` will read them (a .env file may set the state folder).
    from dsrflow.settings import Settings

    state_dir = Settings.load(env).state_dir.resolve()
    env["DSRFLOW_STATE_DIR"] = str(state_dir)
    ready = state_dir / "dev.ready"
    ready.unlink(missing_ok=True)

    _step("2. Start the embedded stack (Temporal dev server + worker + ledger)")
    log = out_dir / "dev.log"
    with open(log, "wb") as log_fh:
        dev = subprocess.Popen(
            [*_dsrflow(), "dev"],
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # a killed demo must not leave the stack running
        )
    ok = False
    try:
        _wait_ready(dev, ready, log)
        console.print(log.read_text().strip())
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        access_id, erasure_id = f"demo-access-{stamp}", f"demo-erasure-{stamp}"

        _step("3. Access request (Art. 15): submit, verify identity, watch it run")
        if not _run_request(env, out_dir, "access", access_id, approve=False):
            return 1

        _step("4. Erasure request (Art. 17): submit, verify identity, approve, watch it run")
        if not _run_request(env, out_dir, "erasure", erasure_id, approve=True):
            return 1

        _step("5. Verify the evidence bundle offline with the controller's keyring")
        # The keys were created on first use by the signing activity (`keys init` in
        # production). The verifier's own state (pinned root, keyring versions seen) lives
        # beside the keys, so a fresh state folder does not clash with an old pin.
        keyring = out_dir / "controller-keyring.json"
        if _cli(env, "keys", "export-public", "--out", str(keyring)):
            return 1
        bundle = out_dir / f"{erasure_id}-evidence-bundle.zip"
        opening = out_dir / f"{erasure_id}-subject-opening.json"
        # The fingerprint the controller publishes (web site, letter): here, its own root key.
        # Without it (or a pin) the verdict is "VERIFIED (root key not pinned)", exit 3.
        from dsrflow.keys.keyring import load_keyring

        root = load_keyring(keyring.read_bytes()).root_key_id
        verify_args = ["--keyring", str(keyring), "--root-keyid", root, "--request-id", erasure_id]
        verify_args += ["--subject-opening", str(opening)]
        verify_args += ["--state", str(state_dir / "verifier-state.json")]
        verified = _cli(env, "verify", str(bundle), *verify_args) == 0

        _step("6. The stores afterwards")
        ok = _report(out_dir, before_others) and verified
    finally:
        _step("7. Shut everything down")
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
        console.print(f"embedded stack stopped (exit {dev.returncode}); log in {log}")
    elapsed = time.monotonic() - started
    if dev.returncode != 0:
        console.print("[red]the embedded stack did not stop cleanly[/]")
        ok = False
    if ok:
        console.print(f"[bold green]DEMO OK[/] in {elapsed:.1f}s - outputs in {out_dir}")
        return 0
    console.print(f"[bold red]DEMO FAILED[/] after {elapsed:.1f}s")
    return 1


def _run_request(env: dict[str, str], out_dir: Path, kind: str, rid: str, approve: bool) -> bool:
    """One request through the CLI, the way a privacy analyst runs it."""
    steps = [
        ["request", "submit", "--type", kind, "--email", data.SUBJECT_EMAIL, "--request-id", rid,
         "--case-ref", f"DEMO-{kind}"],
        ["request", "verify-identity", rid, "--method", "email_link", "--reference", f"CHK-{rid}"],
        # Four eyes: the erasure is approved by someone other than who verified the identity.
        *([["--actor", "staff:demo-approver", "request", "approve", rid,
            "--reason", "identity verified; no exemption applies"]] if approve else []),
        ["request", "watch", rid],
        ["request", "result", rid, "--out", str(out_dir)],
    ]  # fmt: skip
    return all(_cli(env, *step) == 0 for step in steps)


def _report(out_dir: Path, before_others: dict[str, str]) -> bool:
    after_subject = data.subject_counts(out_dir)
    after_others = data.others_digest(out_dir)
    mentions = data.raw_mentions(out_dir)
    table = Table()
    for col in ("table", "subject rows left", "other subjects' rows"):
        table.add_column(col)
    ok = True
    for key in sorted(before_others):
        left = after_subject.get(key)
        same = after_others[key] == before_others[key]
        ok &= same and not left
        table.add_row(
            key,
            "kept by policy" if left is None else str(left),
            "[green]unchanged[/]" if same else "[red]CHANGED[/]",
        )
    console.print(table)
    for store, hits in mentions.items():
        if hits:
            ok = False
            console.print(f"[red]{store}.db still contains {hits}[/]")
        else:
            console.print(f"{store}.db: no trace of the subject in the file's bytes")
    return ok
