"""Periodic work enqueued by `rq cron worker/cron.py`: the fan-out of due full syncs, the
effective-date pass, and the sweeper that re-enqueues whatever the database says is pending."""
from __future__ import annotations

from datetime import timedelta

from shared import clock
from shared.db import changes as changes_db
from shared.db import inbox as inbox_db
from shared.db import integrations as integrations_db
from shared.db import runs as runs_db
from shared.locks import is_held
from shared.queues import job_id
from shared.service import _queue_full_run, enqueue_run
from worker import apply
from worker.apply import spread_offset  # noqa: F401  (part of the schedule's story here)
from worker.context import get_context
from worker.events import enqueue_events
from worker.jobs import lock_name
from worker.notify import enqueue_notify

SYNCABLE = ["active", "held", "needs_attention"]
STALE_QUEUED = timedelta(seconds=60)
STALE_RUNNING = timedelta(minutes=2)
STALE_EVENTS = timedelta(seconds=10)




def fan_out() -> int:
    """Queue a scheduled full sync for each integration that is due. Safe to run twice: an
    integration with a queued or running run is skipped, and next_run_at moves forward at once."""
    ctx = get_context()
    now = clock.now()
    interval = timedelta(hours=ctx.config.sync_interval_hours)
    queued = []
    with ctx.db.begin() as conn:
        for integration_id in integrations_db.due_for_sync(conn, now, SYNCABLE):
            integration = integrations_db.get(conn, integration_id, for_update=True)
            if runs_db.find(conn, integration_id, ["queued", "running"], full_only=True):
                continue
            queued.append(_queue_full_run(conn, integration, "scheduled", now, None))
            # Until the run finishes and sets the real next time, do not pick it again.
            integrations_db.update(conn, integration_id, next_run_at=now + interval)
    for run_id in queued:
        enqueue_run(ctx, run_id)
    return len(queued)


def effective_dates() -> int:
    """Start dates and leaving dates that have arrived, applied without calling HiBob."""
    ctx = get_context()
    applied = 0
    with ctx.db.begin() as conn:
        live = [i for i in integrations_db.all_live(conn) if i["state"] in ("active", "held")]
    for integration in live:
        applied += apply.apply_effective_dates(ctx, integration["id"])
    return applied


def _release_job_id(ctx, run_id: str, *, started_too: bool = False) -> None:
    """Forget the finished or failed rq job of a run so the run can be enqueued again.

    A run's job id is unique (``enqueue_run``), and rq keeps that id taken as long as it keeps the
    job: a failed one for FAILURE_TTL (7 days). A horse killed mid-run (SIGKILL, OOM) leaves
    exactly that failed job behind, and re-enqueueing would be silently refused for a week.
    ``started_too``: the run's lock is gone, so whatever rq still calls "started" belongs to a
    worker that died whole (rq itself would notice only after the job timeout, 30 minutes).
    """
    job = ctx.queues.queue("sync").fetch_job(job_id("run", run_id))
    if job is None:
        return
    status = getattr(job.get_status(), "value", None)
    if status in ("finished", "failed", "stopped", "canceled") or (started_too and status == "started"):
        job.delete()


def sweep() -> dict[str, int]:
    """Re-enqueue work the database says is pending but Redis may have lost."""
    ctx = get_context()
    now = clock.now()
    found = {"queued": 0, "running": 0, "connecting": 0, "notify": 0, "events": 0}
    with ctx.db.begin() as conn:
        stale_queued = runs_db.stale(conn, ["queued"], now - STALE_QUEUED)
        stale_running = runs_db.stale(conn, ["running"], now - STALE_RUNNING)
        connecting = integrations_db.ids_in_states(conn, ["connecting"])
        behind = changes_db.stores_behind(conn) if ctx.config.store_webhook_url else []
        with_events = inbox_db.integrations_with_pending(conn, now - STALE_EVENTS)
    for run in stale_queued:
        if not ctx.queues.job_pending(job_id("run", run["id"])):
            _release_job_id(ctx, run["id"])
            enqueue_run(ctx, run["id"])
            found["queued"] += 1
    for run in stale_running:
        # A running run whose lock is gone belongs to a worker that died: run it again from the start
        # (its apply step is one transaction, so nothing of it was half-written).
        if not is_held(ctx.redis, lock_name(ctx, run["integration_id"])):
            with ctx.db.begin() as conn:
                runs_db.update(conn, run["id"], status="queued", phase=None)
            _release_job_id(ctx, run["id"], started_too=True)
            enqueue_run(ctx, run["id"])
            found["running"] += 1
    for integration_id in connecting:
        with ctx.db.begin() as conn:
            pending = runs_db.find(conn, integration_id, ["queued", "running"])
            if not pending:
                integration = integrations_db.get(conn, integration_id)
                run_id = _queue_full_run(conn, integration, "initial", now, None)
        if not pending:
            enqueue_run(ctx, run_id)
            found["connecting"] += 1
    for integration_id in with_events:
        enqueue_events(ctx, integration_id, delay=0)
        found["events"] += 1
    for store_id in behind:
        enqueue_notify(store_id)
        found["notify"] += 1
    return found
