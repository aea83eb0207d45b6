"""Webhooks v2: the ping, signed event envelopes, retries on non-2xx, the delivery log."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

from sandbox.server import RunningSandbox

SECRET = "s3cr3t-from-bob-ui"
TRIGGERED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")  # no zone suffix


def bob_signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()


def register(control, receiver, **extra: Any) -> dict[str, Any]:
    answer = control.post("/webhooks", json={"url": receiver.url, "secret": SECRET, **extra})
    assert answer.status_code in (201, 422), answer.text
    return answer.json()


def deliveries_when(control, predicate, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The sandbox's delivery log once ``predicate`` holds (it logs just after each answer)."""
    deadline = time.monotonic() + timeout
    while True:
        log = [d for d in control.get("/webhooks/deliveries").json()["deliveries"]
               if d["type"] != "ping"]
        if predicate(log) or time.monotonic() > deadline:
            return log
        time.sleep(0.02)


def events_of(receiver) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in receiver.received if r["body"] != b"Ping test"
            and json.loads(r["body"]) != {"text": "Ping test"}]


def test_registration_pings_with_the_plain_text_body_first(control, receiver) -> None:
    hook = register(control, receiver)

    assert hook["established"] is True
    assert [r["body"] for r in receiver.received] == [b"Ping test"]
    assert [p["outcome"] for p in hook["ping"]] == ["delivered"]


def test_a_refused_ping_is_retried_as_json(control, receiver) -> None:
    receiver.answer_with(400)
    hook = register(control, receiver)

    assert hook["established"] is True
    assert [r["body"] for r in receiver.received] == [b"Ping test", b'{"text":"Ping test"}']
    assert receiver.received[1]["headers"]["Content-Type"] == "application/json"


def test_a_webhook_whose_pings_fail_is_not_established(control, receiver) -> None:
    receiver.answer_with(500, 500)
    answer = control.post("/webhooks", json={"url": receiver.url, "secret": SECRET})

    assert answer.status_code == 422
    assert control.get("/webhooks").json() == {"webhooks": []}


def test_events_are_signed_v2_envelopes(sandbox: RunningSandbox, control, receiver) -> None:
    register(control, receiver)
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.patch(f"/people/{person}", json={"email": "moved@example.com"})

    assert receiver.wait_for(lambda got: len(got) >= 2)
    delivery = receiver.received[1]
    body: bytes = delivery["body"]
    assert delivery["headers"]["Bob-Signature"] == bob_signature(body)
    assert hmac.compare_digest(delivery["headers"]["Bob-Signature"], bob_signature(body))
    event = json.loads(body)
    assert set(event) == {"companyId", "type", "triggeredBy", "triggeredAt", "version", "data"}
    assert isinstance(event["companyId"], int)
    assert event["type"] == "employee.updated" and event["version"] == "v2"
    assert isinstance(event["triggeredBy"], str) and event["triggeredBy"].isdigit()
    assert TRIGGERED_AT.match(event["triggeredAt"])
    assert event["data"] == {"employeeId": person, "fieldUpdates": [{"fieldId": "root.email"}]}


def test_field_updates_can_be_plain_ids(sandbox: RunningSandbox, control, receiver) -> None:
    # The element shape of fieldUpdates is unknown (reference §4.3): both shapes are available.
    control.patch("/config", json={"field_updates_shape": "strings"})
    register(control, receiver)
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.patch(f"/people/{person}", json={"birthday": "1991-12-24"})

    assert receiver.wait_for(lambda got: len(got) >= 2)
    assert events_of(receiver)[0]["data"]["fieldUpdates"] == ["personal.birthDate"]


