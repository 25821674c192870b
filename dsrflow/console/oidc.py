"""Single sign-on: OpenID Connect's authorization code flow with PKCE, state and nonce.

``/console/oidc/start`` makes a random ``state``, ``nonce`` and PKCE verifier, keeps them in a
short-lived cookie signed with a server key (``dsrflow_oidc``, SameSite=Lax: the identity
provider's redirect back is a cross-site navigation, on which Strict cookies are not sent),
and sends the browser to the issuer's authorization endpoint with the S256 challenge.
``/console/oidc/callback`` checks the returned ``state`` against that cookie (used once),
exchanges the code with the verifier at the token endpoint (this server to the issuer), and
validates the ID token with PyJWT: the signature against the issuer's JWKS (asymmetric
algorithms only), ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and the ``nonce``. The
person's username and roles come from the configured claims (``service.signin.SsoSignIn``).

The last step answers a small page that moves on to the console itself: a redirect straight
from the callback would still be part of the cross-site navigation, and the browser would not
send the new SameSite=Strict session cookie on it.

HTTP to the issuer goes through ``urllib`` (no extra dependency; the route runs in a thread).
Discovery documents and key sets are cached for ``CACHE_S`` (a key set again at once when an
ID token names a key it does not hold, for key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
import structlog
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from dsrflow.api.context import USE_CASE
from dsrflow.console.session import (
    HOME,
    PUBLIC,
    clear_cookie,
    clock,
    read_cookie,
    runtime,
    safe_next,
    set_cookie,
    set_session_cookie,
)
from dsrflow.service.sessions import console_key, mac
from dsrflow.service.signin import Refused, SsoSignIn
from dsrflow.settings import ConsoleSettings

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("dsrflow.console")

START = "/console/oidc/start"
CALLBACK = "/console/oidc/callback"
PENDING_COOKIE = "dsrflow_oidc"
PENDING_S = 600
CACHE_S = 3600.0
TIMEOUT_S = 10.0
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""Asymmetric only: ``none`` and the HMAC family (keyed with a public value) never pass."""

Fetch = Callable[[str, bytes | None, dict[str, str]], tuple[int, bytes]]
"""(url, form body or None for GET, headers) -> (status, body)."""


class OidcError(Exception):
    """The flow failed; the message is shown on the refusal page (no token, no claim value)."""


def urllib_fetch(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    """HTTP(S) with urllib (no redirects to other schemes: only http and https URLs)."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise OidcError("the identity provider named an endpoint that is not HTTP(S)")
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            return int(answer.status), answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(1 << 20)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        log.warning("oidc request failed", error=type(exc).__name__)
        raise OidcError("the identity provider did not answer; try again later") from None


@dataclass(frozen=True)
class Endpoints:
    """The issuer's discovery document, as used."""

    authorization: str
    token: str
    jwks: str


class OidcClient:
    """The console's client of one issuer (``ConsoleSettings.oidc_*``), with its caches.

    Args:
        console: The settings.
        fetch: How to make HTTP requests (``urllib_fetch``).
    """

    def __init__(self, console: ConsoleSettings, fetch: Fetch = urllib_fetch) -> None:
        assert console.oidc_issuer is not None and console.oidc_client_id is not None
        self.console = console
        self.issuer = console.oidc_issuer
        self.client_id = console.oidc_client_id
        self.fetch = fetch
        self._lock = threading.Lock()
        self._endpoints: tuple[float, Endpoints] | None = None
        self._jwks: tuple[float, dict[str, Any]] | None = None

    def _json(self, url: str, body: bytes | None = None, **headers: str) -> dict[str, Any]:
        status, raw = self.fetch(url, body, {"Accept": "application/json", **headers})
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if status != 200 or not isinstance(doc, dict):
            log.warning("oidc answer refused", status=status)
            raise OidcError(f"the identity provider refused the sign-in (HTTP {status})")
        return doc

    def _same_origin(self, url: object) -> str:
        """An endpoint URL, checked to be HTTPS (or the loopback issuer's own scheme)."""
        if not isinstance(url, str):
            raise OidcError("the identity provider's discovery document is incomplete")
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self.issuer.startswith("http://")):
            raise OidcError("the identity provider named an endpoint that is not HTTPS")
        return url

    def endpoints(self) -> Endpoints:
        """The discovery document's endpoints (cached)."""
        with self._lock:
            if self._endpoints and time.monotonic() - self._endpoints[0] < CACHE_S:
                return self._endpoints[1]
        doc = self._json(f"{self.issuer}/.well-known/openid-configuration")
        if doc.get("issuer") != self.issuer:
            raise OidcError("the identity provider's discovery document names another issuer")
        found = Endpoints(
            self._same_origin(doc.get("authorization_endpoint")),
            self._same_origin(doc.get("token_endpoint")),
            self._same_origin(doc.get("jwks_uri")),
        )
        with self._lock:
            self._endpoints = (time.monotonic(), found)
        return found

    def _keys(self, *, fresh: bool) -> dict[str, Any]:
        with self._lock:
            if not fresh and self._jwks and time.monotonic() - self._jwks[0] < CACHE_S:
                return self._jwks[1]
        keys = self._json(self.endpoints().jwks)
        with self._lock:
            self._jwks = (time.monotonic(), keys)
        return keys

    def _key_for(self, kid: object) -> jwt.PyJWK:
        for fresh in (False, True):
            try:
                keyset = jwt.PyJWKSet.from_dict(self._keys(fresh=fresh))
            except jwt.PyJWTError:
                raise OidcError("the identity provider's key set cannot be read") from None
            matching = [k for k in keyset.keys if kid is None or k.key_id == kid]
            if len(matching) == 1 or (kid is not None and matching):
                return matching[0]
        raise OidcError("the ID token is signed with a key the identity provider does not list")

    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser (the S256 challenge of ``verifier``)."""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": self.console.oidc_scopes, "state": state, "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        })  # fmt: skip
        endpoint = self.endpoints().authorization
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def redeem(self, *, code: str, redirect_uri: str, verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code for tokens and return the ID token's validated claims.

        Raises:
            OidcError: Any failure (the exchange, the signature, a claim, the nonce).
        """
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier}  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        secret = self.console.oidc_client_secret
        if secret is None:
            form["client_id"] = self.client_id
        else:  # client_secret_basic (RFC 6749 2.3.1: each part form-encoded first)
            pair = f"{_q(self.client_id)}:{_q(secret.get_secret_value())}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        tokens = self._json(
            self.endpoints().token, urllib.parse.urlencode(form).encode(), **headers
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the identity provider sent no ID token")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OidcError("the ID token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcError("the ID token's signature algorithm is not accepted")
        key = self._key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                id_token, key, algorithms=[alg], audience=self.client_id, issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]}, leeway=30,
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise OidcError("the ID token has expired; sign in again") from None
        except jwt.PyJWTError as exc:
            log.info("oidc id token refused", reason=type(exc).__name__)
            raise OidcError("the ID token is not valid for this console") from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("the ID token is not valid for this console")
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given, nonce):
            raise OidcError("the ID token does not answer this sign-in (nonce)")
        return claims


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def client(request: Request) -> OidcClient | None:
    """The app's OIDC client (None when single sign-on is not configured)."""
    console = runtime(request).settings.console
    if console.oidc_issuer is None:
        return None
    state = request.app.state
    found = getattr(state, "oidc_client", None)
    if not isinstance(found, OidcClient):
        found = OidcClient(console, getattr(state, "oidc_fetch", None) or urllib_fetch)
        state.oidc_client = found
    return found


