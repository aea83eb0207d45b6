"""Operator commands: ``flask --app "web:create_app()" peoplesync COMMAND``.

They act through the same code the API and the workers use (shared/service, shared/queues), on
the database and Redis the environment names. Output is plain text for humans, or JSON with
``--json``. Nothing prints a credential: ``show`` uses the API's own representation (a whitelist)
plus a few operational fields.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from shared import clock, representations, service
from shared.db import runs as runs_db
from shared.locks import is_held

group = AppGroup("peoplesync", help="Operate peoplesync: sync, requeue, inspect, re-encrypt.")


def _ctx() -> Any:
    return current_app.extensions["peoplesync"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@group.command("sync")
@click.argument("integration_id")
@click.option("--inline", is_flag=True,
              help="Run the sync in this process and wait for it (when no worker is running).")
def sync_now(integration_id: str, inline: bool) -> None:
    """Sync one integration now (like the API's "Sync now", trigger `manual`).

    Also the way out of `needs_attention` after a 401: it is an admin asking for a sync.
    """
    ctx = _ctx()
    try:
        run_id = service.request_sync(ctx, integration_id, trigger="manual")
    except service.ServiceError as exc:
        _fail(exc.message)
    if not inline:
        click.echo(f"queued run {run_id}")
        return
    from worker import context, jobs

    context.install(ctx)
    outcome = jobs.run_sync(run_id)
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
    error = (run or {}).get("error") or {}
    click.echo(f"run {run_id}: {outcome}" + (f" ({error.get('code')}: {error.get('message')})" if error else ""))
    if run is None or run["status"] != "succeeded":
        sys.exit(1)


@group.command("requeue-failed")
def requeue_failed() -> None:
    """Put every job in the failed registries back on its queue; prints how many."""
    count = _ctx().queues.requeue_failed()
    click.echo(f"requeued {count} failed job{'s' if count != 1 else ''}")


@group.command("show")
@click.argument("integration_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(integration_id: str, as_json: bool) -> None:
    """An integration's state, why, what runs next, and what is waiting (never a credential)."""
    from worker.jobs import lock_name

    ctx = _ctx()
    try:
        view = service.describe(ctx, integration_id)
    except service.NotFound as exc:
        _fail(exc.message)
    shown = representations.integration(view, ctx.config.public_base_url)
    try:
        sync_running = is_held(ctx.redis, lock_name(ctx, integration_id))
    except Exception as exc:  # Redis down: say so, still show what the database knows
        sync_running = f"unknown (redis: {type(exc).__name__})"
    ops = {"failure_count": view.row["failure_count"], "sync_lock_held": sync_running,
           "credentials_version": view.row.get("credentials_version")}
    if as_json:
        click.echo(json.dumps({**shown, "operations": ops}, indent=2))
        return
    reason = shown["state_reason"] or {}
    lines = [
        f"integration {shown['id']}  store {shown['store_id']}",
        f"state        {shown['state']}" + (f"  ({reason.get('code')}: {reason.get('message')})" if reason else ""),
        f"next run at  {shown['next_run_at'] or '-'}  (failures in a row: {ops['failure_count']})",
        f"current run  {_run_line(shown['current_run'])}",
        f"last run     {_run_line(shown['last_run'])}",
        f"people       {shown['people']}  held removals: {shown['held_removals']}",
        f"webhook      secret set: {shown['webhook']['secret_set']}  last event: "
        f"{shown['webhook']['last_event_at'] or '-'}",
        f"sync lock    {ops['sync_lock_held']}",
    ]
    for step in reason.get("hibob_steps") or []:
        lines.append(f"  to do in HiBob: {step}")
    for warning in shown["warnings"]:
        lines.append(f"warning      {warning['code']}: {warning['message']}")
    click.echo("\n".join(lines))


def _run_line(run: dict[str, Any] | None) -> str:
    if not run:
        return "-"
    error = run.get("error") or {}
    return (f"{run['id']} {run['trigger']} {run['status']}"
            + (f" {run['phase']}" if run.get("phase") else "")
            + (f" error {error.get('code')}" if error else ""))


@group.command("reencrypt-credentials")
def reencrypt_credentials() -> None:
    """Re-encrypt every stored token and webhook secret with the first CREDENTIALS_KEY.

    Rotation: put the new key first in CREDENTIALS_KEY (old ones after it) on every process,
    run this, then drop the old keys.
    """
    try:
        done = service.reencrypt_credentials(_ctx())
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"re-encrypted {done['values']} secret values of {done['integrations']} integrations "
               f"at {clock.rfc3339(clock.now())}")
