"""The sender against a real SMTP server (aiosmtpd, in-process) and a local webhook receiver."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from dsrflow.domain import RequestStatus
from dsrflow.ledger import outbox
from dsrflow.messages import contact, webhook
from dsrflow.service.messages import NO_CONTACT, SendPending
from tests.fixtures.mailbox import Mailbox, WebhookReceiver
from tests.unit.messages_kit import ADDRESS, SENDER, Projector, runtime

AUTHORITY = "the Information Commissioner's Office (ico.org.uk)"


def _rows(rt, rid: str) -> dict[str, outbox.OutboxMessageRow]:
    return {r.kind: r for r in outbox.messages(rt.ledger, rid)}


def test_subject_messages_arrive_with_what_the_law_asks_them_to_say(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    rt = runtime(tmp_path, **mailbox.env(), DSRFLOW_MESSAGES_AUTHORITY=AUTHORITY)
    rid = "dsr-20260302-0000aa01"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    p = Projector(rt, rid)
    p.project(RequestStatus.AWAITING_VERIFICATION)
    p.act("staff:ann", "deadline_extended", "+2 months: 40 stores to search, 3 are tape archives")
    p.project(RequestStatus.AWAITING_VERIFICATION)
    p.act("staff:bob", "denied", "Art. 12(5)(b) repeated request")
    p.project(RequestStatus.DENIED, reason="Art. 12(5)(b): the same request as on 1 March")

    report = SendPending(rt).run(SENDER)
    assert (report.sent, report.failed, report.not_sent, report.retrying) == (3, 0, 0, 0)
    got = {m.message["Subject"]: m for m in mailbox.wait_for(3)}
    assert all(m.rcpt == [ADDRESS] and m.message["To"] == ADDRESS for m in got.values())
    assert all(m.message["From"] == "privacy@controller.test" for m in got.values())

    ack = got[f"We have received your request ({rid})"].text
    assert "received it on 02 March 2026" in ack and "answer by 02 April 2026" in ack

    ext = got[f"We need more time for your request ({rid})"].text
    assert "by 2 months" in ext and "Why: 40 stores to search, 3 are tape archives" in ext
    assert "Article 12(3)" in ext and "answer by 02 April 2026" in ext

    denial = got[f"Your request {rid}: we are not taking action"].text
    assert "Art. 12(5)(b): the same request as on 1 March" in denial
    assert "right to lodge a complaint with a supervisory authority" in denial
    assert AUTHORITY in denial and "judicial remedy" in denial and "Article 12(4)" in denial

    rows = _rows(rt, rid)
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.channel for r in rows.values()} == {"email"}
    sent_ids = {m.message["Message-ID"] for m in got.values()}
    assert {r.reference for r in rows.values()} == sent_ids
    audit = [e for e in rt.ledger.audit_entries(rid) if e.action == "message_sent"]
    assert sorted(e.detail["kind"] for e in audit) == ["acknowledgement", "denial", "extension"]
    assert all(e.category == "system" and e.actor == "system:messages" for e in audit)
    assert ADDRESS not in json.dumps([e.detail for e in rt.ledger.audit_entries()])
    # Sent once: a second round has nothing to do.
    assert SendPending(rt).run(SENDER).sent == 0
    time.sleep(0.2)
    assert len(mailbox.received) == 3


def test_completion_of_an_access_request_carries_the_delivery_reference(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    from dsrflow.domain import ArtifactRef, RequestType

    url = "https://privacy.example.com/requests/{request_id}"
    rt = runtime(tmp_path, **mailbox.env(), DSRFLOW_MESSAGES_STATUS_URL=url)
    rid = "dsr-20260302-0000aa02"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    p = Projector(rt, rid, RequestType.ACCESS)
    p.project(RequestStatus.RUNNING)
    sha = "sha256:" + "b" * 64
    p.project(RequestStatus.COMPLETED, artifact=ArtifactRef("access_package", "p/x.enc", sha))
    SendPending(rt).run(SENDER)
    done = {m.message["Subject"]: m for m in mailbox.wait_for(2)}[f"Your request {rid} is complete"]
    assert f"collect it here: https://privacy.example.com/requests/{rid}" in done.text
    assert f"Delivery reference: {rid} / access_package sha256:bbbbbbbbbbbbbbbb" in done.text


def test_a_request_without_an_address_is_recorded_as_not_sent(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    rt = runtime(tmp_path, **mailbox.env())
    rid = "dsr-20260302-0000aa03"
    Projector(rt, rid).project(RequestStatus.AWAITING_VERIFICATION)
    report = SendPending(rt).run(SENDER)
    assert (report.sent, report.not_sent) == (0, 1)
    row = _rows(rt, rid)["acknowledgement"]
    assert (row.status, row.last_error, row.attempts) == ("not_sent", NO_CONTACT, 1)
    entry = [e for e in rt.ledger.audit_entries(rid) if e.action == "message_not_sent"]
    assert entry and entry[0].detail["problem"] == NO_CONTACT
    assert mailbox.received == []


def test_temporary_refusals_are_retried_with_exponential_backoff(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    rt = runtime(tmp_path, **mailbox.env())
    rid = "dsr-20260302-0000aa04"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    Projector(rt, rid).project(RequestStatus.AWAITING_VERIFICATION)
    mailbox.refuse = 2
    t0 = datetime.now(UTC)

    assert SendPending(rt).run(SENDER, now=t0).retrying == 1
    row = _rows(rt, rid)["acknowledgement"]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "SMTP 451 message refused")
    assert abs(_aware(row.next_attempt_at) - (t0 + timedelta(seconds=60))) < timedelta(seconds=1)

    assert SendPending(rt).run(SENDER, now=t0 + timedelta(seconds=59)).retrying == 0  # not due
    t1 = t0 + timedelta(seconds=61)
    assert SendPending(rt).run(SENDER, now=t1).retrying == 1
    row = _rows(rt, rid)["acknowledgement"]
    assert row.attempts == 2  # the second wait is twice the first
    assert abs(_aware(row.next_attempt_at) - (t1 + timedelta(seconds=120))) < timedelta(seconds=1)

    assert SendPending(rt).run(SENDER, now=t1 + timedelta(seconds=121)).sent == 1
    row = _rows(rt, rid)["acknowledgement"]
    assert (row.status, row.attempts) == ("sent", 3)
    assert mailbox.refused == 2 and len(mailbox.wait_for(1)) == 1


def test_after_max_attempts_the_message_fails_and_staff_are_told_by_signed_webhook(
    tmp_path: Path, mailbox: Mailbox, webhook_receiver: WebhookReceiver
) -> None:
    rt = runtime(
        tmp_path, **mailbox.env(),
        DSRFLOW_MESSAGES_MAX_ATTEMPTS="3",
        DSRFLOW_MESSAGES_WEBHOOK_URL=webhook_receiver.url,
        DSRFLOW_MESSAGES_WEBHOOK_SECRET="s3cret-for-tests",
    )  # fmt: skip
    rid = "dsr-20260302-0000aa05"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    Projector(rt, rid).project(RequestStatus.AWAITING_VERIFICATION)
    mailbox.refuse = 100
    now = datetime.now(UTC)
    for _ in range(3):
        SendPending(rt).run(SENDER, now=now)
        now += timedelta(hours=1)
    rows = _rows(rt, rid)
    ack = rows["acknowledgement"]
    assert (ack.status, ack.attempts) == ("failed", 3)
    assert ack.last_error == "SMTP 451 message refused"
    staff = rows["message_failed"]
    assert (staff.status, staff.channel, staff.seq) == ("sent", "webhook", ack.id)
    assert mailbox.refused == 3 and mailbox.received == []

    (call,) = webhook_receiver.calls
    ts, sig = call.headers[webhook.TIMESTAMP], call.headers[webhook.SIGNATURE]
    assert webhook.verify("s3cret-for-tests", ts, call.body, sig)
    assert not webhook.verify("s3cret-for-tests", ts, call.body + b" ", sig)
    assert not webhook.verify("another-secret", ts, call.body, sig)
    assert not webhook.verify("s3cret-for-tests", str(int(ts) - 3600), call.body, sig)
    text = json.loads(call.body)["text"]
    assert rid in text and "acknowledgement" in text and "SMTP 451" in text
    assert ADDRESS not in call.body.decode() and "alice" not in call.body.decode()
    failed = [e for e in rt.ledger.audit_entries(rid) if e.action == "message_failed"]
    assert failed and failed[0].detail["attempts"] == 3


def test_a_permanent_refusal_fails_at_once_without_echoing_the_address(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    rt = runtime(tmp_path, **mailbox.env())
    rid = "dsr-20260302-0000aa06"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    Projector(rt, rid).project(RequestStatus.AWAITING_VERIFICATION)
    mailbox.refuse, mailbox.refusal = 1, f"554 5.7.1 <{ADDRESS}>: message rejected as spam"
    report = SendPending(rt).run(SENDER)
    assert report.failed == 1
    rows = _rows(rt, rid)
    assert (rows["acknowledgement"].status, rows["acknowledgement"].attempts) == ("failed", 1)
    assert rows["acknowledgement"].last_error == "SMTP 554 message refused"
    # No staff channel is configured: the escalation says so instead of vanishing.
    assert rows["message_failed"].status == "not_sent"


def test_staff_messages_go_by_mail_when_no_webhook_is_set(tmp_path: Path, mailbox: Mailbox) -> None:
    staff = "dpo@controller.test, ops@controller.test"
    rt = runtime(tmp_path, **mailbox.env(), DSRFLOW_MESSAGES_STAFF_EMAIL=staff)
    rid = "dsr-20260302-0000aa07"
    p = Projector(rt, rid)
    p.project(RequestStatus.RUNNING)
    p.act("clock:deadline", "task_escalated", "due 2026-04-02", "paper_archive")
    p.project(RequestStatus.RUNNING)
    SendPending(rt).run(SENDER)
    got = [m for m in mailbox.wait_for(1) if "Escalation" in m.message["Subject"]]
    assert got[0].rcpt == ["dpo@controller.test", "ops@controller.test"]
    assert "store paper_archive is still waiting" in got[0].text


def test_the_address_and_the_body_never_reach_a_log_line(
    tmp_path: Path, mailbox: Mailbox, caplog
) -> None:
    rt = runtime(tmp_path, **mailbox.env())
    rid = "dsr-20260302-0000aa08"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    p = Projector(rt, rid)
    p.project(RequestStatus.AWAITING_VERIFICATION)
    p.act("staff:ann", "deadline_extended", "+1 months: unusually many stores")
    p.project(RequestStatus.AWAITING_VERIFICATION)
    mailbox.refuse = 1  # a retry's log line too
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        SendPending(rt).run(SENDER)
        SendPending(rt).run(SENDER, now=datetime.now(UTC) + timedelta(hours=1))
    assert {e["event"] for e in events} >= {"message sent", "message deferred"}
    # The sender's events as handed to structlog (before the redaction processor, so nothing is
    # hidden by it), and every stdlib record but the test SMTP server's own (it logs what it got).
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    logged = json.dumps(events, default=str) + "\n".join(ours)
    bodies = [m.text for m in mailbox.wait_for(2)]
    assert ADDRESS not in logged and "alice" not in logged
    for body in bodies:
        for line in (ln.strip() for ln in body.splitlines()):
            if len(line) > 25:  # every sentence of the body, not just a word that is also an id
                assert line not in logged


def test_starttls_with_a_private_ca(tmp_path: Path) -> None:
    import ssl

    from aiosmtpd.controller import Controller

    from tests.fixtures.mailbox import Mailbox as Box
    from tests.fixtures.mailbox import _free_port, _Handler

    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Box("127.0.0.1", _free_port())
    controller = Controller(
        _Handler(box), hostname=box.host, port=box.port, tls_context=ctx, require_starttls=True
    )
    controller.start()
    try:
        env = {**box.env(), "DSRFLOW_SMTP_SECURITY": "starttls", "DSRFLOW_SMTP_CA_FILE": str(cert)}
        rt = runtime(tmp_path, **env)
        rid = "dsr-20260302-0000aa09"
        contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
        Projector(rt, rid).project(RequestStatus.AWAITING_VERIFICATION)
        assert SendPending(rt).run(SENDER).sent == 1
        assert box.wait_for(1)[0].rcpt == [ADDRESS]

        # Without the private CA the server's certificate is not trusted: retried, not sent.
        plain = runtime(tmp_path / "b", **{**box.env(), "DSRFLOW_SMTP_SECURITY": "starttls"})
        contact.keep(plain.ledger, plain.keystore, rid, ADDRESS)
        Projector(plain, rid).project(RequestStatus.AWAITING_VERIFICATION)
        assert SendPending(plain).run(SENDER).retrying == 1
        assert _rows(plain, rid)["acknowledgement"].last_error.startswith("TLS ")
    finally:
        controller.stop()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    loopback = ipaddress.ip_address("127.0.0.1")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(loopback)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "smtp.crt", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_webhook_errors_retry_on_5xx_and_fail_on_4xx(
    tmp_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    rt = runtime(
        tmp_path,
        DSRFLOW_MESSAGES_WEBHOOK_URL=webhook_receiver.url,
        DSRFLOW_MESSAGES_WEBHOOK_SECRET="k",
    )
    p = Projector(rt, "dsr-20260302-0000aa10")
    p.project(RequestStatus.RUNNING)
    p.act("clock:deadline", "reminder", "7 days before due")
    p.act("clock:deadline", "overdue", "due 2026-04-02")
    p.project(RequestStatus.RUNNING)
    webhook_receiver.statuses = [503, 404]  # the reminder first (older), then the overdue flag
    t0 = datetime.now(UTC)
    SendPending(rt).run(SENDER, now=t0)
    rows = _rows(rt, p.request_id)
    assert (rows["reminder"].status, rows["reminder"].last_error) == ("pending", "HTTP 503")
    assert (rows["overdue"].status, rows["overdue"].last_error) == ("failed", "HTTP 404")
    # The subject's acknowledgement: no SMTP server, said so; no staff escalation for staff.
    assert rows["acknowledgement"].status == "not_sent"
    assert "message_failed" not in rows
    SendPending(rt).run(SENDER, now=t0 + timedelta(minutes=2))
    assert _rows(rt, p.request_id)["reminder"].status == "sent"
    assert len(webhook_receiver.calls) == 3
    assert all(
        webhook.verify("k", c.headers[webhook.TIMESTAMP], c.body, c.headers[webhook.SIGNATURE])
        for c in webhook_receiver.calls
    )
