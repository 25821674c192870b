"""Turn Fides dataset YAML into dsrflow catalog entries for the SQL adapter.

Mapping (see ``docs/catalog.md``):

- each dataset becomes one store (``adapter: sql``), each collection a collection;
- ``fides_meta.identity: KIND`` on a field -> ``identities: {field: KIND}``;
- a reference on field F of collection C to ``D.col``: ``direction: from`` -> C is found through
  D (``C.references[F] = D.col``); ``direction: to`` -> D is found through C
  (``D.references[col] = C.F``); without a direction it is oriented away from whichever side is
  already reachable from an identity;
- each field's ``data_categories`` are carried into the store's ``processing`` entry (what the
  access package says the data is);
- data categories decide erasure, as Fides's default policy masks by category: fields with a
  ``user.*`` category (and identity fields, whatever their category) are set to NULL; primary
  keys and ``read_only`` fields are left alone. Where such a field cannot be NULL (an identity
  field in the primary key, or NOT NULL in the reflected schema) the rows are deleted instead. A
  collection with no such field is kept, with that reason as its basis, and is still returned
  by access requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsrflow.catalog.loader import Problems
from dsrflow.catalog.yamlpos import Path_, dump, load_with_positions
from dsrflow.errors import ConfigError

PERSONAL = re.compile(r"^user(\.|$)")


@dataclass
class SchemaInfo:
    """What the live database says about the dataset's tables (from reflection)."""

    columns: dict[str, set[str]] = field(default_factory=dict)
    primary_key: dict[str, set[str]] = field(default_factory=dict)
    not_null: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Field:
    name: str
    categories: list[str]
    identity: str | None
    primary_key: bool
    read_only: bool
    at: Path_


@dataclass
class _Collection:
    name: str
    fields: list[_Field]
    at: Path_
    references: dict[str, list[str]] = field(default_factory=dict)


