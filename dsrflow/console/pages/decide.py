"""People's decisions from the console: one small form per decision, each through ``Decide``.

Routes mirror the API's (``dsrflow/api/routes/decisions.py``): one per decision, each declaring
its use case, so the RBAC matrix and the policy see the same names. The use case checks the
input and the roles before Temporal is contacted and audits what the workflow accepted; a
refusal by the workflow comes back as an HTML page with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from dsrflow.api.routes.requests import RequestId
from dsrflow.console.pages.common import (
    Staff,
    back_to,
    blank,
    form_of,
    html_errors,
    posted,
    requests_client,
)
from dsrflow.console.web import templates
from dsrflow.errors import UserError
from dsrflow.service.decisions import DecisionInput
from dsrflow.service.principal import Principal

router = APIRouter(include_in_schema=False)

REQUEST_PATHS = {
    "verify_identity": "verify-identity", "approve": "approve", "deny": "deny",
    "extend": "extend", "cancel": "cancel", "hold": "hold", "release": "release",
}  # fmt: skip
STORE_PATHS = {
    "retry_store": "retry", "skip_store": "skip", "exempt_store": "exempt",
    "complete_task": "complete-task",
}  # fmt: skip
BACK = {"tasks": "/console/tasks"}
"""Where a form may ask to return (a fixed list: never a URL from the form)."""


def decision_url(request_id: str, update: str, store: str | None = None) -> str:
    """The form action of ``update`` (templates call it)."""
    if update in STORE_PATHS:
        return f"/console/requests/{request_id}/stores/{store}/{STORE_PATHS[update]}"
    return f"/console/requests/{request_id}/{REQUEST_PATHS[update]}"


def decision_of(
    update: str, request_id: str, form: dict[str, str], store: str | None = None
) -> DecisionInput:
    """The decision as the form typed it (``Decide`` checks every field).

    Raises:
        UserError: The extension's amount is not a whole number.
    """
    months = days = None
    if update == "extend":
        amount = (form.get("amount") or "").strip()
        if not amount.isdigit() or len(amount) > 3:
            raise UserError("amount: a whole number of months (GDPR) or days (CCPA)")
        if form.get("unit") == "days":
            days = int(amount)
        else:
            months = int(amount)
    return DecisionInput(
        update, request_id, reason=form.get("reason", ""), method=blank(form.get("method")),
        reference=blank(form.get("reference")), ground=blank(form.get("ground")),
        until=blank(form.get("until")), months=months, days=days, store=store,
        outcome=blank(form.get("outcome")),
        attachment_digest=blank(form.get("attachment_digest")),
    )  # fmt: skip


async def _decide(
    request: Request, who: Principal, update: str, request_id: str, store: str | None = None
) -> RedirectResponse:
    from dsrflow.service.decisions import Decide

    form = await form_of(request)
    decision = decision_of(update, request_id, form, store)
    use_case = Decide(request.app.state.rt)
    use_case.check(who, decision)  # bad input and missing roles are refused before Temporal
    await use_case.run(who, decision, await requests_client(request))
    back = BACK.get(form.get("back", ""))
    return back_to(back or f"/console/requests/{request_id}?done={update}")


def _request_route(update: str) -> Callable[..., Awaitable[Any]]:
    async def decide(request: Request, request_id: RequestId, who: Staff) -> RedirectResponse:
        return await _decide(request, who, update, request_id)

    decide.__name__ = f"console_{update}"
    decide.__doc__ = f"Send the {update} decision (``Decide``)."
    return html_errors(decide)


def _store_route(update: str) -> Callable[..., Awaitable[Any]]:
    async def decide(
        request: Request, request_id: RequestId, store: str, who: Staff
    ) -> RedirectResponse:
        return await _decide(request, who, update, request_id, store)

    decide.__name__ = f"console_{update}"
    decide.__doc__ = f"Send the {update} decision on one store (``Decide``)."
    return html_errors(decide)


for _update, _path in REQUEST_PATHS.items():
    router.post(f"/console/requests/{{request_id}}/{_path}", **posted(_update, temporal=True))(
        _request_route(_update)
    )
for _update, _path in STORE_PATHS.items():
    router.post(
        f"/console/requests/{{request_id}}/stores/{{store}}/{_path}",
        **posted(_update, temporal=True),
    )(_store_route(_update))


templates.env.globals.setdefault("decision_url", decision_url)
