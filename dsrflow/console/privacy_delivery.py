"""The privacy center's package delivery: ask for a code, enter it, download the package.

Every route is public (the subject holds the status page's link, not an account) and acts
through ``dsrflow/service/package_delivery.py``. Both POSTs carry the privacy center's
double-submit CSRF value. The download answers the code's POST itself: there is no download URL
to forward, bookmark or leave in a proxy log, and the code is spent by it. Every refusal is a
page that says why in plain words, never an error trace.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from dsrflow.console.privacy import (
    NOTICES,
    PUBLIC,
    _checked_form,
    _client,
    _csrf,
    _day,
    _enabled,
    _page,
    _rt,
    _with_cookie,
)
from dsrflow.console.web import PRIVACY
from dsrflow.service import package_delivery as pd
from dsrflow.service.subject_intake import OK


class _ZipStream(StreamingResponse):
    """A streamed download that does not watch ``receive`` for a disconnect.

    The hardening middleware replays a POST's body, then answers ``http.disconnect`` at once;
    the stock response would take that as the client leaving and stop after no bytes. A real
    disconnect still ends the stream: the server's ``send`` fails.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream the body (the disconnect watch left out, see the class)."""
        try:
            await self.stream_response(send)
        except OSError:
            raise ClientDisconnect from None


router = APIRouter(prefix=PRIVACY, include_in_schema=False, dependencies=[Depends(_enabled)])

DELIVERY_NOTICES = {
    pd.NONE: ("Nothing to download", "This request has no file for you to download (yet). "
              "The status page says where it is."),
    pd.WINDOW_CLOSED: ("This download has expired", "Your data could be downloaded for a "
                       "limited time after we completed your request, and that time is over. "
                       "You may file a new request."),
    pd.PURGED: ("Your data has been deleted", "We kept the file with your data only for the "
                "time it could be downloaded; it has now been deleted, as our retention rules "
                "require. You may file a new request."),
    pd.LOCKED: ("Download locked", "The wrong code was entered too many times. Ask for a new "
                "code on the status page: a new code unlocks the download."),
    pd.CODE_EXPIRED: ("This code has expired", "Codes work for a short time only. Ask for a "
                      "new code on the status page."),
    pd.NO_CODE: ("Ask for a code first", "Press \"Send me a code\" on the status page; we "
                 "will e-mail you a code to enter here."),
    pd.LIMITED: ("Too many codes", "We have sent as many codes for this request as we can. "
                 "Please contact us to receive your data."),
}  # fmt: skip
"""Why a package cannot be had: a title and one sentence each."""


def _why(request: Request, state: str, token: str) -> HTMLResponse:
    title, text = DELIVERY_NOTICES.get(state) or NOTICES.get(state) or NOTICES["unknown"]
    codes = {
        "unknown": 404,
        "csrf": 403,
        pd.NONE: 404,
        pd.LIMITED: 429,
        pd.LOCKED: 423,
        pd.RATE_LIMITED: 429,
    }
    status = codes.get(state, 410)
    return _page(request, "notice.html", status, title=title, text=text, which=state,
                 status_link=f"{PRIVACY}/status/{token}" if state in _BACK else "")  # fmt: skip


_BACK = frozenset({pd.LOCKED, pd.CODE_EXPIRED, pd.NO_CODE, pd.NONE})
"""Refusals the status page can mend (a new code): their page links back to it."""


def _code_page(
    request: Request, token: str, offer: pd.Offer, *, error: str = "", status: int = 200
) -> Response:
    csrf = _csrf(request)
    page = _page(request, "package.html", status, token=token, csrf=csrf, error=error,
                 request_id=offer.request_id, expires=_day(offer.expires_at))  # fmt: skip
    return _with_cookie(page, request, csrf)


@router.post("/status/{token}/code", response_class=HTMLResponse, **PUBLIC)
async def send_code(request: Request, token: str) -> Response:
    """E-mail a one-time download code (a separate message), then show where to enter it."""
    if await _checked_form(request) is None:
        return _why(request, "csrf", token)
    offer = pd.SendDeliveryCode(_rt(request)).run(token, client=_client(request))
    if offer.state not in (OK, pd.LOCKED):
        return _why(request, offer.state, token)
    return _code_page(request, token, offer)


@router.get("/status/{token}/package", response_class=HTMLResponse, **PUBLIC)
def code_form(request: Request, token: str) -> Response:
    """Where the subject enters the code (a GET changes nothing: mail scanners prefetch)."""
    offer = pd.DownloadPackage(_rt(request)).page(token)
    if offer.state != OK:
        return _why(request, offer.state, token)
    return _code_page(request, token, offer)


@router.post("/status/{token}/package", response_class=HTMLResponse, **PUBLIC)
async def download(request: Request, token: str) -> Response:
    """Check the code; the package as a ZIP, decrypted as it streams, or a page saying why not."""
    fields = await _checked_form(request)
    if fields is None:
        return _why(request, "csrf", token)
    got = pd.DownloadPackage(_rt(request)).run(
        token, fields.get("code", ""), client=_client(request)
    )
    if got.state == OK:
        return _ZipStream(
            got.chunks,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{got.filename}"',
                "Cache-Control": "no-store",
            },
        )
    if got.state == pd.WRONG:
        offer = pd.PackageOffer(_rt(request)).run(token)
        left = got.attempts_left
        error = f"code: that is not the code we sent ({left} attempt{'s' * (left != 1)} left)"
        return _code_page(request, token, offer, error=error, status=400)
    return _why(request, got.state, token)
