"""OpenDSR inbound controllers: who may send requests, with which token and callback URLs.

An admin adds a controller (``dsrflow opendsr controllers add``): it gets an API token acting as
``controller:<domain>`` with the ``controller`` role, shown once, and a callback allow-list (URL
prefixes its ``status_callback_urls`` must start with). Removing it revokes the token.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import Conflict, NotFound, UserError
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.opendsr import KIND
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.ledger.models import OpenDsrControllerRow

DOMAIN = re.compile(r"(?=.{1,100}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _domain(value: str) -> str:
    domain = value.strip().lower() if isinstance(value, str) else ""
    if not DOMAIN.fullmatch(domain):
        raise UserError("DOMAIN: expected a DNS name such as controller.example")
    return domain


def _urls(values: list[str]) -> list[str]:
    for url in values:
        if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]{1,300}", url):
            raise UserError("--callback-url: expected an http(s) URL prefix")
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class ControllerInfo:
    """A controller as lists show it."""

    domain: str
    token_id: str
    callback_urls: tuple[str, ...]
    created_at: datetime

    @classmethod
    def of(cls, row: OpenDsrControllerRow) -> ControllerInfo:
        """A ledger row as a plain value."""
        return cls(row.domain, row.token_id, tuple(row.callback_urls), row.created_at)


class AddController(UseCase):
    """Allow a controller: its token (shown once) and callback allow-list (admin; audited)."""

    def run(
        self, principal: Principal, *, domain: str, callback_urls: list[str], expires_in: str
    ) -> tuple[ControllerInfo, str]:
        """Add the controller and make its token.

        Raises:
            NotAllowed: Not an admin.
            Conflict: The controller exists already.
            UserError: A malformed domain or URL.
        """
        from dsrflow.ledger.models import OpenDsrControllerRow
        from dsrflow.service.tokens import CreateToken

        self.allow(principal, "opendsr.controllers")
        domain, urls = _domain(domain), _urls(callback_urls)
        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrControllerRow, domain)
            if row is not None and row.removed_at is None:
                raise Conflict(f"controller {domain}: exists already")
        made = CreateToken(self.rt).run(
            principal, actor=f"{KIND}:{domain}", roles=[KIND], expires_in=expires_in
        )
        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrControllerRow, domain)
            if row is None:
                row = OpenDsrControllerRow(domain=domain)
                s.add(row)
            row.token_id, row.callback_urls = made.info.id, urls
            row.created_at, row.created_by, row.removed_at = (
                datetime.now(UTC),
                principal.actor,
                None,
            )
            s.flush()
            info = ControllerInfo.of(row)
        self.audit(principal, "opendsr.controller_add", Category.SYSTEM, None, controller=domain,
                   token=made.info.id, callback_urls=len(urls))  # fmt: skip
        return info, made.token


class ListControllers(UseCase):
    """The controllers allowed now (admin)."""

    def run(self, principal: Principal) -> list[ControllerInfo]:
        """Active controllers, by domain."""
        from sqlalchemy import select

        from dsrflow.ledger.models import OpenDsrControllerRow

        self.allow(principal, "opendsr.controllers")
        with self.rt.ledger.session() as s:
            rows = s.scalars(
                select(OpenDsrControllerRow)
                .where(OpenDsrControllerRow.removed_at.is_(None))
                .order_by(OpenDsrControllerRow.domain)
            )
            return [ControllerInfo.of(r) for r in rows]


class RemoveController(UseCase):
    """Remove a controller and revoke its token (admin; audited). Its requests go on."""

    def run(self, principal: Principal, domain: str) -> ControllerInfo:
        """Mark it removed, revoke the token.

        Raises:
            NotFound: No such (active) controller.
        """
        from dsrflow.ledger.models import OpenDsrControllerRow
        from dsrflow.service.tokens import RevokeToken

        self.allow(principal, "opendsr.controllers")
        domain = _domain(domain)
        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrControllerRow, domain)
            if row is None or row.removed_at is not None:
                raise NotFound(f"controller {domain}: no such controller")
            row.removed_at = datetime.now(UTC)
            info = ControllerInfo.of(row)
        with contextlib.suppress(Conflict):  # revoked already by hand: the intent holds
            RevokeToken(self.rt).run(principal, info.token_id)
        self.audit(principal, "opendsr.controller_remove", Category.SYSTEM, None,
                   controller=domain)  # fmt: skip
        return info
