"""The record of processing activities (GDPR Art. 30(1)) generated from the catalog.

``build`` turns the catalog's per-store processing information into plain JSON-ready data
(the one model every edge renders); ``render_html`` prints it as a standalone document (no
external asset, no script) and ``render_body`` as the fragment the console embeds. Stores
with unmapped personal data in a ``dsrflow scan --format json`` report are marked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from dsrflow.errors import UserError

if TYPE_CHECKING:
    from dsrflow.catalog.model import Catalog, StoreEntry

HEADINGS: tuple[tuple[str, str], ...] = (
    ("purposes", "Purposes of the processing — Art. 30(1)(b)"),
    ("legal_basis", "Legal basis — Art. 6(1)"),
    ("data_subjects", "Categories of data subjects — Art. 30(1)(c)"),
    ("data_categories", "Categories of personal data — Art. 30(1)(c)"),
    ("recipients", "Categories of recipients — Art. 30(1)(d)"),
    ("transfers", "Transfers to third countries and safeguards — Art. 30(1)(e)"),
    ("retention", "Time limits for erasure — Art. 30(1)(f)"),
    ("security", "Technical and organisational security measures — Art. 30(1)(g)"),
)
"""Every store's section shows each of these, "not declared" when the catalog is silent."""

DSRFLOW_MEASURES: tuple[str, ...] = (
    "Encryption at rest: access packages, the subject's identifiers in workflow history and"
    " subject contacts in the ledger are encrypted with AES-256-GCM under one data key per"
    " request, wrapped by the key-encryption key.",
    "Crypto-shredding: 'dsrflow purge' destroys a request's data key after the retention"
    " period, making Temporal's copy of the request and its artifacts unreadable at once.",
    "Signed evidence: each request's evidence bundle is signed with the controller's Ed25519"
    " key; staff actions go to a hash-chained audit trail without personal data.",
    "Role-based access: every action passes one application layer that checks the caller's"
    " role and audits it.",
)
"""What dsrflow itself guarantees, stated under every record (docs/discovery.md)."""

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def build(
    catalog: Catalog, *, controller: str, unmapped: dict[str, list[dict[str, Any]]] | None = None,
    scan_source: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The record of processing activities as JSON-ready data.

    Args:
        catalog: The validated catalog.
        controller: The controller's name (``Settings.controller``).
        unmapped: Store -> unmapped tables (``{"table", "classes"}``) from a scan report.
        scan_source: Where ``unmapped`` came from (the report's file name), for the record.

    Returns:
        ``{"controller", "generated_at", "catalog", "headings", "dsrflow_measures", "scan",
        "stores": [...]}``; every store carries every key of ``HEADINGS``.
    """
    marks = unmapped or {}
    stores = [_store(e, marks.get(e.name, [])) for e in catalog.stores.values()]
    return {
        "title": "Record of processing activities (GDPR Art. 30(1))",
        "controller": {"name": controller},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "catalog": {"path": catalog.path.name, "digest": catalog.digest},
        "headings": [{"key": k, "label": label} for k, label in HEADINGS],
        "dsrflow_measures": list(DSRFLOW_MEASURES),
        "scan": {
            "report": scan_source,
            "stores_with_unmapped": sorted(s for s, t in marks.items() if t),
            "not_in_catalog": sorted(s for s in marks if s not in catalog.stores),
        },
        "stores": stores,
    }


def _store(entry: StoreEntry, unmapped: list[dict[str, Any]]) -> dict[str, Any]:
    proc = entry.common.processing
    # The store's defaults, then each collection with its overrides: the union is the store's.
    sheets = [proc.resolved("\x00 no entry"), *(proc.resolved(n) for n in proc.collections)]
    subjects = set(proc.subjects or [])
    for coll in proc.collections.values():
        subjects |= set(coll.subjects or [])
    recipients = _unique(r for s in sheets for r in s["recipients"])
    return {
        "store": entry.name,
        "adapter": entry.common.adapter,
        "description": entry.common.description,
        "enabled": entry.common.enabled,
        "collections": sorted(proc.collections),
        "purposes": _unique(p for s in sheets for p in s["purposes"]),
        "legal_basis": _unique(s["legal_basis"] for s in sheets if s["legal_basis"]),
        "data_subjects": sorted(subjects),
        "data_categories": sorted({c for s in sheets for c in s["data_categories"]}),
        "recipients": recipients,
        "transfers": [r for r in recipients if r["outside_eea"]],
        "retention": _unique(s["retention"] for s in sheets if s["retention"]),
        "security": [proc.security] if proc.security else [],
        "unmapped": unmapped,
    }


def _unique(items: Any) -> list[Any]:
    """Items in first-seen order without repeats (dicts compared by value)."""
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def unmapped_from_report(data: Any, *, source: str) -> dict[str, list[dict[str, Any]]]:
    """Store -> unmapped tables and their classes, from ``dsrflow scan --format json``.

    Raises:
        UserError: The data is not a scan report (the message names the field).
    """
    where = f"--scan-report {source}"
    if not isinstance(data, dict) or not isinstance(data.get("stores"), list):
        raise UserError(f"{where}: not a 'dsrflow scan --format json' report (no 'stores' list)")
    marks: dict[str, list[dict[str, Any]]] = {}
    for i, store in enumerate(data["stores"]):
        if not isinstance(store, dict) or not isinstance(store.get("store"), str):
            raise UserError(f"{where}: stores[{i}].store: missing or not a string")
        tables = store.get("tables") or []
        if not isinstance(tables, list):
            raise UserError(f"{where}: stores[{i}].tables: not a list")
        found = marks.setdefault(store["store"], [])
        for j, t in enumerate(tables):
            if not isinstance(t, dict) or t.get("status") != "unmapped":
                continue
            cols = t.get("columns") or []
            if not isinstance(cols, list):
                raise UserError(f"{where}: stores[{i}].tables[{j}].columns: not a list")
            # Class names only: a report never holds values, and neither does the record.
            classes = sorted({
                str(f.get("class")) for c in cols if isinstance(c, dict)
                and c.get("status") == "unmapped" for f in c.get("findings") or []
                if isinstance(f, dict)
            })  # fmt: skip
            name = ".".join(str(t[k]) for k in ("schema", "table") if t.get(k))
            found.append({"table": name, "classes": classes})
    return marks


def render_body(model: dict[str, Any]) -> Markup:
    """The record as an HTML fragment (no style attribute, no script): the console embeds it."""
    return Markup(_TEMPLATES.get_template("datamap_body.html").render(m=model))  # noqa: S704


def render_html(model: dict[str, Any]) -> str:
    """The record as a standalone, printable HTML document (inline CSS, nothing external)."""
    return _TEMPLATES.get_template("datamap.html").render(m=model, body=render_body(model))
