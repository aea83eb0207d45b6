"""Properties of the sync rules over generated HiBob reads and store directories."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.reconcile import (PROFILE_FIELDS, apply_plan, classify, parse_date,
                              plan_effective_dates, plan_person, plan_sync)
from tests.unit.test_reconcile_support import NOW, TODAY, day, entries

IDS = [str(n) for n in range(8)]
IN_STORE = ("active", "upcoming")
HIDDEN = object()  # a key HiBob leaves out

dates = st.integers(-40, 40).map(day)
POOLS: dict[str, Any] = {
    "email": st.sampled_from(["a@example.com", "b@example.com"]),
    "first_name": st.sampled_from(["Ada", "Grace"]),
    "last_name": st.sampled_from(["Lovelace", "Hopper"]),
    "display_name": st.sampled_from(["Ada L", "Grace H"]),
    "birthday": st.sampled_from(["01-02", "02-29", "12-31"]),
    "start_date": dates,
    "department": st.sampled_from(["Engineering", "Sales"]),
    "site": st.sampled_from(["Paris", "Lyon"]),
}
# HiBob can also send values we refuse to store.
INCOMING = {**POOLS,
            "birthday": st.sampled_from(["01-02", "02-29", "12-31", "1986-08-10"]),
            "start_date": dates | st.just("2025-02-30"),
            "status": st.sampled_from(["Active", "Inactive", "Frozen"]),
            "lifecycle_status": st.sampled_from(["hired", "employed", "garden leave", "terminated",
                                                 "leave", "parental leave", "Sabbatical Leave",
                                                 "archived"]),
            "termination_date": dates,
            "last_day_of_work": dates}


def _shown(draft: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in draft.items() if value is not HIDDEN}


def employees(external_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """A decoded employee: each field shown, an explicit null, or hidden (key left out)."""
    return _EMPLOYEE.map(lambda draft: _shown({"external_id": external_id, **draft}))


_EMPLOYEE = st.fixed_dictionaries(
    {name: st.one_of(values, st.none(), st.just(HIDDEN)) for name, values in INCOMING.items()})
_PROFILE = st.fixed_dictionaries({name: st.none() | values for name, values in POOLS.items()})
_LIFECYCLE = st.one_of(
    st.fixed_dictionaries({"status": st.just("active"), "removal_reason": st.none(),
                           "leave_date": st.none() | dates, "removal_rejected": st.booleans()}),
    st.fixed_dictionaries({"status": st.just("upcoming"), "removal_reason": st.none(),
                           "leave_date": st.none() | dates, "removal_rejected": st.just(False)}),
    st.fixed_dictionaries({"status": st.just("removed"),
                           "removal_reason": st.sampled_from(["terminated", "not_visible",
                                                              "deleted"]),
                           "leave_date": st.none() | dates, "removal_rejected": st.just(False)}))


def stored_people(external_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(_PROFILE, _LIFECYCLE).map(lambda parts: {
        "id": f"id-{external_id}", "external_id": external_id, **parts[0], **parts[1]})


@st.composite
def worlds(draw):
    """(stored directory, HiBob's employees, settings, field presence last time)."""
    stored = {i: draw(stored_people(i)) for i in draw(st.sets(st.sampled_from(IDS)))}
    shown = draw(st.lists(st.sampled_from(IDS), unique=True))
    incoming = [draw(employees(i)) for i in shown]
    config = {"sync_birthdays": draw(st.booleans()),
              "include_future_joiners": draw(st.booleans())}
    presence = draw(st.dictionaries(st.sampled_from(list(INCOMING)),
                                    st.sampled_from([0.0, 0.3, 0.5, 1.0])))
    return stored, incoming, config, presence


def plan_world(stored, incoming, config, presence, today=TODAY):
    return plan_sync(stored, incoming, today=today, settings=config,
                     field_presence_before=presence)


def readable(name: str, value: Any) -> bool:
    if value is None:
        return True
    if name == "birthday":
        return len(value) == 5
    if name == "start_date":
        return parse_date(value) is not None
    return True


def expected_directory(stored, incoming, config) -> dict[str, dict[str, Any]]:
    """The directory the rules describe (docs/sync-rules.md), written out person by person."""
    shown = {e["external_id"]: e for e in incoming}
    target: dict[str, dict[str, Any]] = {}
    for external_id in IDS:
        before, hibob = stored.get(external_id), shown.get(external_id)
        if hibob is None:
            if before is None:
                continue
            after = dict(before)
            if before["status"] in IN_STORE and not before["removal_rejected"]:
                after.update(status="removed", removal_reason="not_visible")
        else:
            profile = {}
            for name in PROFILE_FIELDS:
                if name in hibob and readable(name, hibob[name]):
                    profile[name] = hibob[name]  # shown: copied, an explicit null clears
                else:
                    profile[name] = before[name] if before else None  # hidden: kept
            verdict = classify({**hibob, "start_date": profile["start_date"]}, TODAY,
                               config["include_future_joiners"])
            if before is None:
                if verdict.status not in IN_STORE:
                    continue
                before = {"external_id": external_id, "removal_rejected": False}
            after = {**before, **profile}
            if verdict.status in IN_STORE:
                after.update(status=verdict.status, removal_reason=None, removal_rejected=False,
                             leave_date=verdict.leave_date and verdict.leave_date.isoformat())
            elif (verdict.status in ("removed", "excluded") and before["status"] in IN_STORE
                  and not before["removal_rejected"]):
                after.update(status="removed",
                             removal_reason=verdict.removal_reason or "not_visible")
        if not config["sync_birthdays"]:
            after["birthday"] = None
        target[external_id] = after
    return target


def comparable(directory) -> dict[str, dict[str, Any]]:
    skip = {"id", "added_at", "updated_at", "removed_at"}
    return {k: {f: v for f, v in p.items() if f not in skip} for k, p in directory.items()}


COMMON = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(worlds())
def test_applying_a_plan_reaches_the_target(world):
    stored, incoming, config, presence = world
    result = apply_plan(stored, plan_world(*world), NOW)
    assert comparable(result) == comparable(expected_directory(stored, incoming, config))
    assert set(stored) <= set(result)  # nobody is ever deleted
    for external_id, before in stored.items():
        assert result[external_id]["id"] == before["id"]  # identity is kept, rehires included


@COMMON
@given(worlds())
def test_applying_the_same_state_twice_changes_nothing(world):
    stored, incoming, config, _ = world
    first = plan_world(*world)
    result = apply_plan(stored, first, NOW)
    second = plan_world(result, incoming, config, first.field_presence_after)
    assert second.is_empty
    assert second.unchanged == len(result)


@COMMON
@given(worlds())
def test_nobody_hibob_shows_employed_within_their_dates_is_removed(world):
    stored, incoming, _, _ = world
    removed = {r.external_id for r in plan_world(*world).removals}
    for hibob in incoming:
        ends = [parse_date(hibob.get(name)) for name in ("termination_date", "last_day_of_work")]
        if (hibob.get("lifecycle_status") in ("employed", "leave", "parental leave")
                and all(end is None or end >= TODAY for end in ends)):
            assert hibob["external_id"] not in removed


@COMMON
@given(worlds())
def test_a_missing_key_never_clears_a_stored_value(world):
    stored, incoming, config, _ = world
    result = apply_plan(stored, plan_world(*world), NOW)
    for hibob in incoming:
        before = stored.get(hibob["external_id"])
        for name in PROFILE_FIELDS:
            if before and name not in hibob and (name != "birthday" or config["sync_birthdays"]):
                assert result[hibob["external_id"]][name] == before[name]


@COMMON
@given(worlds())
def test_a_webhook_re_read_plans_what_the_full_sync_plans(world):
    stored, incoming, config, _ = world
    full = entries(plan_world(*world))
    full_plan = plan_world(*world)
    for hibob in incoming:
        external_id = hibob["external_id"]
        single = plan_person(stored.get(external_id), hibob, today=TODAY, settings=config)
        assert entries(single).get(external_id, []) == full.get(external_id, [])
        assert single.updates == [u for u in full_plan.updates if u.external_id == external_id]
        assert single.removals == [r for r in full_plan.removals if r.external_id == external_id]
        assert single.restores == [r for r in full_plan.restores if r.external_id == external_id]


@COMMON
@given(worlds(), st.integers(0, 60))
def test_the_effective_date_pass_is_never_undone_by_a_full_sync(world, days_later):
    stored, incoming, config, presence = world
    later = TODAY + timedelta(days=days_later)
    synced = apply_plan(stored, plan_world(*world), NOW)
    passed = plan_effective_dates(synced.values(), later)
    moved = apply_plan(synced, passed, NOW)
    follow_up = plan_world(moved, incoming, config, presence, today=later)
    removed = {r.external_id for r in passed.removals}
    started = {u.external_id for u in passed.updates}
    assert not removed & {r.external_id for r in follow_up.restores}
    assert not any(u.external_id in started and u.values.get("status") == "upcoming"
                   for u in follow_up.updates)


@settings(max_examples=100, deadline=None)
@given(st.integers(10, 40), st.sampled_from(list(PROFILE_FIELDS)), st.data())
def test_a_field_hidden_for_most_people_is_never_wiped(n, field, data):
    stored = {str(i): {"id": f"id-{i}", "external_id": str(i), "email": f"{i}@example.com",
                       "first_name": "Ada", "last_name": "L", "display_name": "Ada L",
                       "birthday": "01-02", "start_date": "2020-01-01", "department": "Sales",
                       "site": "Paris", "status": "active", "removal_reason": None,
                       "leave_date": None, "removal_rejected": False} for i in range(n)}
    incoming = [{**{k: v for k, v in p.items() if k in PROFILE_FIELDS},
                 "external_id": k, "status": "Active", "lifecycle_status": "employed",
                 "termination_date": None, "last_day_of_work": None} for k, p in stored.items()]
    still_shown = data.draw(st.sets(st.integers(0, n - 1), max_size=n // 10))
    for i, hibob in enumerate(incoming):
        if i in still_shown:
            hibob[field] = None  # the few it still returns are empty
        else:
            del hibob[field]
    presence = {field: data.draw(st.sampled_from([0.5, 0.8, 1.0]))}
    plan = plan_sync(stored, incoming, today=TODAY, settings={"sync_birthdays": True},
                     field_presence_before=presence)
    assert {"code": "field_hidden", "field": field} in [
        {k: w[k] for k in ("code", "field")} for w in plan.warnings if "field" in w]
    result = apply_plan(stored, plan, NOW)
    kept = [result[str(i)][field] == stored[str(i)][field] for i in range(n) if i not in still_shown]
    assert all(kept)
    assert plan.removals == [] and plan.adds == []
