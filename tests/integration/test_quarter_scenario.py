"""A company through a quarter of life, over real HTTP against the HiBob sandbox, with "now" moved
for every process by PEOPLESYNC_CLOCK_FILE: joiners, leavers, a future joiner's start date, garden
leave ending, a rehire, an email change, a birthday change, the birthday permission taken away and
the department list renamed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock, service
from tests.integration.syncing import clock_file, connect, feed, integration, runs, store_people
from worker import periodic


@pytest.fixture
def quarter_clock(tmp_path, monkeypatch):
    """A clock file both peoplesync and the sandbox read; returns a function that sets the day."""
    move = clock_file(tmp_path, monkeypatch)
    start = move(timedelta(0))

    class Days:
        def iso(self, offset: int) -> str:
            return (start + timedelta(days=offset)).date().isoformat()

        def go(self, offset: int) -> str:
            return move(timedelta(days=offset)).date().isoformat()

    return Days()


@pytest.fixture
def hibob_api_url(hibob_sandbox, quarter_clock):
    return hibob_sandbox.base_url


def sync(ctx, integration_id, run_jobs):
    run_id = service.request_sync(ctx, integration_id)
    run_jobs()
    run = next(r for r in runs(ctx, integration_id) if r["id"] == run_id)
    assert run["status"] == "succeeded", run["error"]
    return run


def calls(sandbox) -> int:
    return len(sandbox.state.calls())


def test_a_quarter_of_company_life(ctx, hibob_sandbox, run_jobs, quarter_clock):
    directory = hibob_sandbox.state.directory
    days = quarter_clock
    integration_id = connect(ctx, hibob_sandbox, include_future_joiners=True)
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
    people = store_people(ctx)

    # Day 0: a joiner today, a future joiner, a garden leave, an immediate leaver.
    ada = directory.hire("Ada", "Lovelace", start_date=days.iso(0), department="Engineering", birth_date="1990-12-10")
    bo = directory.hire("Bo", "Yang", start_date=days.iso(10))
    cy_id = next(k for k, p in people.items() if p["status"] == "active" and not p["leave_date"])
    directory.terminate(cy_id, last_day_of_work=days.iso(5), termination_date=days.iso(20))
    di_id = next(k for k, p in people.items() if p["status"] == "active" and not p["leave_date"] and k != cy_id)
    directory.terminate(di_id)
    run = sync(ctx, integration_id, run_jobs)
    people = store_people(ctx)
    assert people[ada.id]["status"] == "active" and people[ada.id]["birthday"] == "12-10"
    assert people[bo.id]["status"] == "upcoming"
    assert people[cy_id]["status"] == "active"  # garden leave: active through the last day of work
    assert people[di_id]["status"] == "removed" and people[di_id]["removal_reason"] == "terminated"
    assert run["counts"]["added"] == 2 and run["counts"]["removed"] == 1

    # Day 6: the garden leave has ended; the effective-date pass removes Cy without calling HiBob.
    days.go(6)
    before = calls(hibob_sandbox)
    assert periodic.effective_dates() >= 1
    assert calls(hibob_sandbox) == before
    assert store_people(ctx)[cy_id]["status"] == "removed"
    assert "effective_date" in {r["trigger"] for r in runs(ctx, integration_id)}

    # Day 10: Bo's start date has come: active, again with no HiBob call.
    days.go(10)
    before = calls(hibob_sandbox)
    assert periodic.effective_dates() >= 1
    assert calls(hibob_sandbox) == before
    assert store_people(ctx)[bo.id]["status"] == "active"
    # ...and a full sync agrees with the pass (nothing to change for Cy or Bo).
    hibob_sandbox.state.tick()
    run = sync(ctx, integration_id, run_jobs)
    assert run["counts"]["removed"] == 0 and run["counts"]["added"] == 0

    # Day 30: Di is rehired on the same HiBob profile: the same store person comes back.
    days.go(30)
    hibob_sandbox.state.tick()
    di_person_id = store_people(ctx)[di_id]["id"]
    directory.rehire(di_id, start_date=days.iso(30))
    run = sync(ctx, integration_id, run_jobs)
    assert run["counts"]["restored"] == 1
    di = store_people(ctx)[di_id]
    assert di["status"] == "active" and di["id"] == di_person_id
    restored = [e for e in feed(ctx) if e["kind"] == "person.restored"]
    assert [e["person_id"] for e in restored] == [di_person_id]

    # Day 45: an email change and a birthday change are updates to the same person.
    days.go(45)
    directory.update(ada.id, email="ada.byron@example.com", birthday="1990-11-27")
    run = sync(ctx, integration_id, run_jobs)
    assert run["counts"]["updated"] == 1
    update = [e for e in feed(ctx) if e["kind"] == "person.updated"][-1]
    assert update["changes"]["email"] == {"before": "ada.lovelace@" + directory.domain,
                                          "after": "ada.byron@example.com"}
    assert update["changes"]["birthday"] == {"before": "12-10", "after": "11-27"}

    # Day 60: the birthday permission is taken away: birthdays are kept, with a warning.
    days.go(60)
    birthdays = {k: p["birthday"] for k, p in store_people(ctx).items()}
    user_id = hibob_sandbox.credentials[0]
    hibob_sandbox.state.update_service_user(user_id, categories=["root", "work", "lifecycle"])
    run = sync(ctx, integration_id, run_jobs)
    assert {k: p["birthday"] for k, p in store_people(ctx).items()} == birthdays
    assert run["counts"]["updated"] == 0
    codes = {(w["code"], w.get("field")) for w in integration(ctx, integration_id)["warnings"]}
    assert ("field_hidden", "birthday") in codes
    hibob_sandbox.state.update_service_user(user_id, categories=["root", "work", "personal", "lifecycle"])

    # Day 75: the department list is renamed in HiBob: every member's label follows.
    days.go(75)
    engineering = next(i for i in directory.list_items("department") if i["name"] == "Engineering")
    members = {k for k, p in store_people(ctx).items() if p["department"] == "Engineering"}
    directory.rename_list_item("department", engineering["id"], "R&D")
    run = sync(ctx, integration_id, run_jobs)
    renamed = {k for k, p in store_people(ctx).items() if p["department"] == "R&D"}
    assert members and renamed == members
    assert run["counts"]["updated"] == len(members)
    assert integration(ctx, integration_id)["warnings"] == []  # the birthday warning has cleared

    # Day 90: everything applied twice changes nothing, and the feed has no gaps.
    days.go(90)
    hibob_sandbox.state.tick()
    sync(ctx, integration_id, run_jobs)  # whatever the company's own dates did meanwhile
    before = store_people(ctx)
    run = sync(ctx, integration_id, run_jobs)
    assert run["counts"]["added"] == run["counts"]["updated"] == run["counts"]["removed"] == 0
    assert store_people(ctx) == before
    seqs = [e["seq"] for e in feed(ctx)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert clock.today_in("UTC").isoformat() == days.iso(90)
