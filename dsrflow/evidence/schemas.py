"""JSON Schemas (draft 2020-12) of every signed JSON document of the evidence format.

Published as ``docs/schemas/*.json`` (``python -m dsrflow.evidence.schemas docs/schemas``) and
enforced by the offline verifier *before* any semantic check, with the small validator in
``dsrflow.verify.schema`` (no third-party dependency: the base install stays light). The
validator understands exactly the keywords used here: ``type``, ``properties``, ``required``,
``additionalProperties: false``, ``enum``, ``const``, ``pattern``, ``minLength``, ``maxLength``,
``minimum``, ``maximum``, ``items``, ``minItems``, ``maxItems``, ``oneOf``, ``$ref`` (to
``#/$defs/...``) and ``format`` with the two formats below.

Rules the schemas carry: every record key is required (``null`` where not applicable); no
unknown fields anywhere (free text is where a person's note would leak a name); integers are
JSON integers (a boolean is never an integer) between 0 and 2^53 - 1; times are
``YYYY-MM-DDTHH:MM:SSZ`` and must be real instants (``format: dsrflow-time``), dates
``YYYY-MM-DD`` (``format: dsrflow-date``); citations and bases are printable ASCII.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_INT = 2**53 - 1
BASE = "https://dsrflow.dev/schemas/evidence/"

# -- building blocks -----------------------------------------------------------------------

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
DIGEST = {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}
TIME = {"type": "string", "format": "dsrflow-time"}
DATE = {"type": "string", "format": "dsrflow-date"}
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"}
TOKEN = {"type": "string", "pattern": "^[!-~]{1,200}$"}  # printable ASCII, no space
ASCII = {"type": "string", "pattern": "^[ -~]{1,200}$"}  # printable ASCII, spaces allowed
ACTOR = {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,30}:[ -~]{1,110}$"}
PERSON = {
    "type": "string",
    "pattern": "^(?!workload:|policy:|system:|clock:)[a-z][a-z0-9_-]{0,30}:[!-~]{1,110}$",
}
"""A person's pseudonym (``staff:kim``, ``analyst:kim``): not a workload, policy or clock."""
B64 = {"type": "string", "pattern": "^[A-Za-z0-9+/_-]+={0,2}$", "maxLength": 65536}
LOCATION = {"type": "string", "pattern": "^[!-~]{1,300}$"}

STATUSES = [
    "done",
    "not_found",
    "exempt",
    "failed_needs_attention",
    "incomplete",
    "not_supported",
    "skipped",
    "cancelled",
    "waiting_for_human",
    "pending",
    "running",
]
ACTIONS = ["delete", "anonymize", "keep-with-basis", "exempt", "not_found", "failed", "not_erased"]
COLLECTION_ACTIONS = ["delete", "anonymize", "keep", "erasure", "unlink"]
"""``erasure``: a processor erased on request (OpenDSR, Art. 19); counts as a deletion.
``unlink``: a pointer rule nulled/re-pointed a column in *other people's* rows that pointed at
the subject (collection ``table.column``); counts only, never part of the store's totals."""
DISPOSAL_METHODS = [
    "deleted",
    "shredded",
    "wiped",
    "degaussed",
    "crypto-erased",
    "incinerated",
    "destroyed",
]
"""How a person disposed of a manual store's data (NIST SP 800-88 clear/purge/destroy terms)."""
SWEEP_METHODS = ["sql-sweep", "redis-scan", "files-scan"]


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object: no unknown fields; every property required unless named optional."""
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
        "additionalProperties": False,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or JSON ``null``."""
    return {"oneOf": [{"type": "null"}, schema]}


