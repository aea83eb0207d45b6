"""Periodic work: the fan-out of due syncs, and the sweeper that makes a Redis that lost
everything lose nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock, service
from shared.db import integrations as integrations_db
from shared.db import runs as runs_db
from tests.integration.syncing import connect, integration, runs
from worker import periodic


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def make_due(ctx, integration_id):
    with ctx.db.begin() as conn:
        integrations_db.update(conn, integration_id, next_run_at=clock.now() - timedelta(minutes=1))


def test_fan_out_syncs_due_integrations_once_even_if_triggered_twice(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    nxt = integration(ctx, integration_id)["next_run_at"]
    assert nxt is not None  # scheduled for the next interval
    assert periodic.fan_out() == 0  # not due yet
    make_due(ctx, integration_id)
    assert periodic.fan_out() == 1
    assert periodic.fan_out() == 0  # triggered twice: still one run
    run_jobs()
    scheduled = [r for r in runs(ctx, integration_id) if r["trigger"] == "scheduled"]
    assert len(scheduled) == 1 and scheduled[0]["status"] == "succeeded"


def test_next_runs_are_spread_over_the_interval():
    interval = timedelta(hours=24)
    offsets = {periodic.spread_offset(f"00000000-0000-0000-0000-{i:012d}", interval) for i in range(50)}
    assert len(offsets) == 50 and all(timedelta(0) <= o <= interval * 0.1 for o in offsets)


def test_sweeper_requeues_runs_whose_jobs_redis_lost(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    # Redis loses everything before a worker picks the initial run up.
    for queue in ctx.queues.all():
        queue.empty()
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "connecting"
    with ctx.db.begin() as conn:  # the run has been waiting for over a minute
        for run in runs_db.find(conn, integration_id, ["queued"]):
            runs_db.update(conn, run["id"], created_at=clock.now() - timedelta(minutes=5))
    found = periodic.sweep()
    assert found["queued"] == 1
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"


def test_sweeper_restarts_a_run_whose_worker_died(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    run_id = service.request_sync(ctx, integration_id)
    for queue in ctx.queues.all():
        queue.empty()
    with ctx.db.begin() as conn:  # a worker marked it running, then died (its lock expired)
        runs_db.update(conn, run_id, status="running", created_at=clock.now() - timedelta(minutes=10))
    assert periodic.sweep()["running"] == 1
    run_jobs()
    with ctx.db.begin() as conn:
        assert runs_db.get(conn, run_id)["status"] == "succeeded"


def test_sweeper_leaves_a_connecting_integration_with_no_run_a_new_one(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    with ctx.db.begin() as conn:
        for run in runs_db.find(conn, integration_id, ["queued"]):
            runs_db.update(conn, run["id"], status="failed")
    assert periodic.sweep()["connecting"] == 1
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
