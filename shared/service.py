"""What the store backend and the dashboard can do to an integration: one code path for both.

Each operation commits its database change first and enqueues afterwards: if Redis is down the
run stays `queued` in the database and the sweeper enqueues it later, so nothing is lost.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis

from shared import clock
from shared.config import Config
from shared.crypto import SecretBox
from shared.db import Database
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import removals as removals_db
from shared.db import runs as runs_db
from shared.db.errors import Conflict
from shared.queues import Queues, job_id, retry_policy

log = logging.getLogger(__name__)

DEFAULT_SETTINGS: dict[str, Any] = {
    "sync_birthdays": True,
    "include_future_joiners": False,
    "removal_guard_percent": 20,
    "removal_guard_min": 10,
    "timezone": "UTC",
}
# Settings whose change alters who is in the store or what is stored about them: changing one
# queues a full run so the admin sees the effect now, not at the next scheduled sync.
PEOPLE_SETTINGS = ("sync_birthdays", "include_future_joiners", "timezone")
WEBHOOK_ROTATION_GRACE = timedelta(hours=24)
SYNC_JOB = "worker.jobs.run_sync"


class Context(Protocol):
    # Read-only members, so that JobContext's cached properties (queues, box) satisfy it.
    @property
    def config(self) -> Config: ...
    @property
    def db(self) -> Database: ...
    @property
    def queues(self) -> Queues: ...
    @property
    def box(self) -> SecretBox: ...


class ServiceError(Exception):
    status = 400
    code = "validation_failed"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.extra = extra or {}


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class ConflictError(ServiceError):
    status = 409
    code = "conflict"


class BatchChanged(ConflictError):
    """The held removals changed since the caller read the batch it approves or rejects."""

    code = "batch_changed"


def new_id() -> str:
    return str(uuid.uuid4())


def enqueue_run(ctx: Context, run_id: str, *, delay: float | None = None) -> None:
    """Hand a queued run to the workers; a Redis failure is logged, and the sweeper retries."""
    try:
        ctx.queues.enqueue("sync", SYNC_JOB, run_id, id=job_id("run", run_id), unique=True, delay=delay)
    except redis.RedisError as exc:
        log.warning("run %s stays queued until the sweeper re-enqueues it: %s", run_id, type(exc).__name__)


def create_integration(ctx: Context, store_id: str, credentials: dict[str, str], settings: dict[str, Any],
                       warnings: list[dict[str, Any]]) -> dict[str, Any]:
    """Create a HiBob integration in `connecting` and queue its initial sync (which validates it).

    Raises:
        ConflictError: the store already has a live HiBob integration.
    """
    now = clock.now()
    integration_id, run_id = new_id(), new_id()
    row = {
        "id": integration_id, "store_id": store_id, "provider": "hibob", "state": "connecting",
        "state_reason": None, "warnings": warnings, "settings": {**DEFAULT_SETTINGS, **settings},
        "credentials_enc": ctx.box.seal({"service_user_id": credentials["service_user_id"],
                                         "token": credentials["token"]}),
        "field_presence": {}, "failure_count": 0, "created_at": now, "updated_at": now,
    }
    try:
        with ctx.db.begin() as conn:
            integrations_db.create(conn, row)
            runs_db.create(conn, {"id": run_id, "integration_id": integration_id, "store_id": store_id,
                                  "trigger": "initial", "created_at": now})
            append_state_change(conn, row, None, "connecting", now)
    except Conflict as exc:
        raise ConflictError(str(exc), extra={"integration_id": exc.existing_id}) from None
    enqueue_run(ctx, run_id)
    return row


def append_state_change(conn, integration: dict[str, Any], before: str | None, after: str, now,
                        reason: dict | None = None, run_id: str | None = None) -> None:
    """Record a state change in the store's feed (`integration.state_changed`)."""
    if before == after:
        return
    changes: dict[str, Any] = {"state": {"before": before, "after": after}}
    if reason is not None:
        changes["state_reason"] = {"before": None, "after": reason}
    changes_db.append(conn, integration["store_id"], [{
        "at": now, "kind": "integration.state_changed", "integration_id": integration["id"],
        "run_id": run_id, "cause": "state", "changes": changes}])


@dataclass(frozen=True)
class IntegrationView:
    """An integration row with what its representation needs from other tables."""

    row: dict[str, Any]
    current_run: dict[str, Any] | None
    last_run: dict[str, Any] | None
    people: dict[str, int]
    held_removals: int = 0


def view_of(conn, row: dict[str, Any]) -> IntegrationView:
    """Gather, in the caller's transaction, what the Integration representation shows."""
    pending = runs_db.find(conn, row["id"], ["running", "queued"])
    # The running run is "current"; a follow-up queued behind it is not yet.
    running = [r for r in pending if r["status"] == "running"]
    current = (running or pending)[0] if pending else None
    return IntegrationView(row=row, current_run=current,
                           last_run=runs_db.latest(conn, row["id"], ["succeeded", "failed"]),
                           people=people_db.counts_for_integration(conn, row["id"]),
                           held_removals=0 if row["state"] == "disconnected" else removals_db.count(conn, row["id"]))


