"""The removal guard end to end (docs/removal-guard.md), against the HiBob sandbox with the
worker's real job code: what is held, what still applies, what the store backend sees, and what
an approval or a rejection does. Also the two other protections against a bad HiBob read: the
field_hidden rule and malformed data."""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from shared import clock, service
from shared import schemas as s
from shared.hibob.model import EMPLOYEE_FIELDS
from shared.reconcile import PROFILE_FIELDS, TRACKED_FIELDS
from tests.integration.syncing import clock_file, connect, feed, integration, runs, store_people
from tests.integration.test_api import API, conforms, error_of
from tests.integration.test_webhooks import SECRET, drain, event, post
from worker import periodic

ACTOR = {"id": "admin-7", "email": "admin@example.com"}
# A fixed threshold of 5 whatever the company's size: max(5, floor(1 % of ~50)).
GUARD = {"removal_guard_min": 5, "removal_guard_percent": 1}


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


@pytest.fixture
def guarded(ctx, hibob_sandbox, run_jobs):
    """A synced integration whose removal guard allows 5 removals per 24 hours."""
    integration_id = connect(ctx, hibob_sandbox, **GUARD)
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
    return integration_id


def sync(ctx, integration_id, run_jobs) -> dict:
    run_id = service.request_sync(ctx, integration_id)
    run_jobs()
    return next(r for r in runs(ctx, integration_id) if r["id"] == run_id)


def active(ctx) -> list[str]:
    return sorted(k for k, p in store_people(ctx).items() if p["status"] == "active")


def hide(sandbox, hidden) -> None:
    """Narrow the service user's permission group so that HiBob stops showing ``hidden``."""
    everyone = {p.id for p in sandbox.state.directory.snapshot()}
    sandbox.state.update_service_user(sandbox.credentials[0], employee_ids=sorted(everyone - set(hidden)))


def show_all(sandbox) -> None:
    sandbox.state.update_service_user(sandbox.credentials[0], employee_ids=None)


def tamper_search(sandbox, monkeypatch, edit) -> None:
    """Make the sandbox's people search answer go through ``edit(employees)`` (a list of dicts)."""
    state = sandbox.state
    original = state.search

    def search(*args, **kwargs):
        body = json.loads(original(*args, **kwargs))
        edit(body["employees"])
        return json.dumps(body).encode()

    monkeypatch.setattr(state, "search", search)


def hold(ctx, sandbox, run_jobs, integration_id, count: int = 8) -> list[str]:
    """Hide ``count`` active people in HiBob and sync: more than the guard allows, so all are held."""
    hidden = active(ctx)[:count]
    hide(sandbox, hidden)
    run = sync(ctx, integration_id, run_jobs)
    assert run["status"] == "succeeded" and run["counts"]["held"] == count
    return hidden


