"""Message templates a privacy team edits: overrides, sandbox, one-line errors; the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.domain import RequestStatus
from dsrflow.errors import ConfigError
from dsrflow.ledger import outbox
from dsrflow.messages.kinds import RECIPIENTS
from dsrflow.messages.render import DEFAULTS, TemplateProblem, Templates, sample
from dsrflow.messages.smtp import Mailer
from dsrflow.settings import Settings, SmtpSettings
from tests.fixtures.cli import CliRun, invoke
from tests.unit.messages_kit import Projector, runtime


def test_every_kind_has_a_shipped_template_that_renders() -> None:
    used = Templates().check()
    assert sorted(Path(p).name for p in used) == sorted(f"{k}.txt" for k in RECIPIENTS)
    assert all(Path(p).parent == DEFAULTS for p in used)


def test_a_file_in_the_templates_dir_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.txt").write_text(
        "Subject: Bonjour {{ request_id }}\n\nNous avons reçu votre demande {{ request_id }}.\n"
    )
    t = Templates(tmp_path)
    ack = t.render("acknowledgement", sample())
    assert ack.subject == "Bonjour dsr-20260101-0a1b2c3d"
    assert ack.text == "Nous avons reçu votre demande dsr-20260101-0a1b2c3d.\n"
    assert "supervisory authority" in t.render("denial", sample()).text  # others stay shipped


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Subject: x\n\nfine\n{% if %}\n", r"denial\.txt:4: Expected an expression"),
        ("Subject: x\n\nfine\n\n{{ reasn }}\n", r"denial\.txt:5: 'reasn' is undefined"),
        ("Subject: x\n\n{{ ''.__class__.__mro__ }}\n", r"denial\.txt:3: access to attribute"),
        ("Dear subject,\n\nno subject line\n", r"denial\.txt:1: the first line must be 'Subje"),
    ],
)
def test_a_broken_template_is_one_line_naming_file_and_line(
    tmp_path: Path, source: str, expected: str
) -> None:
    (tmp_path / "denial.txt").write_text(source)
    with pytest.raises(TemplateProblem, match=expected) as caught:
        Templates(tmp_path).check()
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "denial.txt"))


def test_html_bodies_are_autoescaped_and_sent_as_an_alternative(tmp_path: Path) -> None:
    (tmp_path / "extension.html").write_text("<p>Why: <b>{{ reason }}</b></p>\n")
    values = {**sample(), "reason": '<script>alert("x")</script> & more'}
    msg = Templates(tmp_path).render("extension", values)
    assert msg.html == (
        "<p>Why: <b>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more</b></p>\n"
    )
    assert '<script>alert("x")</script> & more' in msg.text  # plain text is not escaped
    mail = Mailer(SmtpSettings(host="localhost")).compose(["s@example.org"], msg, "dsr-x")
    assert mail.get_content_type() == "multipart/alternative"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "&lt;script&gt;" in html.get_content()


def test_a_subject_line_cannot_inject_headers() -> None:
    values = {**sample(), "request_id": "dsr-1\nBcc: everyone@example.org"}
    msg = Templates().render("acknowledgement", values)
    assert "\n" not in msg.subject
    mail = Mailer(SmtpSettings(host="localhost")).compose(["s@example.org"], msg, "dsr-1")
    assert mail["Bcc"] is None


def test_templates_dir_and_webhook_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"DSRFLOW_MESSAGES: .*WEBHOOK_URL needs .*SECRET"):
        Settings.load({"DSRFLOW_MESSAGES_WEBHOOK_URL": "https://hooks.example.com/x"})
    with pytest.raises(ConfigError, match="DSRFLOW_SMTP_SECURITY"):
        Settings.load({"DSRFLOW_SMTP_SECURITY": "tls1.0"})
    s = Settings.load({"DSRFLOW_SMTP_PASSWORD": "hunter2", "DSRFLOW_SMTP_FROM_ADDRESS": "a@b.c"})
    assert "hunter2" not in repr(s) and s.smtp.from_address == "a@b.c"
    with pytest.raises(ConfigError, match=r"TEMPLATES_DIR: .* is not a directory"):
        Templates(Path("/nonexistent/templates"))


def _cli(tmp: Path, *args: str, **env: str) -> CliRun:
    """``dsrflow ARGS`` in-process, on ``tmp``'s upgraded ledger."""
    runtime(tmp).ledger.close()
    full = {
        "DSRFLOW_STATE_DIR": str(tmp / "state"),
        "DSRFLOW_CATALOG": str(tmp / "none.yaml"),
        "DSRFLOW_ACTOR": "staff:cli",
        **env,
    }
    return invoke(*args, env=full)


def test_cli_check_templates_names_the_broken_file_and_line(tmp_path: Path) -> None:
    ok = _cli(tmp_path, "messages", "check-templates")
    assert ok.returncode == 0 and "10 template file(s) OK" in ok.stdout, ok.stderr
    override = tmp_path / "templates"
    override.mkdir()
    (override / "completion.txt").write_text("Subject: done\n\n{% for x in %}\n")
    bad = _cli(
        tmp_path, "messages", "check-templates", DSRFLOW_MESSAGES_TEMPLATES_DIR=str(override)
    )
    assert bad.returncode != 0
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in bad.stderr
    assert f"{override / 'completion.txt'}:3:" in lines[0]


def test_cli_lists_and_sends_without_showing_an_address(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    Projector(rt, "dsr-20260302-0000cc01").project(RequestStatus.AWAITING_VERIFICATION)
    Projector(rt, "dsr-20260302-0000cc02").project(RequestStatus.AWAITING_VERIFICATION)
    sent = _cli(tmp_path, "messages", "send-pending")
    # No SMTP server configured: recorded as not sent, and said so.
    assert sent.returncode == 0 and "not sent 2" in sent.stdout, sent.stderr
    one = _cli(tmp_path, "messages", "list", "--request", "dsr-20260302-0000cc01")
    assert one.returncode == 0
    assert "dsr-20260302-0000cc01" in one.stdout and "dsr-20260302-0000cc02" not in one.stdout
    assert "acknowledgement" in one.stdout and "no SMTP server configured" in one.stdout
    rows = outbox.messages(rt.ledger)
    assert {r.status for r in rows} == {"not_sent"}
    auditor = _cli(tmp_path, "messages", "send-pending", DSRFLOW_ROLES="auditor")
    assert auditor.returncode == 5 and "may not messages.send" in auditor.stderr
