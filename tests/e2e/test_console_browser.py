"""The console and the privacy center in headless Chromium, against the whole running stack.

A data subject files an erasure on the intake page and follows the verification link the local
SMTP server received; an analyst signs in and reveals who the subject is, giving a reason; an
approver approves; the page shows the request finishing without a reload; the evidence bundle
downloads and verifies offline with ``dsrflow verify``. An engineer sees no subject data.

Every step saves a screenshot (``test-output/screenshots/``). Each page the flow needs is looked
up in the app's route table first: a missing one fails the test there, naming the route. Any
request to a host other than the test server, any console error and any CSP violation fails the
test (``browser_page``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from dsrflow.demo.data import SUBJECT_EMAIL
from tests.fixtures.browser import BrowserPage, chromium_path, chromium_version
from tests.fixtures.console_stack import ConsoleStack
from tests.fixtures.stack import DSRFLOW, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUBJECT_NAME = "Alice Example"  # the demo shop's row for SUBJECT_EMAIL
PASSWORD = "correct horse battery staple 42"
STAFF = {"ann": "analyst", "abe": "approver", "eve": "engineer"}
WAIT_MS = 60_000

INTAKE = ("GET", "/privacy/request/{}")
VERIFY = ("GET", "/privacy/verify/{}")
LOGIN = ("GET", "/console/login")
REQUEST_PAGE = ("GET", "/console/requests/{}")
REVEAL = ("POST", "/console/requests/{}/reveal")
APPROVE = ("POST", "/console/requests/{}/approve")
BUNDLE = ("GET", "/console/requests/{}/bundle")
TASKS = ("GET", "/console/tasks")


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def need(stack: ConsoleStack, *routes: tuple[str, str]) -> None:
    """Fail here, naming the page, when a route the next steps need is not in the app."""
    table = {(m, _shape(p)) for m, p in stack.routes()}
    missing = [f"{m} {p}" for m, p in routes if (m, p) not in table]
    if missing:
        pytest.fail(f"not in the app's route table: {', '.join(missing)}")


async def create_accounts(stack: ConsoleStack) -> None:
    """Console accounts through the real CLI (``dsrflow accounts create``), one per role."""
    for name, role in STAFF.items():
        proc = await asyncio.create_subprocess_exec(
            *DSRFLOW, "accounts", "create", name, "--role", role, "--password-stdin",
            env={**os.environ, **stack.rt.env, "DSRFLOW_ACTOR": "staff:root"},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate(f"{PASSWORD}\n".encode())
        assert proc.returncode == 0, out.decode()


async def sign_in(bp: BrowserPage, stack: ConsoleStack, name: str) -> None:
    page = bp.page
    await page.goto(f"{stack.base_url}/console/login")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", PASSWORD)
    await bp.shot(f"{name}-sign-in")
    async with page.expect_navigation():
        await page.click("form [type=submit]")
    assert "/console/login" not in page.url, await page.content()
    assert "/console/password" not in page.url  # a password set by the CLI is not one-time


async def sign_out(bp: BrowserPage) -> None:
    await bp.page.context.clear_cookies()  # a fresh session for the next person


async def mail_link(stack: ConsoleStack, kind_word: str, pattern: str) -> str:
    """The link matching ``pattern`` in the subject's message whose subject has ``kind_word``."""
    for _ in range(600):
        for got in list(stack.mailbox.received):
            if got.rcpt == [SUBJECT_EMAIL] and kind_word in got.message["Subject"].lower():
                found = re.search(pattern, got.text)
                assert found, got.text
                return found.group(0)
        await asyncio.sleep(0.1)
    subjects = [m.message["Subject"] for m in stack.mailbox.received]
    raise AssertionError(f"no {kind_word!r} message; got {subjects}")


async def status_becomes(stack: ConsoleStack, rid: str, status: str) -> None:
    """Wait until the ledger's projection shows ``status`` (the workflow writes it)."""
    seen = None
    for _ in range(600):
        row = stack.rt.ledger.get_request(rid)
        seen = row.status if row else None
        if seen == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"request {rid} is {seen}, not {status}")