def read_batch(client, store_auth, integration_id) -> dict:
    response = client.get(f"{API}/integrations/{integration_id}/removals", headers=store_auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    conforms(s.HeldRemovalsSchema, response.json)
    return response.json


def decide(client, store_auth, integration_id, verb: str, batch_id: str, actor: dict | None = ACTOR):
    body = {"batch_id": batch_id, **({"actor": actor} if actor else {})}
    return client.post(f"{API}/integrations/{integration_id}/removals/{verb}", json=body, headers=store_auth)


# --- holding -----------------------------------------------------------------------------------

def test_a_sync_past_the_threshold_holds_every_removal_and_still_applies_adds_and_updates(
        ctx, client, store_auth, hibob_sandbox, run_jobs, guarded):
    directory = hibob_sandbox.state.directory
    before = active(ctx)
    hidden = before[:8]
    changed = before[10]
    directory.update(changed, email="moved@example.com")
    joiner = directory.hire("Nia", "Okafor", start_date=clock.today_in("UTC").isoformat())
    hide(hibob_sandbox, hidden)

    run = sync(ctx, guarded, run_jobs)

    assert run["status"] == "succeeded"
    assert run["counts"]["held"] == 8 and run["counts"]["removed"] == 0
    assert run["counts"]["added"] == 1 and run["counts"]["updated"] >= 1
    people = store_people(ctx)
    assert all(people[p]["status"] == "active" for p in hidden)  # nobody removed
    assert people[joiner.id]["status"] == "active" and people[changed]["email"] == "moved@example.com"
    body = client.get(f"{API}/integrations/{guarded}", headers=store_auth).json
    assert body["state"] == "held" and body["state_reason"] is None and body["held_removals"] == 8
    batch = read_batch(client, store_auth, guarded)
    assert batch["threshold"] == 5 and batch["batch_id"]
    assert sorted(p["external_id"] for p in batch["people"]) == sorted(hidden)
    assert {(p["status"], p["removal_reason"]) for p in batch["people"]} == {("active", "not_visible")}
    kinds = [(e["kind"], e["changes"]) for e in feed(ctx) if e["run_id"] == run["id"]]
    assert ("removals.held", {"held": {"before": 0, "after": 8},
                              "batch_id": {"before": None, "after": batch["batch_id"]}}) in kinds
    assert ("integration.state_changed", {"state": {"before": "active", "after": "held"}}) in kinds
    assert not [k for k, _ in kinds if k == "person.removed"]


def test_while_held_every_later_removal_joins_the_batch_and_a_stale_batch_is_409(
        ctx, client, store_auth, hibob_sandbox, run_jobs, guarded):
    hidden = hold(ctx, hibob_sandbox, run_jobs, guarded)
    first = read_batch(client, store_auth, guarded)
    # One more leaver: alone it is far below the threshold, but while held it is held too.
    one_more = [p for p in active(ctx) if p not in hidden][0]
    hide(hibob_sandbox, hidden + [one_more])
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["held"] == 9 and run["counts"]["removed"] == 0
    second = read_batch(client, store_auth, guarded)
    assert second["batch_id"] != first["batch_id"] and len(second["people"]) == 9
    assert second["held_since"] == first["held_since"]
    # A sync that changes nothing keeps the batch (and its id).
    sync(ctx, guarded, run_jobs)
    assert read_batch(client, store_auth, guarded)["batch_id"] == second["batch_id"]

    for verb in ("approve", "reject"):
        error = error_of(decide(client, store_auth, guarded, verb, first["batch_id"]), 409, "batch_changed")
        assert "changed" in error["message"]
    assert all(store_people(ctx)[p]["status"] == "active" for p in hidden + [one_more])
    assert integration(ctx, guarded)["state"] == "held"

    answer = decide(client, store_auth, guarded, "approve", second["batch_id"])
    assert answer.status_code == 200
    conforms(s.RunRefSchema, answer.json)
    assert all(store_people(ctx)[p]["status"] == "removed" for p in hidden + [one_more])
    # The batch is gone: deciding it again is a conflict, reading it a 404.
    error_of(decide(client, store_auth, guarded, "reject", second["batch_id"]), 409, "batch_changed")
    error_of(client.get(f"{API}/integrations/{guarded}/removals", headers=store_auth), 404, "not_found")


# --- deciding ----------------------------------------------------------------------------------

def test_approving_removes_the_batch_in_an_approval_run_with_the_actor_in_the_feed(
        ctx, client, store_auth, hibob_sandbox, run_jobs, guarded):
    hidden = hold(ctx, hibob_sandbox, run_jobs, guarded)
    batch = read_batch(client, store_auth, guarded)

    answer = decide(client, store_auth, guarded, "approve", batch["batch_id"])

    assert answer.status_code == 200
    run_id = answer.json["run_id"]
    people = store_people(ctx)
    assert {(people[p]["status"], people[p]["removal_reason"]) for p in hidden} == {("removed", "not_visible")}
    run = next(r for r in runs(ctx, guarded) if r["id"] == run_id)
    assert run["trigger"] == "approval" and run["status"] == "succeeded" and run["actor"] == ACTOR
    assert run["counts"]["removed"] == 8 and run["counts"]["held"] == 0
    body = client.get(f"{API}/integrations/{guarded}", headers=store_auth).json
    assert body["state"] == "active" and body["held_removals"] == 0
    # The change log: each removal with the run, its cause and the actor ...
    entries = [e for e in feed(ctx) if e["run_id"] == run_id]
    removed = [e for e in entries if e["kind"] == "person.removed"]
    assert sorted(e["external_id"] for e in removed) == sorted(hidden)
    assert all(e["actor"] == ACTOR and e["cause"] == "approval" for e in entries)
    # ... and the store's feed says who decided.
    items = client.get(f"{API}/stores/store-1/changes?limit=1000", headers=store_auth).json["items"]
    (decision,) = [i for i in items if i["run_id"] == run_id and i["kind"] == "integration.state_changed"]
    assert decision["changes"]["state"] == {"before": "held", "after": "active"}
    assert decision["changes"]["decision"]["after"] == "approved"
    assert decision["changes"]["decided_by"]["after"] == ACTOR
    assert decision["changes"]["batch_id"]["before"] == batch["batch_id"]

    # Approved removals do not count again: the next ordinary leaver is removed, not held.
    leaver = active(ctx)[0]
    hide(hibob_sandbox, hidden + [leaver])
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["removed"] == 1 and run["counts"]["held"] == 0
    assert integration(ctx, guarded)["state"] == "active"


def test_rejected_people_stay_and_are_proposed_again_only_once_hibob_shows_and_drops_them_anew(
        ctx, client, store_auth, hibob_sandbox, run_jobs, guarded):
    hidden = hold(ctx, hibob_sandbox, run_jobs, guarded)
    batch = service.held_removals(ctx, guarded)
    assert batch is not None and len(batch["people"]) == 8

    run_id = service.decide_removals(ctx, guarded, batch["batch_id"], False, ACTOR)

    people = store_people(ctx)
    assert all(people[p]["status"] == "active" and people[p]["removal_rejected"] for p in hidden)
    assert integration(ctx, guarded)["state"] == "active"
    assert service.held_removals(ctx, guarded) is None
    run = next(r for r in runs(ctx, guarded) if r["id"] == run_id)
    assert run["trigger"] == "approval" and run["status"] == "succeeded" and run["actor"] == ACTOR
    assert run["counts"]["removed"] == 0
    (entry,) = [e for e in feed(ctx) if e["run_id"] == run_id]
    assert entry["kind"] == "integration.state_changed" and entry["actor"] == ACTOR
    assert entry["changes"]["decision"]["after"] == "rejected"
    assert sorted(entry["changes"]["rejected"]["after"]) == sorted(hidden)

    # Still not in HiBob: not proposed again, nothing held.
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["removed"] == 0 and run["counts"]["held"] == 0
    assert integration(ctx, guarded)["state"] == "active"
    assert all(store_people(ctx)[p]["status"] == "active" for p in hidden)

    # HiBob shows them again: the flag is cleared, and the store's feed says nothing about them.
    show_all(hibob_sandbox)
    seq = feed(ctx)[-1]["seq"]
    sync(ctx, guarded, run_jobs)
    assert not any(store_people(ctx)[p]["removal_rejected"] for p in hidden)
    assert not [e for e in feed(ctx) if e["seq"] > seq and e["external_id"] in hidden]

    # ... and then drops them anew: a new removal, which goes through the guard again.
    hide(hibob_sandbox, hidden)
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["held"] == 8
    again = service.held_removals(ctx, guarded)
    assert again["batch_id"] != batch["batch_id"]
    assert sorted(p["external_id"] for p in again["people"]) == sorted(hidden)


def test_a_held_person_who_reappears_in_hibob_leaves_the_batch(ctx, client, store_auth, hibob_sandbox,
                                                                run_jobs, guarded):
    hidden = hold(ctx, hibob_sandbox, run_jobs, guarded)
    first = read_batch(client, store_auth, guarded)
    back, still_gone = hidden[:3], hidden[3:]
    hide(hibob_sandbox, still_gone)
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["held"] == 5
    second = read_batch(client, store_auth, guarded)
    assert second["batch_id"] != first["batch_id"]
    assert sorted(p["external_id"] for p in second["people"]) == sorted(still_gone)
    assert integration(ctx, guarded)["state"] == "held"
    assert any(e["kind"] == "removals.held" and e["changes"]["held"] == {"before": 8, "after": 5}
               for e in feed(ctx) if e["run_id"] == run["id"])

    # Everyone back: nothing is held any more and the integration is active again.
    show_all(hibob_sandbox)
    run = sync(ctx, guarded, run_jobs)
    assert run["counts"]["held"] == 0 and run["counts"]["removed"] == 0
    assert integration(ctx, guarded)["state"] == "active"
    error_of(client.get(f"{API}/integrations/{guarded}/removals", headers=store_auth), 404, "not_found")
    assert client.get(f"{API}/integrations/{guarded}", headers=store_auth).json["held_removals"] == 0
    assert all(store_people(ctx)[p]["status"] == "active" for p in hidden)
    error_of(decide(client, store_auth, guarded, "approve", second["batch_id"]), 409, "batch_changed")


# --- every cause counts in one window ----------------------------------------------------------

@pytest.fixture
def day_clock(tmp_path, monkeypatch):
    """A clock file peoplesync and the sandbox both read; ``go(hours)`` moves it from 09:00 today."""
    move = clock_file(tmp_path, monkeypatch)
    return lambda hours: move(timedelta(hours=hours))


@pytest.mark.parametrize("hours_later, held", [(15.5, True), (24.5, False)])
def test_webhook_and_effective_date_removals_count_in_one_rolling_24_hours(
        ctx, client, hibob_sandbox, run_jobs, day_clock, hours_later, held):
    directory = hibob_sandbox.state.directory
    integration_id = connect(ctx, hibob_sandbox, **GUARD)
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    today = clock.today_in("UTC").isoformat()
    candidates = [p for p, v in store_people(ctx).items() if v["status"] == "active" and not v["leave_date"]]
    by_webhook, by_date = candidates[:3], candidates[3:6]
    # Three leave today by webhook (removed: 3 of the 5 allowed) ...
    for person_id in by_webhook:
        directory.terminate(person_id)
        post(client, integration_id, event("employee.left", person_id))
    # ... and three announce that today is their last day (they stay active until tomorrow).
    for person_id in by_date:
        directory.terminate(person_id, termination_date=today)
        post(client, integration_id, event("employee.updated", person_id))
    drain(ctx, run_jobs)
    people = store_people(ctx)
    assert all(people[p]["status"] == "removed" for p in by_webhook)
    assert all(people[p]["status"] == "active" and people[p]["leave_date"] for p in by_date)

    later = day_clock(hours_later).date().isoformat()
    # The company may hold other leavers whose day arrives too: they count the same way.
    due = {p for p, v in people.items() if v["status"] == "active" and v["leave_date"] and v["leave_date"] <= later}
    assert set(by_date) <= due and len(due) <= 5
    periodic.effective_dates()

    run = runs(ctx, integration_id)[0]
    assert run["trigger"] == "effective_date"
    people = store_people(ctx)
    if held:  # 3 + 3 or more > 5 within 24 hours: the effective-date removals are held
        assert run["counts"]["held"] == len(due) and run["counts"]["removed"] == 0
        assert all(people[p]["status"] == "active" for p in due)
        assert integration(ctx, integration_id)["state"] == "held"
        batch = service.held_removals(ctx, integration_id)
        assert {(p["external_id"], p["removal_reason"]) for p in batch["people"]} == \
            {(p, "terminated") for p in due}
        # The next pass has nothing new to say about them: no run, the batch unchanged.
        assert periodic.effective_dates() == 0
        assert runs(ctx, integration_id)[0]["id"] == run["id"]
        assert service.held_removals(ctx, integration_id)["batch_id"] == batch["batch_id"]
    else:  # the webhook removals have left the window
        assert run["counts"]["removed"] == len(due) and run["counts"]["held"] == 0
        assert all(people[p]["status"] == "removed" for p in due)
        assert integration(ctx, integration_id)["state"] == "active"


def test_a_burst_of_leaver_webhooks_trips_the_guard_like_a_sync(ctx, client, hibob_sandbox, run_jobs, guarded):
    service.set_webhook_secret(ctx, guarded, SECRET)
    leavers = active(ctx)[:9]
    for person_id in leavers:
        hibob_sandbox.state.directory.terminate(person_id)
        post(client, guarded, event("employee.left", person_id))
    drain(ctx, run_jobs)
    people = store_people(ctx)
    removed = [p for p in leavers if people[p]["status"] == "removed"]
    batch = service.held_removals(ctx, guarded)
    assert len(removed) <= 5 and batch is not None
    assert sorted(removed + [p["external_id"] for p in batch["people"]]) == sorted(leavers)
    assert integration(ctx, guarded)["state"] == "held"


# --- field_hidden and malformed data -----------------------------------------------------------

def _strip(employee: dict, field: str) -> None:
    """Remove one of our fields from a HiBob employee object, both encodings (as HiBob hides it)."""
    field_id, json_path = EMPLOYEE_FIELDS["department_id" if field == "department" else field]
    employee.pop("/" + field_id.replace(".", "/"), None)
    *parents, leaf = json_path.split(".")
    node = employee
    for name in parents:
        node = node.get(name) or {}
    node.pop(leaf, None)


@pytest.mark.parametrize("field", TRACKED_FIELDS)
def test_a_field_hibob_stops_returning_for_most_people_keeps_its_values_with_a_warning(
        ctx, hibob_sandbox, run_jobs, monkeypatch, guarded, field):
    before = store_people(ctx)

    def hide_field(employees):
        for employee in employees[1:]:  # everyone but one: "most people"
            _strip(employee, field)

    # A hidden lifecycle input is not stored as such: people are judged by the lifecycle fields
    # still visible (docs/sync-rules.md §3), which can move a garden leaver's leave date (to the
    # day after the termination date, never earlier) but removes nobody.
    def kept(people):
        return people if field in PROFILE_FIELDS else {
            k: {f: v for f, v in p.items() if f != "leave_date"} for k, p in people.items()}

    tamper_search(hibob_sandbox, monkeypatch, hide_field)
    for _ in range(2):  # and the warning stays on the next sync
        run = sync(ctx, guarded, run_jobs)
        assert run["status"] == "succeeded"
        assert run["counts"]["removed"] == run["counts"]["held"] == 0
        assert kept(store_people(ctx)) == kept(before)
        row = integration(ctx, guarded)
        assert row["state"] == "active"
        assert {"code": "field_hidden", "field": field} in [
            {"code": w["code"], "field": w.get("field")} for w in row["warnings"]]


def test_a_permission_taken_away_hides_work_fields_without_a_wipe(ctx, hibob_sandbox, run_jobs, guarded):
    before = store_people(ctx)
    assert any(p["department"] for p in before.values())
    hibob_sandbox.state.update_service_user(hibob_sandbox.credentials[0],
                                            categories=["root", "personal", "lifecycle"])
    run = sync(ctx, guarded, run_jobs)
    assert run["status"] == "succeeded" and run["counts"]["updated"] == 0
    assert store_people(ctx) == before
    warned = {w.get("field") for w in integration(ctx, guarded)["warnings"] if w["code"] == "field_hidden"}
    assert {"department", "site", "start_date"} <= warned


def _missing_id(employees):
    employees[1].pop("id")
    employees[1].pop("/root/id")


def _duplicate_id(employees):
    employees.append(copy.deepcopy(employees[0]))


def _wrong_type(employees):
    employees[2]["email"] = 12345
    employees[2]["/root/email"] = {"value": 12345}


@pytest.mark.parametrize("defect", [_missing_id, _duplicate_id, _wrong_type])
def test_malformed_hibob_data_fails_the_run_as_invalid_data_and_removes_nobody(
        ctx, hibob_sandbox, run_jobs, monkeypatch, guarded, defect):
    before = store_people(ctx)

    def broken(employees):
        del employees[10:]  # were this answer trusted, most people would be removed
        defect(employees)

    tamper_search(hibob_sandbox, monkeypatch, broken)
    run = sync(ctx, guarded, run_jobs)
    assert run["status"] == "failed" and run["error"]["code"] == "invalid_data"
    row = integration(ctx, guarded)
    assert row["state"] == "needs_attention" and row["state_reason"]["code"] == "invalid_data"
    assert store_people(ctx) == before
    assert service.held_removals(ctx, guarded) is None

    monkeypatch.undo()
    assert sync(ctx, guarded, run_jobs)["status"] == "succeeded"
    assert integration(ctx, guarded)["state"] == "active"
    assert store_people(ctx) == before


def test_a_failed_run_while_held_keeps_the_batch(ctx, hibob_sandbox, run_jobs, monkeypatch, guarded):
    hidden = hold(ctx, hibob_sandbox, run_jobs, guarded)
    batch = service.held_removals(ctx, guarded)
    tamper_search(hibob_sandbox, monkeypatch, _duplicate_id)
    assert sync(ctx, guarded, run_jobs)["status"] == "failed"
    assert integration(ctx, guarded)["state"] == "needs_attention"
    assert service.held_removals(ctx, guarded)["batch_id"] == batch["batch_id"]  # still decidable
    monkeypatch.undo()
    # HiBob answers properly again (same people still hidden): held again, same batch.
    run = sync(ctx, guarded, run_jobs)
    assert run["status"] == "succeeded" and run["counts"]["held"] == 8
    assert integration(ctx, guarded)["state"] == "held"
    assert service.held_removals(ctx, guarded)["batch_id"] == batch["batch_id"]
    assert all(store_people(ctx)[p]["status"] == "active" for p in hidden)
