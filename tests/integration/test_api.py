"""The store backend's integration calls: connect, read, change, sync, webhook secret, removals,
disconnect. Also holds the small helpers the other test_api_* modules import."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from marshmallow import RAISE

from shared import clock
from shared import schemas as s
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import runs as runs_db

API = "/api/v1"


# --- helpers shared by the test_api_* modules ------------------------------------------------

def new_body(store_id: str = "acme-shop", **extra: Any) -> dict[str, Any]:
    return {"store_id": store_id, "provider": "hibob",
            "credentials": {"service_user_id": "SERVICE-1", "token": "hibob-token-secret-1"}, **extra}


def connect(client, store_auth, store_id: str = "acme-shop", **extra: Any) -> dict[str, Any]:
    response = client.post(f"{API}/integrations", json=new_body(store_id, **extra), headers=store_auth)
    assert response.status_code == 202, response.json
    return response.json


def conforms(schema: type, body: Any, many: bool = False) -> None:
    """The body has exactly the documented shape (no missing, no extra keys)."""
    schema().load(body, unknown=RAISE, many=many)


def error_of(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    conforms(s.ErrorSchema, response.json)
    assert response.json["error"]["code"] == code
    return response.json["error"]


def seed_person(ctx, store_id: str, integration_id: str, external_id: str, *, status: str = "active",
                first: str = "Ann", last: str = "Lee", email: str | None = None, **values: Any) -> str:
    now = clock.now()
    person_id = str(uuid.uuid4())
    row = {"id": person_id, "store_id": store_id, "integration_id": integration_id, "external_id": external_id,
           "email": email or f"{first}.{last}@example.com".lower(), "first_name": first, "last_name": last,
           "display_name": f"{first} {last}", "birthday": "04-21", "start_date": "2024-01-15",
           "leave_date": None, "department": "Sales", "site": "Paris", "status": status,
           "removal_reason": "terminated" if status == "removed" else None, "removal_rejected": False,
           "sort_key": f"{last} {first}".lower(), "added_at": now, "updated_at": now,
           "removed_at": now if status == "removed" else None, **values}
    with ctx.db.begin() as conn:
        people_db.insert(conn, [row])
    return person_id


def seed_run(ctx, integration_id: str, store_id: str, *, status: str = "succeeded", trigger: str = "scheduled",
             created_at=None, **values: Any) -> str:
    run_id = str(uuid.uuid4())
    created = created_at or clock.now()
    with ctx.db.begin() as conn:
        runs_db.create(conn, {"id": run_id, "integration_id": integration_id, "store_id": store_id,
                              "trigger": trigger, "created_at": created})
        finished = {"started_at": created, "finished_at": created + timedelta(seconds=5)} \
            if status in ("succeeded", "failed") else {}
        runs_db.update(conn, run_id, status=status, **finished, **values)
    return run_id


def seed_changes(ctx, store_id: str, count: int, *, run_id: str | None = None,
                 integration_id: str | None = None) -> None:
    now = clock.now()
    with ctx.db.begin() as conn:
        integrations_db.ensure_store(conn, store_id, now)
        changes_db.append(conn, store_id, [{
            "at": now, "kind": "person.updated", "integration_id": integration_id, "person_id": str(uuid.uuid4()),
            "external_id": f"E{i}", "run_id": run_id, "cause": "sync",
            "changes": {"department": {"before": "Sales", "after": f"Dept {i}"}}} for i in range(count)])


def integration_row(ctx, integration_id: str) -> dict[str, Any]:
    with ctx.db.begin() as conn:
        return integrations_db.get(conn, integration_id)  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _release_app(app):
    """The app owns its own engine and Redis client: close them so real servers are not exhausted."""
    yield
    app.extensions["peoplesync"].db.dispose()
    app.extensions["peoplesync"].redis.close()


# --- connect -----------------------------------------------------------------------------------

def test_connect_answers_202_connecting_with_location_and_queues_the_initial_sync(client, store_auth, ctx):
    response = client.post(f"{API}/integrations", json=new_body(), headers=store_auth)

    assert response.status_code == 202
    body = response.json
    conforms(s.IntegrationSchema, body)
    assert response.headers["Location"].endswith(f"{API}/integrations/{body['id']}")
    assert body["state"] == "connecting" and body["provider"] == "hibob" and body["store_id"] == "acme-shop"
    assert body["settings"] == {"sync_birthdays": True, "include_future_joiners": False,
                                "removal_guard_percent": 20, "removal_guard_min": 10, "timezone": "UTC"}
    assert body["webhook"] == {"url": f"http://peoplesync.test/webhooks/hibob/{body['id']}",
                               "secret_set": False, "last_event_at": None, "last_ping_at": None}
    assert body["current_run"]["trigger"] == "initial" and body["current_run"]["status"] == "queued"
    assert body["last_run"] is None and body["held_removals"] == 0
    assert body["people"] == {"active": 0, "upcoming": 0, "removed": 0}
    assert body["created_at"].endswith("Z") and body["warnings"] == []
    assert ctx.queues.depth()["sync"] == 1
    assert client.get(response.headers["Location"], headers=store_auth).json == body


def test_connect_keeps_given_settings_over_the_defaults(client, store_auth):
    body = connect(client, store_auth, settings={"include_future_joiners": True, "timezone": "Europe/Paris",
                                                 "removal_guard_percent": 0, "removal_guard_min": 0})
    assert body["settings"] == {"sync_birthdays": True, "include_future_joiners": True,
                                "removal_guard_percent": 0, "removal_guard_min": 0, "timezone": "Europe/Paris"}


def test_retired_api_key_and_report_id_are_ignored_with_warnings(client, store_auth, ctx):
    payload = new_body()
    payload["credentials"].update(api_key="old-api-key-value", report_id="12345")
    body = client.post(f"{API}/integrations", json=payload, headers=store_auth).json

    assert {(w["code"], w["field"]) for w in body["warnings"]} == {
        ("field_ignored", "credentials.api_key"), ("field_ignored", "credentials.report_id")}
    assert all(w["message"] for w in body["warnings"])
    stored = ctx.box.open(integration_row(ctx, body["id"])["credentials_enc"])
    assert stored == {"service_user_id": "SERVICE-1", "token": "hibob-token-secret-1"}


def test_credentials_are_stored_encrypted_and_trimmed(client, store_auth, ctx):
    payload = new_body()
    payload["credentials"] = {"service_user_id": " SERVICE-1 ", "token": "hibob-token-secret-1\n"}
    body = client.post(f"{API}/integrations", json=payload, headers=store_auth).json
    row = integration_row(ctx, body["id"])
    assert "hibob-token-secret-1" not in row["credentials_enc"]
    assert ctx.box.open(row["credentials_enc"])["token"] == "hibob-token-secret-1"


@pytest.mark.parametrize("change, field", [
    (lambda b: b["credentials"].pop("token"), "credentials.token"),
    (lambda b: b["credentials"].update(token="   "), "credentials.token"),
    (lambda b: b["credentials"].update(token="x" * 1001), "credentials.token"),
    (lambda b: b["credentials"].update(service_user_id=""), "credentials.service_user_id"),
    (lambda b: b["credentials"].update(service_user_id=7), "credentials.service_user_id"),
    (lambda b: b.pop("credentials"), "credentials"),
    (lambda b: b.update(credentials="SERVICE-1:token"), "credentials"),
    (lambda b: b.update(store_id="acme shop"), "store_id"),
    (lambda b: b.update(store_id="acme\n"), "store_id"),
    (lambda b: b.update(store_id="x" * 65), "store_id"),
    (lambda b: b.pop("store_id"), "store_id"),
    (lambda b: b.update(provider="workday"), "provider"),
    (lambda b: b.update(colour="blue"), "colour"),
    (lambda b: b["credentials"].update(password="x"), "credentials.password"),
    (lambda b: b.update(settings={"sync_birthday": True}), "settings.sync_birthday"),
    (lambda b: b.update(settings={"sync_birthdays": "yes"}), "settings.sync_birthdays"),
    (lambda b: b.update(settings={"include_future_joiners": 1}), "settings.include_future_joiners"),
    (lambda b: b.update(settings={"removal_guard_percent": 101}), "settings.removal_guard_percent"),
    (lambda b: b.update(settings={"removal_guard_percent": 20.5}), "settings.removal_guard_percent"),
    (lambda b: b.update(settings={"removal_guard_percent": True}), "settings.removal_guard_percent"),
    (lambda b: b.update(settings={"removal_guard_min": -1}), "settings.removal_guard_min"),
    (lambda b: b.update(settings={"removal_guard_min": "10"}), "settings.removal_guard_min"),
    (lambda b: b.update(settings={"timezone": "Mars/Olympus"}), "settings.timezone"),
    (lambda b: b.update(settings={"timezone": "America"}), "settings.timezone"),
    (lambda b: b.update(settings={"timezone": None}), "settings.timezone"),
    (lambda b: b.update(settings=[]), "settings"),
])
def test_invalid_connect_bodies_are_400_naming_the_field_and_create_nothing(client, store_auth, ctx, change, field):
    payload = new_body()
    change(payload)
    error = error_of(client.post(f"{API}/integrations", json=payload, headers=store_auth), 400, "validation_failed")
    assert field in error["fields"], error
    assert field in error["message"]
    with ctx.db.begin() as conn:
        assert integrations_db.count_by_state(conn) == {}
    assert ctx.queues.depth()["sync"] == 0


@pytest.mark.parametrize("payload", [[], "hello", 42, None, [new_body()]])
def test_a_body_that_is_not_an_object_is_400(client, store_auth, payload):
    response = client.post(f"{API}/integrations", data=json.dumps(payload), content_type="application/json",
                           headers=store_auth)
    assert error_of(response, 400, "validation_failed")["message"] == "the body must be a JSON object"


def test_connect_without_a_body_is_400(client, store_auth):
    error = error_of(client.post(f"{API}/integrations", headers=store_auth), 400, "validation_failed")
    assert "body" in error["message"]


def test_a_second_live_integration_for_the_store_is_409_naming_the_first(client, store_auth):
    first = connect(client, store_auth)
    response = client.post(f"{API}/integrations", json=new_body(), headers=store_auth)
    error = error_of(response, 409, "conflict")
    assert error["integration_id"] == first["id"] and response.json["integration_id"] == first["id"]

    assert client.delete(f"{API}/integrations/{first['id']}", headers=store_auth).status_code == 204
    second = connect(client, store_auth)
    assert second["id"] != first["id"]


def test_after_the_worker_tried_the_initial_sync_the_answer_keeps_designs_shape(client, store_auth, run_jobs):
    iid = connect(client, store_auth)["id"]  # the test config points HiBob at a closed port
    run_jobs()
    got = client.get(f"{API}/integrations/{iid}", headers=store_auth).json
    conforms(s.IntegrationSchema, got)
    assert got["state"] == "needs_attention" and got["state_reason"]["code"]
    assert got["current_run"] is None and got["last_run"]["status"] == "failed"
    feed = client.get(f"{API}/stores/acme-shop/changes", headers=store_auth).json
    conforms(s.FeedPageSchema, feed)
    assert [c["changes"]["state"]["after"] for c in feed["items"]] == ["connecting", "needs_attention"]


# --- read --------------------------------------------------------------------------------------

def test_get_integration_and_the_stores_live_integration(client, store_auth):
    body = connect(client, store_auth, store_id="shop.one_2")
    assert client.get(f"{API}/integrations/{body['id']}", headers=store_auth).json == body
    assert client.get(f"{API}/integrations/{body['id'].upper()}", headers=store_auth).json == body
    assert client.get(f"{API}/stores/shop.one_2/integration", headers=store_auth).json == body


@pytest.mark.parametrize("path", [
    f"/integrations/{uuid.uuid4()}", "/integrations/not-a-uuid", "/integrations/1", "/stores/nobody/integration",
    "/stores/bad%20id/integration", f"/stores/{'x' * 65}/integration",
])
def test_unknown_or_malformed_ids_are_404(client, store_auth, path):
    error_of(client.get(API + path, headers=store_auth), 404, "not_found")


def test_a_disconnected_integration_is_still_readable_but_not_the_stores_live_one(client, store_auth):
    body = connect(client, store_auth)
    client.delete(f"{API}/integrations/{body['id']}", headers=store_auth)
    assert client.get(f"{API}/integrations/{body['id']}", headers=store_auth).json["state"] == "disconnected"
    error_of(client.get(f"{API}/stores/acme-shop/integration", headers=store_auth), 404, "not_found")


def test_integration_shows_its_runs_and_people(client, store_auth, ctx):
    body = connect(client, store_auth)
    iid = body["id"]
    with ctx.db.begin() as conn:
        runs_db.update(conn, body["current_run"]["id"], status="succeeded", started_at=clock.now(),
                       finished_at=clock.now(), counts={"added": 2})
    running = seed_run(ctx, iid, "acme-shop", status="running", phase="fetching")
    seed_run(ctx, iid, "acme-shop", status="queued", trigger="manual")
    seed_person(ctx, "acme-shop", iid, "1")
    seed_person(ctx, "acme-shop", iid, "2", status="upcoming")
    seed_person(ctx, "acme-shop", iid, "3", status="removed")
    seed_person(ctx, "acme-shop", str(uuid.uuid4()), "4")  # fed by another integration

    got = client.get(f"{API}/integrations/{iid}", headers=store_auth).json
    conforms(s.IntegrationSchema, got)
    assert got["current_run"]["id"] == running and got["current_run"]["phase"] == "fetching"
    assert got["last_run"]["id"] == body["current_run"]["id"]
    assert got["last_run"]["counts"] == {"added": 2, "updated": 0, "removed": 0, "restored": 0, "held": 0,
                                         "unchanged": 0}
    assert got["people"] == {"active": 1, "upcoming": 1, "removed": 1}


# --- change ------------------------------------------------------------------------------------

def _finish_queued_runs(ctx, integration_id: str) -> None:
    with ctx.db.begin() as conn:
        for run in runs_db.find(conn, integration_id, ["queued"]):
            runs_db.update(conn, run["id"], status="succeeded", finished_at=clock.now())


def test_patch_settings_answers_the_integration_and_queues_a_sync_when_people_change(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    _finish_queued_runs(ctx, iid)

    guard = client.patch(f"{API}/integrations/{iid}", json={"settings": {"removal_guard_min": 3}},
                         headers=store_auth)
    assert guard.status_code == 200 and guard.json["settings"]["removal_guard_min"] == 3
    assert guard.json["current_run"] is None  # the guard's threshold does not change who is in the store

    zone = client.patch(f"{API}/integrations/{iid}", json={"settings": {"timezone": "Asia/Tokyo"}},
                        headers=store_auth)
    assert zone.json["settings"] == {"sync_birthdays": True, "include_future_joiners": False,
                                     "removal_guard_percent": 20, "removal_guard_min": 3, "timezone": "Asia/Tokyo"}
    assert zone.json["current_run"]["status"] == "queued" and zone.json["current_run"]["trigger"] == "manual"
    conforms(s.IntegrationSchema, zone.json)


def test_patch_credentials_reconnects_and_replaces_ignored_field_warnings(client, store_auth, ctx):
    payload = new_body()
    payload["credentials"]["api_key"] = "legacy"
    iid = client.post(f"{API}/integrations", json=payload, headers=store_auth).json["id"]
    _finish_queued_runs(ctx, iid)
    with ctx.db.begin() as conn:
        integrations_db.update(conn, iid, state="needs_attention",
                               state_reason={"code": "auth_failed", "message": "401", "hibob_steps": []})

    response = client.patch(f"{API}/integrations/{iid}", headers=store_auth, json={
        "credentials": {"service_user_id": "SERVICE-2", "token": "new-token", "report_id": "9"}})
    body = response.json
    assert response.status_code == 200
    assert body["state"] == "connecting" and body["state_reason"] is None
    assert [w["field"] for w in body["warnings"]] == ["credentials.report_id"]
    assert body["current_run"]["status"] == "queued"
    row = integration_row(ctx, iid)
    assert ctx.box.open(row["credentials_enc"]) == {"service_user_id": "SERVICE-2", "token": "new-token"}
    assert row["credentials_version"] == 2


def test_patch_errors(client, store_auth):
    iid = connect(client, store_auth)["id"]
    url = f"{API}/integrations/{iid}"
    assert error_of(client.patch(url, json={"setting": {}}, headers=store_auth), 400,
                    "validation_failed")["fields"] == {"setting": ["Unknown field."]}
    assert "credentials.token" in error_of(client.patch(url, json={"credentials": {"service_user_id": "x"}},
                                                        headers=store_auth), 400, "validation_failed")["fields"]
    error_of(client.patch(url, headers=store_auth), 400, "validation_failed")
    assert client.patch(url, json={}, headers=store_auth).status_code == 200
    error_of(client.patch(f"{API}/integrations/{uuid.uuid4()}", json={}, headers=store_auth), 404, "not_found")
    client.delete(url, headers=store_auth)
    error_of(client.patch(url, json={"settings": {"sync_birthdays": False}}, headers=store_auth), 409, "conflict")


# --- sync --------------------------------------------------------------------------------------

def test_sync_returns_the_queued_run_and_queues_one_follow_up_while_one_runs(client, store_auth, ctx):
    body = connect(client, store_auth)
    iid, initial = body["id"], body["current_run"]["id"]
    first = client.post(f"{API}/integrations/{iid}/sync", headers=store_auth)
    assert first.status_code == 202 and first.json == {"run_id": initial}
    conforms(s.RunRefSchema, first.json)

    with ctx.db.begin() as conn:
        runs_db.update(conn, initial, status="running", started_at=clock.now())
    follow_up = client.post(f"{API}/integrations/{iid}/sync", headers=store_auth).json["run_id"]
    assert follow_up != initial
    assert client.post(f"{API}/integrations/{iid}/sync", headers=store_auth).json["run_id"] == follow_up
    run = client.get(f"{API}/integrations/{iid}/runs/{follow_up}", headers=store_auth).json
    assert run["trigger"] == "manual" and run["status"] == "queued"


def test_sync_errors(client, store_auth):
    iid = connect(client, store_auth)["id"]
    error_of(client.post(f"{API}/integrations/{uuid.uuid4()}/sync", headers=store_auth), 404, "not_found")
    error_of(client.post(f"{API}/integrations/{iid}/sync", data="now please", content_type="text/plain",
                         headers=store_auth), 415, "unsupported_media_type")
    client.delete(f"{API}/integrations/{iid}", headers=store_auth)
    error_of(client.post(f"{API}/integrations/{iid}/sync", headers=store_auth), 409, "conflict")


# --- webhook secret ----------------------------------------------------------------------------

def test_webhook_secret_is_stored_encrypted_and_shown_only_as_set(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    response = client.put(f"{API}/integrations/{iid}/webhook-secret", json={"secret": "whsec-abc-123"},
                          headers=store_auth)
    assert response.status_code == 204 and response.data == b""
    got = client.get(f"{API}/integrations/{iid}", headers=store_auth)
    assert got.json["webhook"]["secret_set"] is True
    assert b"whsec-abc-123" not in got.data
    assert ctx.box.open(integration_row(ctx, iid)["webhook_secret_enc"]) == "whsec-abc-123"


def test_webhook_secret_errors(client, store_auth):
    iid = connect(client, store_auth)["id"]
    url = f"{API}/integrations/{iid}/webhook-secret"
    for payload, field in (({}, "secret"), ({"secret": ""}, "secret"), ({"secret": 5}, "secret"),
                           ({"secret": "s", "old": "t"}, "old")):
        assert field in error_of(client.put(url, json=payload, headers=store_auth), 400,
                                 "validation_failed")["fields"]
    error_of(client.put(f"{API}/integrations/{uuid.uuid4()}/webhook-secret", json={"secret": "s"},
                        headers=store_auth), 404, "not_found")
    client.delete(f"{API}/integrations/{iid}", headers=store_auth)
    error_of(client.put(url, json={"secret": "s"}, headers=store_auth), 409, "conflict")


# --- held removals (nothing is ever held until the removal guard lands) -------------------------

def test_removals_are_404_while_nothing_is_held_and_decisions_are_batch_changed(client, store_auth):
    iid = connect(client, store_auth)["id"]
    error = error_of(client.get(f"{API}/integrations/{iid}/removals", headers=store_auth), 404, "not_found")
    assert "held" in error["message"]
    decision = {"batch_id": "b-1", "actor": {"id": "admin-7", "email": "admin@example.com"}}
    for verb in ("approve", "reject"):
        url = f"{API}/integrations/{iid}/removals/{verb}"
        error_of(client.post(url, json=decision, headers=store_auth), 409, "batch_changed")
        error_of(client.post(url, json={"batch_id": "b-1"}, headers=store_auth), 409, "batch_changed")
        assert "batch_id" in error_of(client.post(url, json={}, headers=store_auth), 400,
                                      "validation_failed")["fields"]
        assert "actor.email" in error_of(client.post(url, json={**decision, "actor": {"id": "a", "email": "nope"}},
                                                     headers=store_auth), 400, "validation_failed")["fields"]
        error_of(client.post(f"{API}/integrations/{uuid.uuid4()}/removals/{verb}", json=decision,
                             headers=store_auth), 404, "not_found")
    error_of(client.get(f"{API}/integrations/{uuid.uuid4()}/removals", headers=store_auth), 404, "not_found")


# --- disconnect --------------------------------------------------------------------------------

def test_disconnect_keeps_people_by_default_and_fails_queued_runs(client, store_auth, ctx):
    body = connect(client, store_auth)
    iid = body["id"]
    seed_person(ctx, "acme-shop", iid, "1")
    response = client.delete(f"{API}/integrations/{iid}", headers=store_auth)
    assert response.status_code == 204 and response.data == b""
    got = client.get(f"{API}/integrations/{iid}", headers=store_auth).json
    assert got["state"] == "disconnected" and got["current_run"] is None
    assert got["last_run"]["status"] == "failed" and got["last_run"]["error"]["code"] == "disconnected"
    assert got["people"]["active"] == 1
    assert client.delete(f"{API}/integrations/{iid}", headers=store_auth).status_code == 204  # idempotent


def test_disconnect_with_people_remove_marks_them_removed_in_the_feed(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    seed_person(ctx, "acme-shop", iid, "1")
    assert client.delete(f"{API}/integrations/{iid}?people=remove", headers=store_auth).status_code == 204
    people = client.get(f"{API}/stores/acme-shop/people?status=removed", headers=store_auth).json["items"]
    assert [(p["external_id"], p["removal_reason"]) for p in people] == [("1", "deleted")]
    feed = client.get(f"{API}/stores/acme-shop/changes", headers=store_auth).json["items"]
    assert [c["kind"] for c in feed][-1] == "person.removed"


def test_disconnect_with_people_purge_erases_them(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    seed_person(ctx, "acme-shop", iid, "1")
    assert client.delete(f"{API}/integrations/{iid}?people=purge", headers=store_auth).status_code == 204
    assert client.get(f"{API}/stores/acme-shop/people?status=all", headers=store_auth).json["items"] == []


def test_disconnect_errors(client, store_auth):
    iid = connect(client, store_auth)["id"]
    assert "people" in error_of(client.delete(f"{API}/integrations/{iid}?people=everyone", headers=store_auth),
                                400, "validation_failed")["fields"]
    assert client.get(f"{API}/integrations/{iid}", headers=store_auth).json["state"] == "connecting"
    error_of(client.delete(f"{API}/integrations/{uuid.uuid4()}", headers=store_auth), 404, "not_found")
