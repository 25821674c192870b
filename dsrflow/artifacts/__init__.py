"""The artifact store: what requests produce, on disk under ``state_dir/artifacts/<request id>``.

Anything holding personal data (staged records, access packages, the subject's commitment
opening) is encrypted with the request's data key; evidence bundles hold no personal data and
are stored in clear so they can be handed to anyone.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dsrflow.adapters.sdk import Record
from dsrflow.artifacts.package import (
    FORMAT,
    StorePart,
    split_store,
    write_csvs,
    write_json,
)
from dsrflow.artifacts.package import now as _now
from dsrflow.artifacts.report import strings, write_report
from dsrflow.artifacts.shape import Sheet
from dsrflow.crypto.files import EncryptedWriter, decrypt_chunks, read_key_id
from dsrflow.crypto.keystore import KeyStore
from dsrflow.errors import UserError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")

PACKAGE = "access-package.zip.enc"
BUNDLE = "evidence-bundle.zip"
OPENING = "subject-opening.json.enc"
PACKAGE_COUNTS = "access-package.counts.json"
"""Store names and record counts of the assembled package (no personal data)."""


DEFAULT_AUTHORITY = "the data protection supervisory authority where you live or work"


class PackageMismatch(Exception):
    """An access package would not hold the records its stores' receipts claim."""


def _check_counts(claimed: dict[str, int], found: dict[str, int]) -> None:
    wrong = [
        f"{store} (receipt {n}, staged {found.get(store, 0)})"
        for store, n in sorted(claimed.items())
        if found.get(store, 0) != n
    ]
    if wrong:
        raise PackageMismatch("staged records differ from the receipts: " + ", ".join(wrong))


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_request_id(request_id: str) -> str:
    """Request ids become file and workflow names: letters, digits, '.', '_', '-' only."""
    if not _SAFE_ID.match(request_id):
        raise UserError(
            f"request id {request_id!r}: use 1-80 letters, digits, '.', '_' or '-' "
            "(and no personal data)"
        )
    return request_id


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True, ensure_ascii=False)


def folder_sheet(staged: Path) -> Path:
    """The processing sheet saved next to a store's staged records."""
    return staged.with_name(staged.name.removesuffix(".jsonl.enc") + ".sheet.json")


def _head(manifest: dict[str, Any], authority: str, language: str) -> dict[str, Any]:
    """The package's fields besides its stores: who, what, when, and the subject's rights."""
    s = strings(language)
    return {
        "format": FORMAT,
        "request_id": manifest.get("request_id"),
        "request_type": manifest.get("request_type"),
        "generated_at": _now(),
        "language": s["lang"],
        "rights": {
            "authority": authority,
            "notice": [line.format(authority=authority) for line in s["rights"]],
        },
    }