def _redirect_uri(request: Request) -> str:
    # Configured, never built from the request: its Host header is the client's to choose.
    configured = runtime(request).settings.console.oidc_redirect_url
    assert configured is not None  # ConsoleSettings requires it with an issuer
    return configured


def _sign(request: Request, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    return f"{body}.{mac(console_key(runtime(request), 'oidc'), body)}"


def _unsign(request: Request, value: str | None) -> dict[str, Any] | None:
    body, _, tag = (value or "").partition(".")
    if not body or not hmac.compare_digest(tag, mac(console_key(runtime(request), "oidc"), body)):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) < time.time():
        return None
    return payload


def refused(request: Request, message: str, status: int = 403) -> Response:
    """The refusal page (one line; the audit log and the server log say more)."""
    from dsrflow.console.web import templates

    response = templates.TemplateResponse(
        request, "signin_refused.html", {"message": message}, status_code=status
    )
    clear_cookie(response, request, PENDING_COOKIE)
    return response


PUBLIC_ROUTE: dict[str, Any] = {"openapi_extra": {USE_CASE: PUBLIC}}
# No ``known_query`` here: issuers add their own parameters to the callback (iss, session_state).


@router.get(START, **PUBLIC_ROUTE)
def start(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """Send the browser to the issuer (PKCE S256, state, nonce)."""
    oidc = client(request)
    if oidc is None:
        return refused(request, "single sign-on is not configured here", 404)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    try:
        url = oidc.authorize_url(
            redirect_uri=_redirect_uri(request), state=state, nonce=nonce, verifier=verifier
        )
    except OidcError as exc:
        return refused(request, str(exc), 502)
    pending = {"state": state, "nonce": nonce, "verifier": verifier,
               "next": safe_next(next), "exp": time.time() + PENDING_S}  # fmt: skip
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, request, PENDING_COOKIE, _sign(request, pending),
               max_age=PENDING_S, samesite="lax")  # fmt: skip
    return response


@router.get(CALLBACK, name="oidc_callback", **PUBLIC_ROUTE)
def callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Check state, redeem the code, validate the ID token, open the session."""
    oidc = client(request)
    if oidc is None:
        return refused(request, "single sign-on is not configured here", 404)
    pending = _unsign(request, read_cookie(request, PENDING_COOKIE))
    if pending is None or not state or not hmac.compare_digest(state, str(pending["state"])):
        log.info("oidc callback refused", reason="state")
        return refused(request, "this sign-in did not start here or has expired; start again", 400)
    if error or not code:
        log.info("oidc callback refused", reason="issuer_error")
        return refused(request, "the identity provider did not sign you in")
    try:
        claims = oidc.redeem(
            code=code, redirect_uri=_redirect_uri(request),
            verifier=str(pending["verifier"]), nonce=str(pending["nonce"]),
        )  # fmt: skip
    except OidcError as exc:
        return refused(request, str(exc))
    console = oidc.console
    username, roles = claims.get(console.oidc_username_claim), claims.get(console.oidc_roles_claim)
    values = roles.split() if isinstance(roles, str) else roles if isinstance(roles, list) else []
    try:
        done = SsoSignIn(runtime(request), clock(request)).run(
            username if isinstance(username, str) else "",
            [r for r in values if isinstance(r, str)],
        )
    except Refused as exc:
        return refused(request, str(exc))
    from dsrflow.console.web import templates

    response = templates.TemplateResponse(
        request, "signin_done.html", {"next": safe_next(str(pending.get("next") or HOME))}
    )
    clear_cookie(response, request, PENDING_COOKIE)
    set_session_cookie(response, request, done.session_id)
    return response
