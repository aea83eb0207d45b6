"""RQ job functions. Each takes ids and plain data only, reads the rest from the database, and is
safe to run twice: a run that is no longer `queued` is left alone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from shared import clock, reasons
from shared.db import integrations as integrations_db
from shared.db import runs as runs_db
from shared.hibob.client import HiBobClient
from shared.hibob.errors import HiBobError, RateLimited
from shared.hibob.model import DEPARTMENT_LIST
from shared.hibob.pacing import RedisPacer
from shared.locks import LockBusy, held
from shared.service import append_state_change, enqueue_run
from worker import apply
from worker.context import JobContext, get_context
from worker.joblog import job_log

LOCK_TTL = 30.0
BUSY_RETRY_SECONDS = 5.0
BACKOFF_BASE = timedelta(minutes=5)


def lock_name(ctx: JobContext, integration_id: str) -> str:
    return f"{ctx.config.queue_prefix}lock:sync:{integration_id}"


def run_sync(run_id: str) -> str:
    """Carry out a queued run: a full sync, or re-reads of a few employees (webhook runs)."""
    ctx = get_context()
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
    if run is None or run["status"] != "queued":
        return "skipped"
    try:
        with held(ctx.redis, lock_name(ctx, run["integration_id"]), LOCK_TTL):
            return execute_run(ctx, run_id)
    except LockBusy:
        # Another run of this integration is under way: this one is the follow-up. Try again shortly
        # (without a fixed job id: this job's own id is still taken while it finishes).
        ctx.queues.enqueue("sync", "worker.jobs.run_sync", run_id, delay=BUSY_RETRY_SECONDS)
        return "waiting"


def execute_run(ctx: JobContext, run_id: str) -> str:
    """Carry out a queued run; the caller holds the integration's sync lock."""
    now = clock.now()
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
        if run is None or run["status"] != "queued":
            return "skipped"
        integration = integrations_db.get(conn, run["integration_id"])
        if integration["state"] == "disconnected":
            runs_db.update(conn, run_id, status="failed", finished_at=now,
                           error={"code": "disconnected", "message": "the integration was disconnected"})
            return "disconnected"
        runs_db.update(conn, run_id, status="running", phase="fetching", started_at=now)
    log = job_log(__name__, integration["id"], run_id)
    creds = ctx.box.open(integration["credentials_enc"])
    try:
        with HiBobClient(ctx.config.hibob_api_url, creds["service_user_id"], creds["token"],
                         pacer=RedisPacer(ctx.redis, prefix=ctx.config.queue_prefix)) as client:
            if run["scope"]:
                fetched = apply.read_people(client, run["scope"])
                resolve_departments(client, [e for _, e in fetched if e is not None])
            else:
                fetched = client.search_people().employees
                if not fetched:
                    return _fail(ctx, run, integration, "no_people_visible", None, log)
                resolve_departments(client, fetched)
    except HiBobError as exc:
        return _fail(ctx, run, integration, exc.code, exc.message, log, exc)
    log.info("fetched %d people", len(fetched))
    apply.apply_run(ctx, run_id, fetched)
    return "succeeded"


def resolve_departments(client: HiBobClient, employees: list[dict[str, Any]]) -> None:
    """Replace HiBob's department item ids with their labels (the named list, read once per run)."""
    if not any(e.get("department_id") for e in employees):
        for e in employees:
            if "department_id" in e:
                e["department"] = e.pop("department_id")
        return
    labels = client.named_list(DEPARTMENT_LIST)
    for e in employees:
        if "department_id" in e:
            item = e.pop("department_id")
            # An id missing from the list (archived, say) is kept rather than dropped.
            e["department"] = labels.get(item, item) if item is not None else None


def _fail(ctx: JobContext, run: dict, integration: dict, code: str, detail: str | None, log,
          exc: HiBobError | None = None) -> str:
    """Record a failed run and put the integration in `needs_attention` with a reason to act on."""
    now = clock.now()
    failures = integration["failure_count"] + 1
    if code == "auth_failed":
        next_run = None  # no further call until the credentials change or an admin asks for a sync
    elif isinstance(exc, RateLimited) and exc.reset_at:
        next_run = datetime.fromtimestamp(exc.reset_at, timezone.utc) + timedelta(seconds=1)
    else:
        interval = timedelta(hours=ctx.config.sync_interval_hours)
        next_run = now + min(interval, BACKOFF_BASE * 2 ** min(failures - 1, 10))
    reason = reasons.reason(code if code in reasons.REASONS else "hibob_unavailable", detail)
    with ctx.db.begin() as conn:
        runs_db.update(conn, run["id"], status="failed", phase=None, finished_at=now,
                       error={"code": reason["code"], "message": reason["message"]})
        current = integrations_db.get(conn, integration["id"], for_update=True)
        if current["state"] != "disconnected":
            integrations_db.update(conn, integration["id"], state="needs_attention", state_reason=reason,
                                   failure_count=failures, next_run_at=next_run, updated_at=now)
            append_state_change(conn, current, current["state"], "needs_attention", now, reason, run["id"])
    log.warning("run failed: %s", reason["code"])
    if code == "rate_limited" and next_run is not None:
        with ctx.db.begin() as conn:
            retry_id = _queue_retry(conn, run, now)
        enqueue_run(ctx, retry_id, delay=max(1.0, (next_run - now).total_seconds()))
    return "failed"


def _queue_retry(conn, run: dict, now) -> str:
    from shared.service import new_id

    retry_id = new_id()
    runs_db.create(conn, {"id": retry_id, "integration_id": run["integration_id"], "store_id": run["store_id"],
                          "trigger": run["trigger"], "scope": run["scope"], "created_at": now})
    return retry_id
