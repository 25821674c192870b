"""The signed JSON documents of a bundle: schema first, then sets, order and digests.

Every document is parsed strictly (UTF-8, no duplicate keys, RFC 8785 canonical), checked
against its published schema (``docs/schemas/``), and only then read. Lists the specification
calls sets (the statement's subjects, the manifest's members, the inventory's stores and each
store's capabilities, the sweep's location lists) must hold no duplicates and be sorted as the
specification says; a duplicate is an error, never "the last one wins".
"""

from __future__ import annotations

from typing import Any

from dsrflow.evidence.format import (
    CERTIFICATE,
    FORMATS,
    INVENTORY,
    MANIFEST,
    MERKLE_ALG,
    RECORDS_DIR,
    UNSIGNED,
    FormatError,
    parse_json,
    records_root,
    sha256_hex,
)
from dsrflow.verify.report import VerificationError
from dsrflow.verify.schema import SchemaError, check


def parse(name: str, data: bytes, schema: str | None = None, where: str | None = None) -> Any:
    """Strict, canonical JSON, validated against ``schema`` when given.

    Raises:
        VerificationError: ``<name>: <reason>``.

    """
    try:
        obj = parse_json(name, data)
        if schema is not None:
            check(schema, obj, where or name)
    except (FormatError, SchemaError) as exc:
        raise VerificationError(str(exc)) from None
    return obj


def require_set(items: list[Any], where: str, *, ordered: bool = True) -> None:
    """No duplicates (and, when ``ordered``, sorted ascending as the specification says).

    Raises:
        VerificationError: ``<where>: ...``.

    """
    if len(set(items)) != len(items):
        dupes = sorted({str(i) for i in items if items.count(i) > 1})
        raise VerificationError(f"{where}: duplicate entries ({', '.join(dupes)})")
    if ordered and items != sorted(items):
        raise VerificationError(f"{where}: not sorted as the specification requires")


def statement_subjects(statement: dict[str, Any], members: dict[str, bytes]) -> None:
    """The statement's subjects are exactly manifest.json and inventory.json, once each."""
    names = [s["name"] for s in statement["subject"]]
    require_set(names, "statement: subject", ordered=False)
    for s in statement["subject"]:
        if s["digest"]["sha256"] != sha256_hex(members[s["name"]]):
            raise VerificationError(f"{s['name']}: digest does not match the signed statement")


def manifest_for(members: dict[str, bytes], request_id: str) -> tuple[dict[str, Any], int]:
    """The manifest, its format version, and every listed member's digest.

    Raises:
        VerificationError: A schema, set or digest violation, or a member not covered.

    """
    raw = parse(MANIFEST, members[MANIFEST])
    fmt = raw.get("format") if isinstance(raw, dict) else None
    version = FORMATS.get(fmt) if isinstance(fmt, str) else None
    if version is None:
        raise VerificationError(f"{MANIFEST}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    manifest = parse(MANIFEST, members[MANIFEST], f"manifest-v{version}")
    if manifest["request_id"] != request_id:
        raise VerificationError(f"{MANIFEST}: request id differs from the statement")
    names = [m["name"] for m in manifest["members"]]
    require_set(names, f"{MANIFEST}: members")
    for name in (INVENTORY, CERTIFICATE):
        if name not in names:
            raise VerificationError(f"{MANIFEST}: does not list {name}")
    for m in manifest["members"]:
        name = m["name"]
        if name in UNSIGNED:
            raise VerificationError(f"{MANIFEST}: lists {name}, which it cannot cover")
        if name not in members:
            raise VerificationError(f"{name}: listed in the manifest but missing from the bundle")
        if sha256_hex(members[name]) != m["sha256"]:
            raise VerificationError(f"{name}: digest does not match the manifest")
    extra = sorted(set(members) - set(names) - set(UNSIGNED))
    if extra:
        raise VerificationError(f"container: members not in the manifest: {', '.join(extra)}")
    return manifest, version


def records_of(
    members: dict[str, bytes], manifest: dict[str, Any], version: int
) -> dict[str, dict[str, Any]]:
    """Every record (schema of the bundle's version), named after its own store; Merkle root."""
    records: dict[str, dict[str, Any]] = {}
    for name in sorted(members):
        if name.startswith(RECORDS_DIR):
            rec = parse(name, members[name], f"record-v{version}")
            if f"{RECORDS_DIR}{rec['store']}.json" != name:
                raise VerificationError(f"{name}: does not name its own store")
            sweep = rec.get("sweep")
            if sweep is not None:
                for key in ("searched", "not_swept", "rules", "kinds"):
                    require_set(sweep[key], f"{name}: sweep.{key}")
                require_set([h["location"] + " " + h["kind"] + " " + h["mode"]
                             for h in sweep["hits"]], f"{name}: sweep.hits")  # fmt: skip
            require_set([c["collection"] for c in rec["collections"]],
                        f"{name}: collections", ordered=False)  # fmt: skip
            records[rec["store"]] = rec
    expected = {"alg": MERKLE_ALG, "leaves": len(records), "root": records_root(members)}
    if manifest["records_merkle_root"] != expected:
        raise VerificationError(f"{MANIFEST}: records Merkle root does not match the records")
    return records


def inventory_of(
    members: dict[str, bytes], request_id: str
) -> tuple[dict[str, dict[str, Any]], str]:
    """The inventory's stores by name and its catalog digest: schema, one request, sorted set."""
    inventory = parse(INVENTORY, members[INVENTORY], "inventory")
    if inventory["request_id"] != request_id:
        raise VerificationError(f"{INVENTORY}: belongs to request {inventory['request_id']!r}")
    stores = [s["store"] for s in inventory["stores"]]
    require_set(stores, f"{INVENTORY}: stores")
    for s in inventory["stores"]:
        require_set(s["capabilities"], f"{INVENTORY}: capabilities of {s['store']!r}")
    return {s["store"]: s for s in inventory["stores"]}, inventory["catalog_digest"]


def completeness(
    records: dict[str, dict[str, Any]], inventory: dict[str, dict[str, Any]], request_id: str
) -> None:
    """Every inventory store has a record of this request, and no other."""
    for store, rec in sorted(records.items()):
        if rec["request_id"] != request_id:
            raise VerificationError(
                f"{RECORDS_DIR}{store}.json: belongs to request {rec['request_id']!r}, "
                f"not {request_id!r} (transplanted?)"
            )
    for store in inventory:
        if store not in records:
            raise VerificationError(f"completeness: inventory store {store!r} has no record")
    for store in sorted(set(records) - set(inventory)):
        raise VerificationError(f"completeness: record for store {store!r} not in the inventory")
