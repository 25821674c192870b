"""Message templates: files a privacy team edits, rendered in a sandbox.

Each kind of message has ``<kind>.txt``: its first line is ``Subject: ...``, then a blank line,
then the text body. An optional ``<kind>.html`` is an HTML body (autoescaped). The shipped
templates live in ``dsrflow/messages/templates``; a file of the same name in the templates
directory setting replaces one. Templates are Jinja2 in a sandboxed environment with strict
undefined variables, so a typo is an error at ``check`` (start-up, ``dsrflow messages
check-templates``), reported as one line naming the file and the line.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dsrflow.errors import ConfigError
from dsrflow.messages.kinds import RECIPIENTS

DEFAULTS = Path(__file__).parent / "templates"

REQUEST_LABELS = {
    "access": "access to your personal data",
    "export": "a copy of your personal data to take elsewhere (portability)",
    "erasure": "erasure of your personal data",
    "rectification": "rectification of your personal data",
    "restriction": "restriction of the processing of your personal data",
}

VARIABLES = (
    "controller", "request_id", "request_type", "request_label", "regulation", "received_on",
    "due_on", "status_url", "authority", "ground", "note", "extended_by", "reason",
    "artifact_kind", "artifact_sha256", "delivery_reference", "store", "detail",
    "failed_kind", "failed_error", "verify_url", "link_expires_on",
    "delivery_code", "code_expires_on",
)  # fmt: skip
"""Every template sees all of these (empty where they do not apply); none is an address."""

_SUBJECT = re.compile(r"subject:[ \t]*(.*)", re.IGNORECASE)


class TemplateProblem(ConfigError):
    """A template that does not compile or render: ``file:line: what``."""


@dataclass(frozen=True)
class Rendered:
    """A message ready to send (holds no address)."""

    subject: str
    text: str
    html: str | None = None


class Templates:
    """The message templates: shipped defaults, each replaceable by a file in ``override``."""

    def __init__(self, override: Path | None = None) -> None:
        if override is not None and not override.is_dir():
            raise ConfigError(f"DSRFLOW_MESSAGES_TEMPLATES_DIR: {override} is not a directory")
        loaders = [FileSystemLoader(str(p)) for p in (override, DEFAULTS) if p is not None]
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, kind: str, values: dict[str, Any]) -> Rendered:
        """Render one kind's subject line, text body and (if there is one) HTML body.

        Raises:
            TemplateProblem: ``file:line: what`` (a missing, broken or failing template).
        """
        text = self._render(f"{kind}.txt", values, required=True)
        assert text is not None
        first, _, body = text.partition("\n")
        match = _SUBJECT.fullmatch(first.strip())
        if match is None or not match.group(1).strip():
            path = self._path(f"{kind}.txt")
            raise TemplateProblem(f"{path}:1: the first line must be 'Subject: ...'")
        subject = " ".join(match.group(1).split())[:200]  # one header line, however rendered
        html = self._render(f"{kind}.html", values, required=False)
        return Rendered(subject, body.lstrip("\n"), html)

    def check(self) -> list[str]:
        """Compile and render every kind with sample values; returns the files used.

        Raises:
            TemplateProblem: The first broken template, as ``file:line: what``.
        """
        used = []
        for kind in RECIPIENTS:
            self.render(kind, sample())
            used.append(self._path(f"{kind}.txt"))
            if self._exists(f"{kind}.html"):
                used.append(self._path(f"{kind}.html"))
        return used

    def _render(self, name: str, values: dict[str, Any], *, required: bool) -> str | None:
        try:
            template = self.env.get_template(name)
        except TemplateNotFound:
            if required:
                raise TemplateProblem(f"{DEFAULTS / name}: template missing") from None
            return None
        except TemplateSyntaxError as exc:
            raise TemplateProblem(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
        try:
            return template.render(values)
        except TemplateError as exc:
            where = template.filename or name
            raise TemplateProblem(f"{where}:{_line(exc, where)}: {exc.message}") from None
        except Exception as exc:  # a filter or a test failing on a value: still the template's
            where = template.filename or name
            raise TemplateProblem(f"{where}:{_line(exc, where)}: {type(exc).__name__}") from None

    def _exists(self, name: str) -> bool:
        try:
            self.env.get_template(name)
        except TemplateNotFound:
            return False
        return True

    def _path(self, name: str) -> str:
        return self.env.get_template(name).filename or name


def _line(exc: BaseException, filename: str) -> int | str:
    """The template line an error was raised on (Jinja maps template frames to their lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno or "?" if frames else "?"


def values_for(
    kind: str,
    request_id: str,
    context: dict[str, Any],
    *,
    controller: str,
    status_url: str = "",
    authority: str = "",
) -> dict[str, Any]:
    """A template's values from an outbox row's context and the settings."""
    out = dict.fromkeys(VARIABLES, "")
    out.update({k: str(v) for k, v in context.items() if k in VARIABLES})
    rtype = str(context.get("request_type", ""))
    out.update(
        controller=controller,
        request_id=request_id,
        request_label=REQUEST_LABELS.get(rtype, rtype),
        received_on=_day(context.get("received_at")),
        due_on=_day(context.get("due_at")),
        status_url=status_url.replace("{request_id}", request_id) if status_url else "",
        authority=authority,
    )
    if kind == "completion":
        # A short form of the result's digest: enough to match it, nothing about the subject.
        sha = str(context.get("artifact_sha256", "")).removeprefix("sha256:")
        kind = context.get("artifact_kind", "result")
        digest = f" / {kind} sha256:{sha[:16]}" if sha else ""
        out["delivery_reference"] = f"{request_id}{digest}"
    return out


def _day(iso: object) -> str:
    if not iso:
        return ""
    try:
        return f"{datetime.fromisoformat(str(iso)):%d %B %Y}"
    except ValueError:
        return str(iso)


def sample() -> dict[str, Any]:
    """Values every template must render with (``check``)."""
    values = values_for(
        "completion",
        "dsr-20260101-0a1b2c3d",
        {
            "request_type": "erasure",
            "regulation": "gdpr",
            "received_at": "2026-01-01T09:00:00+00:00",
            "due_at": "2026-02-01T23:59:59+00:00",
            "artifact_kind": "evidence",
            "artifact_sha256": "sha256:" + "0" * 64,
        },
        controller="Example Controller Ltd",
        status_url="https://privacy.example.com/requests/{request_id}",
        authority="the supervisory authority",
    )
    for name in ("ground", "note", "extended_by", "reason", "store", "detail"):
        values[name] = values[name] or name
    values.update(failed_kind="acknowledgement", failed_error="SMTP 550")
    values.update(
        verify_url="https://privacy.example.com/privacy/verify/sample-token",
        link_expires_on="04 January 2026 09:00 UTC",
        delivery_code="ABCDE-23456",
        code_expires_on="04 January 2026 10:00 UTC",
    )
    return values
