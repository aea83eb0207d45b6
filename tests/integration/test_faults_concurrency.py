"""The same work twice at once (a redelivered job, a sweeper racing a slow worker, a double click):
one wins, the other waits or does nothing, and the store changes once.

Threads share one process here but not one transaction: each job opens its own connections, so
on PostgreSQL the row locks and on SQLite the write lock are what keeps them apart, as between
two worker machines.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared import clock, service
from shared.db import integrations as integrations_db
from tests.integration.syncing import connect, feed, integration, runs, store_people
from tests.integration.test_webhooks import SECRET, drain, event, post
from worker import events, jobs, periodic


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; their results (or exceptions), in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results


def searches(sandbox) -> int:
    return sum(1 for c in sandbox.state.calls() if c["endpoint"] == "search")


def assert_feed_clean(ctx) -> None:
    entries = feed(ctx)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    keys = [(e["kind"], e["person_id"], e["run_id"]) for e in entries if e["person_id"]]
    assert len(keys) == len(set(keys)), "a change was written twice"


@pytest.fixture
def changed_company(ctx, hibob_sandbox, run_jobs):
    """An active integration, and HiBob changed since its last sync (3 hires, 2 new emails)."""
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    directory = hibob_sandbox.state.directory
    for i in range(3):
        directory.hire(f"Twice{i}", "Hired")
    employed = [p.id for p in directory.snapshot() if p.lifecycle == "employed"]
    for i, person_id in enumerate(employed[:2]):
        directory.update(person_id, email=f"twice{i}@example.com")
    return integration_id


def test_the_same_sync_job_twice_at_once_one_runs_the_other_waits_then_skips(ctx, hibob_sandbox, run_jobs,
                                                                            changed_company):
    hibob_sandbox.state.add_fault("slow", delay=1.0, endpoint="search", count=1)  # a long fetch: surely overlapping
    run_id = service.request_sync(ctx, changed_company)
    before = searches(hibob_sandbox)
    outcomes = at_once(lambda: jobs.run_sync(run_id), lambda: jobs.run_sync(run_id))
    # the loser either found the lock taken (waits: retried shortly) or the run already taken (no-op)
    assert sorted(outcomes) in (["succeeded", "waiting"], ["skipped", "succeeded"]), outcomes
    run_jobs(with_scheduler=True)  # the waiting copy's retry, and the original queued job
    time.sleep(jobs.BUSY_RETRY_SECONDS + 0.5)
    run_jobs(with_scheduler=True)
    assert searches(hibob_sandbox) == before + 1  # HiBob was read once
    latest = runs(ctx, changed_company)[0]
    assert latest["id"] == run_id and latest["status"] == "succeeded" and latest["counts"]["added"] == 3
    assert_feed_clean(ctx)


def test_two_copies_past_a_lost_lock_apply_once(ctx, hibob_sandbox, changed_company):
    """Redis lost the lock (restart): two workers run the same run. The database decides."""
    run_id = service.request_sync(ctx, changed_company)
    people_before = len(store_people(ctx))
    before = searches(hibob_sandbox)
    outcomes = at_once(lambda: jobs.execute_run(ctx, run_id), lambda: jobs.execute_run(ctx, run_id))
    assert sorted(outcomes) == ["skipped", "succeeded"], outcomes
    assert searches(hibob_sandbox) == before + 1
    latest = runs(ctx, changed_company)[0]
    assert latest["status"] == "succeeded" and latest["counts"]["added"] == 3
    assert len(store_people(ctx)) == people_before + 3
    added = [e for e in feed(ctx) if e["kind"] == "person.added" and e["run_id"] == run_id]
    assert len(added) == 3
    assert_feed_clean(ctx)


def test_two_event_jobs_for_one_integration_at_once_reread_each_employee_once(ctx, client, hibob_sandbox,
                                                                             run_jobs, changed_company):
    service.set_webhook_secret(ctx, changed_company, SECRET)
    employed = [p for p, v in store_people(ctx).items() if v["status"] == "active"][:3]
    for i, person_id in enumerate(employed):
        hibob_sandbox.state.directory.update(person_id, email=f"evt{i}@example.com")
        assert post(client, changed_company, event("employee.updated", person_id)).status_code == 200
    reads_before = sum(1 for c in hibob_sandbox.state.calls() if c["endpoint"] == "read")
    outcomes = at_once(lambda: events.process_events(changed_company), lambda: events.process_events(changed_company))
    drain(ctx, run_jobs)
    reads = sum(1 for c in hibob_sandbox.state.calls() if c["endpoint"] == "read") - reads_before
    assert reads == 3, (reads, outcomes)
    stored = store_people(ctx)
    assert [stored[p]["email"] for p in employed] == [f"evt{i}@example.com" for i in range(3)]
    assert_feed_clean(ctx)


def test_two_fan_outs_and_a_double_click_queue_one_run_each(ctx, hibob_sandbox, run_jobs, changed_company):
    with ctx.db.begin() as conn:
        integrations_db.update(conn, changed_company, next_run_at=clock.now() - timedelta(minutes=1))
    assert sorted(at_once(periodic.fan_out, periodic.fan_out)) == [0, 1]
    queued = [r for r in runs(ctx, changed_company) if r["status"] == "queued"]
    assert len(queued) == 1
    clicks = at_once(lambda: service.request_sync(ctx, changed_company), lambda: service.request_sync(ctx, changed_company))
    assert clicks[0] == clicks[1] == queued[0]["id"]  # the queued run is the answer, not a new one
    run_jobs()
    statuses = Counter(r["status"] for r in runs(ctx, changed_company))
    assert statuses == {"succeeded": 2}  # the initial sync and the one scheduled run
    assert integration(ctx, changed_company)["state"] == "active"
    assert_feed_clean(ctx)
