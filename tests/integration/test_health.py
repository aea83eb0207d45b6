"""An integration's health, as the store admin sees it: a state and a reason they can act on, a
failing integration that backs off instead of hammering HiBob, no call after a 401 until the
credentials change or an admin asks, and recovery by itself. Against the HiBob sandbox."""
from __future__ import annotations

import dataclasses
import functools
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shared import clock, service
from shared.db import integrations as integrations_db
from shared.db.tables import webhook_inbox
from shared.hibob.client import HiBobClient
from tests.integration.syncing import connect, integration, runs, store_people
from tests.integration.test_webhooks import SECRET, drain, event, post
from worker import jobs, periodic

# What the admin may never be shown: our hosts, ports, exception names, library text.
RAW_ERROR_MARKERS = ("127.0.0.1", "localhost", "HTTPConnectionPool", "Max retries", "Errno", "Traceback",
                     "Exception", "ConnectionError", "ReadTimeout", "text/html", "<html", "injected fault")


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


@pytest.fixture(autouse=True)
def quick_client_retries(monkeypatch):
    """The HiBob client's own retry pauses (0.5-8 s) are not what these tests are about."""
    monkeypatch.setattr("shared.hibob.client._backoff", lambda attempt: 0.0)


def hibob_calls(sandbox) -> int:
    return len(sandbox.state.calls())


def time_passes(ctx, integration_id: str) -> None:
    """The wait is over: the integration's next attempt is due (what the clock would do)."""
    with ctx.db.begin() as conn:
        integrations_db.update(conn, integration_id, next_run_at=clock.now() - timedelta(seconds=1))


def backoff_of(ctx, integration_id: str) -> timedelta:
    """The pause the last run chose: from when it was recorded (not from now, which a slow
    machine's burst teardown may have pushed later) to the next attempt."""
    row = integration(ctx, integration_id)
    aware = lambda t: t if t.tzinfo else t.replace(tzinfo=clock.now().tzinfo)  # noqa: E731
    return aware(row["next_run_at"]) - aware(row["updated_at"])


def assert_plain(text: str, port: int | None = None) -> None:
    for marker in RAW_ERROR_MARKERS + ((f":{port}", str(port)) if port else ()):
        assert marker not in text, f"{marker!r} shown to the store: {text!r}"


def api_view(client, store_auth, integration_id: str) -> dict:
    answer = client.get(f"/api/v1/integrations/{integration_id}", headers=store_auth)
    assert answer.status_code == 200
    return answer.get_json()


def healthy(ctx, sandbox, run_jobs, **settings) -> str:
    integration_id = connect(ctx, sandbox, **settings)
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
    return integration_id


@pytest.mark.parametrize("fault, code, detail", [
    ({"kind": "status", "status": 500}, "hibob_unavailable", "HiBob answered HTTP 500"),
    ({"kind": "status", "status": 503}, "hibob_unavailable", "HiBob answered HTTP 503"),
    ({"kind": "html"}, "invalid_data", None),
])
def test_hibob_faults_give_a_reason_to_act_on_in_plain_words(ctx, client, store_auth, hibob_sandbox, run_jobs,
                                                            fault, code, detail):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    before = store_people(ctx)
    hibob_sandbox.state.add_fault(endpoint="search", count=100, **fault)
    service.request_sync(ctx, integration_id)
    run_jobs()
    shown = api_view(client, store_auth, integration_id)
    assert shown["state"] == "needs_attention"
    assert shown["state_reason"]["code"] == code
    assert shown["last_run"]["status"] == "failed" and shown["last_run"]["error"]["code"] == code
    for text in (shown["state_reason"]["message"], shown["last_run"]["error"]["message"]):
        assert_plain(text, hibob_sandbox.base_url.split(":")[2].split("/")[0])
        if detail:
            assert detail in text
    assert store_people(ctx) == before  # nothing half-done


def test_hibob_unreachable_is_hibob_unavailable_without_host_or_port(ctx, client, store_auth, hibob_sandbox,
                                                                    run_jobs, monkeypatch):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    from tests.conftest import free_port

    port = free_port()  # nothing listens there: connection refused
    monkeypatch.setattr(ctx, "config", ctx.config.with_(hibob_api_url=f"http://127.0.0.1:{port}/v1"))
    service.request_sync(ctx, integration_id)
    run_jobs()
    shown = api_view(client, store_auth, integration_id)
    assert shown["state_reason"]["code"] == "hibob_unavailable"
    assert "no answer from HiBob" in shown["state_reason"]["message"]
    assert_plain(shown["state_reason"]["message"], port)
    assert_plain(shown["last_run"]["error"]["message"], port)


