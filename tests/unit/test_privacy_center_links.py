"""The privacy center's e-mail link: confirm once (identity verified by email_link, through
Decide), expired/used/unknown pages, the status page, and no token or address at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog.testing

from dsrflow.ledger import outbox, privacy
from dsrflow.messages import kinds
from dsrflow.service.messages import SendPending
from dsrflow.service.subject_intake import mint_link, token_hash
from tests.unit.messages_kit import SENDER
from tests.unit.privacy_kit import CANARY, center, csrf_of, file


def _filed(tmp: Path, **env: str):  # type: ignore[no-untyped-def]
    rt, fake, web = center(tmp, **env)
    assert file(web, "access").status_code == 303
    (inp,) = fake.submitted
    return rt, fake, web, inp.request_id


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _confirm(web, token: str):  # type: ignore[no-untyped-def]
    page = web.get(f"/privacy/verify/{token}")
    assert page.status_code == 200, page.text
    return web.post(f"/privacy/verify/{token}", data={"csrf": csrf_of(page.text)})


def test_the_link_confirms_once_as_the_privacy_center(tmp_path: Path) -> None:
    rt, _, web, rid = _filed(tmp_path)
    token = _token_of(mint_link(rt, rid)["verify_url"])

    shown = web.get(f"/privacy/verify/{token}")  # a mail scanner's prefetch changes nothing
    assert shown.status_code == 200 and "Confirm my request" in shown.text
    assert rt.ledger.get_request(rid).status == "awaiting_verification"  # type: ignore[union-attr]
    assert privacy.link(rt.ledger, token_hash(token)).used_at is None  # type: ignore[union-attr]

    done = web.post(f"/privacy/verify/{token}", data={"csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and "your request is confirmed" in done.text
    (act,) = [a for a in rt.ledger.actions(rid) if a.action == "identity_verified"]
    assert act.actor == "system:privacy-center" and "method=email_link" in act.detail
    assert act.at is not None
    audited = [e for e in rt.ledger.audit_entries(rid) if e.action == "verify_identity"]
    assert [e.actor for e in audited] == ["system:privacy-center"]

    again = web.post(f"/privacy/verify/{token}", data={"csrf": csrf_of(shown.text)})
    assert again.status_code == 410 and "has been used already" in again.text
    assert web.get(f"/privacy/verify/{token}").headers["location"] == f"/privacy/status/{token}"
    refused = [e for e in rt.ledger.audit_entries(rid) if e.action == "verify_link_refused"]
    assert len(refused) == 1 and token not in str(refused[0].detail)


def test_expired_and_unknown_links_get_a_clear_page_and_an_audit_entry(tmp_path: Path) -> None:
    rt, _, web, rid = _filed(tmp_path, DSRFLOW_INTAKE_LINK_TTL_HOURS="1")
    past = datetime.now(UTC) - timedelta(hours=2)
    old = _token_of(mint_link(rt, rid, now=past)["verify_url"])
    page = web.get(f"/privacy/verify/{old}")
    assert page.status_code == 410 and "This link has expired" in page.text
    assert web.get(f"/privacy/status/{old}").status_code == 410

    fresh = web.get("/privacy/request/access")  # any page of ours gives the CSRF cookie
    csrf = csrf_of(fresh.text)
    expired = web.post(f"/privacy/verify/{old}", data={"csrf": csrf})
    assert expired.status_code == 410 and "expired" in expired.text
    bogus = "A" * 43
    unknown = web.post(f"/privacy/verify/{bogus}", data={"csrf": csrf})
    assert unknown.status_code == 404 and "This link does not work" in unknown.text
    assert web.get("/privacy/verify/short").status_code == 404

    entries = [e for e in rt.ledger.audit_entries() if e.action == "verify_link_refused"]
    got = {(e.request_id or "", e.detail["reason"]) for e in entries}  # type: ignore[index]
    assert got == {(rid, "expired"), ("", "unknown")}
    assert all(old not in str(e.detail) and bogus not in str(e.detail) for e in entries)
    assert rt.ledger.get_request(rid).status == "awaiting_verification"  # type: ignore[union-attr]


def test_the_confirm_post_needs_the_csrf_value(tmp_path: Path) -> None:
    rt, _, web, rid = _filed(tmp_path)
    token = _token_of(mint_link(rt, rid)["verify_url"])
    refused = web.post(f"/privacy/verify/{token}", data={"csrf": "x" * 43})
    assert refused.status_code == 403
    assert privacy.link(rt.ledger, token_hash(token)).used_at is None  # type: ignore[union-attr]


def test_the_status_page_shows_progress_in_plain_words(tmp_path: Path) -> None:
    rt, _, web, rid = _filed(tmp_path)
    token = _token_of(mint_link(rt, rid)["verify_url"])
    before = web.get(f"/privacy/status/{token}")
    assert before.status_code == 200
    assert "Waiting for you to confirm it" in before.text and "Not confirmed yet" in before.text
    assert _confirm(web, token).status_code == 200

    after = web.get(f"/privacy/status/{token}")
    row = rt.ledger.get_request(rid)
    assert row is not None and row.due_at is not None
    assert "In progress." in after.text and "Confirmed on" in after.text
    assert f"{row.received_at:%d %B %Y}" in after.text and f"{row.due_at:%d %B %Y}" in after.text
    assert CANARY not in after.text and "See your data" in after.text

    with rt.ledger.session() as s:  # the request completes
        from dsrflow.ledger.models import RequestRow

        s.get(RequestRow, rid).status = "completed"  # type: ignore[union-attr]
    assert "the result is on its way" in web.get(f"/privacy/status/{token}").text

    rt.ledger.mark_purged(rid)
    gone = web.get(f"/privacy/status/{token}")
    assert gone.status_code == 410 and "No longer available" in gone.text


def test_the_sender_mints_the_link_and_nothing_keeps_the_token_or_address(
    tmp_path: Path,
) -> None:
    with structlog.testing.capture_logs() as logs:
        rt, _, web, rid = _filed(tmp_path)
        SendPending(rt).run(SENDER)  # no SMTP server: recorded as not sent, rendered anyway
        token = _token_of(mint_link(rt, rid)["verify_url"])
        assert _confirm(web, token).status_code == 200
        web.get(f"/privacy/status/{token}")
    (verification,) = [m for m in outbox.messages(rt.ledger, rid) if m.kind == kinds.VERIFICATION]
    assert verification.status == kinds.NOT_SENT and "verify_url" not in verification.context
    links = privacy.links_of(rt.ledger, rid)
    assert len(links) == 2 and token_hash(token) in {r.token_sha256 for r in links}

    # Canary: neither the token nor the address in any ledger file, log line or audit entry.
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert stored and token.encode() not in stored and CANARY.encode() not in stored
    assert token_hash(token).encode() in stored
    assert token not in str(logs) and CANARY not in str(logs)
    entries = str([(e.actor, e.action, e.detail) for e in rt.ledger.audit_entries()])
    assert token not in entries and CANARY not in entries


def test_a_confirmation_temporal_did_not_take_leaves_the_link_usable(tmp_path: Path) -> None:
    rt, fake, web, rid = _filed(tmp_path)
    token = _token_of(mint_link(rt, rid)["verify_url"])
    fake.down = True
    page = web.get(f"/privacy/verify/{token}")
    away = web.post(f"/privacy/verify/{token}", data={"csrf": csrf_of(page.text)})
    assert away.status_code == 503
    assert privacy.link(rt.ledger, token_hash(token)).used_at is None  # type: ignore[union-attr]
    fake.down = False
    assert _confirm(web, token).status_code == 200


def test_guessing_links_is_rate_limited_per_client(tmp_path: Path) -> None:
    rt, _, web, rid = _filed(tmp_path, DSRFLOW_INTAKE_RATE_PER_CLIENT="3")
    token = _token_of(mint_link(rt, rid)["verify_url"])
    csrf = csrf_of(web.get("/privacy/request/access").text)
    guesses = [web.post(f"/privacy/verify/{'G' * 42}{i}", data={"csrf": csrf}) for i in range(4)]
    assert [g.status_code for g in guesses] == [404, 404, 404, 429]
    # Even a good link waits out the window: the client is refused before any lookup.
    assert web.post(f"/privacy/verify/{token}", data={"csrf": csrf}).status_code == 429
    refused = [e for e in rt.ledger.audit_entries() if e.action == "verify_link_refused"]
    assert len(refused) == 3
