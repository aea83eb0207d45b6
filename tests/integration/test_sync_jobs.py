"""The sync service end to end: connect → initial sync → reconciliations, against the HiBob
sandbox over real HTTP, with the worker's real job code (in-process rq SimpleWorker)."""
from __future__ import annotations

import pytest

from shared import clock, service
from tests.integration.syncing import (active_ids, connect, expected_active, feed, integration, runs,
                                       store_people)


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def test_initial_sync_brings_in_exactly_the_people_hibob_shows(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    assert integration(ctx, integration_id)["state"] == "connecting"
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "active" and row["state_reason"] is None
    want = expected_active(hibob_sandbox, clock.today_in("UTC"))
    assert active_ids(ctx) == want
    (run,) = runs(ctx, integration_id)
    assert run["trigger"] == "initial" and run["status"] == "succeeded"
    assert run["counts"]["added"] == len(want) and run["fetched"] == 60
    entries = feed(ctx)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))  # no gaps
    added = [e for e in entries if e["kind"] == "person.added"]
    assert len(added) == len(want) and all(e["run_id"] == run["id"] for e in added)
    # identity is HiBob's root.id; birthdays are MM-DD only; departments are labels, not item ids
    people = store_people(ctx)
    assert set(people) == want
    birthdays = [p["birthday"] for p in people.values() if p["birthday"]]
    assert birthdays and all(len(b) == 5 and b[2] == "-" for b in birthdays)
    labels = {i["name"] for i in hibob_sandbox.state.directory.list_items("department", True)}
    assert {p["department"] for p in people.values() if p["department"]} <= labels


def test_second_sync_with_nothing_changed_changes_nothing(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    before = store_people(ctx)
    service.request_sync(ctx, integration_id)
    run_jobs()
    latest = runs(ctx, integration_id)[0]
    assert latest["status"] == "succeeded"
    assert latest["counts"] == {"added": 0, "updated": 0, "removed": 0, "restored": 0, "held": 0,
                                "unchanged": len(before)}
    assert store_people(ctx) == before


@pytest.mark.parametrize("who, reason", [
    ("no_group", "permission_missing"),
    ("sees_nobody", "no_people_visible"),
])
def test_setup_mistakes_give_an_actionable_reason(ctx, hibob_sandbox, run_jobs, who, reason):
    integration_id = connect(ctx, hibob_sandbox, credentials=hibob_sandbox.credentials_of(who))
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "needs_attention"
    assert row["state_reason"]["code"] == reason
    steps = " ".join(row["state_reason"]["hibob_steps"])
    assert "Permission groups" in steps and "Hired and Terminated" in steps
    assert store_people(ctx) == {}
    assert runs(ctx, integration_id)[0]["error"]["code"] == reason


def test_wrong_token_is_auth_failed_and_hibob_is_not_called_again(ctx, hibob_sandbox, run_jobs):
    user, _ = hibob_sandbox.credentials
    integration_id = connect(ctx, hibob_sandbox, credentials=(user, "wrong-token"))
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state_reason"]["code"] == "auth_failed"
    assert "Service users" in row["state_reason"]["hibob_steps"][0]
    assert row["next_run_at"] is None  # no further call until credentials change or an admin asks
    calls = len(hibob_sandbox.state.calls())
    from worker import periodic
    periodic.fan_out()
    run_jobs()
    assert len(hibob_sandbox.state.calls()) == calls
    # new credentials are re-validated and the integration recovers by itself
    user, token = hibob_sandbox.credentials
    service.update_integration(ctx, integration_id, {"service_user_id": user, "token": token}, None)
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"


def test_birthdays_not_visible_is_a_warning_on_a_working_integration(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox, credentials=hibob_sandbox.credentials_of("no_personal"))
    run_jobs()
    row = integration(ctx, integration_id)
    assert row["state"] == "active"
    assert [w["code"] for w in row["warnings"]] == ["birthdays_not_visible"]
    assert "Personal" in row["warnings"][0]["message"]
    assert all(p["birthday"] is None for p in store_people(ctx).values())


def test_future_joiners_follow_the_setting(ctx, hibob_sandbox, run_jobs):
    connect(ctx, hibob_sandbox, include_future_joiners=True)
    run_jobs()
    hired = {p.id for p in hibob_sandbox.state.directory.snapshot() if p.lifecycle == "hired"}
    assert hired
    upcoming = {k for k, p in store_people(ctx).items() if p["status"] == "upcoming"}
    assert upcoming == hired


def test_sync_now_returns_the_queued_run_and_queues_one_follow_up(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    first = service.request_sync(ctx, integration_id)
    assert service.request_sync(ctx, integration_id) == first  # queued: returned, not duplicated
    run_jobs()
    assert [r["status"] for r in runs(ctx, integration_id)] == ["succeeded", "succeeded"]


def test_disconnected_integration_refuses_sync(ctx, hibob_sandbox, run_jobs):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    service.disconnect(ctx, integration_id, None)
    with pytest.raises(service.ConflictError):
        service.request_sync(ctx, integration_id)
    assert active_ids(ctx)  # people stay unless asked otherwise