def test_a_hibob_timeout_is_hibob_unavailable(ctx, client, store_auth, hibob_sandbox, run_jobs, monkeypatch):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    monkeypatch.setattr(jobs, "HIBOB_TIMEOUT", (1.0, 0.3))
    hibob_sandbox.state.add_fault("slow", delay=1.0, endpoint="search", count=100)
    service.request_sync(ctx, integration_id)
    run_jobs()
    shown = api_view(client, store_auth, integration_id)
    assert shown["state_reason"]["code"] == "hibob_unavailable"
    assert "no answer from HiBob" in shown["state_reason"]["message"]
    assert_plain(shown["state_reason"]["message"])


def test_a_failing_integration_backs_off_with_growing_capped_pauses(ctx, hibob_sandbox, run_jobs):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    hibob_sandbox.state.add_fault("status", status=500, endpoint="search", count=10_000)
    service.request_sync(ctx, integration_id)
    run_jobs()
    pauses = [backoff_of(ctx, integration_id)]
    for _ in range(3):
        calls = hibob_calls(hibob_sandbox)
        assert periodic.fan_out() == 0 and hibob_calls(hibob_sandbox) == calls  # not due: no call
        time_passes(ctx, integration_id)
        assert periodic.fan_out() == 1
        run_jobs()
        pauses.append(backoff_of(ctx, integration_id))
    minutes = [round(p.total_seconds() / 60) for p in pauses]
    assert minutes == [5, 10, 20, 40], minutes
    # however long it lasts, attempts stay at most BACKOFF_CAP apart (and within the sync interval)
    with ctx.db.begin() as conn:
        integrations_db.update(conn, integration_id, failure_count=30)
    time_passes(ctx, integration_id)
    periodic.fan_out()
    run_jobs()
    cap = min(jobs.BACKOFF_CAP, timedelta(hours=ctx.config.sync_interval_hours))
    assert cap - timedelta(minutes=1) < backoff_of(ctx, integration_id) <= cap
    assert integration(ctx, integration_id)["state"] == "needs_attention"
    # HiBob comes back: the next due attempt succeeds and the integration is active by itself
    hibob_sandbox.state.clear_faults()
    time_passes(ctx, integration_id)
    assert periodic.fan_out() == 1
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "active" and row["state_reason"] is None and row["failure_count"] == 0
    # back on the normal schedule (the interval, less the per-integration spread of up to a tenth)
    assert backoff_of(ctx, integration_id) > timedelta(hours=ctx.config.sync_interval_hours) * 0.85


def test_webhook_events_wait_in_the_inbox_while_backing_off(ctx, client, hibob_sandbox, run_jobs):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    service.set_webhook_secret(ctx, integration_id, SECRET)
    hibob_sandbox.state.add_fault("status", status=500, count=10_000)
    service.request_sync(ctx, integration_id)
    run_jobs()
    assert integration(ctx, integration_id)["state_reason"]["code"] == "hibob_unavailable"
    person = next(p for p in hibob_sandbox.state.directory.snapshot() if p.id in store_people(ctx)
                  and p.lifecycle == "employed")
    hibob_sandbox.state.directory.update(person.id, email="while-down@example.com")
    calls = hibob_calls(hibob_sandbox)
    assert post(client, integration_id, event("employee.updated", person.id)).status_code == 200
    run_jobs(with_scheduler=True)
    periodic.sweep()
    run_jobs(with_scheduler=True)
    assert hibob_calls(hibob_sandbox) == calls  # the event did not go around the backoff
    with ctx.db.begin() as conn:
        statuses = set(conn.execute(sa.select(webhook_inbox.c.status)).scalars())
        conn.execute(sa.update(webhook_inbox).values(received_at=clock.now() - timedelta(minutes=1)))
    assert statuses == {"pending"}
    hibob_sandbox.state.clear_faults()
    time_passes(ctx, integration_id)
    periodic.fan_out()
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
    periodic.sweep()  # the waiting event is picked up again
    drain(ctx, run_jobs)
    assert store_people(ctx)[person.id]["email"] == "while-down@example.com"


def test_after_a_401_nothing_calls_hibob_until_an_admin_asks(ctx, client, hibob_sandbox, run_jobs):
    state = hibob_sandbox.state
    user = state.add_service_user(user_id="SERVICE-7001", token="good-token-7001")
    integration_id = connect(ctx, hibob_sandbox, credentials=(user.id, user.token))
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    # HiBob stops accepting the token (the service user was disabled for a while)
    state.service_users[user.id] = dataclasses.replace(state.service_users[user.id], token="rotated")
    service.request_sync(ctx, integration_id, trigger="scheduled")
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state_reason"]["code"] == "auth_failed" and row["next_run_at"] is None
    calls = hibob_calls(hibob_sandbox)
    # neither the schedule, nor the sweeper, nor webhook events call HiBob again
    with ctx.db.begin() as conn:
        integrations_db.update(conn, integration_id, updated_at=clock.now() - timedelta(days=3))
    assert periodic.fan_out() == 0
    periodic.sweep()
    person = next(iter(store_people(ctx)))
    assert post(client, integration_id, event("employee.updated", person)).status_code == 200
    drain(ctx, run_jobs)
    assert hibob_calls(hibob_sandbox) == calls
    # the service user is enabled again and the admin asks for a sync: it recovers
    state.service_users[user.id] = dataclasses.replace(state.service_users[user.id], token=user.token)
    service.request_sync(ctx, integration_id)
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "active" and row["state_reason"] is None
    assert hibob_calls(hibob_sandbox) > calls

