"""Package delivery through the status page: a code by separate e-mail, one download, refusals.

Each refusal (wrong code, locked, expired window, purged package) is a clear page and an audit
entry; no code, link token or subject address reaches a log line or the audit log.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import structlog.testing

from dsrflow.ledger import deliveries, outbox
from dsrflow.service.package_delivery import code_hash, normal_code
from dsrflow.service.packages import PurgePackages
from tests.unit.delivery_kit import CANARY_NAME, delivered
from tests.unit.privacy_kit import CANARY, csrf_of
from tests.unit.service_kit import ADMIN

if TYPE_CHECKING:
    from tests.fixtures.mailbox import Mailbox


def _plain(d, tmp: Path) -> bytes:  # type: ignore[no-untyped-def]
    """The package's plaintext as staff's download decrypts it."""
    path = d.rt.artifacts.export_one(d.request_id, "package", tmp / "staff")
    return path.read_bytes()  # type: ignore[no-any-return]


def test_the_code_from_its_own_email_downloads_the_package_once(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    d = delivered(tmp_path, mailbox)
    with structlog.testing.capture_logs() as logs:
        code = d.ask_code()
        got = d.enter(code.lower().replace("-", " "))  # as typed by hand: case and spacing

    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    assert f'filename="{d.request_id}-access-package.zip"' in got.headers["content-disposition"]
    assert got.headers["cache-control"] == "no-store"
    assert got.content == _plain(d, tmp_path)
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert "manifest.json" in names and "report/index.html" in names
    (done,) = [e for e in d.rt.ledger.audit_entries(d.request_id)
               if e.action == "package_downloaded"]  # fmt: skip
    assert done.actor == "system:privacy-center" and done.detail["channel"] == "privacy-center"
    assert deliveries.row(d.rt.ledger, d.request_id).downloads == 1  # type: ignore[union-attr]

    again = d.enter(code)  # the code is spent by the download
    assert again.status_code == 400 and "not the code we sent" in again.text

    # Nothing keeps the code or the link token: not the outbox, logs or the audit log.
    kept = str(logs) + str([(e.action, e.detail) for e in d.rt.ledger.audit_entries()])
    kept += str([m.context for m in outbox.messages(d.rt.ledger, d.request_id)])
    for secret in (code, normal_code(code), d.token, CANARY, CANARY_NAME):
        assert secret not in kept
    row = deliveries.row(d.rt.ledger, d.request_id)
    assert row is not None and row.code_sha256 is None  # spent
    assert code_hash(d.rt, d.request_id, normal_code(code)) != normal_code(code)


def test_wrong_codes_lock_the_download_until_a_new_code(tmp_path: Path, mailbox: Mailbox) -> None:
    d = delivered(tmp_path, mailbox, DSRFLOW_DELIVERY_CODE_ATTEMPTS="3")
    code = d.ask_code()
    wrong = "ABCDE-FGHJK" if normal_code(code) != "ABCDEFGHJK" else "KJHGF-EDCBA"

    first = d.enter(wrong)
    assert first.status_code == 400 and "2 attempts left" in first.text
    assert "Traceback" not in first.text and code not in first.text
    assert d.enter("not a code at all").status_code == 400
    locked = d.enter(wrong)
    assert locked.status_code == 423 and "Download locked" in locked.text
    right_too_late = d.enter(code)  # the lock holds even against the right code
    assert right_too_late.status_code == 423 and "Download locked" in right_too_late.text
    # the third wrong code locks; then the code page and the right code are refused as locked
    assert d.refusals() == ["wrong_code", "wrong_code", "locked", "locked", "locked"]
    for e in d.rt.ledger.audit_entries(d.request_id):
        assert code not in str(e.detail) and wrong not in str(e.detail)

    fresh = d.ask_code()  # a new code lifts the lock
    assert d.enter(fresh).status_code == 200


def test_an_expired_download_is_a_clear_page_and_audited(tmp_path: Path, mailbox: Mailbox) -> None:
    d = delivered(tmp_path, mailbox, DSRFLOW_DELIVERY_WINDOW_DAYS="30")
    code = d.ask_code()
    d.ended(31)

    status = d.web.get(d.status)
    assert status.status_code == 200 and "that time is over" in status.text
    page = d.web.get(f"{d.status}/package")
    assert page.status_code == 410 and "This download has expired" in page.text
    got = d.enter(code)
    assert got.status_code == 410 and "This download has expired" in got.text
    assert got.headers["content-type"].startswith("text/html")
    # the code page's GET, the page the helper opens before posting, and the POST
    assert d.refusals() == ["window_closed", "window_closed", "window_closed"]


def test_a_purged_package_is_a_clear_page_and_audited(tmp_path: Path, mailbox: Mailbox) -> None:
    d = delivered(tmp_path, mailbox)
    code = d.ask_code()
    assert PurgePackages(d.rt).run(ADMIN, request_id=d.request_id) == [d.request_id]

    got = d.enter(code)
    assert got.status_code == 410 and "Your data has been deleted" in got.text
    assert "Traceback" not in got.text
    assert "has been deleted" in d.web.get(d.status).text
    assert d.refusals() == ["purged", "purged"]  # the code page, then the POST
    (purged,) = [e for e in d.rt.ledger.audit_entries(d.request_id)
                 if e.action == "package_purged"]  # fmt: skip
    assert purged.actor == ADMIN.actor and purged.detail["reason"] == "operator"
    assert "access-package.zip.enc" in purged.detail["files"]


def test_codes_need_the_csrf_value_and_unknown_links_get_a_page(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    d = delivered(tmp_path, mailbox)
    assert d.web.post(f"{d.status}/code", data={"csrf": "x" * 40}).status_code == 403
    assert d.web.post(f"{d.status}/package", data={"code": "ABCDE-FGHJK"}).status_code == 403
    unknown = d.web.get("/privacy/status/" + "A" * 43 + "/package")
    assert unknown.status_code == 404 and "This link does not work" in unknown.text


def test_guessing_status_links_for_a_package_is_rate_limited(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    d = delivered(tmp_path, mailbox, DSRFLOW_INTAKE_RATE_PER_CLIENT="2")
    csrf = csrf_of(d.web.get("/privacy/request/access").text)
    guesses = [
        d.web.post(f"/privacy/status/{'B' * 42}{n}/package", data={"csrf": csrf, "code": "x"})
        for n in range(3)
    ]
    assert [g.status_code for g in guesses] == [404, 404, 429]
    assert "Please try again later" in guesses[2].text
    refused = [e for e in d.rt.ledger.audit_entries() if e.action == "package_download_refused"]
    assert [e.detail["reason"] for e in refused] == ["unknown", "unknown"]
