"""Engineers' and administrators' use cases: the catalog, store tests and the controller's keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from dsrflow.catalog.pool import AdapterPool
    from dsrflow.service.principal import Principal


class ReadCatalog(UseCase):
    """The validated catalog (validate, list stores, show one store's configuration)."""

    def run(self, principal: Principal) -> Any:
        """The loaded catalog.

        Raises:
            ConfigError: Every problem of the catalog, with file, line and field.
        """
        self.allow(principal, "catalog")
        return self.rt.catalog

    def store(self, principal: Principal, name: str) -> dict[str, Any]:
        """One store's validated configuration as JSON-ready data (secrets are env-var names)."""
        from dsrflow.catalog.pool import AdapterPool

        self.allow(principal, "catalog")
        checks.name(name, "STORE")
        entry = AdapterPool(self.rt.catalog, self.rt.registry, self.rt.env).entry(name)
        return {"store": name, **entry.common.model_dump(mode="json"),
                **entry.config.model_dump(mode="json", by_alias=True)}  # fmt: skip


class TestStores(UseCase):
    """Connect to stores and check them; with a subject, a rolled-back dry run (audited)."""

    __test__ = False  # not a pytest class, despite its name

    def open(
        self, principal: Principal, name: str | None, *, subject_given: bool, erase: bool
    ) -> tuple[AdapterPool, list[str]]:
        """Authorise, audit and hand back the pool and the stores to test (caller closes it).

        A test with a subject reads a data subject's records (counts only are printed): it is
        audited as a view; a schema check is a system entry.
        """
        from dsrflow.catalog.pool import AdapterPool

        self.allow(principal, "stores.test")
        if name is not None:
            checks.name(name, "STORE")
        names = [name] if name else list(self.rt.catalog.stores)
        category = Category.VIEW if subject_given else Category.SYSTEM
        self.audit(
            principal, "stores.test", category, None, stores=names, subject=subject_given,
            erase=erase,
        )  # fmt: skip
        return AdapterPool(self.rt.catalog, self.rt.registry, self.rt.env), names


class ManageKeys(UseCase):
    """The controller's signing keys: init, rotate, revoke (each audited as system)."""

    def init(self, principal: Principal, root_key: Path | None, log_origin: str | None) -> Any:
        """Create the root key, an evidence key, a log key and keyring version 1."""
        self.allow(principal, "keys")
        if log_origin is not None:
            checks.text(log_origin, "--log-origin", required=True)
        ring = self.rt.keys.init(self.rt.settings.controller, root_key, log_origin)
        self.audit(principal, "keys.init", Category.SYSTEM, root=ring.root_key_id,
                   version=ring.version)  # fmt: skip
        return ring

    def rotate(self, principal: Principal, purpose: str, root_key: Path | None) -> tuple[Any, Any]:
        """Replace the active key for a purpose."""
        self.allow(principal, "keys")
        checks.one_of(purpose, ("evidence", "log"), "--purpose")
        ring, new = self.rt.keys.rotate(purpose, root_key)
        self.audit(principal, "keys.rotate", Category.SYSTEM, purpose=purpose, key=new.key_id,
                   version=ring.version)  # fmt: skip
        return ring, new

    def revoke(
        self, principal: Principal, key_id: str, root_key: Path | None, since: datetime | None
    ) -> tuple[Any, Any]:
        """Mark a key compromised."""
        self.allow(principal, "keys")
        checks.text(key_id, "KEY_ID", required=True)
        ring, new = self.rt.keys.revoke(key_id, root_key, since)
        self.audit(principal, "keys.revoke", Category.SYSTEM, key=key_id, version=ring.version)
        return ring, new

    def public(self, principal: Principal) -> tuple[Any, str]:
        """The keyring and its published JSON text; creates the keys on first use (audited)."""
        self.allow(principal, "keys.read")
        existed = self.rt.keys.keyring_path.exists()
        ring = self.rt.keys.ensure(self.rt.settings.controller)
        if not existed:
            self.audit(principal, "keys.init", Category.SYSTEM, root=ring.root_key_id,
                       version=ring.version)  # fmt: skip
        return ring, self.rt.keys.keyring_path.read_text()

    def keyring(self, principal: Principal) -> Any:
        """The current keyring (read only)."""
        self.allow(principal, "keys.read")
        return self.rt.keys.keyring()


class TransparencyLog(UseCase):
    """The controller's side of the transparency log: checkpoints and consistency proofs."""

    def open(self, principal: Principal) -> tuple[Any, Any]:
        """Authorise; the log and the key manager to sign checkpoints with."""
        self.allow(principal, "log")
        return self.rt.tlog, self.rt.keys


class UpgradeLedger(UseCase):
    """Apply the ledger's pending migrations, on purpose (audited as system once it is current)."""

    def run(self, principal: Principal) -> tuple[str, str | None, str]:
        """Migrate the settings' ledger.

        Returns:
            The ledger's URL without password, the revision before (None: empty database) and
            the revision after.
        """
        from dsrflow.ledger import Ledger
        from dsrflow.service.audit import AuditTrail

        self.allow(principal, "ledger.upgrade")
        ledger = Ledger(self.rt.settings.ledger_database_url, migrate=True)
        try:
            shown = ledger.engine.url.render_as_string(hide_password=True)
            done = ledger.upgraded
            assert done is not None  # opened with migrate=True
            AuditTrail(ledger).record(
                principal, "ledger.upgrade", Category.SYSTEM, None,
                before=done.before, after=done.after,
            )  # fmt: skip
        finally:
            ledger.close()
        return shown, done.before, done.after


class Reconcile(UseCase):
    """Check open requests against their workflows: ends outside dsrflow, projection drift."""

    async def run(self, principal: Principal, request_ids: list[str] | None) -> list[Any]:
        """The reconciler's findings (each ``request_id``, ``kind``, ``detail``), audited."""
        from dsrflow.reconciler import Reconciler

        self.allow(principal, "ledger.reconcile")
        for rid in request_ids or []:
            checks.request_id(rid)
        found = await Reconciler(self.rt.ledger, await self.requests()).run(request_ids)
        changed = [f.request_id for f in found if f.kind in ("ended_outside", "rebuilt")]
        self.audit(
            principal, "ledger.reconcile", Category.SYSTEM, None,
            checked=len(found), reconciled=changed,
        )  # fmt: skip
        return found
