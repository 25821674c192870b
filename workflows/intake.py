"""The request's input, decoded inside the workflow so that a foreign one ends the request.

The workflow takes its input raw (``RawValue``): the payload codec has run (dsrflow's own
payloads are decrypted), the payload converter has not. A start from outside dsrflow (the
Temporal UI's "Start Workflow", ``temporal workflow start``) can carry any JSON; decoded by the
SDK before the workflow runs, a bad one failed every workflow task for ever. Decoded here, it
ends the request at once as ``rejected`` (``Outside.reject_start``), and nothing of it is kept:
not its text, not the decoder's message (which can quote it).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.converter import PayloadConverter

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import DsrInput, RequestType

PLACEHOLDER_TYPE = RequestType.ERASURE
"""The type the ledger shows for an input that names none it knows (its reason says why)."""


def decode_input(raw: RawValue) -> tuple[DsrInput, str | None]:
    """The request's input, or a stand-in and why the start must be refused.

    The stand-in carries only the workflow's id and start time, and the request type when the
    input names a valid one (one of five fixed words, never personal data).
    """
    converter = workflow.payload_converter()
    try:
        # Typed as object: the converter's annotation promises DsrInput, a foreign payload
        # need not keep that promise.
        inp: object = converter.from_payload(raw.payload, DsrInput)
        if isinstance(inp, DsrInput):
            return inp, None
        problem = f"its input is not a dsrflow request ({type(inp).__name__})"
    # Any way a foreign payload can fail to decode (JSON, missing or mistyped fields, unknown
    # encoding); the exception's text is not kept, it can quote the input.
    except Exception as err:
        problem = f"its input is not a dsrflow request ({type(err).__name__})"
    info = workflow.info()
    stand_in = DsrInput(
        request_id=info.workflow_id,
        request_type=_named_type(converter, raw),
        identities=[],
        received_at=info.start_time,
    )
    return stand_in, problem


def _named_type(converter: PayloadConverter, raw: RawValue) -> RequestType:
    try:
        body = converter.from_payload(raw.payload, dict)
        return RequestType(body["request_type"])
    except Exception:  # no valid type named: the placeholder
        return PLACEHOLDER_TYPE
