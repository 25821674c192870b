"""Submitting an erasure batch: many subjects from a file, one request each, store work coalesced.

The file is read and checked whole before anything starts: a bad line is one ``FILE:LINE:``
error and nothing is submitted. Then, per batch of at most ``MAX_MEMBERS`` subjects, the batch
workflow starts (it holds request ids only) and every subject's request is submitted like a
lone one (``Submit.run``: contact, subject index, audit), with ``batch_id`` set so its
``batch_erase`` stores are erased by the batch (``docs/batch-erasure.md``).

File formats (the identity kinds are the catalog's):

- ``.csv``: a header row of identity kinds (``email,customer_id``), one subject per row; an
  empty cell is no identifier of that kind.
- ``.jsonl``: one JSON object per line, ``{"email": "...", "customer_id": "..."}`` (a value may
  be a list of values); blank lines are skipped.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsrflow.errors import UserError
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.intake import Submit, new_request_id, parse_identities

if TYPE_CHECKING:
    from dsrflow.domain import DsrInput, Identity
    from dsrflow.identity import IdentityKinds
    from dsrflow.requests_client import RequestClient
    from dsrflow.service.principal import Principal

SUBMIT_CONCURRENCY = 16
MAX_SUBJECTS = 1_000_000


def new_batch_id(now: datetime | None = None) -> str:
    """An opaque batch id: date plus randomness, never derived from personal data."""
    now = now or datetime.now(UTC)
    return f"batch-{now:%Y%m%d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class BatchSubmitted:
    """What a batch submission started: its batches and every member's request id, in order."""

    batch_ids: list[str]
    request_ids: list[str]
    created: int


def read_subjects(path: Path, kinds: IdentityKinds | None = None) -> list[list[Identity]]:
    """Every subject of a ``.csv`` or ``.jsonl`` file, normalised; one error line if any is bad.

    Raises:
        UserError: ``FILE:LINE: what`` (a value is never echoed), or the file cannot be read.
    """
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise UserError(f"{name}: expected a .csv or .jsonl file of subjects")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    rows = _csv_rows(name, text) if suffix == ".csv" else _jsonl_rows(name, text)
    subjects: list[list[Identity]] = []
    seen: dict[frozenset[tuple[str, str]], int] = {}
    for line, pairs in rows:
        emails = [v for k, v in pairs if k == "email"]
        others = [f"{k}={v}" for k, v in pairs if k != "email"]
        try:
            ids = parse_identities(emails, others, kinds)
        except UserError as exc:
            raise UserError(f"{name}:{line}: {exc}") from None
        key = frozenset((i.kind, i.value) for i in ids)
        if key in seen:
            raise UserError(f"{name}:{line}: the same subject as line {seen[key]}")
        seen[key] = line
        subjects.append(ids)
        if len(subjects) > MAX_SUBJECTS:
            raise UserError(f"{name}:{line}: more than {MAX_SUBJECTS} subjects; split the file")
    if not subjects:
        raise UserError(f"{name}: no subjects in the file")
    return subjects


def _csv_rows(name: str, text: str) -> list[tuple[int, list[tuple[str, str]]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise UserError(f"{name}:1: no header row (identity kinds, e.g. email)") from None
    except csv.Error:
        raise UserError(f"{name}:1: not CSV") from None
    if not header or any(not h for h in header) or len(set(header)) != len(header):
        raise UserError(f"{name}:1: the header must name each identity kind once, e.g. email")
    out = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise UserError(f"{name}:{line}: {len(row)} cells, the header has {len(header)}")
            out.append((line, [(k, v) for k, v in zip(header, row, strict=True) if v.strip()]))
    except csv.Error:
        raise UserError(f"{name}:{reader.line_num}: not CSV") from None
    return out


def _jsonl_rows(name: str, text: str) -> list[tuple[int, list[tuple[str, str]]]]:
    out = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj: Any = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise UserError(f"{name}:{line}: not a JSON object") from None
        if not isinstance(obj, dict) or not obj:
            raise UserError(f"{name}:{line}: expected an object of identity kinds, e.g. email")
        pairs = []
        for kind, value in obj.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                raise UserError(f"{name}:{line}: {kind!r:.40}: expected text or a list of text")
            pairs += [(kind, v) for v in values]
        out.append((line, pairs))
    return out


class SubmitBatch(UseCase):
    """Submit an erasure batch: one request per subject, store work coalesced per store."""

    def check(self, principal: Principal, path: Path) -> list[DsrInput]:
        """Authorise; read and check the whole file into the members' inputs (nothing started).

        Raises:
            NotAllowed: The principal may not submit.
            UserError: One ``FILE:LINE:`` line.
        """
        from dsrflow.domain import DsrInput, RequestType

        self.allow(principal, "submit")
        kinds = self.rt.catalog.identity_kinds if self.rt.settings.catalog.exists() else None
        now = datetime.now(UTC)
        return [
            DsrInput(new_request_id(now), RequestType.ERASURE, ids, now)
            for ids in read_subjects(path, kinds)
        ]

    async def run(
        self,
        principal: Principal,
        members: list[DsrInput],
        rc: RequestClient | None = None,
        *,
        chunk_size: int = 250,
        quiet_s: float = 5.0,
    ) -> BatchSubmitted:
        """Start the batches, then submit every member request; audit each batch.

        Raises:
            NotAllowed: The principal may not submit.
            UserError: Temporal refused a batch, or some members (those were not started and
                the batch does not wait for them; the others run).
        """
        from dsrflow.batches import (
            BATCH_WORKFLOW,
            MAX_MEMBERS,
            MEMBER_FINISHED,
            BatchInput,
            MemberFinished,
        )

        self.allow(principal, "submit")
        rc = rc or await self.requests()
        submit = Submit(self.rt, policy=self.policy)
        batch_ids, request_ids, created = [], [], 0
        gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

        async def one(inp: DsrInput) -> bool:
            async with gate:
                return (await submit.run(principal, inp, rc)).created

        for start in range(0, len(members), MAX_MEMBERS):
            batch_id = new_batch_id()
            part = [replace(m, batch_id=batch_id) for m in members[start : start + MAX_MEMBERS]]
            ids = [m.request_id for m in part]
            handle = await rc.client.start_workflow(
                BATCH_WORKFLOW,
                BatchInput(batch_id, ids, chunk_size=chunk_size, quiet_s=quiet_s),
                id=batch_id,
                task_queue=rc.task_queue,
            )
            self.audit(principal, "submit_batch", Category.DECISION, None, batch=batch_id,
                       members=len(part))  # fmt: skip
            batch_ids.append(batch_id)
            request_ids += ids
            outcomes = await asyncio.gather(*(one(m) for m in part), return_exceptions=True)
            failed = [
                m for m, o in zip(part, outcomes, strict=True) if isinstance(o, BaseException)
            ]
            for m in failed:  # never started: the batch must not wait for them
                await handle.signal(MEMBER_FINISHED, MemberFinished(m.request_id))
            created += sum(o for o in outcomes if o is True)
            if failed:
                first = next(o for o in outcomes if isinstance(o, BaseException))
                raise UserError(
                    f"batch {batch_id}: {len(failed)} of {len(part)} requests were not submitted "
                    f"(first: {first}); the others run"
                ) from None
        return BatchSubmitted(batch_ids, request_ids, created)