class ArtifactStore:
    """Reads and writes a request's artifacts."""

    def __init__(self, root: Path, keystore: KeyStore) -> None:
        self.root = root
        self.keystore = keystore

    def dir(self, request_id: str) -> Path:
        """The request's folder."""
        return self.root / check_request_id(request_id)

    def stage_records(
        self,
        request_id: str,
        store: str,
        records: Iterable[Record],
        *,
        sheet: dict[str, Any] | None = None,
    ) -> int:
        """Encrypt a store's records as JSON lines into the staging area; returns the count.

        ``sheet`` is the store's processing information (``StoreProcessing.sheet()``): its
        projections and redactions are applied here, before anything is written, and it is
        kept next to the records (it holds no personal data) for the package to state.
        """
        key_id, key = self.keystore.key_for(request_id)
        path = self.dir(request_id) / "staging" / f"{store}.jsonl.enc"
        shaper = Sheet(sheet)
        count = 0
        with EncryptedWriter(path, key_id, key) as out:
            for rec in records:
                data = shaper.shape(rec.collection, rec.data)
                line = {"collection": rec.collection, "data": data}
                out.write(json.dumps(line, default=_json_default, sort_keys=True).encode() + b"\n")
                count += 1
        path.with_name(f"{store}.sheet.json").write_text(json.dumps(shaper.raw, sort_keys=True))
        return count

    def assemble_package(
        self,
        request_id: str,
        expected: dict[str, int | None],
        manifest: dict[str, Any],
        *,
        authority: str = DEFAULT_AUTHORITY,
        language: str = "en",
    ) -> Path:
        """Build the encrypted access package from the staged records, then drop staging.

        ``expected`` maps each store to the record count its receipt claims (None: nothing was
        staged, e.g. a store a person completed by hand). Every count is checked against the
        records actually staged; a package that would claim records it does not hold is never
        written. A retry after a successful assembly (staging already gone) returns the package
        if its recorded counts match. The layout is in ``docs/access-package.md``.

        Raises:
            PackageMismatch: A store's staged records differ from its receipt.
        """
        key_id, key = self.keystore.key_for(request_id)
        folder = self.dir(request_id)
        path = folder / PACKAGE
        staged = {s: folder / "staging" / f"{s}.jsonl.enc" for s in expected}
        claimed = {s: n for s, n in expected.items() if n}
        if any(not staged[s].exists() for s in claimed):
            return self._assembled_before(folder, path, claimed)
        split_dir = folder / "staging" / "split"
        shutil.rmtree(split_dir, ignore_errors=True)  # a crashed attempt's leftovers
        stores, found = self._split(manifest, staged, key_id, key, split_dir)
        _check_counts(claimed, found)
        export = manifest.get("request_type") == "export"
        head = _head(manifest, authority, language)
        with (
            EncryptedWriter(path, key_id, key) as out,
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        ):
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            dump = _dumps
            write_json(zf, head=head, stores=stores, key=key, export=export, dump=dump)
            write_csvs(zf, stores=stores, key=key, export=export, dump=dump)
            if not export:  # Art. 20 asks for machine-readable data; Art. 15 for a readable one
                write_report(zf, head=head, stores=stores, key=key, dump=dump)
        (folder / PACKAGE_COUNTS).write_text(
            json.dumps({"sha256": _sha256(path), "records": found}, sort_keys=True)
        )
        shutil.rmtree(folder / "staging", ignore_errors=True)
        return path

    def _split(
        self,
        manifest: dict[str, Any],
        staged: dict[str, Path],
        key_id: str,
        key: bytes,
        split_dir: Path,
    ) -> tuple[list[StorePart], dict[str, int]]:
        """Split every staged store per collection; the stores as the package lists them."""
        stores: list[StorePart] = []
        found: dict[str, int] = {}
        statuses = manifest.get("stores") or {}
        for store in sorted(set(statuses) | set(staged)):
            file = staged.get(store)
            sheet_file = folder_sheet(file) if file is not None else None
            raw = None
            if sheet_file is not None and sheet_file.exists():
                raw = json.loads(sheet_file.read_text())
            sheet = Sheet(raw)
            info = statuses.get(store) or {}
            sp = StorePart(store, str(info.get("status", "done")), int(info.get("records") or 0),
                           sheet.raw.get("default") or {})  # fmt: skip
            if file is not None and file.exists():
                sp.parts = split_store(file, key_id=key_id, key=key, out_dir=split_dir / store,
                                       sheet=sheet, dump=_dumps)  # fmt: skip
                found[store] = sum(p.count for p in sp.parts)
            stores.append(sp)
        return stores, found

    def _assembled_before(self, folder: Path, path: Path, claimed: dict[str, int]) -> Path:
        """The package an earlier attempt assembled, if it holds what the receipts claim."""
        counts = folder / PACKAGE_COUNTS
        if not path.exists() or not counts.exists():
            missing = sorted(
                s for s in claimed if not (folder / "staging" / f"{s}.jsonl.enc").exists()
            )
            raise PackageMismatch(
                f"request {folder.name}: no staged records for store(s) {', '.join(missing)} "
                "although their receipts claim records"
            )
        recorded = json.loads(counts.read_text())
        if recorded.get("sha256") != _sha256(path):
            raise PackageMismatch(
                f"request {folder.name}: the access package changed after assembly"
            )
        _check_counts(claimed, {s: int(n) for s, n in recorded.get("records", {}).items()})
        return path

    def save_bundle(self, request_id: str, data: bytes) -> Path:
        """Store a signed evidence bundle (no personal data, kept in clear), whole or not at all."""
        path = self.dir(request_id) / BUNDLE
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(BUNDLE + ".part")
        part.write_bytes(data)
        os.replace(part, path)  # a crash mid-write never leaves a truncated bundle in place
        return path

    def issued_bundle(self, request_id: str) -> Path | None:
        """The request's saved evidence bundle, when it has one along with its opening."""
        folder = self.dir(request_id)
        bundle = folder / BUNDLE
        return bundle if bundle.exists() and (folder / OPENING).exists() else None

    def save_opening(self, request_id: str, opening: dict[str, Any]) -> Path:
        """Store the subject's commitment opening, encrypted (it holds the identifier)."""
        key_id, key = self.keystore.key_for(request_id)
        path = self.dir(request_id) / OPENING
        with EncryptedWriter(path, key_id, key) as out:
            out.write(json.dumps(opening, sort_keys=True, indent=2).encode())
        return path

    def purge(self, request_id: str) -> list[str]:
        """Delete everything of a request but its evidence bundle; returns what was deleted.

        The encrypted files are unreadable once the request's key is destroyed; deleting them
        too keeps the artifact store from growing with ciphertext nobody can open.
        """
        folder = self.dir(request_id)
        removed = []
        if folder.exists():
            for path in sorted(folder.rglob("*"), reverse=True):
                if path.name == BUNDLE:
                    continue
                if path.is_dir():
                    if not any(path.iterdir()):
                        path.rmdir()
                else:
                    path.unlink()
                    removed.append(str(path.relative_to(folder)))
        return removed

    def package(self, request_id: str) -> Path | None:
        """The request's encrypted access package, if it has one."""
        path = self.dir(request_id) / PACKAGE
        return path if path.exists() else None

    def purge_package(self, request_id: str) -> list[str]:
        """Delete the access package, its counts and any staging; returns what was deleted.

        The subject's opening and the evidence bundle stay (staff's, for the request's
        retention period); the package is the subject's and goes after its delivery window.
        """
        folder = self.dir(request_id)
        removed = []
        staging = folder / "staging"
        if staging.exists():
            for path in sorted(staging.rglob("*"), reverse=True):
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()
                    removed.append(str(path.relative_to(folder)))
            staging.rmdir()
        for name in (PACKAGE, PACKAGE_COUNTS):
            if (folder / name).exists():
                (folder / name).unlink()
                removed.append(name)
        return removed

    def export(self, request_id: str, out_dir: Path) -> list[Path]:
        """Decrypt a request's deliverables into ``out_dir`` (an audited download)."""
        if not self.dir(request_id).exists():
            raise UserError(f"request {request_id}: no artifacts (not finished, or purged)")
        written = []
        for which in ("package", "opening", "bundle"):
            path = self.export_one(request_id, which, out_dir)
            if path is not None:
                written.append(path)
        return written

    def export_one(self, request_id: str, which: str, out_dir: Path) -> Path | None:
        """Write one deliverable into ``out_dir``; None when the request has none.

        Args:
            request_id: The request.
            which: See ``open_one``.
            out_dir: Where to write (created if missing).
        """
        opened = self.open_one(request_id, which)
        if opened is None:
            return None
        name, chunks = opened
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / name
        part = target.with_name(name + ".part")
        try:  # never a half-written deliverable under its real name
            with open(part, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return target

    def open_one(self, request_id: str, which: str) -> tuple[str, Iterator[bytes]] | None:
        """One deliverable as a file name and its bytes, chunk by chunk; None when absent.

        Encrypted deliverables are decrypted as they are read (each chunk authenticated), so a
        download never leaves a plaintext copy on disk.

        Args:
            request_id: The request.
            which: ``package`` (decrypted access package), ``opening`` (the subject's
                commitment opening, decrypted), ``bundle`` (evidence bundle) or ``certificate``
                (the bundle's printable certificate).

        Raises:
            ValueError: An unknown deliverable.
        """
        folder = self.dir(request_id)
        encrypted = {"package": (PACKAGE, "access-package.zip"),
                     "opening": (OPENING, "subject-opening.json")}  # fmt: skip
        if which in encrypted:
            name, suffix = encrypted[which]
            src = folder / name
            if not src.exists():
                return None
            key = self.keystore.get(read_key_id(src))  # now: a purged key fails before any byte
            return f"{request_id}-{suffix}", decrypt_chunks(src, key)
        bundle = folder / BUNDLE
        if not bundle.exists():
            return None
        if which == "bundle":
            return f"{request_id}-evidence-bundle.zip", _read_chunks(bundle)
        if which != "certificate":
            raise ValueError(f"unknown deliverable {which!r}")
        from dsrflow.evidence.format import CERTIFICATE

        with zipfile.ZipFile(bundle) as zf:
            if CERTIFICATE not in zf.namelist():
                return None
            page = zf.read(CERTIFICATE)
        return f"{request_id}-certificate.html", iter([page])


def _read_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk
