"""Lifecycle under the sandbox clock, and the HR changes the control API makes."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.server import RunningSandbox

FIELDS = ["root.id", "root.email", "work.startDate", "work.originalStartDate", "work.department",
          "personal.shortBirthDate", "internal.status", "internal.lifecycleStatus",
          "internal.terminationDate", "employee.lastDayOfWork"]


def read(hibob, person_id: str, **extra: Any) -> dict[str, Any]:
    answer = hibob.post(f"/people/{person_id}", json={"fields": FIELDS, **extra})
    assert answer.status_code == 200, answer.text
    return answer.json()


def state_of(hibob, person_id: str) -> tuple[str, str]:
    internal = read(hibob, person_id)["internal"]
    return internal["lifecycleStatus"], internal["status"]


def events_since(control, seq: int, person_id: str | None = None) -> list[dict[str, Any]]:
    events = [e["event"] for e in control.get("/events", params={"since": seq}).json()["events"]]
    return [e for e in events if person_id is None or e["data"]["employeeId"] == person_id]


def last_event_seq(control) -> int:
    events = control.get("/events").json()["events"]
    return events[-1]["seq"] if events else 0


def set_day(control, day: date) -> None:
    assert control.put("/clock", json={"now": f"{day.isoformat()}T00:00:01Z"}).ok


def active_ids(hibob) -> set[str]:
    return {e["id"] for e in hibob.search(["root.id"]).json()["employees"]}


def test_a_future_joiner_becomes_employed_on_the_start_date(sandbox: RunningSandbox, hibob,
                                                           control) -> None:
    joiner = sandbox.state.directory.cases["future_joiner"][0]
    start = date.fromisoformat(read(hibob, joiner)["work"]["startDate"])
    assert state_of(hibob, joiner) == ("hired", "Inactive")
    assert joiner not in active_ids(hibob)
    seq = last_event_seq(control)

    set_day(control, start - timedelta(days=1))
    assert state_of(hibob, joiner) == ("hired", "Inactive")
    set_day(control, start)
    assert state_of(hibob, joiner) == ("employed", "Active")
    assert joiner in active_ids(hibob)
    joined = events_since(control, seq, joiner)
    assert [(e["type"], e["triggeredBy"]) for e in joined] == [("employee.joined", "system")]


def test_garden_leave_then_termination(sandbox: RunningSandbox, hibob, control) -> None:
    today = date(2031, 3, 2)
    set_day(control, today)
    person = next(p.id for p in sandbox.state.directory.snapshot()
                  if p.lifecycle == "employed" and p.values["work.startDate"] < "2031")
    seq = last_event_seq(control)
    last_day, termination = today + timedelta(days=3), today + timedelta(days=10)
    answer = control.post(f"/people/{person}/terminate", json={
        "termination_date": termination.isoformat(), "last_day_of_work": last_day.isoformat()})
    assert answer.ok

    record = read(hibob, person)
    assert record["internal"]["terminationDate"] == termination.isoformat()
    assert record["employee"]["lastDayOfWork"] == last_day.isoformat()
    timeline = [(day, state_of_on(control, hibob, person, day)) for day in
                (today, last_day, last_day + timedelta(days=1), termination,
                 termination + timedelta(days=1))]
    assert [t[1] for t in timeline] == [
        ("employed", "Active"), ("garden leave", "Active"), ("garden leave", "Inactive"),
        ("garden leave", "Inactive"), ("terminated", "Inactive")]

    events = events_since(control, seq, person)
    # The lifecycle row is written first; the employee fields it changes follow (§4.2).
    assert [e["type"] for e in events] == ["table.entry.created", "employee.updated",
                                          "employee.left", "employee.inactivated"]
    assert events[0]["data"] == {"employeeId": person, "tableId": "lifecycle",
                                 "effectiveDate": (termination + timedelta(days=1)).isoformat()}
    changed = {f["fieldId"] for f in events[1]["data"]["fieldUpdates"]}
    assert {"internal.terminationDate", "employee.lastDayOfWork"} <= changed


def state_of_on(control, hibob, person: str, day: date) -> tuple[str, str]:
    set_day(control, day)
    return state_of(hibob, person)


def test_terminate_now_leaves_at_once(sandbox: RunningSandbox, hibob, control) -> None:
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.lifecycle == "employed")
    seq = last_event_seq(control)
    control.post(f"/people/{person}/terminate", json={})
    assert state_of(hibob, person) == ("terminated", "Inactive")
    assert person not in active_ids(hibob)
    types = [e["type"] for e in events_since(control, seq, person)]
    assert types[-2:] == ["employee.left", "employee.inactivated"]


def test_rehire_keeps_the_same_id(sandbox: RunningSandbox, hibob, control) -> None:
    leaver = sandbox.state.directory.cases["terminated"][0]
    before = read(hibob, leaver)
    today = date.fromisoformat(control.get("/clock").json()["today"])
    start = today + timedelta(days=5)

    answer = control.post(f"/people/{leaver}/rehire", json={"start_date": start.isoformat()})
    assert answer.status_code == 200
    after = read(hibob, leaver)
    assert after["id"] == leaver
    assert (after["internal"]["lifecycleStatus"], after["internal"]["status"]) == (
        "hired", "Inactive")
    assert after["work"]["startDate"] == start.isoformat()
    assert after["work"]["originalStartDate"] == before["work"]["originalStartDate"]
    assert after["internal"]["terminationDate"] is None
    seq = last_event_seq(control)
    set_day(control, start)
    assert state_of(hibob, leaver) == ("employed", "Active")
    assert [e["type"] for e in events_since(control, seq, leaver)] == ["employee.joined"]


def test_rehire_is_refused_before_the_termination_date_or_for_employees(
        sandbox: RunningSandbox, control) -> None:
    directory = sandbox.state.directory
    leaver = directory.people[directory.cases["terminated"][0]]
    too_early = leaver.values["internal.terminationDate"]
    assert control.post(f"/people/{leaver.id}/rehire",
                        json={"start_date": too_early}).status_code == 409
    employed = next(p.id for p in directory.snapshot() if p.lifecycle == "employed")
    assert control.post(f"/people/{employed}/rehire", json={}).status_code == 409


def test_delete_removes_the_person_everywhere(sandbox: RunningSandbox, hibob, control) -> None:
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    assert person in active_ids(hibob)
    assert control.delete(f"/people/{person}").status_code == 204
    assert person not in active_ids(hibob)
    assert hibob.post(f"/people/{person}", json={"fields": ["root.id"]}).status_code == 404
    assert events_since(control, 0, person)[-1]["type"] == "employee.deleted"


def test_field_changes_show_in_reads_and_searches(sandbox: RunningSandbox, hibob,
                                                 control) -> None:
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    hibob.search(FIELDS)  # warm the cache: the change must invalidate it
    control.patch(f"/people/{person}", json={"email": "new.address@example.com",
                                             "birthday": "02-29", "department": "Legal"})
    legal = sandbox.state.directory.department_id("Legal")

    found = next(e for e in hibob.search(FIELDS).json()["employees"] if e["id"] == person)
    assert found["email"] == "new.address@example.com"
    assert found["personal"]["shortBirthDate"] == "02-29"
    assert found["work"]["department"] == legal
    assert read(hibob, "new.address@example.com")["id"] == person
    updated = [e for e in events_since(control, 0, person) if e["type"] == "employee.updated"]
    assert {f["fieldId"] for f in updated[-1]["data"]["fieldUpdates"]} == {
        "root.email", "personal.birthDate", "work.department"}


def test_renaming_a_department_changes_labels_not_ids(sandbox: RunningSandbox, hibob,
                                                     control) -> None:
    legal = sandbox.state.directory.department_id("Legal")
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.status == "Active")
    control.patch(f"/people/{person}", json={"department": "Legal"})
    seq = last_event_seq(control)

    assert control.patch(f"/named-lists/department/{legal}", json={"name": "Legal & Compliance"}
                         ).ok
    assert read(hibob, person)["work"]["department"] == legal
    labels = read(hibob, person, humanReadable="REPLACE")
    assert labels["work"]["department"] == "Legal & Compliance"
    items = hibob.get("/company/named-lists/department").json()["items"]
    assert {"id": legal, "name": "Legal & Compliance"}.items() <= next(
        i for i in items if i["id"] == legal).items()
    assert events_since(control, seq) == []  # HiBob has no employee event for a list rename


def test_leave_and_return(sandbox: RunningSandbox, hibob, control) -> None:
    person = next(p.id for p in sandbox.state.directory.snapshot() if p.lifecycle == "employed")
    seq = last_event_seq(control)
    control.post(f"/people/{person}/leave", json={"type": "parental leave", "active": False})
    assert state_of(hibob, person) == ("parental leave", "Inactive")
    control.post(f"/people/{person}/return")
    assert state_of(hibob, person) == ("employed", "Active")
    types = [e["type"] for e in events_since(control, seq, person)
             if e["type"].startswith("employee.")]
    assert types == ["employee.temporaryLeave", "employee.inactivated", "employee.activated"]


def test_hire_today_and_in_the_future(sandbox: RunningSandbox, hibob, control) -> None:
    seq = last_event_seq(control)
    today = control.post("/people", json={"first_name": "Chinedu", "surname": "Okafor",
                                          "department": "Sales", "birthday": "1990-07-01"})
    assert today.status_code == 201
    person = today.json()["id"]
    assert state_of(hibob, person) == ("employed", "Active")
    assert [e["type"] for e in events_since(control, seq, person)] == [
        "employee.created", "table.entry.created", "employee.joined"]
    no_email = control.post("/people", json={"first_name": "Aoi", "surname": "Sato",
                                             "email": None, "start_date": "2099-01-01"}).json()
    assert read(hibob, no_email["id"])["email"] is None


def test_the_clock_file_moves_the_sandbox(sandbox: RunningSandbox, hibob, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    joiner = sandbox.state.directory.cases["future_joiner"][0]
    start = read(hibob, joiner)["work"]["startDate"]
    clock_file = tmp_path / "now.txt"
    clock_file.write_text(f"{start}T08:00:00Z")
    monkeypatch.setenv("PEOPLESYNC_CLOCK_FILE", str(clock_file))

    clock = requests.get(sandbox.control_url + "/clock", timeout=10).json()
    assert (clock["today"], clock["source"]) == (start, "file")
    assert state_of(hibob, joiner) == ("employed", "Active")
    clock_file.unlink()  # a missing file means the system clock again
    assert state_of(hibob, joiner) == ("hired", "Inactive")