def array(items: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """An array of ``items``."""
    return {"type": "array", "items": items, "maxItems": 100_000, **kw}


# -- the documents -------------------------------------------------------------------------

ENVELOPE = obj(
    {
        "payload": B64,
        "payloadType": {"type": "string", "maxLength": 200},
        "signatures": array(obj({"keyid": DIGEST, "sig": B64}), minItems=1, maxItems=16),
    }
)

PREDICATE = obj(
    {
        "request_id": TOKEN,
        "request_type": {"const": "erasure"},
        "regulation": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
        "case_ref": nullable(ASCII),
        "controller": {"type": "string", "minLength": 1, "maxLength": 200},
        "subject_commitment": obj(
            {"alg": {"const": "hmac-sha256"}, "domain": {"const": "dsr-subject-v1"}, "value": HEX64}
        ),
        "outcomes": {
            "type": "object",
            "properties": {s: {**COUNT, "minimum": 1} for s in STATUSES},
            "required": [],
            "additionalProperties": False,
        },
        "received_at": TIME,
        "due_at": nullable(TIME),
        "completed_at": TIME,
        "signed_at": TIME,
        "keyring_version": {**COUNT, "minimum": 1},
        "orchestrator": obj({"name": {"const": "dsrflow"}, "version": TOKEN}),
        "workflow": obj({"id": TOKEN, "run_id": TOKEN}),
        "orchestrator_copy": nullable(
            obj(
                {
                    "covers": array(
                        {"enum": ["workflow history", "access package", "subject opening"]},
                        maxItems=3,
                    ),
                    "encryption": {"enum": ["AES-256-GCM"]},
                    "key_id": TOKEN,
                    "destroy_after_days": COUNT,
                }
            )
        ),
    }
)

STATEMENT = obj(
    {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": array(
            obj(
                {
                    "name": {"enum": ["manifest.json", "inventory.json"]},
                    "digest": obj({"sha256": HEX64}),
                }
            ),
            minItems=2,
            maxItems=2,
        ),
        "predicateType": {"const": "https://dsrflow.dev/attestations/erasure/v1"},
        "predicate": {"$ref": "#/$defs/predicate"},
    }
)
STATEMENT["$defs"] = {"predicate": PREDICATE}


def manifest(version: int) -> dict[str, Any]:
    """The manifest of a bundle of format ``version``."""
    return obj(
        {
            "format": {"const": f"dsrflow-evidence/v{version}"},
            "request_id": TOKEN,
            "members": array(
                obj(
                    {
                        "name": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,400}$",
                        },
                        "sha256": HEX64,
                    }
                ),
                minItems=2,
            ),
            "records_merkle_root": obj(
                {"alg": {"const": "rfc9162-sha256"}, "leaves": COUNT, "root": HEX64}
            ),
        }
    )


INVENTORY = obj(
    {
        "request_id": TOKEN,
        "catalog_digest": DIGEST,
        "stores": array(
            obj(
                {
                    "store": NAME,
                    "kind": ASCII,
                    "adapter": NAME,
                    "capabilities": array(
                        {
                            "enum": [
                                "access",
                                "erase",
                                "verify",
                                "rectify",
                                "restrict",
                                "resolve_identities",
                                "sweep",
                            ]
                        },
                        maxItems=7,
                    ),
                }
            )
        ),
    }
)

