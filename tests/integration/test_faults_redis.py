"""Redis restarted with everything lost while HiBob events arrive (a private redis-server without
persistence, killed with SIGKILL): nothing is lost once it is back, because every event and run
is committed to the database first and the sweeper re-enqueues what the database says is pending.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shared import service
from shared.db.tables import webhook_inbox
from tests.integration.outages import config_overrides, redis_server  # noqa: F401  (fixtures: a private Redis)
from tests.integration.syncing import connect, runs, store_people
from tests.integration.test_webhooks import SECRET, drain, event, post
from worker import periodic

API = "/api/v1"


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def inbox(ctx) -> dict[str, int]:
    with ctx.db.begin() as conn:
        rows = conn.execute(sa.select(webhook_inbox.c.status, sa.func.count()).group_by(webhook_inbox.c.status))
        return dict(rows.all())


def test_redis_losing_everything_while_events_arrive_loses_no_event_and_no_run(
        ctx, client, store_auth, redis_server, hibob_sandbox, run_jobs, monkeypatch):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    directory = hibob_sandbox.state.directory
    people = [p.id for p in directory.snapshot() if p.id in store_people(ctx) and p.lifecycle == "employed"][:6]
    for i, person_id in enumerate(people):
        directory.update(person_id, email=f"redis-{i}@example.com")

    def deliver(person_id: str, at: str) -> None:
        started = time.monotonic()
        answer = post(client, integration_id, event("employee.updated", person_id, at=at))
        assert answer.get_json() == {"status": "accepted"}
        assert time.monotonic() - started < 5  # HiBob's listener timeout is 10 s

    deliver(people[0], "2026-12-04T10:00:00")  # queued in Redis...
    deliver(people[1], "2026-12-04T10:00:01")
    redis_server.kill()  # ...and gone
    deliver(people[2], "2026-12-04T10:00:02")  # arrive while Redis is down
    deliver(people[3], "2026-12-04T10:00:03")
    sync = client.post(f"{API}/integrations/{integration_id}/sync", headers=store_auth)
    assert sync.status_code == 202
    assert client.get("/readyz").status_code == 503
    assert client.get("/metrics").status_code == 200
    redis_server.start()  # empty: no queue, no debounce marker, no lock
    assert ctx.queues.depth() == {"events": 0, "sync": 0, "notify": 0, "maintenance": 0}

    run_jobs(with_scheduler=True)
    assert inbox(ctx) == {"pending": 4}  # nobody remembers them but the database
    monkeypatch.setattr(periodic, "STALE_EVENTS", timedelta(0))
    monkeypatch.setattr(periodic, "STALE_QUEUED", timedelta(0))
    found = periodic.sweep()
    assert found["events"] == 1 and found["queued"] == 1
    drain(ctx, run_jobs)
    deliver(people[4], "2026-12-04T10:00:04")  # and life goes on
    deliver(people[5], "2026-12-04T10:00:05")
    drain(ctx, run_jobs)

    assert inbox(ctx) == {"applied": 6}
    stored = store_people(ctx)
    assert [stored[p]["email"] for p in people] == [f"redis-{i}@example.com" for i in range(6)]
    manual = next(r for r in runs(ctx, integration_id) if r["id"] == sync.get_json()["run_id"])
    assert manual["status"] == "succeeded"
