"""A small JSON Schema validator for the evidence schemas (``dsrflow.evidence.schemas``).

Hand-written so the verifier needs no third-party dependency. It implements exactly the
keywords those schemas use (listed in that module) with JSON Schema 2020-12 meaning, plus two
formats: ``dsrflow-time`` (``YYYY-MM-DDTHH:MM:SSZ``, a real instant) and ``dsrflow-date``
(``YYYY-MM-DD``, a real day). A JSON boolean is never an integer or a number. An unknown keyword
in a schema is a programming error (``KeyError``), never silently ignored.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from dsrflow.evidence.schemas import MAX_INT, SCHEMAS

_KNOWN = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "oneOf",
    "$ref", "format", "$defs",
}  # fmt: skip


class SchemaError(ValueError):
    """A document does not match its schema; the message names the JSON path."""


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema's "$" is the end of the string; Python's also matches before a final newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _type_ok(value: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT
    return {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }[t]


def _format_ok(value: str, fmt: str) -> bool:
    layout, size = {"dsrflow-time": ("%Y-%m-%dT%H:%M:%SZ", 20), "dsrflow-date": ("%Y-%m-%d", 10)}[
        fmt
    ]
    if len(value) != size or not value.isascii():
        return False
    try:
        datetime.strptime(value, layout)
    except ValueError:
        return False
    return True


def _show(value: Any) -> str:
    """A short, value-free description (a schema error must not echo free text)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer" if abs(value) <= MAX_INT else "an integer beyond 2^53 - 1"
    if isinstance(value, float):
        return "a number that is not an integer"
    return {str: "a string", dict: "an object", list: "an array", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> None:
    """Check ``value`` against ``schema`` (``root`` resolves ``$ref``).

    Raises:
        SchemaError: ``<path>: <reason>`` for the first violation found.

    """
    unknown = set(schema) - _KNOWN
    if unknown:
        raise KeyError(f"schema keyword(s) not supported: {sorted(unknown)}")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        validate(value, root["$defs"][name], root, path)
    if "oneOf" in schema:
        passing = 0
        for option in schema["oneOf"]:
            try:
                validate(value, option, root, path)
                passing += 1
            except SchemaError as exc:
                last = exc
        if passing != 1:
            if (
                passing == 0
                and len(schema["oneOf"]) == 2
                and schema["oneOf"][0] == {"type": "null"}
            ):
                raise last
            raise SchemaError(f"{path}: matches {passing} of the allowed forms, not exactly one")
    if "const" in schema and not _same(value, schema["const"]):
        raise SchemaError(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        raise SchemaError(f"{path}: must be one of {', '.join(map(str, schema['enum']))}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            raise SchemaError(f"{path}: must be {' or '.join(types)}, not {_show(value)}")
    if isinstance(value, str):
        _string(value, schema, path)
    elif isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{path}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{path}: must be at most {schema['maximum']}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise SchemaError(f"{path}: needs at least {schema['minItems']} entries")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(f"{path}: has more than {schema['maxItems']} entries")
        if "items" in schema:
            for i, item in enumerate(value):
                validate(item, schema["items"], root, f"{path}[{i}]")
    elif isinstance(value, dict):
        _object(value, schema, root, path)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` and ``false`` is not ``0``."""
    return type(a) is type(b) and a == b


def _string(value: str, schema: dict[str, Any], path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SchemaError(f"{path}: is shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaError(f"{path}: is longer than {schema['maxLength']} characters")
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        raise SchemaError(f"{path}: is not in the required form ({schema['pattern']})")
    if "format" in schema and not _format_ok(value, schema["format"]):
        form = "YYYY-MM-DDTHH:MM:SSZ" if schema["format"] == "dsrflow-time" else "YYYY-MM-DD"
        raise SchemaError(f"{path}: is not a valid {form}")


def _object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str) -> None:
    props = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            raise SchemaError(f"{path}: missing required field {key!r}")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        where = f"{path}.{key}"
        if key in props:
            validate(item, props[key], root, where)
        elif extra is False:
            shown = key if re.fullmatch(r"[A-Za-z0-9_]{1,40}", key) else "<not shown>"
            raise SchemaError(f"{path}: unknown field {shown!r}")
        elif isinstance(extra, dict):
            validate(item, extra, root, f"{path}[<key>]")


def check(name: str, value: Any, where: str) -> None:
    """Validate ``value`` against the published schema ``name``; errors start with ``where``.

    Raises:
        SchemaError: ``<where>: schema <name>: <path>: <reason>``.

    """
    schema = SCHEMAS[name]
    try:
        validate(value, schema, schema)
    except SchemaError as exc:
        raise SchemaError(f"{where}: schema {name}: {exc}") from None
