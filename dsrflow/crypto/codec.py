"""Temporal payload codec: AES-256-GCM with a data key per request.

The serialization context carries the workflow id (= request id), so every payload of a request
- its input, activity arguments and results, query answers, failure messages - is encrypted
under that request's key. The key id travels in the payload metadata (``encryption-key-id``) so
the codec server can decode for the UI. Workflow ids, search attributes, type names and error
types are never encrypted by Temporal: none of them may carry personal data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import typing
from collections.abc import Sequence
from typing import Any, Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    _payload_converter,
)

from dsrflow.crypto.keystore import SHARED, KeyDestroyedError, KeyStore

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """Encrypts payloads with the data key of the workflow they belong to."""

    def __init__(self, keystore: KeyStore, owner: str = SHARED) -> None:
        self._keystore = keystore
        self._owner = owner

    def with_context(self, context: SerializationContext) -> Self:
        """Bind to the workflow of the payloads about to be encoded."""
        workflow_id = getattr(context, "workflow_id", None)
        return type(self)(self._keystore, workflow_id or SHARED)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload under the owner's data key."""
        key_id, key = await asyncio.to_thread(self._keystore.key_for, self._owner)
        aead = AESGCM(key)
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            data = nonce + aead.encrypt(nonce, p.SerializeToString(), key_id.encode())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt payloads this codec encrypted; pass others through unchanged."""
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            key_id = p.metadata[KEY_ID].decode()
            try:
                key = await asyncio.to_thread(self._keystore.get, key_id)
            except KeyDestroyedError:
                raise KeyDestroyedError(
                    f"payload key {key_id} was destroyed: this data is crypto-shredded"
                ) from None
            plain = AESGCM(key).decrypt(p.data[:12], p.data[12:], key_id.encode())
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out


@functools.lru_cache(maxsize=2048)
def _hints_of(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(obj)


def cached_type_hints(
    obj: Any,
    globalns: dict[str, Any] | None = None,
    localns: typing.Mapping[str, Any] | None = None,
    include_extras: bool = False,
) -> dict[str, Any]:
    """``typing.get_type_hints``, remembered per type for the plain one-argument call.

    The SDK's JSON converter asks for a dataclass's hints on every value it decodes; with
    ``from __future__ import annotations`` each call re-evaluates every field's string (a
    compile and an eval each), which was the largest single cost of a dsrflow worker (issue 14).
    A class's annotations do not change once defined, so the answer is kept (bounded: classes
    re-created in each workflow sandbox fall out of the cache). Callers get a copy.
    """
    if globalns is None and localns is None and not include_extras:
        try:
            return dict(_hints_of(obj))
        except TypeError:  # unhashable: not a class; no cache
            pass
    return typing.get_type_hints(obj, globalns, localns, include_extras)


def install_type_hint_cache() -> None:
    """Make the SDK's payload converter use ``cached_type_hints`` (idempotent).

    The converter module calls the ``get_type_hints`` name it imported; swapping that name is
    the only hook it offers. Workflow sandboxes pass ``temporalio`` through, so one swap serves
    the worker, its sandboxes and the client.
    """
    _payload_converter.get_type_hints = cached_type_hints  # type: ignore[attr-defined]


class ShallowJSONEncoder(AdvancedJSONEncoder):
    """The SDK's JSON encoder, turning a dataclass into a dict one level at a time.

    The SDK's ``dataclasses.asdict`` deep-copies every value of a whole snapshot before JSON
    sees it; here the encoder meets the nested values itself (and calls this again for nested
    dataclasses), so the JSON is the same (keys are sorted either way) without the copy.
    """

    def default(self, o: Any) -> Any:
        """A dataclass as its fields; everything else as the SDK encodes it."""
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        return super().default(o)


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, with ``ShallowJSONEncoder`` for JSON."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(encoder=ShallowJSONEncoder)
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


def data_converter(keystore: KeyStore) -> DataConverter:
    """The converter every dsrflow client and worker uses.

    Failure messages and stack traces move into encoded attributes so the codec encrypts them too.
    Type hints are looked up once per type (``install_type_hint_cache``) and dataclasses are
    encoded without a deep copy (``PayloadConverter``).
    """
    install_type_hint_cache()
    return DataConverter(
        payload_converter_class=PayloadConverter,
        payload_codec=EncryptionCodec(keystore),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
