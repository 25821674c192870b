"""The verifier's own memory: pinned root keys and the highest keyring version seen.

The highest version seen under each root lets the verifier refuse an older (rolled-back)
keyring; the pin (controller -> root key id) makes a swapped root visible.

A small JSON file, by default ``$XDG_STATE_HOME/dsrflow/verifier-state.json`` (usually
``~/.local/state/dsrflow/``), or ``DSRFLOW_VERIFIER_STATE``, or ``--state``. Written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

STATE_ENV = "DSRFLOW_VERIFIER_STATE"


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
    """Pinned roots (controller -> root key id) and highest keyring versions (root -> version)."""

    path: Path | None = None
    roots: dict[str, str] = field(default_factory=dict)
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
            roots = {str(k): str(v) for k, v in obj.get("roots", {}).items()}
            versions = {str(k): int(v) for k, v in obj.get("keyring_versions", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise StateError(f"{path}: not a verifier state file ({exc})") from None
        return cls(path, roots, versions)

    def save(self) -> None:
        """Write the state atomically (no-op without a path)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = {"roots": self.roots, "keyring_versions": self.versions}
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
