"""RQ job functions. Each takes ids and plain data only, reads the rest from the database, and is
safe to run twice: a run that is no longer `queued` is left alone."""
from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import redis

from shared import clock, logs, metrics, reasons
from shared.db import integrations as integrations_db
from shared.db import runs as runs_db
from shared.hibob.client import HiBobClient
from shared.hibob.errors import HiBobError, HiBobUnavailable, RateLimited
from shared.hibob.model import DEPARTMENT_LIST
from shared.hibob.pacing import RedisPacer
from shared.locks import LockBusy, held
from shared.memory import collector_paused
from shared.service import append_state_change, enqueue_run
from worker import apply
from worker.context import JobContext, get_context
from worker.joblog import job_log

LOCK_TTL = 30.0
BUSY_RETRY_SECONDS = 5.0
DEPARTMENT_CACHE_SECONDS = 300
BACKOFF_BASE = timedelta(minutes=5)
# A failing integration is retried after 5, 10, 20... minutes, never more than this apart (nor more
# than the sync interval), so HiBob coming back is noticed within hours without hammering it.
BACKOFF_CAP = timedelta(hours=6)
HIBOB_TIMEOUT = (3.05, 30.0)  # (connect, read) seconds for every HiBob call


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
    """Carry out a queued run; the caller holds the integration's sync lock.

    Every log line written meanwhile carries the integration and run ids (shared/logs.py), and the
    outcome is counted for /metrics.
    """
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
    trigger = run["trigger"] if run else "unknown"
    started = time.monotonic()
    with logs.bound(integration_id=run["integration_id"] if run else None, run_id=run_id):
        try:
            outcome = _execute_run(ctx, run_id)
        except Exception:
            # The database or a bug: the run stays `running` and the sweeper restarts it.
            _count_run(ctx, trigger, "crashed", "", time.monotonic() - started)
            raise
        if outcome in ("succeeded", "failed"):
            with ctx.db.begin() as conn:
                done = runs_db.get(conn, run_id)
            reason = ((done or {}).get("error") or {}).get("code", "") if outcome == "failed" else ""
            _count_run(ctx, trigger, outcome, reason, time.monotonic() - started)
        return outcome


def _count_run(ctx: JobContext, trigger: str, status: str, reason: str, seconds: float) -> None:
    tally = metrics.tally_for(ctx)
    tally.count(metrics.SYNC_RUNS, trigger=trigger, status=status, reason=reason)
    tally.observe(metrics.SYNC_RUN_DURATION, seconds, trigger=trigger, status=status)


def _execute_run(ctx: JobContext, run_id: str) -> str:
    now = clock.now()
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
        if run is None or run["status"] != "queued":
            return "skipped"
        integration = integrations_db.get(conn, run["integration_id"], for_update=True)
        # Re-read under the integration's row lock: a second copy of this job (its Redis lock lost)
        # that read `queued` at the same moment waits here, then sees `running` and stands down.
        run = runs_db.get(conn, run_id)
        if run["status"] != "queued":
            return "skipped"
        if integration["state"] == "disconnected":
            runs_db.update(conn, run_id, status="failed", finished_at=now,
                           error={"code": "disconnected", "message": "the integration was disconnected"})
            return "disconnected"
        runs_db.update(conn, run_id, status="running", phase="fetching", started_at=now)
    log = job_log(__name__, integration["id"], run_id)
    creds = ctx.box.open(integration["credentials_enc"])
    try:
        with metrics.CountingSession(metrics.tally_for(ctx)) as session, \
                HiBobClient(ctx.config.hibob_api_url, creds["service_user_id"], creds["token"],
                            pacer=RedisPacer(ctx.redis, prefix=ctx.config.queue_prefix,
                                             other_per_minute=ctx.config.hibob_read_per_minute),
                            session=session, timeout=HIBOB_TIMEOUT) as client:
            if run["scope"]:
                fetched = apply.read_people(client, run["scope"])
                resolve_departments(client, [e for _, e in fetched if e is not None],
                                    cache=(ctx.redis, f"{ctx.config.queue_prefix}departments:{integration['id']}"))
            else:
                fetched = client.search_people().employees
                if not fetched:
                    return _fail(ctx, run, integration, "no_people_visible", None, log)
                resolve_departments(client, fetched)
    except HiBobError as exc:
        return _fail(ctx, run, integration, exc.code, exc.message, log, exc)
    log.info("fetched %d people", len(fetched))
    with ctx.db.begin() as conn:  # committed on its own so progress shows "applying N people"
        runs_db.update(conn, run_id, phase="applying", fetched=len(fetched))
    with collector_paused():
        apply.apply_run(ctx, run_id, fetched)
    return "succeeded"



