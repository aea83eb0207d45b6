"""HiBob webhooks in: the receiver (ping, signature, inbox, statuses) and the events it drives,
through the same apply path as a full sync."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shared import clock, service
from shared.db import integrations as integrations_db
from shared.db.tables import webhook_inbox
from tests.integration.syncing import connect, feed, integration, runs, store_people

SECRET = "hibob-webhook-secret"


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()


def event(kind: str, employee_id: str, at: str = "2026-12-04T10:00:00.123456", **data) -> bytes:
    return json.dumps({"companyId": 1, "type": kind, "triggeredBy": "system", "triggeredAt": at,
                       "version": "v2", "data": {"employeeId": employee_id, **data}}).encode()


def post(client, integration_id: str, body: bytes, signature: str | None = "auto"):
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["Bob-Signature"] = signature
    return client.post(f"/webhooks/hibob/{integration_id}", data=body, headers=headers)


def drain(ctx, run_jobs, seconds: float = 10) -> None:
    """Run jobs (debounced ones included) until the inbox has nothing pending."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        run_jobs(with_scheduler=True)
        with ctx.db.begin() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(webhook_inbox)
                                   .where(webhook_inbox.c.status == "pending")).scalar_one()
        if not pending:
            run_jobs(with_scheduler=True)
            return
        time.sleep(0.2)
    raise AssertionError("events still pending")


@pytest.fixture
def live(ctx, hibob_sandbox, run_jobs):
    """An active integration with the webhook secret set."""
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    return integration_id


