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
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsrflow.batches import CHUNK_SIZE
from dsrflow.errors import UserError
from dsrflow.identity import valid_kind
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.intake import Submit, new_request_id, parse_identities

if TYPE_CHECKING:
    from dsrflow.batches import BatchView
    from dsrflow.domain import DsrInput, Identity
    from dsrflow.identity import IdentityKinds
    from dsrflow.requests_client import RequestClient
    from dsrflow.service.principal import Principal

SUBMIT_CONCURRENCY = 16
MAX_SUBJECTS = 1_000_000
MAX_MEMBERS_PER_CALL = 1_000
"""Members of one API call (``POST /api/v1/batches``): its body must also fit the API's body
limit (``DSRFLOW_API_MAX_BODY_BYTES``); a larger list goes as several batches or by the CLI."""


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
    if not rows:
        raise UserError(f"{name}: no subjects in the file")
    return _subjects(
        rows,
        kinds,
        lambda line, what: f"{name}:{line}: {what}",
        lambda line, first: f"{name}:{line}: the same subject as line {first}",
    )


def _subjects(
    rows: Sequence[tuple[int, list[tuple[str, str]]]],
    kinds: IdentityKinds | None,
    error: Callable[[int, str], str],
    same: Callable[[int, int], str],
) -> list[list[Identity]]:
    """Each row's identities, normalised; the first bad row is one ``UserError``.

    Args:
        rows: ``(where, [(kind, value)...])``: a file's line, or a member's index.
        kinds: The catalog's identity kinds (None: the built-in rules).
        error: The error line for a row and what is wrong with it (a value is never echoed).
        same: The error line for a row naming the same subject as an earlier one.
    """
    subjects: list[list[Identity]] = []
    seen: dict[frozenset[tuple[str, str]], int] = {}
    for line, pairs in rows:
        emails = [v for k, v in pairs if k == "email"]
        others = [f"{k}={v}" for k, v in pairs if k != "email"]
        try:
            ids = parse_identities(emails, others, kinds)
        except UserError as exc:
            raise UserError(error(line, str(exc))) from None
        key = frozenset((i.kind, i.value) for i in ids)
        if key in seen:
            raise UserError(same(line, seen[key]))
        seen[key] = line
        subjects.append(ids)
        if len(subjects) > MAX_SUBJECTS:
            raise UserError(error(line, f"more than {MAX_SUBJECTS} subjects; split the file"))
    return subjects


_FLAG = re.compile(r"^--(?:email|identity (?P<kind>[a-z][a-z0-9_]*)=\.\.\.)(?P<rest>: .*)$", re.S)


def _member_error(index: int, what: str) -> str:
    """``members.3.email: not an e-mail address``: the option a message names, as a field."""
    flag = _FLAG.match(what)
    if flag is None:
        return f"members.{index}: {what.removeprefix('--identity: ')}"
    return f"members.{index}.{flag['kind'] or 'email'}{flag['rest']}"


def members_subjects(
    members: Sequence[Mapping[str, object]], kinds: IdentityKinds | None = None
) -> list[list[Identity]]:
    """Every member (``{"email": "...", "customer_id": [...]}``, as a ``.jsonl`` line), normalised.

    Raises:
        UserError: ``members.INDEX.KIND: what`` for the first bad member (never its value).
    """
    if not members:
        raise UserError("members: no subjects")
    rows = []
    for index, member in enumerate(members):
        pairs = []
        for kind, value in member.items():
            if not valid_kind(kind):
                raise UserError(f"members.{index}: a kind is not a short lower-case identity kind")
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                raise UserError(f"members.{index}.{kind:.40}: expected text or a list of text")
            pairs += [(kind, v) for v in values if isinstance(v, str)]
        if not pairs:
            raise UserError(f"members.{index}: no identifier (e.g. email)")
        rows.append((index, pairs))
    return _subjects(
        rows,
        kinds,
        _member_error,
        lambda index, first: f"members.{index}: the same subject as members.{first}",
    )


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
        self.allow(principal, "submit")
        return self._inputs(read_subjects(path, self._kinds()))

    def check_members(
        self, principal: Principal, members: Sequence[Mapping[str, object]]
    ) -> list[DsrInput]:
        """As ``check``, for members given as objects (the API's body), not a file.

        Raises:
            NotAllowed: The principal may not submit.
            UserError: One ``members.INDEX.KIND:`` line (as the API's body checks say it).
        """
        self.allow(principal, "submit")
        if len(members) > MAX_MEMBERS_PER_CALL:
            raise UserError(f"members: at most {MAX_MEMBERS_PER_CALL} per call; use several")
        return self._inputs(members_subjects(members, self._kinds()))

    def _kinds(self) -> IdentityKinds | None:
        return self.rt.catalog.identity_kinds if self.rt.settings.catalog.exists() else None

    @staticmethod
    def _inputs(subjects: list[list[Identity]]) -> list[DsrInput]:
        from dsrflow.domain import DsrInput, RequestType

        now = datetime.now(UTC)
        return [DsrInput(new_request_id(now), RequestType.ERASURE, ids, now) for ids in subjects]

    async def run(
        self,
        principal: Principal,
        members: list[DsrInput],
        rc: RequestClient | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
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
            MAX_CHUNK,
            MAX_MEMBERS,
            MEMBER_FINISHED,
            BatchInput,
            MemberFinished,
        )

        self.allow(principal, "submit")
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise UserError(f"chunk size: between 1 and {MAX_CHUNK}, not {chunk_size}")
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


@dataclass(frozen=True)
class BatchState:
    """A batch's counts (``BatchView``) and its workflow's state (running, completed...)."""

    view: BatchView
    state: str


class BatchStatus(UseCase):
    """How far an erasure batch is: counts only (no subject, no member's own state)."""

    def check(self, principal: Principal, batch_id: str) -> None:
        """Authorise and check the id (before Temporal is contacted).

        Raises:
            NotAllowed: The principal may not list requests.
            UserError: Not an id.
        """
        from dsrflow.service import checks

        self.allow(principal, "list")
        checks.request_id(batch_id, "batch id")

    async def run(
        self, principal: Principal, batch_id: str, rc: RequestClient | None = None
    ) -> BatchState:
        """The batch's counts: its result once completed, else its ``status`` query.

        Raises:
            NotAllowed: The principal may not list requests.
            NotFound: No batch has this id.
            Unavailable: No worker answered the query.
        """
        from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
        from temporalio.service import RPCError, RPCStatusCode

        from dsrflow.batches import BATCH_WORKFLOW, BatchView
        from dsrflow.errors import NotFound, Unavailable

        self.check(principal, batch_id)
        rc = rc or await self.requests()
        handle = rc.client.get_workflow_handle(batch_id, result_type=BatchView)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"batch {batch_id}: no such batch") from None
            raise
        if desc.workflow_type != BATCH_WORKFLOW:
            raise NotFound(f"batch {batch_id}: no such batch")  # a request's id, say
        state = desc.status.name.lower() if desc.status else "unknown"
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            return BatchState(await handle.result(), state)
        try:
            view = await handle.query("status", result_type=BatchView)
        except WorkflowQueryFailedError:
            raise Unavailable(
                f"batch {batch_id}: no worker answered", public="no worker answered; try again"
            ) from None
        return BatchState(view, state)
