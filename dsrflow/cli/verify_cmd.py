"""``dsrflow verify`` and ``dsrflow keys``.

``verify`` is offline and imports only the verifier's light modules; ``keys`` manages the
controller's keys on the controller's side (and records each change in the audit log).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError

if TYPE_CHECKING:
    from dsrflow.verify import Expect, Report

keys_app = typer.Typer(help="The controller's evidence signing keys.", no_args_is_help=True)

KeyringOpt = Annotated[
    Path, typer.Option("--keyring", help="The controller's published keyring.json.")
]
RootOpt = Annotated[
    str | None,
    typer.Option("--root-keyid", help="Expected root key id (the controller's fingerprint)."),
]
MinVersionOpt = Annotated[
    int, typer.Option("--min-keyring-version", help="Refuse keyrings older than this version.")
]
StateOpt = Annotated[
    Path | None,
    typer.Option("--state", help="Verifier state file (pins, versions seen); see docs."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable report.")]
TofuOpt = Annotated[
    bool,
    typer.Option(
        "--trust-on-first-use",
        help="Trust (and pin) a root key not seen before; without it, or --root-keyid, or a "
        "pin, the verdict is 'VERIFIED (root key not pinned)' with exit code 3.",
    ),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to this file, not stdout.")]


def say(text: str, *, markup: bool = True) -> None:
    """Print one line unwrapped (key ids and reasons must stay greppable)."""
    out.print(text, soft_wrap=True, markup=markup)


def emit(text: str, out_file: Path | None, what: str) -> None:
    """Write ``text`` to ``out_file``, or verbatim to stdout (a console would wrap long lines)."""
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text)
        say(f"wrote {what} to {out_file}")
    else:
        sys.stdout.write(text)


def read_file(path: Path, what: str) -> bytes:
    """A file's bytes, or a one-line error naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None


def expect_for(
    keyring: Path,
    root_keyid: str | None,
    min_version: int,
    state_file: Path | None,
    *,
    trust_on_first_use: bool = False,
) -> Expect:
    """The trust inputs of a verification, from the command line."""
    from dsrflow.verify import Expect, TrustState
    from dsrflow.verify.state import StateError, default_state_path

    ring = read_file(keyring, "keyring")
    try:
        trust = TrustState.load(state_file or default_state_path(os.environ))
    except StateError as exc:
        raise UserError(str(exc)) from None
    return Expect(ring, trust, root_keyid, min_version, trust_on_first_use=trust_on_first_use)


def _store_line(s: dict[str, Any]) -> str:
    line = f"     store {s['store']}: {s['action']} (status {s['status']})"
    if s.get("verification") == "attested":
        line += f"; attested by {s['attested_by']}"
    elif s.get("verification"):
        line += f"; re-query residual {s['residual']}"
    sweep = s.get("sweep")
    if sweep:
        line += (f"; sweep {sweep['searched']} locations, {sweep['hits']} hits, "
                 f"{len(sweep['not_swept'])} not swept")  # fmt: skip
    return line


def print_report(report: Report, subject: str, as_json: bool) -> None:
    """Print a report; exit 1 if a check failed, 3 if it passed with an unpinned root key."""
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        from rich.markup import escape

        for line in report.passed:
            say(f"[green]PASS[/] {escape(line)}")
        for note in report.notes:
            say(f"[yellow]NOTE[/] {escape(note)}")
        for s in report.stores:
            say(_store_line(s), markup=False)
        if report.ok:
            colour = "green" if report.exit_code == 0 else "yellow"
            say(f"[bold {colour}]{escape(report.verdict)}[/] {escape(subject)}")
        else:
            say(f"[bold red]FAIL[/] {escape(report.failure or '')}")
            say(f"[bold red]NOT VERIFIED[/] {escape(subject)}")
        say("This cannot prove: " + "; ".join(report.limits) + ".", markup=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def verify(
    bundle: Annotated[Path, typer.Argument(help="Evidence bundle (.zip).")],
    keyring: KeyringOpt,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="The request the bundle must be for.")
    ] = None,
    subject_opening: Annotated[
        Path | None,
        typer.Option("--subject-opening", help="The data subject's opening (JSON) to check."),
    ] = None,
    root_keyid: RootOpt = None,
    min_keyring_version: MinVersionOpt = 0,
    state_file: StateOpt = None,
    trust_on_first_use: TofuOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify an evidence bundle offline; exit 0 only if every check passes with a trusted root.

    Exit 1 when a check fails, 2 for unusable input, 3 when every check passes but the root key
    is neither expected (--root-keyid), pinned, nor trusted on first use.
    """
    from dsrflow.verify import verify_bundle

    if not bundle.is_file():
        raise UserError(f"{bundle}: no such bundle file")
    expect = expect_for(
        keyring, root_keyid, min_keyring_version, state_file, trust_on_first_use=trust_on_first_use
    )
    expect.request_id = request_id
    if subject_opening is not None:
        try:
            expect.opening = json.loads(read_file(subject_opening, "subject opening"))
        except ValueError:
            raise UserError(f"{subject_opening}: not a JSON subject opening") from None
        if not isinstance(expect.opening, dict):
            raise UserError(f"{subject_opening}: not a JSON subject opening")
    report = verify_bundle(bundle, expect)
    subject = f"{bundle} (request {report.request_id})" if report.request_id else str(bundle)
    print_report(report, subject, as_json)


RootKeyOpt = Annotated[
    Path | None,
    typer.Option("--root-key", help="Root private key (default state_dir/keys/root-key.pem)."),
]


def _keys(ctx: typer.Context) -> tuple[Any, Any]:
    """The key-management use case and the CLI's principal."""
    from dsrflow.service.operations import ManageKeys

    st = state(ctx)
    return ManageKeys(st.runtime()), st.principal()


