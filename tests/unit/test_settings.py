"""Settings: one ``DSRFLOW_`` namespace, groups, .env and secrets folder, one-line errors."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from dsrflow.errors import ConfigError
from dsrflow.runtime import Runtime, _tls_config
from dsrflow.settings import Settings


def load(tmp_path: Path, **env: str) -> Settings:
    # No stray .env from the working directory: an empty one unless given.
    return Settings.load({"DSRFLOW_ENV_FILE": os.devnull, **env})


def test_defaults_and_prefixed_variables_fill_groups(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert (s.temporal.address, s.task_queue, s.log.format) == (
        "127.0.0.1:7233",
        "dsrflow",
        "console",
    )
    s = load(
        tmp_path,
        DSRFLOW_TEMPORAL_ADDRESS="temporal.internal:7233",
        DSRFLOW_TEMPORAL_NAMESPACE="privacy",
        DSRFLOW_TEMPORAL_API_KEY_ENV="TCLOUD_KEY",
        DSRFLOW_TASK_QUEUE="q1",
        DSRFLOW_UI_PORT="9000",
        DSRFLOW_CODEC_PORT="9001",
        DSRFLOW_LEDGER_URL="postgresql://db/ledger",
        DSRFLOW_LOG_LEVEL="WARNING",
        DSRFLOW_SIGNING_PASSPHRASE_ENV="MY_PASS",
        DSRFLOW_RETENTION_DAYS="7",
        TEMPORAL_ADDRESS="ignored:1",  # no prefix: not ours
    )
    assert s.temporal.address == s.temporal_address == "temporal.internal:7233"
    assert (s.temporal.namespace, s.temporal.api_key_env) == ("privacy", "TCLOUD_KEY")
    assert (s.task_queue, s.ui_port, s.codec_port, s.retention_days) == ("q1", 9000, 9001, 7)
    assert s.ledger_database_url == "postgresql://db/ledger"
    assert (s.log.level, s.signing.passphrase_env) == ("warning", "MY_PASS")


def test_dotenv_file_and_secrets_folder_with_environment_first(tmp_path: Path) -> None:
    dotenv = tmp_path / "prod.env"
    dotenv.write_text("DSRFLOW_CONTROLLER=From Dotenv Ltd\nDSRFLOW_TASK_QUEUE=from-dotenv\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    kek = base64.b64encode(b"k" * 32).decode()
    (secrets / "DSRFLOW_KEK").write_text(kek + "\n")
    (secrets / "dsrflow_temporal_api_key").write_text("cloud-key\n")  # names are case-blind
    (secrets / "DSRFLOW_TASK_QUEUE").write_text("from-secrets")
    s = Settings.load({
        "DSRFLOW_ENV_FILE": str(dotenv),
        "DSRFLOW_SECRETS_DIR": str(secrets),
        "DSRFLOW_CONTROLLER": "From Env Ltd",
    })  # fmt: skip
    assert s.controller == "From Env Ltd"  # environment over .env
    assert s.task_queue == "from-dotenv"  # .env over the secrets folder
    assert s.kek is not None and s.kek.get_secret_value() == kek
    assert s.temporal.api_key is not None and s.temporal.api_key.get_secret_value() == "cloud-key"
    assert "cloud-key" not in repr(s) and kek not in repr(s)  # secrets never print
    assert s.secret_env() == {"DSRFLOW_KEK": kek}


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("DSRFLOW_UI_PORT", "eighty", "DSRFLOW_UI_PORT: Input should be a valid integer"),
        ("DSRFLOW_TEMPORAL_ADDRESS", "no-port", "DSRFLOW_TEMPORAL_ADDRESS: expected HOST:PORT"),
        ("DSRFLOW_TEMPORAL_ADRESS", "h:1", "DSRFLOW_TEMPORAL_ADRESS: Extra inputs"),
        ("DSRFLOW_RETENTION_DAYS", "-1", "DSRFLOW_RETENTION_DAYS: Input should be greater"),
        ("DSRFLOW_KEK", "c2hvcnQ=", "DSRFLOW_KEK: must decode to 32 bytes"),
        ("DSRFLOW_LOG_FORMAT", "xml", "DSRFLOW_LOG_FORMAT: Input should be 'console' or 'json'"),
        ("DSRFLOW_TEMPORAL_TLS", "maybe", "DSRFLOW_TEMPORAL_TLS: Input should be a valid boolean"),
        ("DSRFLOW_TEMPORAL", "{", "DSRFLOW_TEMPORAL: set the group's fields one by one"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    tmp_path: Path, var: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, **{var: value})
    message = str(err.value)
    assert says in message and "\n" not in message
    assert message.startswith("settings: ")


def test_a_named_source_that_is_missing_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ConfigError, match=r"^settings: DSRFLOW_SECRETS_DIR: .* is not a directory$"
    ):
        load(tmp_path, DSRFLOW_SECRETS_DIR=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"^settings: DSRFLOW_ENV_FILE: .* does not exist$"):
        Settings.load({"DSRFLOW_ENV_FILE": str(tmp_path / "prod.env")})
    (tmp_path / ".env").write_text("DSRFLOW_CONTROLLER=Cwd Ltd\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.load({}).controller == "Cwd Ltd"  # .env in the working directory


def test_mtls_fields_build_the_client_tls_config(tmp_path: Path) -> None:
    for name in ("client.pem", "client.key", "ca.pem"):
        (tmp_path / name).write_bytes(f"-- {name} --".encode())
    s = load(
        tmp_path,
        DSRFLOW_TEMPORAL_TLS_CLIENT_CERT=str(tmp_path / "client.pem"),
        DSRFLOW_TEMPORAL_TLS_CLIENT_KEY=str(tmp_path / "client.key"),
        DSRFLOW_TEMPORAL_TLS_CA=str(tmp_path / "ca.pem"),
        DSRFLOW_TEMPORAL_TLS_SERVER_NAME="temporal.internal",
    )
    assert s.temporal.uses_tls
    tls = _tls_config(s.temporal)
    assert not isinstance(tls, bool)
    assert tls.client_cert == b"-- client.pem --"
    assert tls.client_private_key == b"-- client.key --"
    assert tls.server_root_ca_cert == b"-- ca.pem --"
    assert tls.domain == "temporal.internal"
    assert _tls_config(load(tmp_path, DSRFLOW_TEMPORAL_TLS="true").temporal) is True
    assert not load(tmp_path).temporal.uses_tls


def test_mtls_needs_certificate_and_key_together(tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_text("cert")
    with pytest.raises(ConfigError, match="TLS_CLIENT_CERT and _KEY go together"):
        load(tmp_path, DSRFLOW_TEMPORAL_TLS_CLIENT_CERT=str(tmp_path / "client.pem"))
    with pytest.raises(ConfigError, match="DSRFLOW_TEMPORAL_TLS_CA: Path does not point to a file"):
        load(tmp_path, DSRFLOW_TEMPORAL_TLS_CA=str(tmp_path / "missing.pem"))


def test_secrets_reach_the_key_code_from_any_source(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "DSRFLOW_SIGNING_PASSPHRASE").write_text("pw-from-file")
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_SECRETS_DIR": str(secrets),
           "DSRFLOW_ENV_FILE": os.devnull}  # fmt: skip
    rt = Runtime(Settings.load(env), env)
    assert rt.keys.encrypted  # the passphrase file encrypts the signing keys at rest