PROCESSOR_RECEIPT = obj(
    {
        "protocol": TOKEN,
        "processor_domain": TOKEN,
        "subject_request_id": TOKEN,
        "request_status": TOKEN,
        "body_sha256": {"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
        "signature": B64,
        "certificate_sha256": {"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
        "body": nullable(B64),
    }
)

REQUERY = obj(
    {
        "method": {"const": "re-query"},
        "residual": COUNT,
        "checked_at": TIME,
        "operation_digest": DIGEST,
    }
)
ATTESTED = obj(
    {
        "method": {"const": "attested"},
        "by": PERSON,
        "at": TIME,
        "disposal_method": {"enum": DISPOSAL_METHODS},
        "certificate_ref": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,79}$"},
        "attachment_sha256": nullable(DIGEST),
    }
)

SWEEP = obj(
    {
        "method": {"enum": SWEEP_METHODS},
        "searched": array(LOCATION),
        "hits": array(
            obj(
                {
                    "location": LOCATION,
                    "count": {**COUNT, "minimum": 1},
                    "kind": NAME,
                    "mode": {"enum": ["equality", "substring"]},
                }
            )
        ),
        "excluded": array(
            obj(
                {
                    "location": LOCATION,
                    "count": COUNT,
                    "reason": {
                        "type": "string",
                        "pattern": "^(pointer|kept:[ -~]{1,200}|exempt:[ -~]{1,200})$",
                    },
                }
            )
        ),
        "not_swept": array({"type": "string", "pattern": "^[ -~]{1,300}$"}),
        "rules": array({"type": "string", "pattern": "^[ -~]{1,300}$"}),
        "kinds": array(NAME),
        "checked_at": nullable(TIME),
        "catalog_digest": nullable(DIGEST),
    }
)


def record(version: int) -> dict[str, Any]:
    """A store record of format ``version`` (v2 adds sweep, warnings, catalog digest, until)."""
    collection: dict[str, Any] = {
        "collection": LOCATION,
        "action": {"enum": COLLECTION_ACTIONS if version >= 2 else COLLECTION_ACTIONS[:4]},
        "matched": COUNT,
        "affected": COUNT,
        "residual_in_transaction": nullable(COUNT),
        "basis": nullable(ASCII),
    }
    verification: dict[str, Any] = REQUERY
    props: dict[str, Any] = {
        "request_id": TOKEN,
        "store": NAME,
        "kind": ASCII,
        "adapter": obj({"name": NAME, "version": nullable(TOKEN)}),
        "status": {"enum": STATUSES if version >= 2 else STATUSES[:4] + STATUSES[5:]},
        "action": {"enum": ACTIONS},
        "attempts": COUNT,
        "actor": nullable(ACTOR),
        "operation_digest": nullable(DIGEST),
        "matched": nullable(COUNT),
        "affected": nullable(COUNT),
        "started_at": nullable(TIME),
        "finished_at": nullable(TIME),
        "collections": None,
        "verification": None,
        "exemption": nullable(obj({"ground": ASCII, "until": nullable(DATE)})),
        "error_type": nullable(NAME),
        "processor_receipts": array(PROCESSOR_RECEIPT, maxItems=100),
    }
    if version >= 2:
        collection["until"] = nullable(DATE)
        verification = {"oneOf": [REQUERY, ATTESTED]}
        props["catalog_digest"] = nullable(DIGEST)
        props["sweep"] = nullable(SWEEP)
        props["warnings"] = array({"type": "string", "pattern": "^[ -~]{1,300}$"}, maxItems=50)
    props["collections"] = array(obj(collection), maxItems=10_000)
    props["verification"] = nullable(verification)
    return obj(props)


OPENING = obj(
    {
        "commitment": HEX64,
        "identifier": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}:", "maxLength": 1000},
        "k_req": B64,
        "request_id": TOKEN,
    },
    optional=("commitment", "request_id"),
)

INCLUSION = obj(
    {
        "audit_path": array(HEX64, maxItems=64),
        "envelope_digest": HEX64,
        "leaf_index": COUNT,
        "origin": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"},
        "tree_size": {**COUNT, "minimum": 1},
    }
)

KEY = obj(
    {
        "keyid": DIGEST,
        "purpose": {"enum": ["evidence", "log"]},
        "algorithm": {"const": "ed25519"},
        "public_key": B64,
        "not_before": TIME,
        "not_after": nullable(TIME),
        "status": {"enum": ["active", "superseded", "compromised"]},
        "compromised_at": nullable(TIME),
    }
)
KEYRING = obj(
    {
        "_type": {"const": "https://dsrflow.dev/keyring/v1"},
        "controller": {"type": "string", "minLength": 1, "maxLength": 200},
        "version": {**COUNT, "minimum": 1},
        "issued_at": TIME,
        "log": obj(
            {"origin": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"}}
        ),
        "root": obj({"keyid": DIGEST, "algorithm": {"const": "ed25519"}, "public_key": B64}),
        "keys": array(KEY, maxItems=1000),
    }
)

STATE = obj(
    {
        "format": {"const": "dsrflow-verifier-state/v2"},
        "pinned_roots": {
            "type": "object",
            "additionalProperties": obj({"controller": {"type": "string", "maxLength": 200}}),
        },
        "keyring_versions": {"type": "object", "additionalProperties": {**COUNT, "minimum": 1}},
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "envelope": ENVELOPE,
    "statement": STATEMENT,
    "manifest-v1": manifest(1),
    "manifest-v2": manifest(2),
    "inventory": INVENTORY,
    "record-v1": record(1),
    "record-v2": record(2),
    "inclusion-proof": INCLUSION,
    "keyring": KEYRING,
    "subject-opening": OPENING,
    "verifier-state": STATE,
}
"""Every published schema by name (``docs/schemas/<name>.schema.json``)."""


def published(name: str) -> dict[str, Any]:
    """The schema document as published (with ``$schema`` and ``$id``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE}{name}.schema.json",
        **SCHEMAS[name],
    }


def write_schemas(out_dir: Path) -> list[Path]:
    """Write every schema to ``out_dir`` (sorted keys, two-space indent, final newline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in sorted(SCHEMAS):
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(published(name), indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    import sys

    for p in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(p)
