"""The files adapter: path templates per subject under one root folder.

Example::

    uploads:
      adapter: files
      root: /mnt/uploads                  # relative paths resolve against the catalog's folder
      collections:
        avatars:
          paths: "avatars/{customer_id}.*"
        documents:
          paths: "customers/{customer_id}/**/*"

``{kind}`` placeholders take the subject's identity values, normalised by the kind's rule (glob
characters escaped; a value holding a path separator or ``..`` never matches anything); an
e-mail (any ``casefold`` kind) matches in any letter case, a phone by its E.164 form. ``*`` and
``**`` glob. ``access``
copies each file into the access package (text as text, anything else base64), ``erase``
unlinks the files and the folders that only held them, ``verify`` lists again. A mounted object
store (s3fs, gcsfuse, rclone mount) works the same way as a local disk.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import itertools
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dsrflow.adapters.files.sweep import sweep_files
from dsrflow.adapters.sdk import (
    AdapterContext,
    Capability,
    Check,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    RetryableAdapterError,
    Subject,
    SweepBudget,
    operation_digest,
)
from dsrflow.adapters.sdk.identity import casefold_glob
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sdk.sweeps import SweepReport

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FilesCollection(BaseModel):
    """One path template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: str = Field(min_length=1, description="Glob relative to root, e.g. 'u/{customer_id}/*'.")

    @field_validator("paths")
    @classmethod
    def _relative_with_identity(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts:
            raise ValueError("'paths' must stay inside root (relative, no '..')")
        if not _PLACEHOLDER.search(value):
            raise ValueError("'paths' must name an identity, e.g. 'avatars/{customer_id}.*'")
        return value


class FilesConfig(BaseModel):
    """The files adapter's part of a store entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = Field(min_length=1, description="Folder holding the files.")
    collections: dict[str, FilesCollection] = Field(min_length=1)
    batch_size: int = Field(500, ge=1, description="Files deleted between heartbeats.")
    max_file_bytes: int = Field(50 * 2**20, ge=1, description="Largest file access copies.")


class FilesAdapter:
    """Access (copy), erasure (unlink) and verification (re-list) of a subject's files."""

    name = "files"
    version = "0.1.0"
    capabilities = frozenset(
        {Capability.ACCESS, Capability.ERASE, Capability.VERIFY, Capability.SWEEP}
    )
    config_model = FilesConfig
    # The sweep searches strong kinds only; the others recognise what the catalog accounts for.
    sweep_uses_all_identities = True

    def __init__(self, config: FilesConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.store = ctx.store
        self.kinds = ctx.identity_kinds
        root = Path(config.root)
        self.root = root if root.is_absolute() else (ctx.base_dir / root)

    @classmethod
    def identity_kinds_used(cls, config: FilesConfig) -> list[tuple[tuple[str, ...], str, bool]]:
        """Every ``{kind}`` the path templates name, for the catalog loader."""
        return [
            (("collections", name, "paths"), kind, False)
            for name, coll in config.collections.items()
            for kind in _ANY_PLACEHOLDER.findall(coll.paths)
        ]

    @classmethod
    def create(cls, config: FilesConfig, ctx: AdapterContext) -> Self:
        """Build the adapter; touches no file yet."""
        return cls(config, ctx)

    def close(self) -> None:
        """Nothing to release."""

    # -- finding ---------------------------------------------------------------------------

    def _patterns(self, template: str, subject: Subject) -> list[str]:
        kinds = self.kinds
        names = _PLACEHOLDER.findall(template)
        choices = [
            sorted({v for v in (kinds.normalize(k, x) for x in subject.values(k)) if v})
            for k in names
        ]
        out = []
        for combo in itertools.product(*choices):
            if any(os.sep in v or "/" in v or v in ("", ".", "..") for v in combo):
                continue  # a value that is a path would escape its folder: it matches nothing
            text = template
            for kind, value in zip(names, combo, strict=True):
                # An e-mail (any casefold kind) matches its file in any letter case.
                fold = kinds.mode(kind) == "casefold"
                pattern = casefold_glob(value, glob.escape) if fold else glob.escape(value)
                text = text.replace("{" + kind + "}", pattern, 1)
            out.append(text)
        return out

    def _files(self, template: str, subject: Subject) -> list[Path]:
        self._require_root()
        found: dict[Path, None] = {}
        for pattern in self._patterns(template, subject):
            for path in sorted(self.root.glob(pattern)):
                if path.is_symlink() or path.is_file():
                    found[path] = None
        return list(found)

    def _require_root(self) -> None:
        try:
            if not self.root.is_dir():
                raise PermanentAdapterError(
                    f"store {self.store!r}: root folder {self.root} not found"
                )
        except OSError as exc:  # a hung or vanished mount
            raise RetryableAdapterError(
                f"store {self.store!r}: root folder {self.root} unavailable ({exc.strerror})"
            ) from None

    # -- verbs -----------------------------------------------------------------------------

    def access(self, subject: Subject) -> Iterator[Record]:
        """Copy each of the subject's files into a record (text as text, else base64)."""
        for name, coll in self.config.collections.items():
            for path in self._files(coll.paths, subject):
                yield Record(name, self._copy(path))

    def _copy(self, path: Path) -> dict[str, Any]:
        rel = path.relative_to(self.root).as_posix()
        if path.is_symlink():
            return {"path": rel, "symlink": True}  # never followed out of the root
        size = path.stat().st_size
        if size > self.config.max_file_bytes:
            raise PermanentAdapterError(
                f"store {self.store!r}: a file under {Path(rel).parent} is larger than "
                f"max_file_bytes ({size} > {self.config.max_file_bytes})"
            )
        blob = path.read_bytes()
        data: dict[str, Any] = {"path": rel, "size": size}
        data["sha256"] = hashlib.sha256(blob).hexdigest()
        try:
            data["text"] = blob.decode("utf-8")
        except UnicodeDecodeError:
            data["base64"] = base64.b64encode(blob).decode("ascii")
        return data

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Unlink the subject's files (and folders left empty by that), then list again."""
        counts: list[CollectionCount] = []
        done = 0
        for name, coll in self.config.collections.items():
            files = self._files(coll.paths, subject)
            affected = 0
            for i, path in enumerate(files, 1):
                affected += self._unlink(path, coll.paths)
                if progress and (i % self.config.batch_size == 0 or i == len(files)):
                    progress(done + i)
            done += len(files)
            left = len(self._files(coll.paths, subject))
            counts.append(CollectionCount(name, "delete", len(files), affected, residual=left))
        return self._receipt("erase", counts)

    def _unlink(self, path: Path, template: str) -> int:
        try:
            path.unlink()
        except FileNotFoundError:
            return 0  # someone else (or a retried attempt) already removed it
        except PermissionError:
            raise PermanentAdapterError(
                f"store {self.store!r}: permission denied deleting a file under "
                f"{_static_dir(template) or '.'}"
            ) from None
        # Folders named after the subject (customers/42/) go too; the template's fixed folders
        # (customers/) stay.
        keep = self.root / _static_dir(template)
        parent = path.parent
        while parent != keep and parent.is_relative_to(keep) and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return 1

    def verify(self, subject: Subject) -> OperationReceipt:
        """List again: files of the subject still present."""
        counts = [
            CollectionCount(name, "verify", len(self._files(coll.paths, subject)), 0)
            for name, coll in self.config.collections.items()
        ]
        return self._receipt("verify", counts)

    def sweep(
        self,
        subject: Subject,
        budget: SweepBudget,
        *,
        after: str = "erasure",
        progress: Progress | None = None,
    ) -> SweepReport:
        """The independent residual sweep: every file name and content under the root.

        After an access, files the catalog's templates return are recorded as exclusions.
        """
        self._require_root()
        accounted: set[Path] = set()
        if after == "access":
            for coll in self.config.collections.values():
                accounted.update(self._files(coll.paths, subject))
        return sweep_files(
            self.root,
            store=self.store,
            subject=subject,
            budget=budget,
            kinds=getattr(self.ctx, "identity_kinds", None),
            accounted=accounted,
            progress=progress,
        )

    def access_digest(self, subject: Subject) -> str:
        """Digest of what ``access`` does (for the access receipt)."""
        return operation_digest(self._templates("access"))

    def _templates(self, action: str) -> list[str]:
        verb = {"erase": "unlink", "access": "copy"}.get(action, "count")
        return [f"glob {c.paths} -> {verb}" for c in self.config.collections.values()]

    def _receipt(self, action: str, counts: list[CollectionCount]) -> OperationReceipt:
        templates = self._templates(action)
        return OperationReceipt(
            action=action,
            matched=sum(c.matched for c in counts),
            affected=sum(c.affected for c in counts),
            operation_digest=operation_digest(templates),
            collections=counts,
        )

    def check_connection(self) -> CheckReport:
        """Root exists and is writable; every path template matches at least one file."""
        checks: list[Check] = []
        try:
            self._require_root()
            probe = self.root / f".dsrflow-probe-{secrets.token_hex(6)}"
            probe.write_bytes(b"")
            probe.unlink()
            checks.append(Check("root", True, f"{self.root} readable and writable"))
        except PermanentAdapterError as exc:
            return CheckReport(self.store, [Check("root", False, str(exc))])
        except OSError as exc:
            detail = f"store {self.store!r}: cannot write in {self.root} ({exc.strerror})"
            return CheckReport(self.store, [Check("root", False, detail)])
        for name, coll in self.config.collections.items():
            pattern = _PLACEHOLDER.sub("*", coll.paths)
            hit = next(iter(self.root.glob(pattern)), None)
            detail = f"files match {pattern}" if hit else f"no file matches {pattern}"
            checks.append(Check(f"paths:{name}", hit is not None, detail))
        return CheckReport(self.store, checks)


def _static_dir(template: str) -> str:
    """The folders of a template before its first placeholder or glob: never removed."""
    parts = []
    for part in Path(template).parent.parts:
        if _PLACEHOLDER.search(part) or any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else ""