def test_ping_is_answered_before_and_after_the_secret_is_set(ctx, client, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    for body in (b"Ping test", b'{"text":"Ping test"}'):
        answer = post(client, integration_id, body, signature=None)
        assert answer.status_code == 200 and answer.get_json() == {"status": "ping"}
    assert integration(ctx, integration_id)["last_ping_at"] is not None
    service.set_webhook_secret(ctx, integration_id, SECRET)
    answer = post(client, integration_id, b"Ping test", signature="garbage")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ping"}
    assert ctx.queues.depth()["events"] == 0  # a ping enqueues nothing


def test_event_before_the_secret_is_set_is_409(ctx, client, hibob_sandbox):
    integration_id = connect(ctx, hibob_sandbox)
    assert post(client, integration_id, event("employee.updated", "1")).status_code == 409


def test_signature_is_checked_over_the_raw_body(client, live):
    body = event("employee.updated", "1")
    assert post(client, live, body, signature=None).status_code == 401
    assert post(client, live, body, signature=sign(body, "other")).status_code == 401
    # The same JSON re-serialised by a parser (other spacing) no longer matches the signature.
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reserialised != body
    assert post(client, live, reserialised, signature=sign(body)).status_code == 401
    assert post(client, live, body).status_code == 200


def test_previous_secret_works_for_24_hours_during_rotation(ctx, client, live):
    service.set_webhook_secret(ctx, live, "new-secret")
    body = event("employee.updated", "1", at="2026-12-04T11:00:00")
    assert post(client, live, body, signature=sign(body, SECRET)).status_code == 200
    assert post(client, live, event("employee.updated", "2"), signature=sign(event("employee.updated", "2"),
                                                                               "new-secret")).status_code == 200
    with ctx.db.begin() as conn:
        integrations_db.update(conn, live, webhook_prev_valid_until=clock.now() - timedelta(seconds=1))
    late = event("employee.updated", "3")
    assert post(client, live, late, signature=sign(late, SECRET)).status_code == 401


def test_unknown_integration_is_404_and_a_large_body_413(client, live):
    assert post(client, "7b0e7c57-3a6b-4a34-9d43-5f7e1f0e9d11", event("employee.updated", "1")).status_code == 404
    assert post(client, "not-a-uuid", event("employee.updated", "1")).status_code == 404
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert post(client, live, big).status_code == 413


def test_a_redelivery_is_a_duplicate_and_changes_nothing(ctx, client, live):
    body = event("employee.updated", "1")
    assert post(client, live, body).get_json() == {"status": "accepted"}
    assert post(client, live, body).get_json() == {"status": "duplicate"}


def test_ignored_types_and_disconnected_integrations_get_200_ignored(ctx, client, live):
    assert post(client, live, event("timeoff.request.created", "1")).get_json() == {"status": "ignored"}
    service.disconnect(ctx, live, None)
    assert post(client, live, event("employee.updated", "1")).get_json() == {"status": "ignored"}


def test_a_nul_in_the_employee_id_or_timestamp_is_no_500(ctx, client, live):
    """PostgreSQL text cannot hold U+0000: such an id is no HiBob id (ignored), such a timestamp
    no timestamp (the event still counts, deduplicated without it)."""
    assert post(client, live, event("employee.updated", "12\u0000")).get_json() == {"status": "ignored"}
    assert post(client, live, event("employee.updated", "12", at="2026\u0000")).get_json() == {"status": "accepted"}
    with ctx.db.begin() as conn:
        rows = conn.execute(sa.select(webhook_inbox.c.employee_id, webhook_inbox.c.triggered_at)).all()
    assert [tuple(r) for r in rows] == [("12", "")]


@pytest.mark.parametrize("kind", [
    "employee.created", "employee.updated", "employee.joined", "employee.left", "employee.activated",
    "employee.inactivated", "employee.temporaryLeave", "employee.access.revoked.immediately",
    "table.entry.created", "table.entry.updated"])
def test_every_event_type_rereads_that_employee(ctx, client, live, hibob_sandbox, run_jobs, kind):
    directory = hibob_sandbox.state.directory
    person = next(p for p in directory.snapshot() if p.id in store_people(ctx) and p.lifecycle == "employed")
    directory.update(person.id, email=f"{kind}@example.com")
    answer = post(client, live, event(kind, person.id, tableId="work"))
    assert answer.get_json() == {"status": "accepted"}
    drain(ctx, run_jobs)
    assert store_people(ctx)[person.id]["email"] == f"{kind}@example.com"
    run = runs(ctx, live)[0]
    assert run["trigger"] == "webhook" and run["counts"]["updated"] == 1


def test_deleted_employee_is_removed_as_deleted(ctx, client, live, hibob_sandbox, run_jobs):
    person_id = next(iter(p for p, v in store_people(ctx).items() if v["status"] == "active"))
    hibob_sandbox.state.directory.delete(person_id)
    post(client, live, event("employee.deleted", person_id))
    drain(ctx, run_jobs)
    stored = store_people(ctx)[person_id]
    assert stored["status"] == "removed" and stored["removal_reason"] == "deleted"


def test_out_of_order_delivery_ends_in_hibobs_current_state(ctx, client, live, hibob_sandbox, run_jobs):
    directory = hibob_sandbox.state.directory
    person = next(p for p in directory.snapshot() if p.id in store_people(ctx) and p.lifecycle == "employed")
    directory.update(person.id, email="first@example.com")
    directory.update(person.id, email="second@example.com")
    # the second change's event arrives first, the first one's later
    post(client, live, event("employee.updated", person.id, at="2026-12-04T10:00:02"))
    drain(ctx, run_jobs)
    post(client, live, event("employee.updated", person.id, at="2026-12-04T10:00:01"))
    drain(ctx, run_jobs)
    assert store_people(ctx)[person.id]["email"] == "second@example.com"


def test_a_burst_for_one_employee_collapses_into_one_reread(ctx, client, live, hibob_sandbox, run_jobs):
    person = next(p for p in hibob_sandbox.state.directory.snapshot() if p.lifecycle == "employed")
    before = len(hibob_sandbox.state.calls())
    for i in range(8):
        assert post(client, live, event("employee.updated", person.id, at=f"2026-12-04T10:00:0{i}")).status_code == 200
    drain(ctx, run_jobs)
    reads = [c for c in hibob_sandbox.state.calls()[before:] if c["endpoint"] == "read"]
    assert len(reads) == 1
    assert len([r for r in runs(ctx, live) if r["trigger"] == "webhook"]) == 1


def test_an_import_of_500_hires_becomes_one_full_sync(ctx, client, live, hibob_sandbox, run_jobs):
    directory = hibob_sandbox.state.directory
    hires = [directory.hire(f"Hire{i}", "Imported") for i in range(500)]
    before = len(hibob_sandbox.state.calls())
    for person in hires:
        assert post(client, live, event("employee.created", person.id)).status_code == 200
    drain(ctx, run_jobs, seconds=30)
    calls = hibob_sandbox.state.calls()[before:]
    assert [c["endpoint"] for c in calls].count("read") == 0
    assert [c["endpoint"] for c in calls].count("search") >= 1
    people = store_people(ctx)
    assert all(people[p.id]["status"] == "active" for p in hires)


def test_database_down_is_503_with_retry_after(ctx, client, live, monkeypatch):
    dead = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    monkeypatch.setattr(client.application.extensions["peoplesync"].db, "engine", dead)
    answer = post(client, live, event("employee.updated", "1"))
    assert answer.status_code == 503 and answer.headers["Retry-After"]


def test_a_leaver_by_webhook_counts_toward_the_removal_guard(ctx, client, live, hibob_sandbox, run_jobs):
    directory = hibob_sandbox.state.directory
    active = [p for p, v in store_people(ctx).items() if v["status"] == "active"]
    guard = max(10, len(active) * 20 // 100)
    leavers = active[:guard + 1]
    for i, person_id in enumerate(leavers):
        directory.terminate(person_id)
        post(client, live, event("employee.left", person_id))
        drain(ctx, run_jobs)
    people = store_people(ctx)
    removed = [p for p in leavers if people[p]["status"] == "removed"]
    assert len(removed) == guard  # the one past the threshold is held, not removed
    assert integration(ctx, live)["state"] == "held"
    assert any(e["kind"] == "removals.held" for e in feed(ctx))
