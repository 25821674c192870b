"""Codec server: lets the Temporal UI (or ``temporal --codec-endpoint``) decode request payloads.

Temporal stores every payload of a request encrypted with that request's data key (see
``dsrflow.crypto.codec``). Authorised staff decode them for display through this endpoint, which
implements the decode half of Temporal's remote codec protocol (``POST .../decode`` with a
``Payloads`` message as protobuf JSON). Every call is written to the audit log with who made it
and whose request it showed; refused calls are audited too. ``.../encode`` is refused: the
codec server does not know which request a payload is for, and people act through dsrflow.

Who may call: a bearer token listed in ``DSRFLOW_CODEC_TOKENS`` (``staff:ann=TOKEN,...``; the
name is what the audit log records). When no token is configured (the embedded dev stack),
only loopback clients are served (a reverse proxy on the same host would defeat that: configure
tokens whenever anything proxies to it). Payloads whose key was destroyed (crypto-shredded) are
returned as they are: still encrypted.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from dsrflow.crypto.codec import ENCODING, KEY_ID, EncryptionCodec
from dsrflow.crypto.keystore import KeyDestroyedError, KeyStore
from dsrflow.errors import ConfigError
from dsrflow.ledger import Ledger

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def parse_tokens(value: str | None) -> dict[str, str]:
    """``name=token,name=token`` -> {token: name}.

    Raises:
        ConfigError: An entry has no ``=`` or an empty part.
    """
    tokens: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, sep, token = item.strip().rpartition("=")
        if not sep or not name or not token:
            raise ConfigError("environment: DSRFLOW_CODEC_TOKENS entries are NAME=TOKEN")
        tokens[token] = name
    return tokens


def parse_origins(value: str | None, ui_port: int) -> list[str]:
    """The browser origins allowed to call the codec server (``DSRFLOW_CODEC_ALLOWED_ORIGINS``).

    Empty means the embedded UI on this machine (``http://127.0.0.1:<ui_port>`` and
    ``http://localhost:<ui_port>``). Each entry is a bare origin, ``scheme://host[:port]``; a
    wildcard is refused, since the codec server accepts credentials (the UI's access token).

    Raises:
        ConfigError: An entry is not a bare http(s) origin.
    """
    origins = [o.strip().rstrip("/") for o in (value or "").split(",") if o.strip()]
    if not origins:
        return [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
    for n, origin in enumerate(origins, 1):
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest or "*" in rest:
            raise ConfigError(
                f"environment: DSRFLOW_CODEC_ALLOWED_ORIGINS entry {n} is not an origin "
                "like https://temporal-ui.example.com[:port] (no path, no wildcard)"
            )
    return origins


def create_codec_app(
    keystore: KeyStore,
    ledger: Ledger,
    tokens: Mapping[str, str],
    ui_origins: list[str],
) -> FastAPI:
    """The codec server application.

    Args:
        keystore: Per-request data keys.
        ledger: Where each call is audited.
        tokens: Bearer token -> staff name. Empty: loopback clients only.
        ui_origins: Browser origins of the Temporal UI allowed by CORS.
    """
    app = FastAPI(title="dsrflow codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=ui_origins,
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )

    def caller(request: Request) -> str:
        host = request.client.host if request.client else ""
        if tokens:
            auth = request.headers.get("authorization", "")
            given = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            for token, name in tokens.items():
                if given and hmac.compare_digest(given.encode(), token.encode()):
                    return name
            ledger.audit(f"anonymous:{host}", "codec_refused", None, reason="bad or no token")
            raise HTTPException(status_code=401, detail="a valid bearer token is required")
        if host not in LOOPBACK:
            ledger.audit(f"anonymous:{host}", "codec_refused", None, reason="not loopback")
            raise HTTPException(status_code=403, detail="no tokens configured: loopback only")
        return "local:codec-ui"

    @app.post("/{path:path}")
    async def codec(path: str, request: Request) -> Response:
        # Per the protocol, only the last path segment says what to do; the rest is free.
        op = path.rstrip("/").rsplit("/", 1)[-1]
        if op == "encode":
            # Encoding here could only use a key no request owns (the codec server does not
            # know the workflow), which purge would never destroy. People act through dsrflow.
            raise HTTPException(
                status_code=405, detail="encode is not offered: act on requests with dsrflow"
            )
        if op != "decode":
            raise HTTPException(status_code=404, detail="POST .../decode")
        who = caller(request)
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            raise HTTPException(status_code=400, detail="body is not Payloads JSON") from None
        codec = EncryptionCodec(keystore)
        out, key_ids = [], set()
        for p in payloads.payloads:
            out.append(await _decode_one(codec, p))
            if p.metadata.get("encoding") == ENCODING:
                key_ids.add(p.metadata[KEY_ID].decode(errors="replace"))
        requests = sorted({r for k in key_ids if (r := keystore.owner_of(k))})
        # One audit entry per request whose data was shown, so "who saw whose data" is answerable.
        shown: list[str | None] = [*requests] or [None]
        for rid in shown:
            ledger.audit(
                who,
                "codec_decode",
                rid,
                namespace=request.headers.get("x-namespace", ""),
                payloads=len(out),
            )
        return Response(
            json_format.MessageToJson(Payloads(payloads=out)), media_type="application/json"
        )

    return app


async def _decode_one(codec: EncryptionCodec, payload: Payload) -> Payload:
    try:
        [plain] = await codec.decode([payload])
    except KeyDestroyedError:
        return payload  # crypto-shredded: nobody can read it any more, and that is the point
    except (InvalidTag, KeyError, ValueError):
        # Tampered or malformed: show it as it is rather than fail the whole page.
        return payload
    return plain
