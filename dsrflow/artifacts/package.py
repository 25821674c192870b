"""The access package's content: documented JSON, one CSV per collection, the HTML report.

Records stream: staged store files (mixed collections, already shaped) are split once into
one encrypted file per collection, then each member of the zip is written by reading those
files again. Nothing holds more than one record (and one HTML page) in memory; a zip member
is written while the previous one is closed, so each pass is sequential. See
``docs/access-package.md`` for the layout.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dsrflow.artifacts.shape import CollectionSheet, Sheet
from dsrflow.crypto.files import EncryptedWriter, decrypt_chunks

FORMAT = "dsrflow.access-package/1"
JSON_MEMBER = "access-package.json"
SCHEMA_FILE = Path(__file__).with_name("access-package.schema.json")


@dataclass
class Part:
    """One collection of one store, split out of the store's staged records."""

    collection: str
    stem: str
    path: Path
    sheet: CollectionSheet
    count: int = 0
    seen: dict[str, None] = field(default_factory=dict)
    """Field names in first-seen order (a dict as an ordered set)."""

    def columns(self, export: bool) -> list[str]:
        """The collection's fields as the package lists them (export: provided ones only)."""
        provided = self.sheet.provided
        if export and provided is not None:
            dropped = self.sheet.dropped()
            return [f for f in provided if f not in dropped]
        return list(self.seen)

    def project(self, data: dict[str, Any], export: bool) -> dict[str, Any]:
        """The record as the package holds it (export: provided fields only, Art. 20)."""
        provided = self.sheet.provided
        if export and provided is not None:
            return {k: data[k] for k in provided if k in data}
        return data


@dataclass
class StorePart:
    """A store in the package: its status and its collections."""

    store: str
    status: str
    records: int
    default: dict[str, Any]
    parts: list[Part] = field(default_factory=list)


def iter_lines(path: Path, key: bytes) -> Iterator[bytes]:
    """The lines of an encrypted JSON-lines file, one at a time."""
    pending = b""
    for chunk in decrypt_chunks(path, key):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line)
    if pending:
        yield pending


def iter_records(part: Part, key: bytes) -> Iterator[dict[str, Any]]:
    """A split collection's records."""
    for line in iter_lines(part.path, key):
        record: dict[str, Any] = json.loads(line)
        yield record


def _stem(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique stem for a collection name (which may hold any character)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60] or "collection"
    stem, n = base, 2
    while stem in taken:
        stem, n = f"{base}-{n}", n + 1
    taken.add(stem)
    return stem


def split_store(
    src: Path, *, key_id: str, key: bytes, out_dir: Path, sheet: Sheet, dump: Callable[[Any], str]
) -> list[Part]:
    """Split a store's staged records into one encrypted file per collection (one pass)."""
    parts: dict[str, Part] = {}
    writers: dict[str, EncryptedWriter] = {}
    taken: set[str] = set()
    try:
        for line in iter_lines(src, key):
            rec = json.loads(line)
            name = str(rec["collection"])
            part = parts.get(name)
            if part is None:
                stem = _stem(name, taken)
                part = parts[name] = Part(name, stem, out_dir / f"{stem}.jsonl.enc",
                                          sheet.collection(name))  # fmt: skip
                writers[name] = EncryptedWriter(part.path, key_id, key)
            data = rec["data"] if isinstance(rec["data"], dict) else {"value": rec["data"]}
            part.seen.update(dict.fromkeys(data))
            part.count += 1
            writers[name].write(dump(data).encode() + b"\n")
    finally:
        for w in writers.values():
            w.close()
    return sorted(parts.values(), key=lambda p: p.collection)


def write_json(
    zf: zipfile.ZipFile,
    *,
    head: dict[str, Any],
    stores: list[StorePart],
    key: bytes,
    export: bool,
    dump: Callable[[Any], str],
) -> None:
    """Write ``access-package.json``: the head's fields, then every store with its records."""
    with zf.open(JSON_MEMBER, "w", force_zip64=True) as out:
        text = json.dumps(head, indent=1, sort_keys=True)
        out.write(text[:-2].encode() + b',\n "stores": [')
        for si, sp in enumerate(stores):
            meta = {"store": sp.store, "status": sp.status, "records": sp.records,
                    "processing": sp.default}  # fmt: skip
            out.write((", " if si else "").encode() + dump(meta)[:-1].encode())
            out.write(b', "collections": [')
            for ci, part in enumerate(sp.parts):
                out.write(b",\n" if ci else b"\n")
                out.write(dump(collection_meta(sp.store, part, export))[:-1].encode())
                out.write(b', "records": [')
                n = 0
                if not export or part.sheet.provided is None:
                    # The split lines are the records as written: copy them, no re-encoding.
                    for line in iter_lines(part.path, key):
                        out.write((b",\n" if n else b"\n") + line)
                        n += 1
                    out.write(b"]}")
                    continue
                for data in iter_records(part, key):
                    shown = part.project(data, export)
                    if not shown:
                        continue  # nothing she provided in this record
                    out.write((",\n" if n else "\n").encode() + dump(shown).encode())
                    n += 1
                out.write(b"]}")
            out.write(b"]}")
        out.write(b"]\n}\n")


def collection_meta(store: str, part: Part, export: bool) -> dict[str, Any]:
    """What the package says of a collection besides its records."""
    provided = part.sheet.provided
    return {
        "collection": part.collection,
        "record_count": part.count,
        "fields": part.columns(export),
        "csv": csv_member(store, part),
        "processing": part.sheet.processing,
        "excluded_fields": part.sheet.excluded,
        "redacted_fields": part.sheet.redacted,
        "export_scope": None if not export else (
            "provided" if provided is not None else "all (provided fields not declared)"),
    }  # fmt: skip


def csv_member(store: str, part: Part) -> str:
    """Path of a collection's CSV inside the zip."""
    return f"csv/{store}/{part.stem}.csv"


def cell(value: Any, dump: Callable[[Any], str]) -> str:
    """A value as CSV/HTML text: nested values as JSON, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # as json.dumps writes them, without its overhead per value
    text = dump(value)
    return text[1:-1] if text.startswith('"') else text


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP: CSV injection)."""


def spreadsheet_safe(value: Any, dump: Callable[[Any], str]) -> str:
    """``cell``, with text a spreadsheet would run as a formula prefixed by ``'``.

    The subject opens their CSVs in a spreadsheet; a record someone else could write into
    (a display name, a note) must not run ``=HYPERLINK(...)`` there. Numbers stay numbers; the
    JSON file keeps every value exactly as stored.
    """
    text = cell(value, dump)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csvs(
    zf: zipfile.ZipFile,
    *,
    stores: list[StorePart],
    key: bytes,
    export: bool,
    dump: Callable[[Any], str],
) -> None:
    """One CSV per collection, header first (the collection's fields)."""
    for sp in stores:
        for part in sp.parts:
            columns = part.columns(export)
            member: IO[bytes] = zf.open(csv_member(sp.store, part), "w", force_zip64=True)
            with io.TextIOWrapper(member, encoding="utf-8", newline="") as text:
                writer = csv.writer(text)
                writer.writerow(columns)
                for data in iter_records(part, key):
                    shown = part.project(data, export)
                    if export and not shown:
                        continue
                    writer.writerow([spreadsheet_safe(shown.get(c), dump) for c in columns])


def now() -> str:
    """When the package was generated (UTC, ISO 8601)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