def describe(ctx: Context, integration_id: str) -> IntegrationView:
    """One integration, ready to represent.

    Raises:
        NotFound.
    """
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id)
        if row is None:
            raise NotFound("no such integration")
        return view_of(conn, row)


def describe_live_for_store(ctx: Context, store_id: str) -> IntegrationView:
    """The store's live (not disconnected) integration.

    Raises:
        NotFound: the store has none.
    """
    with ctx.db.begin() as conn:
        row = integrations_db.get_live_for_store(conn, store_id)
        if row is None:
            raise NotFound("the store has no live integration")
        return view_of(conn, row)


def load(ctx: Context, integration_id: str) -> dict[str, Any]:
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id)
    if row is None:
        raise NotFound("no such integration")
    return row


def _lock_live_integration(conn, integration_id: str) -> dict[str, Any]:
    """The integration's row, locked until the transaction ends.

    Raises:
        NotFound, ConflictError (disconnected).
    """
    row = integrations_db.get(conn, integration_id, for_update=True)
    if row is None:
        raise NotFound("no such integration")
    if row["state"] == "disconnected":
        raise ConflictError("the integration is disconnected")
    return row


def update_integration(ctx: Context, integration_id: str, credentials: dict[str, str] | None,
                       settings: dict[str, Any] | None, *, warnings: list[dict[str, Any]] | None = None) -> None:
    """Change settings and/or credentials; new credentials are re-validated by a connect run.

    ``warnings`` are the `field_ignored` warnings of the new credentials: they replace those of
    the old ones. A change to a setting in PEOPLE_SETTINGS also queues a full run.
    """
    now = clock.now()
    run_id = None
    with ctx.db.begin() as conn:
        row = _lock_live_integration(conn, integration_id)
        values: dict[str, Any] = {"updated_at": now}
        if settings:
            merged = {**row["settings"], **settings}
            values["settings"] = merged
            before, after = {**DEFAULT_SETTINGS, **row["settings"]}, {**DEFAULT_SETTINGS, **merged}
            if any(before[key] != after[key] for key in PEOPLE_SETTINGS):
                run_id = _queue_full_run(conn, row, "manual", now, None)
        if credentials:
            values.update(credentials_enc=ctx.box.seal({"service_user_id": credentials["service_user_id"],
                                                        "token": credentials["token"]}),
                          state="connecting", state_reason=None,
                          credentials_version=row["credentials_version"] + 1, failure_count=0)
            kept = [w for w in row["warnings"] or [] if w.get("code") != "field_ignored"]
            values["warnings"] = kept + list(warnings or [])
            append_state_change(conn, row, row["state"], "connecting", now)
            run_id = _queue_full_run(conn, row, "manual", now, None)
        integrations_db.update(conn, integration_id, **values)
    if run_id:
        enqueue_run(ctx, run_id)


def _queue_full_run(conn, row: dict[str, Any], trigger: str, now, actor: dict | None) -> str:
    """Queue a full run unless one is already queued (then that one is the answer)."""
    queued = runs_db.find(conn, row["id"], ["queued"], full_only=True)
    if queued:
        return queued[0]["id"]
    run_id = new_id()
    runs_db.create(conn, {"id": run_id, "integration_id": row["id"], "store_id": row["store_id"],
                          "trigger": trigger, "created_at": now, "actor": actor})
    return run_id


def request_sync(ctx: Context, integration_id: str, trigger: str = "manual", actor: dict | None = None) -> str:
    """Sync now: a queued run is returned, not duplicated; while one runs, one follow-up is queued.

    Raises:
        NotFound, ConflictError (disconnected).
    """
    now = clock.now()
    with ctx.db.begin() as conn:
        row = _lock_live_integration(conn, integration_id)
        run_id = _queue_full_run(conn, row, trigger, now, actor)
        if trigger == "manual" and row["state"] == "needs_attention":
            # An admin asking for a sync is the signal to try HiBob again (even after a 401).
            integrations_db.update(conn, integration_id, failure_count=0, updated_at=now)
    enqueue_run(ctx, run_id)
    return run_id


def set_webhook_secret(ctx: Context, integration_id: str, secret: str) -> None:
    """Store the HiBob webhook secret; the previous one stays valid for 24 hours (rotation)."""
    now = clock.now()
    with ctx.db.begin() as conn:
        row = _lock_live_integration(conn, integration_id)
        integrations_db.update(conn, integration_id, webhook_secret_enc=ctx.box.seal(secret),
                               webhook_prev_secret_enc=row["webhook_secret_enc"],
                               webhook_prev_valid_until=now + WEBHOOK_ROTATION_GRACE if row["webhook_secret_enc"] else None,
                               updated_at=now)


SEALED_COLUMNS = ("credentials_enc", "webhook_secret_enc", "webhook_prev_secret_enc")


