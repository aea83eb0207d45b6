"""Fixtures named by what they give a test.

Two passes run the suite (see .ci/run): bare (SQLite + an embedded fakeredis TCP server) and real
(`DATABASE_URL`/`REDIS_URL` set, `PEOPLESYNC_REQUIRE_REAL=1`). Real servers are shared with other
users, so tests never flush them: PostgreSQL tests live in a private schema dropped at the end,
and every Redis key the app writes is namespaced by a per-run queue prefix.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from shared.config import load_config
from shared.db import Database
from shared.db.tables import metadata
from worker import context as worker_context

# Hypothesis: CI (.ci/run sets HYPOTHESIS_PROFILE=ci; so does an environment with CI set) runs the
# `ci` profile: 100 examples per property and fuzz test, derandomized, so a CI verdict is the same
# on every run of the same commit (a pass stays well under 30 minutes). Local runs keep
# Hypothesis' random exploration (`default`), and `explore` digs ten times deeper. Tests that set
# max_examples themselves keep their own number.
hypothesis_settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", max_examples=1000, deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))

REQUIRE_REAL = os.environ.get("PEOPLESYNC_REQUIRE_REAL") == "1"
REAL_DATABASE_URL = os.environ.get("DATABASE_URL", "")
REAL_REDIS_URL = os.environ.get("REDIS_URL", "")
ROOT = Path(__file__).resolve().parent.parent


def need_real(what: str, available: bool) -> None:
    """Skip on a bare machine; fail under PEOPLESYNC_REQUIRE_REAL=1."""
    if available:
        return
    message = f"needs a real {what} (set {'DATABASE_URL' if 'Postgre' in what else 'REDIS_URL'})"
    if REQUIRE_REAL:
        pytest.fail(message + " but PEOPLESYNC_REQUIRE_REAL=1")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(config, **extra: str) -> dict[str, str]:
    """The environment of a worker process (`rq worker`) of this test's deployment, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEOPLESYNC_CLOCK")}
    env.update({
        "PEOPLESYNC_ENV": "test", "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
        "HIBOB_API_URL": config.hibob_api_url, "PEOPLESYNC_QUEUE_PREFIX": config.queue_prefix,
        "CREDENTIALS_KEY": ",".join(config.credentials_keys), "SECRET_KEY": ",".join(config.secret_keys),
        "STORE_API_TOKEN": config.store_api_token, "PYTHONPATH": str(ROOT),
        **extra,
    })
    return env


class FakeTime:
    """A clock that only ``sleep`` (or a test) moves: waits are exact and instant."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="session")
def redis_url():
    """Real Redis when REDIS_URL is set, else an embedded fakeredis TCP server for the session."""
    if REAL_REDIS_URL:
        yield REAL_REDIS_URL
        return
    if REQUIRE_REAL:
        pytest.fail("PEOPLESYNC_REQUIRE_REAL=1 but REDIS_URL is not set")
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    # Client connections outlive tests; their handler threads must not hold the process open.
    server.daemon_threads, server.block_on_close = True, False
    server.RequestHandlerClass = _handler_per_connection()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()
    server.server_close()


def _handler_per_connection():
    """fakeredis 2.41's TCP server keys its client state by (host, port). Loopback ports are reused at
    once (tcp_tw_reuse), so a new connection could inherit the state of an old one whose handler has
    not finished yet (a blocked BLPOP, say): both threads then drive one parser ("generator already
    executing") and a command of the new connection is answered with an error. Give every
    connection its own state."""
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class Handler(TCPFakeRequestHandler):
        def setup(self):
            self.server.clients.pop(self.client_address, None)
            super().setup()

        def finish(self):
            other = self.server.clients.get(self.client_address)
            self.server.clients[self.client_address] = self.current_client
            try:
                super().finish()
            finally:
                if other is not None and other is not self.current_client:
                    self.server.clients[self.client_address] = other

    return Handler


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory):
    """Migrate once per session: a template SQLite file, or a private PostgreSQL schema."""
    if REAL_DATABASE_URL.startswith("postgres"):
        schema = "t_" + uuid.uuid4().hex[:12]
        admin = sa.create_engine(REAL_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1)
                                 if REAL_DATABASE_URL.startswith("postgresql://") else REAL_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        base = admin.url.render_as_string(hide_password=False)
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{schema}"
        db = Database(url)
        db.migrate()
        db.dispose()
        yield ("postgresql", url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        return
    if REQUIRE_REAL:
        pytest.fail("PEOPLESYNC_REQUIRE_REAL=1 but DATABASE_URL is not a PostgreSQL URL")
    template = tmp_path_factory.mktemp("db") / "template.db"
    db = Database(f"sqlite:///{template}")
    db.migrate()
    db.dispose()
    yield ("sqlite", str(template))


@pytest.fixture
def database_url(_migrated_database, tmp_path):
    """A migrated, empty database for this test."""
    kind, where = _migrated_database
    if kind == "sqlite":
        path = tmp_path / "peoplesync.db"
        shutil.copy(where, path)
        return f"sqlite:///{path}"
    engine = sa.create_engine(where)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {names}"))
    engine.dispose()
    return where


@pytest.fixture
def hibob_api_url():
    """Where HiBob is: nowhere by default; tests that sync override this with a sandbox's URL."""
    return "http://127.0.0.1:9/v1"


@pytest.fixture
def config_overrides():
    """Extra Config fields for one test module (override this fixture)."""
    return {}


@pytest.fixture
def config(database_url, redis_url, tmp_path, hibob_api_url, config_overrides):
    """A test configuration: fresh database, a private queue prefix, secrets under tmp_path."""
    return load_config({
        "env": "test", "database_url": database_url, "redis_url": redis_url,
        "queue_prefix": f"t{uuid.uuid4().hex[:10]}:", "var_dir": str(tmp_path / "var"),
        "hibob_api_url": hibob_api_url, "public_base_url": "http://peoplesync.test",
        **config_overrides,
    }, environ={})


@pytest.fixture
def hibob_sandbox():
    """A HiBob sandbox company of 60 people (seed 7) on loopback, with a fast webhook backoff."""
    from sandbox.server import start_sandbox

    running = start_sandbox(people=60, seed=7, webhook_retry_delays=(0.05, 0.1, 0.2))
    yield running
    running.stop()


@pytest.fixture
def ctx(config):
    """The job context workers use, installed for in-process job runs."""
    context = worker_context.JobContext.from_config(config)
    worker_context.install(context)
    yield context
    worker_context.install(None)
    _delete_prefixed_keys(context.redis, config.queue_prefix)
    context.db.dispose()


def _delete_prefixed_keys(client, prefix: str) -> None:
    """Remove this test's own keys from a shared Redis (never FLUSHDB)."""
    for pattern in (f"*{prefix}*",):
        keys = list(client.scan_iter(match=pattern, count=500))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])


@pytest.fixture
def app(config, ctx):
    from web import create_app

    application = create_app(config)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store_auth(config):
    return {"Authorization": f"Bearer {config.store_api_token}"}


@pytest.fixture
def run_jobs(ctx):
    """Run every queued job in-process (no fork) until the queues are empty."""
    def run(with_scheduler: bool = False) -> None:
        ctx.queues.work_burst(with_scheduler=with_scheduler)
    return run

