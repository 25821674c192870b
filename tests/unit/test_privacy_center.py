"""The privacy center's intake: public pages, filing a request, field errors, CSRF, limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsrflow.ledger import outbox, privacy
from dsrflow.messages import contact
from dsrflow.service.intake_note import IntakeNote, RevealNote
from dsrflow.service.principal import NotAllowed
from tests.unit.privacy_kit import CANARY, center, csrf_of, file
from tests.unit.service_kit import ANALYST, AUDITOR

INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_the_pages_are_public_and_follow_the_page_csp(tmp_path: Path) -> None:
    _, _, web = center(tmp_path)
    home = web.get("/privacy/")
    assert home.status_code == 200
    for rtype in ("access", "export", "erasure", "restriction"):
        assert f'href="/privacy/request/{rtype}"' in home.text
        form = web.get(f"/privacy/request/{rtype}")
        assert form.status_code == 200 and 'name="email"' in form.text
        assert "script-src 'self'" in form.headers["content-security-policy"]
        assert not INLINE.search(form.text), "inline script, style or handler"
    assert web.get("/privacy/request/rectification").status_code == 404
    assert "dsrflow_privacy_csrf" in web.cookies


def test_filing_submits_as_the_privacy_center_with_ack_and_verification(
    tmp_path: Path,
) -> None:
    rt, fake, web = center(tmp_path)
    sent = file(web, "erasure", name="Wanda Canary", details="Also my old\r\naccount, please")
    assert sent.status_code == 303 and sent.headers["location"] == "/privacy/sent"
    assert "Check your inbox" in web.get("/privacy/sent").text

    (inp,) = fake.submitted
    assert str(inp.request_type) == "erasure" and inp.regulation == "gdpr"
    assert [(i.kind, i.value) for i in inp.identities] == [("email", CANARY)]
    rid = inp.request_id
    # The address is sealed under the request's key (Submit's own contact keeping).
    assert contact.read(rt.ledger, rt.keystore, rid) == CANARY
    kinds = sorted(m.kind for m in outbox.messages(rt.ledger, rid))
    assert kinds == ["acknowledgement", "verification"]
    (submit,) = [e for e in rt.ledger.audit_entries(rid) if e.action == "submit"]
    assert submit.actor == "system:privacy-center"
    note = privacy.note(rt.ledger, rid)
    assert note is not None and b"Wanda" not in note.sealed and b"account" not in note.sealed
    # Staff read it for a reason, audited in the decode category.
    with pytest.raises(NotAllowed):
        RevealNote(rt).run(AUDITOR, rid, "curious")
    opened = RevealNote(rt).run(ANALYST, rid, "ticket 4411: which old account")
    assert opened == IntakeNote("Wanda Canary", "Also my old\naccount, please")
    (entry,) = [e for e in rt.ledger.audit_entries(rid) if e.action == "reveal_note"]
    assert entry.actor == ANALYST.actor and entry.detail["reason"].startswith("ticket 4411")


def test_the_answer_does_not_tell_whether_the_address_filed_before(tmp_path: Path) -> None:
    _, fake, web = center(tmp_path)
    first, again = file(web), file(web)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len({i.request_id for i in fake.submitted}) == 2


def test_a_bad_field_is_named_on_one_line_and_the_address_never_echoed(tmp_path: Path) -> None:
    _, fake, web = center(tmp_path, DSRFLOW_INTAKE_DETAILS_MAX_CHARS="20")
    bad = file(web, email="not-an-address-" + CANARY.replace("@", "_"))
    assert bad.status_code == 400
    assert "email: this does not look like an e-mail address" in bad.text
    assert "not-an-address" not in bad.text

    long = file(web, details="x" * 21, name="Kept Name")
    assert long.status_code == 400
    assert "details: at most 20 characters" in long.text
    assert CANARY not in long.text and "Kept Name" in long.text

    ctrl = file(web, name="two\x00lines")
    assert "name: one line of printable text, please" in ctrl.text
    assert not fake.submitted


def test_an_oversized_body_is_refused_by_the_middleware(tmp_path: Path) -> None:
    _, fake, web = center(tmp_path, DSRFLOW_API_MAX_BODY_BYTES="2048")
    big = file(web, details="y" * 4000)
    assert big.status_code == 413
    assert not fake.submitted


def test_a_post_without_the_matching_csrf_value_is_refused(tmp_path: Path) -> None:
    _, fake, web = center(tmp_path)
    token = csrf_of(web.get("/privacy/request/access").text)
    data = {"email": CANARY, "regulation": "gdpr"}
    missing = web.post("/privacy/request/access", data=data)
    wrong = web.post("/privacy/request/access", data={**data, "csrf": token[::-1]})
    web.cookies.clear()
    no_cookie = web.post("/privacy/request/access", data={**data, "csrf": token})
    for refused in (missing, wrong, no_cookie):
        assert refused.status_code == 403
        assert "Please reload the page" in refused.text
    assert not fake.submitted


def test_the_rate_limit_holds_per_client_and_per_address(tmp_path: Path) -> None:
    rt, fake, web = center(
        tmp_path, DSRFLOW_INTAKE_RATE_PER_EMAIL="2", DSRFLOW_INTAKE_RATE_PER_CLIENT="4"
    )
    assert [file(web).status_code for _ in range(3)] == [303, 303, 429]
    assert len(fake.submitted) == 2
    others = [file(web, email=f"other{i}@example.org").status_code for i in range(2)]
    assert others == [303, 303]
    limited = file(web, email="a.fifth@example.org")  # the client's fifth: over its four
    assert limited.status_code == 429
    assert "Please try again later" in limited.text
    # Kept by keyed hash only: neither the address nor the client's IP is in the table.
    from dsrflow.ledger.models import IntakeAttemptRow

    with rt.ledger.session() as s:
        keys = [r.key for r in s.query(IntakeAttemptRow)]
    assert keys and all(re.fullmatch(r"(client|email):[0-9a-f]{64}", k) for k in keys)


def test_the_center_can_be_switched_off(tmp_path: Path) -> None:
    _, _, web = center(tmp_path, DSRFLOW_INTAKE_ENABLED="false")
    assert web.get("/privacy/").status_code == 404
    assert web.post("/privacy/request/access", data={"email": CANARY}).status_code == 404


def test_temporal_away_gives_a_try_again_page(tmp_path: Path) -> None:
    _, fake, web = center(tmp_path)
    fake.down = True
    away = file(web)
    assert away.status_code == 503 and "Please try again shortly" in away.text
    assert CANARY not in away.text