def reencrypt_credentials(ctx: Context) -> dict[str, int]:
    """Re-encrypt every sealed value (tokens, webhook secrets) with the first CREDENTIALS_KEY.

    Run after putting a new key first in CREDENTIALS_KEY; once it has run, the old keys can be
    dropped. One short transaction per integration, so syncs are not held up. Returns
    ``{"integrations": n, "values": m}``.

    Raises:
        ValueError: a value cannot be decrypted with any of the keys (named by integration id).
    """
    with ctx.db.begin() as conn:
        ids = integrations_db.ids_in_states(conn, list(integrations_db.count_by_state(conn)))
    values = 0
    for integration_id in ids:
        with ctx.db.begin() as conn:
            row = integrations_db.get(conn, integration_id, for_update=True)
            if row is None:
                continue
            changed = {}
            for column in SEALED_COLUMNS:
                if row.get(column):
                    try:
                        changed[column] = ctx.box.rotate(row[column])
                    except Exception:
                        raise ValueError(f"{column} of integration {integration_id} cannot be decrypted "
                                         "with any CREDENTIALS_KEY") from None
            if changed:
                integrations_db.update(conn, integration_id, **changed)
                values += len(changed)
    return {"integrations": len(ids), "values": values}


def disconnect(ctx: Context, integration_id: str, people_mode: str | None) -> None:
    """Stop syncing. People stay, unless `remove` (marked removed) or `purge` (erased)."""
    now = clock.now()
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id, for_update=True)
        if row is None:
            raise NotFound("no such integration")
        if row["state"] != "disconnected":
            integrations_db.update(conn, integration_id, state="disconnected", state_reason=None,
                                   disconnected_at=now, updated_at=now, next_run_at=None)
            append_state_change(conn, row, row["state"], "disconnected", now)
            for run in runs_db.find(conn, integration_id, ["queued"]):
                runs_db.update(conn, run["id"], status="failed", finished_at=now,
                               error={"code": "disconnected", "message": "the integration was disconnected"})
        if people_mode == "remove":
            removed = people_db.mark_all_removed(conn, integration_id, "deleted", now)
            changes_db.append(conn, row["store_id"], [{
                "at": now, "kind": "person.removed", "integration_id": integration_id, "person_id": p["id"],
                "external_id": p["external_id"], "cause": "disconnect",
                "changes": {"status": {"before": p["status"], "after": "removed"},
                            "removal_reason": {"before": None, "after": "deleted"}}} for p in removed])
        elif people_mode == "purge":
            people_db.purge(conn, integration_id)


# --- held removals (the removal guard; docs/removal-guard.md) --------------------------------

def held_removals(ctx: Context, integration_id: str) -> dict[str, Any] | None:
    """The removals the guard holds: ``{"batch_id", "held_since", "threshold", "people"}``, or None.

    ``held_since`` is a datetime; ``people`` are people rows (``representations.person`` turns
    each into the API's Person) whose ``removal_reason`` is the reason they would be removed for.

    Raises:
        NotFound: no such integration.
    """
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id)
        if row is None:
            raise NotFound("no such integration")
        batch = removals_db.batch(conn, integration_id) if row["state"] != "disconnected" else None
        if batch is None:
            return None
        held = removals_db.held_people(conn, integration_id)
    return {"batch_id": batch["batch_id"], "held_since": batch["held_since"], "threshold": batch["threshold"],
            "people": [{**person, "removal_reason": person["held_reason"]} for person in held]}


def decide_removals(ctx: Context, integration_id: str, batch_id: str, approve: bool,
                    actor: dict | None) -> str:
    """Approve (remove them) or reject (they stay) the held batch ``batch_id``; returns the run id.

    Applied at once, in one transaction with the integration row held, as a run with trigger
    `approval` whose change-log entries carry ``actor``.

    Raises:
        NotFound: no such integration.
        BatchChanged: nothing is held, or the held list changed since ``batch_id`` was read.
    """
    # Imported here: the worker's apply path imports this module (append_state_change).
    from worker import apply

    now = clock.now()
    with ctx.db.begin() as conn:
        row = integrations_db.get(conn, integration_id, for_update=True)
        if row is None:
            raise NotFound("no such integration")
        batch = removals_db.batch(conn, integration_id) if row["state"] != "disconnected" else None
        if batch is None:
            raise BatchChanged("nothing is held any more; read the removals again")
        if batch["batch_id"] != batch_id:
            raise BatchChanged("the held removals changed since that batch was read; read them again")
        run_id = apply.decide_removals(conn, row, batch, approve=approve, actor=actor, now=now,
                                       interval_hours=ctx.config.sync_interval_hours)
    log.info("held removals of %s %s in run %s", integration_id, "approved" if approve else "rejected", run_id)
    _notify_store(ctx, row["store_id"])
    return run_id


def _notify_store(ctx: Context, store_id: str) -> None:
    """Push the new feed entries to STORE_WEBHOOK_URL soon; if Redis fails the sweeper does it."""
    if not ctx.config.store_webhook_url:
        return
    try:
        ctx.queues.enqueue("notify", "worker.notify.notify_store", store_id,
                           retry=retry_policy([5, 30, 120, 600, 1800]))
    except redis.RedisError:
        pass
