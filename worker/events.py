"""HiBob webhook events → re-read those employees → the same apply path as a full sync.

HiBob v2 events carry ids only, and may arrive late, twice or out of order; re-reading the
employee's current state makes all three harmless. Events that arrive close together are
collapsed by a short debounce, and a flood (an import of 500 hires) becomes one full sync.

The debounce happens inside the job, not through rq's scheduler: an ``enqueue_in`` job waits
for the scheduler, which looks only once a second, and under a steady stream of events the jobs
fall into step with it, so a 0.3 s debounce cost about 0.93 s per batch
(docs/benchmarks-webhooks.md). The job goes straight onto the queue carrying the instant its
window closes, and sleeps only for whatever is left of the window when a worker picks it up (a
busy worker's backlog does not sleep at all).
"""
from __future__ import annotations

import time
from datetime import timezone

import redis

from shared import clock, metrics
from shared.db import inbox as inbox_db
from shared.db import integrations as integrations_db
from shared.db import runs as runs_db
from shared.locks import LockBusy, held
from shared.service import new_id
from worker import jobs
from worker.context import JobContext, get_context
from worker.joblog import job_log

DEBOUNCE_SECONDS = 0.3
FOLD_INTO_FULL_SYNC = 50  # more distinct employees than this pending at once → one full sync
LOCK_WAIT_SECONDS = 1.0  # another events run holds the lock: wait this long before rescheduling
BUSY_RETRY_SECONDS = 1.0


def _pending_key(ctx: JobContext, integration_id: str) -> str:
    return f"{ctx.config.queue_prefix}events-pending:{integration_id}"


def enqueue_events(ctx: JobContext, integration_id: str, delay: float = DEBOUNCE_SECONDS) -> bool:
    """Queue processing of an integration's pending events, once per debounce window.

    The job is queued at once; it reads the inbox ``delay`` seconds from now (see the module
    docstring). Returns False when Redis is unreachable (the events are safe in the inbox; the
    sweeper queues them once Redis is back).
    """
    try:
        if ctx.redis.set(_pending_key(ctx, integration_id), 1, nx=True, ex=60):
            window_ends_at = time.time() + delay if delay > 0 else None
            ctx.queues.enqueue("events", "worker.events.process_events", integration_id, window_ends_at)
        return True
    except redis.RedisError:
        return False


def process_events(integration_id: str, window_ends_at: float | None = None) -> str:
    """Re-read and apply every pending event of an integration (``window_ends_at``: epoch
    seconds when the debounce window closes; the job waits until then, at most
    ``DEBOUNCE_SECONDS`` whatever the clocks of web and worker say)."""
    ctx = get_context()
    if window_ends_at is not None:
        time.sleep(min(max(window_ends_at - time.time(), 0.0), DEBOUNCE_SECONDS))
    ctx.redis.delete(_pending_key(ctx, integration_id))  # later events queue a new job
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            with held(ctx.redis, jobs.lock_name(ctx, integration_id), jobs.LOCK_TTL):
                return _process_locked(ctx, integration_id)
        except LockBusy:
            # Another worker's events run (a fraction of a second) usually: wait for it here.
            # A full sync (minutes, maybe) is applied first, then these re-reads (fresher) on top.
            if time.monotonic() >= deadline:
                ctx.queues.enqueue("events", "worker.events.process_events", integration_id,
                                   delay=BUSY_RETRY_SECONDS)
                return "waiting"
            time.sleep(0.05)


def _process_locked(ctx: JobContext, integration_id: str) -> str:
    now = clock.now()
    with ctx.db.begin() as conn:
        integration = integrations_db.get(conn, integration_id)
        events = inbox_db.pending(conn, integration_id)
        if not events:
            return "nothing"
        if integration is None or integration["state"] in ("disconnected", "connecting"):
            inbox_db.mark(conn, [e["id"] for e in events], "ignored", now)
            return "ignored"
        if integration["state"] == "needs_attention" and integration["next_run_at"] is None:
            # HiBob rejected the token: no call until the credentials change or an admin asks for
            # a sync, and either starts a full sync, which covers these events.
            inbox_db.mark(conn, [e["id"] for e in events], "ignored", now)
            return "ignored"
        if integration["state"] == "needs_attention" and _as_utc(integration["next_run_at"]) > now:
            # Backing off: the events wait in the inbox rather than hammer a failing HiBob; the
            # sweeper brings them back after the full sync that ends the backoff.
            return "backing_off"
        employee_ids = list(dict.fromkeys(e["employee_id"] for e in events))
        run_id = new_id()
        runs_db.create(conn, {
            "id": run_id, "integration_id": integration_id, "store_id": integration["store_id"],
            "trigger": "webhook", "created_at": now,
            # A flood is cheaper and safer as one full read than hundreds of single reads.
            "scope": None if len(employee_ids) > FOLD_INTO_FULL_SYNC else employee_ids})
    log = job_log(__name__, integration_id, run_id)
    log.info("%d events for %d employees", len(events), len(employee_ids))
    outcome = jobs.execute_run(ctx, run_id)
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
        status = "applied" if run["status"] == "succeeded" else "pending"
        if status == "applied":
            inbox_db.mark(conn, [e["id"] for e in events], "applied", clock.now(), run_id)
    if status == "applied":
        tally, applied_at = metrics.tally_for(ctx), clock.now()
        for e in events:
            tally.observe(metrics.EVENT_LAG, metrics.seconds_since(e["received_at"], applied_at))
    return outcome


def _as_utc(instant):
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)  # SQLite: naive UTC
