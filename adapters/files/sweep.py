"""The files store's independent residual sweep: every file name and content under the root.

It does not use the catalog's path templates to decide where to look. It walks the whole root
(symbolic links are not followed out of it) and looks for the subject's strong identifiers,
case-insensitively, in each file's path relative to the root (``names``) and in its bytes
(``contents``), read in chunks. A file larger than ``max_bytes`` is not read; it is named in
``not_swept`` by its top-level folder and a count, never by a name that could be personal data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dsrflow.adapters.sdk import Subject, SweepBudget
from dsrflow.adapters.sdk.sweeping import NO_STRONG_IDENTIFIER, searchable
from dsrflow.adapters.sdk.sweeps import SweepExclusion, SweepHit, SweepReport

METHOD = "files-scan"
_CHUNK = 1 << 20


def sweep_files(
    root: Path,
    *,
    store: str,
    subject: Subject,
    budget: SweepBudget,
    kinds: Any = None,
    accounted: set[Path] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepReport:
    """Walk ``root`` for the subject's strong identifiers in file names and contents.

    Args:
        root: The store's root folder (it must exist; the adapter checks).
        store: The store's name.
        subject: The subject (only strong kinds are searched).
        budget: ``max_bytes``: larger files are not read (named in ``not_swept``).
        kinds: The catalog's identity-kind registry, when known.
        accounted: Files the caller accounts for (after an access: the files the package
            holds); their hits are recorded as exclusions (``accessed``).
        progress: Called with the number of files looked at so far.

    """
    found = searchable(subject, kinds)
    needles = {k: tuple(sorted({v.lower() for v in vals})) for k, (_, vals) in found.items()}
    rules = [f"{k}: file path or content contains value (case-insensitive)" for k in needles]
    rules.append(f"every file under the root; files over {budget.max_bytes} bytes not read")
    if not found:
        return SweepReport(store, METHOD, not_swept=[NO_STRONG_IDENTIFIER], rules=rules)
    encoded = {k: tuple(v.encode("utf-8") for v in vals) for k, vals in needles.items()}
    hits: dict[tuple[str, str], int] = {}
    kept: dict[tuple[str, str], int] = {}
    too_big: dict[str, int] = {}
    unreadable: dict[str, int] = {}
    seen = 0
    failed: list[OSError] = []
    for path in _walk(root, failed):
        seen += 1
        rel = path.relative_to(root).as_posix()
        target = kept if accounted and path in accounted else hits
        for kind, vals in needles.items():
            if any(v in rel.lower() for v in vals):
                target[("names", kind)] = target.get(("names", kind), 0) + 1
        if path.is_symlink():
            continue
        top = _top(rel, needles)
        try:
            if path.stat().st_size > budget.max_bytes:
                too_big[top] = too_big.get(top, 0) + 1
                continue
            for kind in _kinds_in_file(path, encoded):
                target[("contents", kind)] = target.get(("contents", kind), 0) + 1
        except OSError:
            unreadable[top] = unreadable.get(top, 0) + 1
        if progress is not None and seen % 1000 == 0:
            progress(seen)
    not_swept = [f"contents:{t}: {n} files over max_bytes ({budget.max_bytes})"
                 for t, n in sorted(too_big.items())]  # fmt: skip
    not_swept += [f"contents:{t}: {n} files unreadable" for t, n in sorted(unreadable.items())]
    if failed:
        not_swept.append(f"names: {len(failed)} folders could not be listed")
    return SweepReport(
        store=store,
        method=METHOD,
        searched=["contents", "names"],
        hits=[SweepHit(loc, n, kind, "substring") for (loc, kind), n in sorted(hits.items())],
        excluded=[SweepExclusion(loc, n, "accessed") for (loc, _), n in sorted(kept.items())],
        not_swept=not_swept,
        rules=rules,
        kinds=sorted(found),
    )


def _walk(root: Path, failed: list[OSError]) -> Iterator[Path]:
    # os.walk skips a folder it cannot list unless told: record it, never skip silently.
    for folder, dirs, files in os.walk(root, onerror=failed.append, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            yield Path(folder) / name


def _top(rel: str, needles: dict[str, tuple[str, ...]]) -> str:
    """The top-level folder of a path, for naming what was not read (never a subject's name)."""
    parts = rel.split("/")
    top = parts[0] + "/" if len(parts) > 1 else "."
    if any(v in top.lower() for vals in needles.values() for v in vals):
        return "(a folder named after the subject)"
    return top


def _kinds_in_file(path: Path, encoded: dict[str, tuple[bytes, ...]]) -> set[str]:
    """Kinds whose value occurs in the file's bytes (ASCII case-insensitive), read in chunks."""
    longest = max((len(v) for vals in encoded.values() for v in vals), default=1)
    out: set[str] = set()
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            window = tail + chunk.lower()
            out.update(k for k, vals in encoded.items() if any(v in window for v in vals))
            tail = window[-(longest - 1) :] if longest > 1 else b""
    return out
