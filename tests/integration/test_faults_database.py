"""The database cut: a loopback proxy in front of PostgreSQL drops every connection of the app
(web and worker) while the shared server itself keeps running. Checks what was written through
a connection that never goes through the proxy.
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from shared import service
from shared.db import Database
from shared.db.tables import webhook_inbox
from tests.conftest import REAL_DATABASE_URL, need_real
from tests.integration.outages import PgProxy, wait_until
from tests.integration.syncing import connect, feed, runs, store_people
from tests.integration.test_webhooks import SECRET, drain, event, post
from worker import jobs, periodic

APP_NAME = f"ps-cut-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_proxy(database_url):
    need_real("PostgreSQL server", REAL_DATABASE_URL.startswith("postgres"))
    proxy, proxied = PgProxy.for_url(database_url)
    yield proxy, f"{proxied}&application_name={quote(APP_NAME)}"
    proxy.close()


@pytest.fixture
def config_overrides(pg_proxy):
    return {"database_url": pg_proxy[1]}


@pytest.fixture
def direct(database_url):
    """The same database, not through the proxy: what really got committed."""
    db = Database(database_url)

    class View:
        def __init__(self):
            self.db = db

    yield View()
    db.dispose()


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def blocked_backend(engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND wait_event_type = 'Lock' "
            "AND query ILIKE 'UPDATE stores%'"), {"app": APP_NAME}).scalar()


def test_database_cut_mid_apply_leaves_the_store_as_before_and_the_run_completes(
        ctx, direct, pg_proxy, hibob_sandbox, run_jobs, monkeypatch):
    proxy, _ = pg_proxy
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    directory = hibob_sandbox.state.directory
    for i in range(4):
        directory.hire(f"Cut{i}", "Joiner")
    before, feed_before = store_people(direct), feed(direct)
    run_id = service.request_sync(ctx, integration_id)
    with direct.db.engine.connect() as holder:
        hold = holder.begin()
        holder.execute(sa.text("SELECT store_id FROM stores WHERE store_id = 'store-1' FOR UPDATE"))
        outcome: list[BaseException | str] = []

        def job() -> None:
            try:
                outcome.append(jobs.run_sync(run_id))
            except BaseException as exc:  # what rq would record as the job's failure
                outcome.append(exc)

        worker = threading.Thread(target=job)
        worker.start()
        wait_until(lambda: blocked_backend(direct.db.engine), 60, 0.1, "the apply to block mid-transaction")
        proxy.cut()
        worker.join(30)
        hold.rollback()
    assert not worker.is_alive()
    assert isinstance(outcome[0], sa.exc.DBAPIError), outcome
    wait_until(lambda: blocked_backend(direct.db.engine) is None, 30, 0.1, "the cut transaction to end")
    assert store_people(direct) == before and feed(direct) == feed_before
    assert runs(direct, integration_id)[0]["status"] == "running"

    # while it is down: the sweeper fails like any other job (rq retries it at the next tick)
    with pytest.raises(sa.exc.DBAPIError):
        periodic.sweep()
    proxy.restore()
    monkeypatch.setattr(periodic, "STALE_RUNNING", timedelta(0))
    assert periodic.sweep()["running"] == 1
    run_jobs()
    latest = runs(direct, integration_id)[0]
    assert latest["id"] == run_id and latest["status"] == "succeeded" and latest["counts"]["added"] == 4
    entries = feed(direct)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) == len(feed_before) + 4


def test_while_the_database_is_cut_webhooks_get_503_and_nothing_is_lost(ctx, client, store_auth, direct,
                                                                       pg_proxy, hibob_sandbox, run_jobs):
    proxy, _ = pg_proxy
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    person = next(p for p in hibob_sandbox.state.directory.snapshot() if p.lifecycle == "employed")
    hibob_sandbox.state.directory.update(person.id, email="during-cut@example.com")
    body = event("employee.updated", person.id)
    proxy.cut()
    answer = post(client, integration_id, body)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    # the store API says "try again", not "bug"
    down = client.get(f"/api/v1/integrations/{integration_id}", headers=store_auth)
    assert down.status_code == 503 and down.get_json()["error"]["code"] == "unavailable"
    assert "127.0.0.1" not in down.get_data(as_text=True) and down.headers["Retry-After"]
    assert client.get("/readyz").status_code == 503
    with direct.db.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_inbox)).scalar_one() == 0
    proxy.restore()
    # HiBob retries (any non-2xx is retried for three days): the redelivery is accepted and applied
    assert post(client, integration_id, body).get_json() == {"status": "accepted"}
    assert client.get(f"/api/v1/integrations/{integration_id}", headers=store_auth).status_code == 200
    drain(ctx, run_jobs)
    assert store_people(direct)[person.id]["email"] == "during-cut@example.com"