@pytest.mark.timeout(300)
async def test_erasure_from_intake_to_verified_bundle(
    console_stack: ConsoleStack, browser_page: BrowserPage, tmp_path: Path
) -> None:
    stack, bp, page = console_stack, browser_page, browser_page.page
    bp.allow(stack.base_url)
    base = stack.base_url

    # 1. The subject files an erasure on the intake page.
    need(stack, INTAKE, VERIFY)
    await page.goto(f"{base}/privacy/request/erasure")
    await bp.shot("01-intake-form")
    await page.fill("input[name=email]", SUBJECT_EMAIL)
    await page.fill("input[name=name]", SUBJECT_NAME)
    async with page.expect_navigation():
        await page.click("form.intake [type=submit]")
    await bp.shot("02-intake-sent")
    assert page.url.startswith(base) and "Check your inbox" in await page.content()

    # 2. ... and follows the link in the e-mail the local SMTP server received.
    link = await mail_link(stack, "confirm", re.escape(base) + r"/privacy/verify/[^\s\"'<>]+")
    await page.goto(link)
    await bp.shot("03-confirm-page")
    rid = await page.locator("main strong").first.inner_text()
    assert stack.rt.ledger.get_request(rid) is not None, rid
    async with page.expect_navigation():
        await page.click("form [type=submit]")
    assert "your request is confirmed" in await page.content()
    await bp.shot("04-confirmed")
    status_link = base + await page.locator("a[href^='/privacy/status/']").get_attribute("href")
    await status_becomes(stack, rid, "awaiting_approval")

    # 3. An analyst signs in and reveals the subject, giving a reason.
    need(stack, LOGIN, REQUEST_PAGE, REVEAL, APPROVE, BUNDLE)
    await create_accounts(stack)
    await sign_in(bp, stack, "ann")
    await page.goto(f"{base}/console/")
    await bp.shot("05-analyst-inbox")
    assert await page.locator(f"a[href='/console/requests/{rid}']").count() > 0
    await page.goto(f"{base}/console/requests/{rid}")
    assert SUBJECT_EMAIL not in await page.content()  # hidden until revealed
    await bp.shot("06-analyst-request")
    await page.fill("form.reveal [name=reason]", "the subject called to ask which account")
    async with page.expect_navigation():
        await page.click("form.reveal [type=submit]")
    assert SUBJECT_EMAIL in await page.locator("ul.identities").inner_text()
    await bp.shot("07-analyst-revealed")
    await sign_out(bp)

    # 4. An approver approves; the request finishes live on the page (no reload).
    await sign_in(bp, stack, "abe")
    await page.goto(f"{base}/console/requests/{rid}")
    assert SUBJECT_EMAIL not in await page.content()  # a reveal shows one page to one person
    await bp.shot("08-approver-request")
    await page.fill("form.decision-approve [name=reason]", "identity confirmed by e-mail link")
    async with page.expect_navigation():
        await page.click("form.decision-approve [type=submit]")
    await bp.shot("09-approved")
    loads = await page.evaluate("performance.getEntriesByType('navigation').length")
    url = page.url
    status = page.locator("#status")
    await page.wait_for_function(
        "() => /completed/i.test(document.getElementById('status').textContent)",
        timeout=WAIT_MS,
    )
    assert page.url == url  # the same document, updated in place by console.js
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == loads
    await bp.shot("10-completed-live")
    assert "completed" in (await status.inner_text()).lower()
    # the decisions offered while it ran are withdrawn once it has ended
    await page.wait_for_function("() => document.getElementById('decisions').hidden")
    await status_becomes(stack, rid, "completed")

    # 5. The bundle downloads and verifies offline.
    await page.reload()  # the downloads appear with the results
    async with page.expect_download() as download:
        await page.click(f"a[href='/console/requests/{rid}/bundle']")
    bundle = tmp_path / "bundle.zip"
    await (await download.value).save_as(bundle)
    await bp.shot("11-bundle-downloaded")
    assert SUBJECT_EMAIL.encode() not in bundle.read_bytes()
    await verify_offline(stack, bundle, rid, tmp_path)

    # 6. The subject's status page (the link from the confirmation) says it is done.
    await sign_out(bp)
    await page.goto(status_link)
    await bp.shot("12-subject-status")
    assert "Your request is complete" in await page.content()


