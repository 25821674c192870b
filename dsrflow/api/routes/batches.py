"""Erasure batches: submit one (a request per member, store work coalesced), see how far it is.

Thin, like ``dsrflow/cli/batch_cmd.py``: the members go through the same use case
(``SubmitBatch``: the same authorisation, checks and audit), checked whole before anything
starts. See ``docs/batch-erasure.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from dsrflow.api.context import Caller, Context, declared
from dsrflow.api.schemas import BatchOut, BatchSubmitIn, BatchSubmitOut

router = APIRouter(tags=["batches"])

BatchId = Annotated[str, Field(description="The batch id (batch-YYYYMMDD-...).")]


@router.post(
    "/batches",
    status_code=201,
    response_model=BatchSubmitOut,
    summary="Submit an erasure batch: one request per member, erased together per store",
    **declared("submit", temporal=True),
)
async def submit_batch(body: BatchSubmitIn, who: Caller, ctx: Context) -> BatchSubmitOut:
    """Check every member, then start the batch and one erasure request per member.

    The first bad member is one error line naming it and the field; nothing starts. Request ids
    come back in the members' order.
    """
    from dsrflow.service.batch import SubmitBatch

    use_case = SubmitBatch(ctx.rt)
    members = use_case.check_members(who, body.members)  # refused before Temporal is contacted
    done = await use_case.run(
        who, members, await ctx.requests(), chunk_size=body.chunk_size, quiet_s=body.quiet_s
    )
    return BatchSubmitOut(
        batch_ids=done.batch_ids, request_ids=done.request_ids, created=done.created
    )


@router.get(
    "/batches/{batch_id}",
    response_model=BatchOut,
    summary="How far an erasure batch is (counts only)",
    **declared("list", temporal=True),
)
async def show_batch(batch_id: BatchId, who: Caller, ctx: Context) -> BatchOut:
    """The batch's counts; each member is a request of its own (``GET /requests/{id}``)."""
    from dsrflow.service.batch import BatchStatus

    use_case = BatchStatus(ctx.rt)
    use_case.check(who, batch_id)  # refused before Temporal is contacted
    found = await use_case.run(who, batch_id, await ctx.requests())
    v = found.view
    return BatchOut(
        batch_id=v.batch_id, state=found.state, members=v.members, done=v.done,
        erased=v.erased, fallbacks=v.fallbacks, failed=v.failed,
    )  # fmt: skip
