"""The verifier's own memory: pinned root keys and the highest keyring version seen per root.

Pins are per **root key id** (``pinned_roots: {root key id: {controller}}``), never per controller
name: three different roots all calling themselves "Example Controller Ltd" are three different
pins, and an unpinned one is reported as such. The highest version seen under each root lets the
verifier refuse an older (rolled-back) keyring.

A small JSON file (schema ``docs/schemas/verifier-state.schema.json``), by default
``$XDG_STATE_HOME/dsrflow/verifier-state.json`` (usually ``~/.local/state/dsrflow/``), or
``DSRFLOW_VERIFIER_STATE``, or ``--state``. Written atomically. A state file of dsrflow 0.1
(``{"roots": {controller: root key id}, "keyring_versions": ...}``) is read for its versions
only: its roots were pinned silently on first use, so they are not trusted as pins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dsrflow.verify.schema import SchemaError, check

STATE_ENV = "DSRFLOW_VERIFIER_STATE"
STATE_FORMAT = "dsrflow-verifier-state/v2"


def default_state_path(env: Mapping[str, str]) -> Path:
    """Where the verifier keeps its state unless told otherwise."""
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", ".")) / ".local" / "state")
    return Path(base) / "dsrflow" / "verifier-state.json"


class StateError(ValueError):
    """The state file exists but cannot be read."""


@dataclass
class TrustState:
    """Pinned roots (root key id -> controller name) and highest keyring version per root."""

    path: Path | None = None
    pinned: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> TrustState:
        """Read the state file (a missing file is an empty state).

        Raises:
            StateError: The file is unreadable or malformed.

        """
        if path is None or not path.exists():
            return cls(path)
        try:
            obj = json.loads(path.read_text())
            if isinstance(obj, dict) and "format" not in obj:  # dsrflow 0.1: versions only
                obj = {"format": STATE_FORMAT, "pinned_roots": {},
                       "keyring_versions": obj.get("keyring_versions", {})}  # fmt: skip
            check("verifier-state", obj, str(path))
        except (OSError, ValueError, SchemaError) as exc:
            raise StateError(f"{path}: not a verifier state file ({exc})") from None
        pinned = {k: v["controller"] for k, v in obj["pinned_roots"].items()}
        return cls(path, pinned, dict(obj["keyring_versions"]))

    def pin(self, root_key_id: str, controller: str) -> None:
        """Trust this root from now on (explicit ``--root-keyid`` or ``--trust-on-first-use``)."""
        self.pinned[root_key_id] = controller

    def save(self) -> None:
        """Write the state atomically (no-op without a path)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = {
            "format": STATE_FORMAT,
            "pinned_roots": {k: {"controller": v} for k, v in sorted(self.pinned.items())},
            "keyring_versions": dict(sorted(self.versions.items())),
        }
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
