"""Configuration, read from the environment once per process and overridable by a mapping.

`load_config(overrides)` is what `create_app(test_config)` and the worker call; nothing reads
settings at import time, so tests build as many differently configured apps as they like.
"""
from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ENVIRONMENTS = ("production", "local", "test")
ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or malformed. The message names the variable, never its value."""


@dataclass(frozen=True)
class Config:
    env: str = "production"
    database_url: str = "sqlite:///var/peoplesync.db"
    redis_url: str | None = None
    store_api_token: str = ""
    credentials_keys: tuple[str, ...] = ()
    secret_keys: tuple[str, ...] = ()
    hibob_api_url: str = "https://api.hibob.com/v1"
    public_base_url: str = "http://localhost:8000"
    sync_interval_hours: float = 24.0
    store_webhook_url: str | None = None
    store_webhook_secret: str | None = None
    # HiBob publishes 50/min for people search only; for one-person reads and named lists the
    # limit is unknown, so this budget is ours to set (HiBob's 429 + reset stays the backstop).
    hibob_read_per_minute: int = 600
    queue_prefix: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def secret_key(self) -> str:
        return self.secret_keys[0]

    def with_(self, **changes: Any) -> Config:
        return replace(self, **changes)


_ENV_NAMES = {
    "env": "PEOPLESYNC_ENV",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "store_api_token": "STORE_API_TOKEN",
    "credentials_keys": "CREDENTIALS_KEY",
    "secret_keys": "SECRET_KEY",
    "hibob_api_url": "HIBOB_API_URL",
    "public_base_url": "PUBLIC_BASE_URL",
    "sync_interval_hours": "SYNC_INTERVAL_HOURS",
    "store_webhook_url": "STORE_WEBHOOK_URL",
    "store_webhook_secret": "STORE_WEBHOOK_SECRET",
    "hibob_read_per_minute": "HIBOB_READ_PER_MINUTE",
    "queue_prefix": "PEOPLESYNC_QUEUE_PREFIX",
    # Not a Config field: lands in Config.extra (the dashboard reads it; see web/dashboard/access.py).
    "dashboard_frame_ancestors": "DASHBOARD_FRAME_ANCESTORS",
}


def _split(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(v.strip() for v in value if v.strip())
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _local_secret(var_dir: Path, name: str, make) -> str:
    """Generate a secret once for local/test runs and keep it under var/ so restarts agree."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build the configuration: environment first, then ``overrides`` (keys are Config fields).

    Raises:
        ConfigError: a required setting is missing in production, or a key is malformed.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for attr, var in _ENV_NAMES.items():
        if environ.get(var) not in (None, ""):
            values[attr] = environ[var]
    values.update(overrides or {})

    env = values.get("env", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PEOPLESYNC_ENV must be one of {', '.join(ENVIRONMENTS)}")
    var_dir = Path(values.pop("var_dir", ROOT / "var"))
    generated = env in ("local", "test")
    for attr, name, make in (
        ("store_api_token", "store_api_token", lambda: "local-" + secrets.token_urlsafe(24)),
        ("credentials_keys", "credentials_key", lambda: Fernet.generate_key().decode()),
        ("secret_keys", "secret_key", lambda: secrets.token_urlsafe(32)),
    ):
        if not values.get(attr):
            if not generated:
                raise ConfigError(f"{_ENV_NAMES[attr]} is required when PEOPLESYNC_ENV=production")
            values[attr] = _local_secret(var_dir, name, make)
    if values.get("store_webhook_url") and not values.get("store_webhook_secret"):
        if not generated:
            raise ConfigError("STORE_WEBHOOK_SECRET is required when STORE_WEBHOOK_URL is set")
        values["store_webhook_secret"] = _local_secret(
            var_dir, "store_webhook_secret", lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    values["credentials_keys"] = _split(values["credentials_keys"])
    values["secret_keys"] = _split(values["secret_keys"])
    for key in values["credentials_keys"]:
        try:
            Fernet(key.encode())
        except Exception:
            raise ConfigError("CREDENTIALS_KEY holds a malformed Fernet key (expected the 44-character "
                              "string Fernet.generate_key() prints)") from None
    try:
        values["sync_interval_hours"] = float(values.get("sync_interval_hours", 24))
    except (TypeError, ValueError):
        raise ConfigError("SYNC_INTERVAL_HOURS must be a number of hours") from None
    try:
        values["hibob_read_per_minute"] = int(values.get("hibob_read_per_minute", 600))
    except (TypeError, ValueError):
        raise ConfigError("HIBOB_READ_PER_MINUTE must be a whole number") from None
    if values["sync_interval_hours"] <= 0:
        raise ConfigError("SYNC_INTERVAL_HOURS must be positive")
    if str(values.get("database_url", "")).startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask SQLAlchemy for psycopg2.
        values["database_url"] = "postgresql+psycopg://" + values["database_url"][len("postgresql://"):]
    known = set(Config.__dataclass_fields__)
    extra = {k: v for k, v in values.items() if k not in known}
    values = {k: v for k, v in values.items() if k in known}
    values["extra"] = {**dict(values.get("extra", {})), **extra}
    return Config(**values)
