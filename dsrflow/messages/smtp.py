"""Sending e-mail through the configured SMTP server (standard library ``smtplib``).

Errors come back as ``Delivery`` failures whose text is safe to store and log: an SMTP reply
code or an exception type, never the server's reply text, which often echoes the address.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsrflow.messages.render import Rendered
    from dsrflow.settings import SmtpSettings


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt.

    Attributes:
        ok: Delivered (accepted by the server or the webhook).
        reference: The delivery's reference (an e-mail's Message-ID); no personal data.
        error: One line without personal data, when not ok.
        permanent: Retrying cannot help (the server refused this recipient or message for good).
    """

    ok: bool
    reference: str | None = None
    error: str | None = None
    permanent: bool = False


class Mailer:
    """One SMTP server, as the settings describe it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        """Whether an SMTP server is set (``DSRFLOW_SMTP_HOST``)."""
        return bool(self.settings.host)

    def compose(self, to: list[str], msg: Rendered, request_id: str) -> EmailMessage:
        """The e-mail for ``msg`` (text, and HTML as an alternative when the template has it)."""
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.from_address
        mail["To"] = ", ".join(to)
        mail["Subject"] = msg.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=s.from_address.rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies back, please
        mail["X-Dsrflow-Request"] = request_id
        mail.set_content(msg.text)
        if msg.html is not None:
            mail.add_alternative(msg.html, subtype="html")
        return mail

    def send(self, to: list[str], msg: Rendered, request_id: str) -> Delivery:
        """Send one message; never raises for a delivery problem."""
        mail = self.compose(to, msg, request_id)
        try:
            with self._connect() as smtp:
                if self.settings.username:
                    password = self.settings.password
                    smtp.login(
                        self.settings.username, password.get_secret_value() if password else ""
                    )
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            return _refused(codes[-1] if codes else 0, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            # Only the recipient or the message itself failing for good is permanent; a refused
            # sender or login is the configuration, which someone can fix before the retries end.
            code = exc.smtp_code
            what = {smtplib.SMTPDataError: "message refused", smtplib.SMTPSenderRefused:
                    "sender refused", smtplib.SMTPAuthenticationError: "login refused"}  # fmt: skip
            text = what.get(type(exc), "refused")
            permanent = isinstance(exc, smtplib.SMTPDataError) and code >= 500
            return Delivery(False, error=f"SMTP {code} {text}", permanent=permanent)
        except smtplib.SMTPException as exc:
            return Delivery(False, error=f"SMTP {type(exc).__name__}")
        except ssl.SSLError as exc:
            return Delivery(False, error=f"TLS {exc.reason or type(exc).__name__}")
        except OSError as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc.strerror or 'no detail'}")
        if refused:  # some recipients (staff lists) refused, others accepted
            return Delivery(True, reference=mail["Message-ID"], error=f"{len(refused)} refused")
        return Delivery(True, reference=mail["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.host is not None
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.security == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _refused(code: int, text: str) -> Delivery:
    return Delivery(False, error=f"SMTP {code} {text}", permanent=code >= 500)
