from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shared import clock
from shared.config import ConfigError, load_config
from shared.crypto import SecretBox


def test_production_requires_secrets_and_names_the_variable():
    with pytest.raises(ConfigError, match="STORE_API_TOKEN"):
        load_config(environ={})


def test_malformed_credentials_key_names_variable_never_value():
    bad = "not-a-fernet-key-but-secret"
    with pytest.raises(ConfigError) as info:
        load_config(environ={"STORE_API_TOKEN": "t", "SECRET_KEY": "s", "CREDENTIALS_KEY": bad})
    assert "CREDENTIALS_KEY" in str(info.value) and bad not in str(info.value)


def test_local_generates_and_keeps_secrets(tmp_path):
    first = load_config({"var_dir": str(tmp_path)}, environ={"PEOPLESYNC_ENV": "local"})
    again = load_config({"var_dir": str(tmp_path)}, environ={"PEOPLESYNC_ENV": "local"})
    assert first.store_api_token == again.store_api_token
    assert first.credentials_keys == again.credentials_keys


def test_postgres_url_gets_psycopg3_driver():
    cfg = load_config({"env": "test", "var_dir": "/tmp/x-ps"}, environ={"DATABASE_URL": "postgresql://u@h/db"})
    assert cfg.database_url == "postgresql+psycopg://u@h/db"


def test_multifernet_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox((old,)).seal({"token": "abc"})
    box = SecretBox((new, old))
    assert box.open(sealed) == {"token": "abc"}
    rotated = box.rotate(sealed)
    assert SecretBox((new,)).open(rotated) == {"token": "abc"}
    with pytest.raises(ValueError) as info:
        SecretBox((Fernet.generate_key().decode(),)).open(sealed)
    assert sealed not in str(info.value)


def test_clock_file_only_in_local_and_test(tmp_path, monkeypatch):
    path = tmp_path / "now"
    path.write_text("2027-01-15T08:00:00Z")
    monkeypatch.setenv("PEOPLESYNC_CLOCK_FILE", str(path))
    monkeypatch.setenv("PEOPLESYNC_ENV", "test")
    assert clock.rfc3339(clock.now()) == "2027-01-15T08:00:00Z"
    assert clock.today_in("Pacific/Auckland").isoformat() == "2027-01-15"
    monkeypatch.setenv("PEOPLESYNC_ENV", "production")
    assert clock.now().year != 2027 or clock.now().month != 1
