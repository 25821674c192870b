"""Scan one files store's root folder for personal data the catalog's path templates miss.

Files are grouped by *shape*: their path relative to the root with every folder that is not a
plain word made ``*`` and the file name made ``*`` plus its extension (``avatars/*.jpg``,
``exports/*/*.csv``), so a report never names a file (a file name may be an e-mail address).
A group is ``mapped`` when its files match one of the catalog's path templates. For an
unmapped group, up to ``sample_rows`` files are read, at most ``READ_BYTES`` each, as text: its
lines (and, for delimited lines, their fields) are one "column", ``(content)``; the path's own
segments are another, ``(path)``.
Symbolic links are never followed; at most ``max_rows`` files are visited per store.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from pathlib import Path

from dsrflow.adapters.files.adapter import FilesConfig
from dsrflow.adapters.sdk import AdapterContext
from dsrflow.catalog.model import StoreEntry
from dsrflow.discovery.report import WORD, Budget, StoreScan, group_report

READ_BYTES = 64 * 1024
"""How much of one file the classifiers see."""
_LINES = 200
_FIELDS = re.compile(r"[,;\t|]")


def shape(rel: str) -> str:
    """The file's group: plain-word folders kept, other folders and the name made ``*``."""
    *folders, name = rel.split("/")
    ext = Path(name).suffix.lower()
    shown_ext = ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""
    return "/".join([*(f if WORD.fullmatch(f) else "*" for f in folders), f"*{shown_ext}"])


def _template_glob(paths: str) -> str:
    # ``{customer_id}`` is any value; ``**`` any depth (fnmatch's ``*`` crosses ``/`` already).
    return re.sub(r"\{[^}]*\}", "*", paths).replace("**/", "*")


def _sample(path: Path, rel: str, columns: dict[str, list[str]]) -> None:
    with path.open("rb") as f:
        text = f.read(READ_BYTES).decode("utf-8", "replace")
    columns.setdefault("(path)", []).extend(rel.split("/"))
    content = columns.setdefault("(content)", [])
    for line in text.splitlines()[:_LINES]:
        if not line.strip():
            continue
        content.append(line)  # free text, as a whole
        fields = _FIELDS.split(line)
        if len(fields) > 1:  # CSV, TSV and the like: each field a value of its own
            content.extend(f.strip().strip('"') for f in fields)


def scan_files_store(
    entry: StoreEntry, ctx: AdapterContext, budget: Budget, *, min_confidence: float
) -> StoreScan:
    """The coverage report of one files store (``entry.config`` is the files adapter's)."""
    config = entry.config
    assert isinstance(config, FilesConfig)
    root = Path(config.root)
    root = root if root.is_absolute() else ctx.base_dir / root
    if not root.is_dir():
        return StoreScan(entry.name, "files", error=f"store {entry.name!r}: root folder not found")
    globs = [_template_glob(c.paths) for c in config.collections.values()]
    started, visited, read = time.monotonic(), 0, 0
    groups: dict[str, list[tuple[Path, str]]] = {}
    mapped: dict[str, bool] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            visited += 1
            rel = path.relative_to(root).as_posix()
            group = shape(rel)
            covered = any(fnmatch.fnmatchcase(rel, g) for g in globs)
            mapped[group] = mapped.get(group, False) or covered
            if len(groups.setdefault(group, [])) < budget.sample_rows:
                groups[group].append((path, rel))
        if visited >= budget.max_rows or time.monotonic() - started > budget.max_seconds:
            break
    tables = []
    for group in sorted(groups):
        columns: dict[str, list[str]] = {}
        if not mapped[group]:
            for path, rel in groups[group]:
                try:
                    _sample(path, rel, columns)
                    read += 1
                except OSError:
                    continue  # gone or unreadable since the walk: its group is judged on the rest
        tables.append(group_report(entry, "files", group, columns, mapped[group],
                                   len(groups[group]), min_confidence))  # fmt: skip
    used = Budget(
        max_rows=budget.max_rows, max_seconds=budget.max_seconds, sample_rows=budget.sample_rows,
        statement_timeout_s=budget.statement_timeout_s, rows_read=visited,
        seconds=round(time.monotonic() - started, 3), statements=read,
    )  # fmt: skip
    return StoreScan(entry.name, "files", tuple(tables), used)
