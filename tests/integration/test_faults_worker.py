"""A work-horse killed with SIGKILL in the middle of applying a sync.

The real thing: `rq worker` (forking a horse per job, as the Procfile runs it) on a private
redis-server and PostgreSQL. The test holds the store's feed-counter row locked, so the horse's
apply transaction stops right after it has written the people rows and before the feed: exactly
"half applied" if anything of it were visible. Then the horse is killed.

Recovery, and how long it takes (figures printed by the test; see docs/operations.md):
1. the horse's lock on the integration (shared/locks.py) stops being renewed and expires
   ``LOCK_TTL`` (30 s) after the last renewal, i.e. 20-30 s after the kill;
2. the sweeper (every 60 s from cron) restarts a `running` run whose lock is gone once the run is
   older than ``STALE_RUNNING`` (2 min, counted from its creation);
3. a worker runs it again from the start.
In production that is at most max(lock expiry, 2 min after the run was created) + 60 s + the sync
itself. Here the sweeper is run every half second and STALE_RUNNING set to 0, so what is measured
is the lock expiry plus the re-run.
"""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared import clock, service
from shared.locks import is_held
from shared.queues import job_id
from tests.conftest import worker_env
from tests.integration.outages import children_of, require_postgres, sigkill, wait_until
from tests.integration.outages import config_overrides, redis_server  # noqa: F401  (fixtures: a private Redis)
from tests.integration.syncing import connect, expected_active, feed, integration, runs, store_people
from worker import jobs, periodic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def blocked_backend(engine, app_name: str) -> int | None:
    """The PostgreSQL backend of the horse, once it waits on our lock *after* writing people."""
    with engine.connect() as conn:
        pid = conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND wait_event_type = 'Lock' "
            "AND query ILIKE 'UPDATE stores%'"), {"app": app_name}).scalar()
        if pid is None:
            return None
        wrote_people = conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = :pid "
            "AND c.relname = 'people' AND l.mode = 'RowExclusiveLock' AND l.granted"), {"pid": pid}).scalar()
        return pid if wrote_people else None


def backend_alive(engine, pid: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": pid}).scalar())


def start_worker(config, app_name: str, log_path: Path) -> subprocess.Popen:
    queues = [config.queue_prefix + q for q in ("events", "sync", "notify", "maintenance")]
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("rq")), "worker", "--url", config.redis_url, "-c", "worker.rq_settings",
         *queues], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log_path, "a"),
        env=worker_env(config, DATABASE_URL=f"{config.database_url}&application_name={app_name}"))


@pytest.mark.parametrize("victim", ["horse", "whole worker"])
def test_sigkill_mid_apply_leaves_the_store_as_before_and_the_retry_completes(
        ctx, config, hibob_sandbox, run_jobs, monkeypatch, capsys, tmp_path, victim):
    """``horse``: the job's process dies (OOM killer, say); its worker lives on and rq marks the job
    failed. ``whole worker``: the machine dies: worker and horse are killed, another worker runs on."""
    require_postgres(config)
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    directory = hibob_sandbox.state.directory
    employed = [p.id for p in directory.snapshot() if p.lifecycle == "employed"]
    for i in range(5):
        directory.hire(f"Joiner{i}", "New")
    for i, person_id in enumerate(employed[:5]):
        directory.update(person_id, email=f"renamed{i}@example.com")
    for person_id in employed[5:8]:
        directory.terminate(person_id)
    before, feed_before = store_people(ctx), feed(ctx)

    engine = sa.create_engine(config.database_url)
    app_name = f"ps-kill-{uuid.uuid4().hex[:8]}"
    worker = None
    try:
        holder = engine.connect()
        hold = holder.begin()
        holder.execute(sa.text("SELECT store_id FROM stores WHERE store_id = 'store-1' FOR UPDATE"))
        run_id = service.request_sync(ctx, integration_id)
        worker = start_worker(config, app_name, tmp_path / "worker.log")
        backend = wait_until(lambda: blocked_backend(engine, app_name), 60, 0.1, "the horse to block mid-apply")
        (horse,) = children_of(worker.pid)
        sigkill(horse)
        if victim == "whole worker":
            sigkill(worker.pid)
            worker.wait(10)
        killed_at = time.monotonic()
        hold.rollback()
        holder.close()
        wait_until(lambda: not backend_alive(engine, backend), 30, 0.1, "PostgreSQL to drop the dead transaction")

        # as before: not one person, feed entry or run outcome of the killed apply is visible
        assert store_people(ctx) == before
        assert feed(ctx) == feed_before
        assert runs(ctx, integration_id)[0]["status"] == "running"
        assert integration(ctx, integration_id)["state"] == "active"
        if victim == "whole worker":
            worker = start_worker(config, app_name, tmp_path / "worker.log")

        monkeypatch.setattr(periodic, "STALE_RUNNING", timedelta(0))
        lock = jobs.lock_name(ctx, integration_id)
        lock_gone_at = None
        deadline = time.monotonic() + 120
        while runs(ctx, integration_id)[0]["status"] != "succeeded":
            assert time.monotonic() < deadline, "the killed run was never completed"
            if lock_gone_at is None and not is_held(ctx.redis, lock):
                lock_gone_at = time.monotonic()
            periodic.sweep()
            time.sleep(0.5)
        recovered_at = time.monotonic()
    finally:
        if worker is not None:
            worker.terminate()  # warm shutdown; a horse still busy gets killed
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
        engine.dispose()

    # as after: exactly what one clean sync gives, the feed without gaps or doubles
    latest = runs(ctx, integration_id)[0]
    assert latest["id"] == run_id and latest["counts"]["added"] == 5 and latest["counts"]["removed"] == 3
    assert latest["counts"]["updated"] >= 5
    people = store_people(ctx)
    assert {k for k, p in people.items() if p["status"] == "active"} == expected_active(
        hibob_sandbox, clock.today_in("UTC"))
    assert all(people[p]["email"] == f"renamed{i}@example.com" for i, p in enumerate(employed[:5]))
    entries = feed(ctx)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) - len(feed_before) == sum(latest["counts"][k] for k in ("added", "updated", "removed",
                                                                                "restored"))
    assert not ctx.queues.job_pending(job_id("run", run_id))
    with capsys.disabled():
        lock_after = f"{lock_gone_at - killed_at:.1f}" if lock_gone_at else "?"
        print(f"\n[sigkill {victim} mid-apply] lock expired {lock_after} s after the kill; the run completed "
              f"{recovered_at - killed_at:.1f} s after the kill (sweeper every 0.5 s, STALE_RUNNING 0)")