def test_rate_limited_waits_for_the_reset_then_recovers(ctx, client, store_auth, hibob_sandbox, run_jobs,
                                                       monkeypatch):
    # A reset further away than the client waits in-line (1 s here, 65 s in production).
    monkeypatch.setattr(jobs, "HiBobClient", functools.partial(HiBobClient, max_rate_limit_wait=1.0))
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    before, calls = store_people(ctx), hibob_calls(hibob_sandbox)
    # HiBob's budget for this service user is spent for the next 15 seconds (opened here, not by an
    # earlier sync, so how fast this machine runs does not move the reset).
    state, window = hibob_sandbox.state, 15.0
    state.search_limit, state.rate_window = 1, window
    state.limiter.clear()
    state.limiter.hit(hibob_sandbox.credentials[0], "search", 1, window, time.time())
    service.request_sync(ctx, integration_id)
    run_jobs()
    shown = api_view(client, store_auth, integration_id)
    assert shown["state"] == "needs_attention" and shown["state_reason"]["code"] == "rate_limited"
    assert "until 20" in shown["state_reason"]["message"]  # when HiBob's limit resets, RFC 3339
    assert_plain(shown["state_reason"]["message"])
    assert hibob_calls(hibob_sandbox) == calls + 1 and store_people(ctx) == before
    # a retry is queued for the reset; nothing calls HiBob before it
    assert [r["status"] for r in runs(ctx, integration_id)][:2] == ["queued", "failed"]
    assert periodic.fan_out() == 0
    run_jobs(with_scheduler=True)
    assert integration(ctx, integration_id)["state"] == "needs_attention"
    deadline = time.time() + window + 30
    while integration(ctx, integration_id)["state"] != "active" and time.time() < deadline:
        time.sleep(0.5)
        run_jobs(with_scheduler=True)
    assert integration(ctx, integration_id)["state"] == "active"
    assert runs(ctx, integration_id)[0]["status"] == "succeeded"


def test_a_removal_guard_trip_is_the_held_state(ctx, hibob_sandbox, run_jobs):
    integration_id = healthy(ctx, hibob_sandbox, run_jobs)
    active = [p for p, v in store_people(ctx).items() if v["status"] == "active"]
    for person_id in active[:15]:  # over max(10, 20 % of ~50)
        hibob_sandbox.state.directory.terminate(person_id)
    service.request_sync(ctx, integration_id)
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "held"
    assert sum(1 for v in store_people(ctx).values() if v["status"] == "removed") < 15


# --- operator commands (web/cli.py) ----------------------------------------------------------------

def test_cli_show_sync_and_requeue(app, ctx, hibob_sandbox, run_jobs):
    runner = app.test_cli_runner()
    integration_id = connect(ctx, hibob_sandbox)
    hibob_sandbox.state.add_fault("status", status=500, count=100)
    run_jobs()
    shown = runner.invoke(args=["peoplesync", "show", integration_id])
    assert shown.exit_code == 0, shown.output
    assert "needs_attention" in shown.output and "hibob_unavailable" in shown.output
    assert hibob_sandbox.credentials[1] not in shown.output
    as_json = json.loads(runner.invoke(args=["peoplesync", "show", integration_id, "--json"]).output)
    assert as_json["state_reason"]["code"] == "hibob_unavailable" and as_json["operations"]["failure_count"] == 1
    assert runner.invoke(args=["peoplesync", "show", "no-such-id"]).exit_code == 1

    hibob_sandbox.state.clear_faults()
    queued = runner.invoke(args=["peoplesync", "sync", integration_id])
    assert queued.exit_code == 0 and queued.output.startswith("queued run ")
    done = runner.invoke(args=["peoplesync", "sync", integration_id, "--inline"])
    assert done.exit_code == 0, done.output
    assert "succeeded" in done.output and integration(ctx, integration_id)["state"] == "active"

    ctx.queues.enqueue("maintenance", "worker.periodic.no_such_job")
    run_jobs()
    assert ctx.queues.queue("maintenance").failed_job_registry.count == 1
    requeued = runner.invoke(args=["peoplesync", "requeue-failed"])
    assert requeued.output.strip() == "requeued 1 failed job"
    assert ctx.queues.depth()["maintenance"] == 1
