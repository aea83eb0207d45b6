"""HiBob webhook events → re-read those employees → the same apply path as a full sync.

HiBob v2 events carry ids only, and may arrive late, twice or out of order; re-reading the
employee's current state makes all three harmless. Events that arrive close together are
collapsed by a short debounce, and a flood (an import of 500 hires) becomes one full sync.
"""
from __future__ import annotations

import redis

from shared import clock
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


def _pending_key(ctx: JobContext, integration_id: str) -> str:
    return f"{ctx.config.queue_prefix}events-pending:{integration_id}"


def enqueue_events(ctx: JobContext, integration_id: str, delay: float = DEBOUNCE_SECONDS) -> bool:
    """Queue processing of an integration's pending events, once per debounce window.

    Returns False when Redis is unreachable (the events are safe in the inbox; the sweeper
    queues them once Redis is back).
    """
    try:
        if ctx.redis.set(_pending_key(ctx, integration_id), 1, nx=True, ex=60):
            ctx.queues.enqueue("events", "worker.events.process_events", integration_id, delay=delay)
        return True
    except redis.RedisError:
        return False


def process_events(integration_id: str) -> str:
    ctx = get_context()
    ctx.redis.delete(_pending_key(ctx, integration_id))  # later events queue a new job
    try:
        with held(ctx.redis, jobs.lock_name(ctx, integration_id), jobs.LOCK_TTL):
            return _process_locked(ctx, integration_id)
    except LockBusy:
        # A full sync is running; it is applied first, then these re-reads (fresher) on top.
        ctx.queues.enqueue("events", "worker.events.process_events", integration_id, delay=1.0)
        return "waiting"


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
    return outcome