def resolve_departments(client: HiBobClient, employees: list[dict[str, Any]],
                        cache: tuple[Any, str] | None = None) -> None:
    """Replace HiBob's department item ids with their labels (the named list, read once per run).

    Webhook runs pass a Redis ``cache``: at ten events a second, reading the list for every small
    batch would spend HiBob's call budget on labels that change a few times a year. A cached
    list misses a label at worst for five minutes, and full syncs always read it fresh.
    """
    if not any(e.get("department_id") for e in employees):
        for e in employees:
            if "department_id" in e:
                e["department"] = e.pop("department_id")
        return
    labels = _cached_labels(client, cache) if cache else client.named_list(DEPARTMENT_LIST)
    for e in employees:
        if "department_id" in e:
            item = e.pop("department_id")
            # An id missing from the list (archived, say) is kept rather than dropped.
            e["department"] = labels.get(item, item) if item is not None else None


def _cached_labels(client: HiBobClient, cache: tuple[Any, str]) -> dict[str, str]:
    """The list from the cache, or from HiBob (then cached). A cache, nothing more: with Redis
    unreachable the list is read from HiBob every time."""
    redis_client, key = cache
    with contextlib.suppress(redis.RedisError):
        cached = redis_client.get(key)
        if cached:
            return json.loads(cached)
    labels = client.named_list(DEPARTMENT_LIST)
    with contextlib.suppress(redis.RedisError):
        redis_client.set(key, json.dumps(labels), ex=DEPARTMENT_CACHE_SECONDS)
    return labels


def _fail(ctx: JobContext, run: dict, integration: dict, code: str, detail: str | None, log,
          exc: HiBobError | None = None) -> str:
    """Record a failed run and put the integration in `needs_attention` with a reason to act on."""
    now = clock.now()
    failures = integration["failure_count"] + 1
    if code == "auth_failed":
        next_run = None  # no further call until the credentials change or an admin asks for a sync
    elif isinstance(exc, RateLimited) and exc.reset_at:
        next_run = _reset_instant(exc.reset_at, now) + timedelta(seconds=1)
    else:
        interval = timedelta(hours=ctx.config.sync_interval_hours)
        next_run = now + min(interval, BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures - 1, 10))
    # The store sees a plain message; HiBob's own words, hosts, ports and exception text (which
    # may name our infrastructure) stay in the log line below.
    reason = reasons.reason(code if code in reasons.REASONS else "hibob_unavailable", _admin_detail(exc, next_run))
    with ctx.db.begin() as conn:
        runs_db.update(conn, run["id"], status="failed", phase=None, finished_at=now,
                       error={"code": reason["code"], "message": reason["message"]})
        current = integrations_db.get(conn, integration["id"], for_update=True)
        if current["state"] != "disconnected":
            integrations_db.update(conn, integration["id"], state="needs_attention", state_reason=reason,
                                   failure_count=failures, next_run_at=next_run, updated_at=now)
            append_state_change(conn, current, current["state"], "needs_attention", now, reason, run["id"])
    log.warning("run failed: %s: %s", reason["code"], detail or "-")
    if code == "rate_limited" and next_run is not None:
        with ctx.db.begin() as conn:
            retry_id = _queue_retry(conn, run, now)
        enqueue_run(ctx, retry_id, delay=max(1.0, (next_run - now).total_seconds()))
    return "failed"


def _reset_instant(reset_at: float, now: datetime) -> datetime:
    """A rate limit's reset as an instant between now and BACKOFF_CAP from now, whatever HiBob said."""
    try:
        instant = datetime.fromtimestamp(reset_at, timezone.utc)
    except (OverflowError, ValueError, OSError):
        instant = now + BACKOFF_CAP
    return min(max(instant, now), now + BACKOFF_CAP)


def _admin_detail(exc: HiBobError | None, next_run: datetime | None) -> str | None:
    """What the store admin may read about a failure beyond the reason: an HTTP status, or when a
    rate limit resets. Never the raw error text."""
    if isinstance(exc, RateLimited) and exc.reset_at and next_run is not None:
        return f"until {clock.rfc3339(next_run)}"
    if isinstance(exc, HiBobUnavailable):
        return f"HiBob answered HTTP {exc.status}" if exc.status else "no answer from HiBob"
    return None


def _queue_retry(conn, run: dict, now) -> str:
    from shared.service import new_id

    retry_id = new_id()
    runs_db.create(conn, {"id": retry_id, "integration_id": run["integration_id"], "store_id": run["store_id"],
                          "trigger": run["trigger"], "scope": run["scope"], "created_at": now})
    return retry_id
