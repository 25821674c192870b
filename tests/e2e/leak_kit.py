"""Canary identities and a search for them in every form, in bytes, files, trees and ledgers.

A canary is a made-up person whose e-mail, name, phone and customer id are unusual enough that
any occurrence in a log, a history, a bundle or a database is a leak, not a coincidence. The
search looks for each value as given, lower-cased, in its normalised forms (E.164 and national
phone, digits), in its distinctive fragments (a local part, a surname), in base64 at every
alignment (Temporal's JSON shows payload bytes in base64), and as a plain SHA-256 (an unkeyed
hash of an identifier is as good as the identifier to whoever guesses it). Zip files are
searched inside too (deflate hides the bytes of what it compresses).
"""

from __future__ import annotations

import base64
import hashlib
import io
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Canary:
    """One made-up person (values as a person would type them)."""

    email: str = "Quillon.Vantablack+7q@Canary-Leak.example"
    name: str = "Zebulon Quarrington-Vexley"
    phone: str = "+44 7700 900461"
    customer_id: int = 918273645501

    def texts(self) -> dict[str, str]:
        """Every plain form, by a label saying what it is (matched ignoring letter case)."""
        email = self.email
        local, _, domain = email.partition("@")
        first, _, last = self.name.partition(" ")
        digits = "".join(c for c in self.phone if c.isdigit())  # 447700900461
        return {
            "email": email,
            "email (lower-case)": email.lower(),
            "email local part": local.split("+")[0],
            "email domain": domain,
            "name": self.name,
            "first name": first,
            "surname": last,
            "surname (first part)": last.split("-")[0],
            "phone": self.phone,
            "phone (E.164)": "+" + digits,
            "phone (national)": "0" + digits[2:],
            "phone (subscriber digits)": digits[2:],
            "phone (national, spaced)": "0" + self.phone.split(" ", 1)[1],
            "customer id": str(self.customer_id),
        }

    def forms(self) -> dict[str, bytes]:
        """Every form searched for, lower-cased plain ones and exact base64/hash ones.

        Keys starting with ``~`` are matched exactly (base64 is case-sensitive); the rest are
        matched against the lower-cased haystack.
        """
        out: dict[str, bytes] = {}
        for label, text in self.texts().items():
            raw = text.encode()
            out[label] = raw.lower()
            for variant in {raw, raw.lower()}:
                for i, b64 in enumerate(_base64_cores(variant)):
                    out[f"~{label} (base64, alignment {i}, {variant[:4]!r}...)"] = b64
        for label in ("email", "email (lower-case)", "phone (E.164)", "name"):
            value = self.texts()[label].encode()
            out[f"~sha256({label}) hex"] = hashlib.sha256(value).hexdigest().encode()
            out[f"~sha256({label}) raw"] = hashlib.sha256(value).digest()
        return out


def _base64_cores(raw: bytes) -> list[bytes]:
    """The base64 text ``raw`` shows wherever it starts in an encoded stream: for each of the
    three alignments, the characters that depend on ``raw`` alone."""
    cores = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw)
        start = (pad * 8 + 5) // 6 if pad else 0  # characters touched by the padding bytes
        end = ((pad + len(raw)) * 8) // 6  # characters completed before the final partial
        core = enc[start:end]
        if len(core) >= 6:
            cores.append(core)
    return cores


def found_in(blob: bytes, forms: dict[str, bytes]) -> list[str]:
    """The labels of the forms ``blob`` contains."""
    lower = blob.lower()
    return [
        label
        for label, needle in forms.items()
        if (needle in blob if label.startswith("~") else needle in lower)
    ]


def blobs(path: Path) -> Iterator[tuple[str, bytes]]:
    """A file's bytes, and those of every member of a zip (nested zips too), by name."""
    data = path.read_bytes()
    yield str(path), data
    yield from _members(str(path), data)


def _members(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for member in zf.namelist():
            inner = zf.read(member)
            yield f"{name}!{member}", inner
            yield from _members(f"{name}!{member}", inner)


def scan_tree(root: Path, forms: dict[str, bytes]) -> dict[str, list[str]]:
    """Every file under ``root`` (and inside its zips) that holds a form: name -> labels."""
    hits: dict[str, list[str]] = {}
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    assert files, f"nothing to search under {root}"
    for path in files:
        for name, data in blobs(path):
            labels = found_in(data, forms)
            if labels:
                hits[name] = labels
    return hits


def ledger_cells(db: Path) -> Iterator[tuple[str, str, bytes]]:
    """Every cell of every table of a SQLite database as (table, column, bytes): text as UTF-8,
    blobs as they are (a dump would show them in hex and hide what they hold)."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cur = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cur.description]
            for row in cur:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        yield table, column, value
                    else:
                        yield table, column, str(value).encode()
    conn.close()
