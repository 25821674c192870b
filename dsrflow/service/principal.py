"""Who is acting: an authenticated principal, and the default table of which role may do what.

The CLI, the HTTP API and the console each authenticate people their own way (the CLI trusts the
local operator; the console will use its login) and hand the application layer a ``Principal``.
Every use case checks it is present, well formed and holds a role the use case allows.

Roles (docs/architecture.md): ``intake`` takes requests in and verifies identities; ``analyst``
runs them (store decisions, manual tasks, results); ``approver`` decides (approve, deny, holds,
exemptions); ``auditor`` reads; ``engineer`` owns the catalog and store tests; ``admin`` may do
everything, including purge and key management. ``controller`` is an OpenDSR controller
sending requests to this processor: it may use the OpenDSR routes on its own requests, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dsrflow.errors import UserError

ROLES = frozenset({"intake", "analyst", "approver", "auditor", "engineer", "admin", "controller"})
# "kind:name": a kind (staff, local, service...) and a name without spaces, markup or control
# characters, short enough for the audit log's actor column.
_ACTOR = re.compile(r"[a-z][a-z0-9_-]{0,19}:[A-Za-z0-9][A-Za-z0-9._@+-]{0,98}")

READERS = frozenset({"intake", "analyst", "approver", "auditor", "admin"})
DEFAULT_POLICY: Mapping[str, frozenset[str]] = {
    # intake
    "submit": frozenset({"intake", "analyst", "admin"}),
    "verify_identity": frozenset({"intake", "analyst", "admin"}),
    # decisions on the whole request
    "approve": frozenset({"approver", "admin"}),
    "deny": frozenset({"approver", "admin"}),
    "extend": frozenset({"analyst", "approver", "admin"}),
    "cancel": frozenset({"analyst", "approver", "admin"}),
    "hold": frozenset({"approver", "admin"}),
    "release": frozenset({"approver", "admin"}),
    # decisions on one store
    "retry_store": frozenset({"analyst", "engineer", "admin"}),
    "skip_store": frozenset({"analyst", "admin"}),
    "exempt_store": frozenset({"approver", "admin"}),
    "complete_task": frozenset({"analyst", "engineer", "admin"}),
    # reads and results
    "list": READERS,
    "view": READERS,
    "watch": READERS,
    "tasks": READERS | {"engineer"},
    "download": frozenset({"analyst", "admin"}),
    # decoding the subject's identifiers from Temporal history, with a reason (audited)
    "reveal": frozenset({"analyst", "admin"}),
    # evidence bundles and their certificates hold no personal data (commitments only)
    "download.evidence": frozenset({"analyst", "approver", "auditor", "admin"}),
    "metrics": READERS,
    # operations
    "purge": frozenset({"admin"}),
    # access packages: the privacy center delivers them to subjects; admins list and purge them
    "package.deliver": frozenset({"intake", "admin"}),
    "package.list": frozenset({"admin"}),
    "package.purge": frozenset({"admin"}),
    "catalog": frozenset({"engineer", "auditor", "admin"}),
    "stores.test": frozenset({"engineer", "admin"}),
    "scan": frozenset({"engineer", "admin"}),
    # the record of processing activities (Art. 30(1)): no personal data, for the DPO too
    "datamap": frozenset({"auditor", "engineer", "admin"}),
    "keys": frozenset({"admin"}),
    "ledger.upgrade": frozenset({"admin"}),
    "ledger.reconcile": frozenset({"admin"}),
    "keys.read": frozenset({"auditor", "engineer", "admin"}),
    "log": frozenset({"auditor", "admin"}),
    "audit.anchor": frozenset({"admin"}),
    "audit.verify": frozenset({"auditor", "admin"}),
    "audit.export": frozenset({"auditor", "admin"}),
    "messages.send": frozenset({"admin"}),
    "messages.list": READERS,
    "messages.check": READERS | {"engineer"},
    "tokens.manage": frozenset({"admin"}),
    # console accounts (admins); one's own password and sign-out (every console role)
    "accounts.manage": frozenset({"admin"}),
    "account.self": ROLES - {"controller"},
    # OpenDSR inbound: a controller acts on its own requests only (the routes also require the
    # actor to be controller:<domain>, so an admin cannot pose as one); admins manage controllers
    "opendsr": frozenset({"controller", "admin"}),
    "opendsr.controllers": frozenset({"admin"}),
}
"""Use case -> roles allowed. The console issue replaces this with configured policy."""


class NotAllowed(UserError):
    """The principal may not perform this use case (exit code 5)."""

    exit_code = 5


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        actor: Who, as ``kind:name`` (``staff:ann``, ``local:ops``); recorded in the audit log,
            so it names a person's account, never a data subject.
        roles: The roles this caller holds (see ``ROLES``).
    """

    actor: str
    roles: frozenset[str]

    @classmethod
    def of(cls, actor: str, roles: Iterable[str]) -> Principal:
        """A checked principal.

        Raises:
            UserError: The actor id is malformed or a role is unknown.
        """
        role_set = frozenset(r.strip() for r in roles if r.strip())
        principal = cls(actor, role_set)
        principal.check()
        return principal

    def check(self) -> None:
        """Refuse a malformed principal with one line (never echoing the raw text).

        Raises:
            UserError: Bad actor id, no role, or an unknown role.
        """
        if not isinstance(self.actor, str) or not _ACTOR.fullmatch(self.actor):
            raise UserError(
                "actor: expected KIND:NAME such as staff:ann (lower-case kind; letters, digits "
                "and . _ @ + - in the name; at most 120 characters)"
            )
        if not self.roles:
            raise UserError(f"actor {self.actor}: has no role")
        unknown = sorted(r for r in self.roles if r not in ROLES)
        if unknown:
            bad = ", ".join(r if _ROLE.fullmatch(r) else "(unprintable)" for r in unknown)
            raise UserError(f"actor {self.actor}: unknown role(s) {bad}; known: {_known()}")


_ROLE = re.compile(r"[a-z_-]{1,30}")


def _known() -> str:
    return ", ".join(sorted(ROLES))


def authorise(
    principal: Principal | None,
    use_case: str,
    policy: Mapping[str, frozenset[str]] = DEFAULT_POLICY,
) -> Principal:
    """Check that ``principal`` may perform ``use_case``.

    Args:
        principal: The caller (None when an edge forgot to authenticate: refused).
        use_case: A key of ``policy``.
        policy: Use case -> allowed roles.

    Returns:
        The principal, checked.

    Raises:
        NotAllowed: No principal, or none of its roles is allowed.
        UserError: The principal is malformed.
    """
    if principal is None:
        raise NotAllowed(f"{use_case}: no authenticated caller")
    principal.check()
    allowed = policy.get(use_case, frozenset({"admin"}))
    if not principal.roles & allowed:
        raise NotAllowed(
            f"{principal.actor} may not {use_case} (needs one of: {', '.join(sorted(allowed))})"
        )
    return principal
