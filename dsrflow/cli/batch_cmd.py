"""``dsrflow request submit-batch``: erase many subjects from a file, store work coalesced.

A thin adapter over ``dsrflow.service.batch``: the whole file is checked first (a bad line is
one ``FILE:LINE:`` error and nothing starts), then the batch and one request per subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dsrflow.batches import CHUNK_SIZE, MAX_CHUNK
from dsrflow.cli.common import out, run, state
from dsrflow.cli.requests import app


@app.command("submit-batch")
def submit_batch(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Option("--file", help="Subjects: .csv (header of identity kinds) or .jsonl.")
    ],
    chunk_size: Annotated[
        int, typer.Option(min=1, max=MAX_CHUNK, help="Subjects erased together per statement.")
    ] = CHUNK_SIZE,
    quiet_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds the batch waits for more ready subjects.")
    ] = 5.0,
) -> None:
    """Submit one erasure request per subject of FILE, erased together set-based per store.

    Every subject gets her own request (id, status, evidence bundle); stores that can be
    erased in batches are erased once per chunk (docs/batch-erasure.md). Prints each batch id,
    then one request id per subject, in the file's order.
    """
    from dsrflow.service.batch import SubmitBatch

    st = state(ctx)
    principal = st.principal()
    use_case = SubmitBatch(st.runtime())
    members = use_case.check(principal, file)

    async def go() -> None:
        done = await use_case.run(principal, members, chunk_size=chunk_size, quiet_s=quiet_s)
        for batch_id in done.batch_ids:
            out.print(f"batch {batch_id}", markup=False)
        for request_id in done.request_ids:
            out.print(request_id, markup=False)
        out.print(f"submitted {done.created} erasure requests in {len(done.batch_ids)} batch(es)")

    run(go())