@keys_app.command("init")
def keys_init(
    ctx: typer.Context,
    root_key: RootKeyOpt = None,
    log_origin: Annotated[
        str | None, typer.Option("--log-origin", help="Transparency log origin (C2SP).")
    ] = None,
) -> None:
    """Create the root key, an evidence key, a log key and keyring version 1."""
    rt = state(ctx).runtime()
    keys, principal = _keys(ctx)
    ring = keys.init(principal, root_key, log_origin)
    say(f"keyring v1 for {ring.controller!r} in {rt.keys.keyring_path}", markup=False)
    say(f"root key fingerprint (publish it): {ring.root_key_id}")
    say(
        f"root private key: {root_key or rt.keys.dir / 'root-key.pem'} - keep it offline",
        markup=False,
    )
    if not rt.keys.encrypted:
        say(
            f"[yellow]warning:[/] signing keys are NOT encrypted at rest; set "
            f"{rt.keys.passphrase_env} (and DSRFLOW_ROOT_PASSPHRASE) before `keys init`"
        )


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    purpose: Annotated[str, typer.Option(help="evidence or log")] = "evidence",
    root_key: RootKeyOpt = None,
) -> None:
    """Replace the active key for a purpose; the old one stays valid for what it signed."""
    keys, principal = _keys(ctx)
    ring, new = keys.rotate(principal, purpose, root_key)
    say(f"keyring v{ring.version}: new {purpose} key {new.key_id}; publish the keyring")


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id (sha256:...) to mark compromised.")],
    root_key: RootKeyOpt = None,
    since: Annotated[
        datetime | None, typer.Option(help="When it was compromised (default now, UTC).")
    ] = None,
) -> None:
    """Mark a key compromised: no signature by it verifies any more (re-issue its bundles)."""
    from datetime import UTC

    when = since.replace(tzinfo=since.tzinfo or UTC) if since else None
    keys, principal = _keys(ctx)
    ring, new = keys.revoke(principal, key_id, root_key, when)
    say(f"keyring v{ring.version}: {key_id} marked compromised; publish the keyring", markup=False)
    if new is not None:
        say(f"replacement {new.purpose} key {new.key_id}")


@keys_app.command("export-public")
def export_public(ctx: typer.Context, out_file: OutOpt = None) -> None:
    """Write (or print) the public keyring regulators verify with; creates keys on first use."""
    keys, principal = _keys(ctx)
    ring, text = keys.public(principal)
    text += "" if out_file else "\n"
    emit(text, out_file, f"keyring v{ring.version} (root {ring.root_key_id})")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Show the keyring: every key, its purpose, status and validity window."""
    keys, principal = _keys(ctx)
    ring = keys.keyring(principal)
    say(f"keyring v{ring.version} of {ring.controller!r}, root {ring.root_key_id}", markup=False)
    say(f"log origin {ring.log_origin}", markup=False)
    for k in ring.keys:
        d = k.as_dict()
        say(f"{d['keyid']}  {d['purpose']:8} {d['status']:11} {d['not_before']} .. "
                  f"{d['not_after'] or 'open'}")  # fmt: skip