def test_every_event_type_the_control_api_causes(sandbox: RunningSandbox, control,
                                                receiver) -> None:
    register(control, receiver)
    hired = control.post("/people", json={"first_name": "Wei", "surname": "Zhang",
                                          "start_date": "2020-01-06"}).json()["id"]
    control.patch(f"/people/{hired}", json={"department": "Data"})
    control.post(f"/people/{hired}/leave", json={})
    control.post(f"/people/{hired}/return")
    control.post(f"/people/{hired}/terminate", json={})
    control.delete(f"/people/{hired}")

    # Leave, return and termination all write today's lifecycle row: created, then updated.
    expected = ["employee.created", "table.entry.created", "employee.joined",
                "table.entry.created", "employee.updated",
                "table.entry.created", "employee.temporaryLeave", "employee.inactivated",
                "table.entry.updated", "employee.activated",
                "table.entry.updated", "employee.updated", "employee.left",
                "employee.inactivated", "employee.deleted"]
    assert receiver.wait_for(lambda got: len(got) >= 1 + len(expected))
    events = events_of(receiver)
    assert sorted(e["type"] for e in events) == sorted(expected)
    assert all(e["data"]["employeeId"] == hired for e in events)
    tables = [e["data"] for e in events if e["type"].startswith("table.entry.")]
    assert {t["tableId"] for t in tables} == {"work", "lifecycle"}
    assert all(re.match(r"^\d{4}-\d{2}-\d{2}$", t["effectiveDate"]) for t in tables)


def test_rewriting_a_row_sends_table_entry_updated(sandbox: RunningSandbox, control,
                                                    receiver) -> None:
    register(control, receiver, events=["table.entry.created", "table.entry.updated"])
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.patch(f"/people/{person}", json={"department": "Data"})
    control.patch(f"/people/{person}", json={"department": "Legal"})  # same day: same row

    assert receiver.wait_for(lambda got: len(got) >= 3)
    rows = events_of(receiver)
    assert [e["type"] for e in rows] == ["table.entry.created", "table.entry.updated"]
    assert rows[0]["data"] == rows[1]["data"]
    assert set(rows[0]["data"]) == {"employeeId", "tableId", "effectiveDate"}


def test_non_2xx_is_retried_with_backoff_and_logged(sandbox: RunningSandbox, control,
                                                    receiver) -> None:
    register(control, receiver, events=["employee.deleted"])  # one event: one retry sequence
    receiver.answer_with(503, 500)  # two failures, then the default 200
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.delete(f"/people/{person}")

    assert receiver.wait_for(lambda got: len(got) >= 4)
    attempts = receiver.received[1:]
    assert [r["status"] for r in attempts] == [503, 500, 200]
    assert len({r["body"] for r in attempts}) == 1  # the same bytes every time
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.04  # the test schedule: 0.05 s, 0.1 s
    assert attempts[2]["at"] - attempts[1]["at"] >= 0.09
    body = attempts[0]["body"]
    assert all(r["headers"]["Bob-Signature"] == bob_signature(body) for r in attempts)
    assert json.loads(body)["type"] == "employee.deleted"

    log = deliveries_when(control, lambda log: len(log) >= 3)
    assert [(d["attempt"], d["status"], d["outcome"]) for d in log] == [
        (1, 503, "retrying"), (2, 500, "retrying"), (3, 200, "delivered")]
    assert log[0]["body"] == body.decode() and log[0]["signature"] == bob_signature(body)


def test_retries_end_after_the_schedule(sandbox: RunningSandbox, control, receiver) -> None:
    register(control, receiver)
    receiver.default_status = 500
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.delete(f"/people/{person}")

    tries = deliveries_when(control, lambda log: len(log) >= 4)  # 1 try + 3 retries
    assert len(receiver.received) == 5  # the ping too
    assert [d["outcome"] for d in tries] == ["retrying", "retrying", "retrying", "failed"]


def test_lifecycle_events_from_the_clock_are_triggered_by_system(
        sandbox: RunningSandbox, control, receiver) -> None:
    register(control, receiver)
    joiner = sandbox.state.directory.people[sandbox.state.directory.cases["future_joiner"][0]]
    control.put("/clock", json={"now": joiner.values["work.startDate"] + "T00:00:00Z"})

    assert receiver.wait_for(lambda got: any(
        json.loads(r["body"]).get("data", {}).get("employeeId") == joiner.id
        for r in got[1:]))
    joined = [e for e in events_of(receiver) if e["data"]["employeeId"] == joiner.id]
    assert [(e["type"], e["triggeredBy"]) for e in joined] == [("employee.joined", "system")]
    assert joined[0]["triggeredAt"].startswith(joiner.values["work.startDate"])

