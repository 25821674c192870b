"""The read's lean settings agree with ``Settings.load``: same sources, precedence, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.errors import ConfigError
from dsrflow.lean_settings import ReadSettings, load_read_settings
from dsrflow.settings import Settings


def _pair(env: dict[str, str]) -> tuple[Settings, ReadSettings]:
    full, lean = Settings.load(env), load_read_settings(env)
    assert lean is not None
    return full, lean


def _agree(env: dict[str, str]) -> None:
    full, lean = _pair(env)
    assert lean == ReadSettings(
        state_dir=full.state_dir, ledger_url=full.ledger.url, actor=full.actor,
        roles=full.roles, log_format=full.log.format, log_level=full.log.level,
    )  # fmt: skip
    assert lean.ledger_database_url == full.ledger_database_url


def test_defaults_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _agree({})
    _agree({"DSRFLOW_STATE_DIR": "st", "DSRFLOW_ACTOR": "staff:a", "DSRFLOW_ROLES": "auditor"})
    _agree({"dsrflow_state_dir": "lower", "DSRFLOW_LOG_LEVEL": "DEBUG", "DSRFLOW_ACTOR": ""})
    _agree({"DSRFLOW_LEDGER_URL": "postgresql://h/db", "DSRFLOW_LOG_FORMAT": "json"})


def test_dotenv_and_secrets_by_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "dsrflow_actor").write_text("staff:secret\n")
    (secrets / "DSRFLOW_ROLES").write_text("analyst")
    (secrets / "DSRFLOW_LOG_LEVEL").write_text("warning")
    (tmp_path / ".env").write_text(
        f"DSRFLOW_SECRETS_DIR={secrets}\nDSRFLOW_ROLES=auditor\nDSRFLOW_STATE_DIR=fromdotenv\n"
    )
    _agree({})
    full, _ = _pair({})
    assert (full.actor, full.roles, full.log.level) == ("staff:secret", "auditor", "warning")
    _agree({"DSRFLOW_ROLES": "admin", "DSRFLOW_STATE_DIR": ""})  # env wins; empty is unset
    other = tmp_path / "other.env"
    other.write_text("DSRFLOW_ACTOR=staff:other\n")
    _agree({"DSRFLOW_ENV_FILE": str(other)})


@pytest.mark.parametrize(
    "env",
    [
        {"DSRFLOW_LOG_LEVEL": "loud"},
        {"DSRFLOW_LOG_FORMAT": "JSON"},
        {"DSRFLOW_ENV_FILE": "/nonexistent/x.env"},
        {"DSRFLOW_SECRETS_DIR": "/nonexistent/secrets"},
    ],
)
def test_same_errors(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as full:
        Settings.load(env)
    with pytest.raises(ConfigError) as lean:
        load_read_settings(env)
    assert str(lean.value) == str(full.value)


def test_a_group_as_json_is_left_to_the_full_loader(tmp_path: Path) -> None:
    assert load_read_settings({"DSRFLOW_LOG": '{"level": "debug"}'}) is None