def import_fides(
    path: Path,
    connection: dict[str, Any],
    store_name: str | None = None,
    reflect: Callable[[list[str]], SchemaInfo] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Read a Fides dataset file and build catalog data.

    Args:
        path: The dataset YAML.
        connection: The SQL adapter's ``connection`` entry for the store(s).
        store_name: Store name (only when the file holds one dataset); default: the fides_key.
        reflect: Reads the live schema for the given table names (None: offline import).

    Returns:
        ``(catalog data, notes)``; notes say what was decided per collection.

    Raises:
        ConfigError: Anything the import cannot map; one line per problem, with file and line.

    """
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{filename}: cannot read Fides dataset: {exc.strerror}") from None
    data, positions = load_with_positions(text, filename)
    problems = Problems(filename, positions)
    datasets = data.get("dataset") if isinstance(data, dict) else None
    if not isinstance(datasets, list) or not datasets:
        problems.fail(("dataset",), "expected a Fides file with a non-empty 'dataset' list")
    if store_name and len(datasets) > 1:
        problems.add(("dataset",), "--store names one store, but the file has several datasets")
    stores: dict[str, Any] = {}
    notes: list[str] = []
    for i, ds in enumerate(datasets):
        entry = _dataset(ds, ("dataset", i), problems, connection, reflect, notes, filename)
        if entry is not None:
            stores[store_name or _store_name(ds.get("fides_key", ""))] = entry
    problems.raise_if_any()
    return {"version": 1, "stores": stores}, notes


def _store_name(key: str) -> str:
    name = re.sub(r"[^a-z0-9_-]", "_", key.lower())[:63]
    return name if re.match(r"^[a-z]", name) else f"fides_{name}"[:63]


def _dataset(
    ds: Any,
    at: Path_,
    problems: Problems,
    connection: dict[str, Any],
    reflect: Callable[[list[str]], SchemaInfo] | None,
    notes: list[str],
    filename: str,
) -> dict[str, Any] | None:
    if not isinstance(ds, dict) or not ds.get("fides_key"):
        problems.add(at, "a dataset needs a 'fides_key'")
        return None
    key = ds["fides_key"]
    colls, refs = _collections(ds, at, problems, notes)
    if not colls:
        problems.add((*at, "collections"), "no collection to import")
        return None
    _references(key, colls, refs, problems)
    schema = reflect(list(colls)) if reflect else None
    if schema is not None:
        _check_schema(colls, schema, problems)
    out = {}
    for name, coll in colls.items():
        out[name] = _collection_entry(coll, schema, notes)
    return {
        "adapter": "sql",
        "description": f"Imported from Fides dataset {key} ({Path(filename).name})",
        "connection": connection,
        "collections": out,
        "processing": _processing(colls),
    }


def _processing(colls: dict[str, _Collection]) -> dict[str, Any]:
    """The dataset's data categories per field, for the access package.

    Purposes, legal basis, recipients and retention are not in a Fides dataset: the operator
    adds them.
    """
    collections = {}
    for name, coll in colls.items():
        fields = {f.name: f.categories for f in coll.fields if f.categories}
        if fields:
            collections[name] = {"fields": fields}
    return {"collections": collections}


Ref = tuple[str, str, Any, Path_]  # (collection, field, raw reference, where)


def _collections(
    ds: dict[str, Any], at: Path_, problems: Problems, notes: list[str]
) -> tuple[dict[str, _Collection], list[Ref]]:
    colls: dict[str, _Collection] = {}
    refs: list[Ref] = []
    for ci, raw in enumerate(ds.get("collections") or []):
        cat: Path_ = (*at, "collections", ci)
        if not isinstance(raw, dict) or not raw.get("name"):
            problems.add(cat, "a collection needs a 'name'")
            continue
        if (raw.get("fides_meta") or {}).get("skip_processing"):
            notes.append(f"{raw['name']}: skipped (fides_meta.skip_processing)")
            continue
        fields = []
        for fi, fraw in enumerate(raw.get("fields") or []):
            fat: Path_ = (*cat, "fields", fi)
            if not isinstance(fraw, dict) or not fraw.get("name"):
                problems.add(fat, "a field needs a 'name'")
                continue
            if fraw.get("fields"):
                problems.add((*fat, "fields"), "nested fields (document stores) cannot be "
                             "imported for the SQL adapter")  # fmt: skip
                continue
            meta = fraw.get("fides_meta") or {}
            fields.append(
                _Field(
                    name=fraw["name"],
                    categories=list(fraw.get("data_categories") or []),
                    identity=meta.get("identity"),
                    primary_key=bool(meta.get("primary_key")),
                    read_only=bool(meta.get("read_only")),
                    at=fat,
                )
            )
            for ri, ref in enumerate(meta.get("references") or []):
                refs.append(
                    (raw["name"], fraw["name"], ref, (*fat, "fides_meta", "references", ri))
                )
        colls[raw["name"]] = _Collection(raw["name"], fields, cat)
    return colls, refs


def _references(
    key: str, colls: dict[str, _Collection], refs: list[Ref], problems: Problems
) -> None:
    undirected: list[tuple[str, str, str, str]] = []
    for coll, fname, ref, at in refs:
        if not isinstance(ref, dict) or not isinstance(ref.get("field"), str):
            problems.add(at, "a reference needs 'dataset' and 'field'")
            continue
        if ref.get("dataset", key) != key:
            problems.add(at, f"reference to another dataset ({ref.get('dataset')}): link stores "
                         "through identities ('provides') instead")  # fmt: skip
            continue
        parts = ref["field"].split(".")
        if len(parts) != 2 or parts[0] not in colls:
            problems.add((*at, "field"), f"{ref['field']!r} is not 'collection.field' of this "
                         "dataset")  # fmt: skip
            continue
        other, ocol = parts
        direction = ref.get("direction")
        if direction == "from":
            colls[coll].references.setdefault(fname, []).append(f"{other}.{ocol}")
        elif direction == "to":
            colls[other].references.setdefault(ocol, []).append(f"{coll}.{fname}")
        elif direction is None:
            undirected.append((coll, fname, other, ocol))
        else:
            problems.add((*at, "direction"), f"unknown direction {direction!r} (from, to)")
    _orient(colls, undirected)


def _orient(colls: dict[str, _Collection], undirected: list[tuple[str, str, str, str]]) -> None:
    """Point each undirected reference away from the side already reachable from an identity."""
    while undirected:
        reach = _reachable(colls)
        progress = False
        for edge in list(undirected):
            a, acol, b, bcol = edge
            if (a in reach) == (b in reach):
                continue
            child, ccol, parent, pcol = (b, bcol, a, acol) if a in reach else edge
            colls[child].references.setdefault(ccol, []).append(f"{parent}.{pcol}")
            undirected.remove(edge)
            progress = True
        if not progress:
            return  # both sides reachable (the link adds nothing) or neither (reported later)


def _reachable(colls: dict[str, _Collection]) -> set[str]:
    reach = {n for n, c in colls.items() if any(f.identity for f in c.fields)}
    changed = True
    while changed:
        changed = False
        for name, coll in colls.items():
            parents = {t.split(".")[0] for targets in coll.references.values() for t in targets}
            if name not in reach and parents & reach:
                reach.add(name)
                changed = True
    return reach


def _check_schema(colls: dict[str, _Collection], schema: SchemaInfo, problems: Problems) -> None:
    for name, coll in colls.items():
        if name not in schema.columns:
            problems.add((*coll.at, "name"), f"table {name!r} not found in the database")
            continue
        for f in coll.fields:
            if f.name not in schema.columns[name]:
                problems.add((*f.at, "name"), f"column {name}.{f.name} not found in the database")


def _collection_entry(
    coll: _Collection, schema: SchemaInfo | None, notes: list[str]
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    identities = {f.name: f.identity for f in coll.fields if f.identity}
    if identities:
        entry["identities"] = identities
    if coll.references:
        entry["references"] = {
            col: targets[0] if len(targets) == 1 else targets
            for col, targets in coll.references.items()
        }
    pk = schema.primary_key.get(coll.name, set()) if schema else set()
    pk |= {f.name for f in coll.fields if f.primary_key}
    not_null = schema.not_null.get(coll.name, set()) if schema else set()
    personal = [
        f.name
        for f in coll.fields
        if (f.identity or any(PERSONAL.match(c) for c in f.categories))
        and f.name not in pk
        and not f.read_only
    ]
    # A surrogate key (customer.id) stays, as Fides never masks primary keys; but an identifier
    # that is (part of) the key, or a personal column that may not be NULL, takes the row with it.
    blocked = [
        f.name
        for f in coll.fields
        if (f.identity and f.name in pk) or (f.name in personal and f.name in not_null)
    ]
    if blocked:
        entry["erase"] = "delete"
        notes.append(f"{coll.name}: delete rows ({', '.join(blocked)} cannot be NULL)")
    elif personal:
        entry["erase"] = {"strategy": "anonymize", "fields": dict.fromkeys(personal)}
        notes.append(f"{coll.name}: set NULL {', '.join(personal)}")
    else:
        entry["erase"] = {
            "strategy": "keep",
            "basis": "no personal-data (user.*) category on any field in the Fides dataset",
        }
        notes.append(f"{coll.name}: keep (no user.* field); still returned by access")
    return entry


def render(catalog: dict[str, Any], source: str, notes: list[str]) -> str:
    """The catalog as YAML, headed by where it came from and what was decided."""
    head = [
        f"# Imported from Fides dataset file {source} by `dsrflow catalog import-fides`.",
        "# Erasure policy chosen per collection (review before use):",
        *[f"#   {n}" for n in notes],
    ]
    body = dump(catalog, sort_keys=False, default_flow_style=False, width=100)
    return "\n".join(head) + "\n" + body


def sql_reflector(
    store: str, connection: dict[str, Any], env: Any, base_dir: Path
) -> Callable[[list[str]], SchemaInfo]:
    """A ``reflect`` callable reading tables, columns, keys and NOT NULLs from the database.

    Raises (when called):
        ConfigError: The database cannot be reached or read; one line naming the store.

    """

    def reflect(tables: list[str]) -> SchemaInfo:
        from sqlalchemy import inspect

        from dsrflow.adapters.sdk import AdapterContext, AdapterError
        from dsrflow.adapters.sql.config import Connection
        from dsrflow.adapters.sql.engine import build_engine, map_error

        conn = Connection.model_validate(connection)
        info = SchemaInfo()
        try:
            engine = build_engine(conn, AdapterContext(store, base_dir, env))
        except AdapterError as exc:
            raise ConfigError(str(exc)) from None
        try:
            insp = inspect(engine)
            existing = set(insp.get_table_names(schema=conn.schema_))
            for table in tables:
                if table not in existing:
                    continue
                cols = insp.get_columns(table, schema=conn.schema_)
                info.columns[table] = {c["name"] for c in cols}
                info.not_null[table] = {c["name"] for c in cols if not c["nullable"]}
                pk = insp.get_pk_constraint(table, schema=conn.schema_)
                info.primary_key[table] = set(pk.get("constrained_columns") or [])
        except Exception as exc:
            raise ConfigError(str(map_error(store, exc, "reading the schema"))) from None
        finally:
            engine.dispose()
        return info

    return reflect
