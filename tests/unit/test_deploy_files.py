"""No Docker engine runs here, so the compose file is checked as data against Procfile and DESIGN."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ["events", "sync", "notify", "maintenance"]


def procfile(name: str) -> dict[str, str]:
    entries = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, command = line.split(":", 1)
            entries[key.strip()] = command.strip()
    return entries


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_procfile_has_design_processes():
    entries = procfile("Procfile")
    assert entries["web"].startswith('gunicorn --bind 0.0.0.0:$PORT')
    assert '"web:create_app()"' in entries["web"]
    assert entries["worker"].startswith('rq worker --with-scheduler --url "$REDIS_URL"')
    assert entries["cron"] == 'rq cron worker/cron.py --url "$REDIS_URL"'
    for queue in QUEUES:
        assert queue in entries["worker"]


def test_procfile_dev_adds_the_sandbox_only_there():
    assert "sandbox" not in procfile("Procfile")
    dev = procfile("Procfile.dev")
    assert dev["sandbox"].startswith("python -m sandbox serve")
    assert {"web", "worker", "cron"} <= dev.keys()


def test_compose_services_match_procfile():
    services = compose()["services"]
    assert {"web", "worker", "cron", "postgres", "redis"} <= services.keys()
    assert "gunicorn" in services["web"]["command"] and "web:create_app()" in services["web"]["command"]
    assert services["worker"]["command"].startswith("rq worker --with-scheduler --url ")
    assert services["worker"]["command"].split()[-len(QUEUES):] == QUEUES
    assert services["cron"]["command"].startswith("rq cron worker/cron.py --url ")
    assert services["cron"]["deploy"]["replicas"] == 1  # DESIGN: exactly one cron instance
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "sandbox" not in services  # never in production


def test_compose_redis_persists_and_env_names_match_design():
    data = compose()
    assert "--appendonly yes" in data["services"]["redis"]["command"]
    env = data["services"]["cron"]["environment"]
    for var in ("DATABASE_URL", "REDIS_URL", "STORE_API_TOKEN", "CREDENTIALS_KEY", "SECRET_KEY",
                "HIBOB_API_URL", "PUBLIC_BASE_URL", "SYNC_INTERVAL_HOURS", "STORE_WEBHOOK_URL"):
        assert var in env, var
    assert env["PEOPLESYNC_ENV"] == "production"
    assert re.match(r"postgresql\+psycopg://", env["DATABASE_URL"])