async def verify_offline(stack: ConsoleStack, bundle: Path, rid: str, tmp_path: Path) -> None:
    """``dsrflow verify`` on the downloaded bundle with the controller's published keyring."""
    from dsrflow.keys.keyring import load_keyring

    keyring = tmp_path / "keyring.json"
    code, out = await run_cli(stack.rt, "keys", "export-public", "--out", str(keyring))
    assert code == 0, out
    root = load_keyring(keyring.read_bytes()).root_key_id
    code, out = await run_cli(
        stack.rt, "verify", str(bundle), "--keyring", str(keyring), "--root-keyid", root,
        "--request-id", rid, "--state", str(tmp_path / "verifier.json"), "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["ok"] is True


@pytest.mark.timeout(180)
async def test_an_engineer_sees_no_subject_data(
    console_stack: ConsoleStack, browser_page: BrowserPage
) -> None:
    """The engineer role runs stores, not requests: every request page refuses it (an HTML
    403), its task list opens, and no page it reaches shows the subject."""
    stack, bp, page = console_stack, browser_page, browser_page.page
    bp.allow(stack.base_url)
    need(stack, LOGIN, REQUEST_PAGE, TASKS)
    rid = f"brw-{uuid.uuid4().hex[:8]}"
    code, out = await run_cli(stack.rt, "request", "submit", "--type", "erasure", "--email",
                              SUBJECT_EMAIL, "--request-id", rid, actor="staff:ivy")  # fmt: skip
    assert code == 0, out
    await create_accounts(stack)
    await sign_in(bp, stack, "eve")
    refused = 0
    pages = [
        ("inbox", "/console/", 403), ("request", f"/console/requests/{rid}", 403),
        ("progress", f"/console/requests/{rid}/progress", 403),
        ("bundle", f"/console/requests/{rid}/bundle", 403), ("tasks", "/console/tasks", 200),
    ]  # fmt: skip
    for step, path, expected in pages:
        response = await page.goto(stack.base_url + path)
        assert response is not None and response.status == expected, (path, response)
        refused += expected == 403
        await bp.shot(f"engineer-{step}")
        html = (await page.content()).lower()
        for secret in (SUBJECT_EMAIL, SUBJECT_NAME.lower(), "acacia", "7946 0101"):
            assert secret not in html, f"{path} shows {secret!r} to an engineer"
    # The refusals were the point: Chromium reports each 403 document as a console error.
    # The 403 on sign-in's redirect to the inbox is one more.
    forbidden = [e for e in bp.errors if "status of 403" in e]
    assert len(forbidden) == refused + 1, bp.errors
    bp.errors[:] = [e for e in bp.errors if e not in forbidden]


async def test_the_evidence_certificate_renders_offline(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    """The printable certificate from a signed bundle renders with nothing fetched elsewhere."""
    import io
    import zipfile

    from dsrflow.evidence.example import build_example
    from dsrflow.evidence.format import CERTIFICATE

    example = build_example()
    with zipfile.ZipFile(io.BytesIO(example.bundle.data)) as zf:
        (tmp_path / CERTIFICATE).write_bytes(zf.read(CERTIFICATE))
    async with serve_folder(tmp_path) as base:
        browser_page.allow(base)
        page = browser_page.page
        response = await page.goto(f"{base}/{CERTIFICATE}")
        assert response is not None and response.ok
        await page.wait_for_load_state("networkidle")
        assert "Certificate of Sanitization" in await page.title()
        heading = page.locator("h1")
        assert await heading.inner_text() == (
            "Certificate of Sanitization (erasure of personal data)"
        )
        # Its own stylesheet applied (a rendered page, not raw text): the heading's rule.
        border = await heading.evaluate("h => getComputedStyle(h).borderBottomStyle")
        assert border == "solid"
        stores = await page.locator("div.store h2").all_inner_texts()
        assert stores and all(s.startswith("Store ") for s in stores)
        assert "jane.doe" not in (await page.content()).lower()  # a commitment, not the subject
        shot = await browser_page.shot("certificate")
    assert shot.exists()
    assert browser_page.requests == [f"{base}/{CERTIFICATE}"]  # nothing else was fetched


async def test_the_system_chromium_runs_and_nothing_was_downloaded(chromium: Any) -> None:
    """Playwright drives Debian's browser; it did not fetch one of its own."""
    import os

    assert chromium.version == chromium_version(chromium_path())
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    fetched = sorted(p.name for p in cache.glob("chromium*")) if cache.is_dir() else []
    assert fetched == [], f"Playwright downloaded a browser into {cache}: {fetched}"


class serve_folder:  # a context manager; reads as a verb at its use
    """A throwaway static HTTP server over a folder on a free local port (the test server)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def __aenter__(self) -> str:
        import functools
        import threading
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(self.folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_the_page_guard_catches_a_cdn_and_a_csp_violation(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    """What the flow relies on: a third-party fetch and an inline script are both caught."""
    (tmp_path / "bad.html").write_text(
        "<!doctype html><html><head>"
        '<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">'
        '</head><body><img src="https://cdn.example.invalid/logo.png" alt="">'
        "<script>document.title = 'inline ran'</script></body></html>"
    )
    async with serve_folder(tmp_path) as base:
        browser_page.allow(base)
        await browser_page.page.goto(f"{base}/bad.html")
        await browser_page.page.wait_for_load_state("networkidle")
        assert await browser_page.page.title() != "inline ran"  # CSP held
    assert browser_page.foreign == ["https://cdn.example.invalid/logo.png"]
    assert any("CSP violation: script-src" in e for e in browser_page.errors), browser_page.errors
    # Both were the point of this test: clear them so the fixture's teardown check passes.
    browser_page.foreign.clear()
    browser_page.errors.clear()
