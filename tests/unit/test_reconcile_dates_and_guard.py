"""The effective-date pass, the removal guard, and apply_plan's contract with the DB layer."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.reconcile import (PersonChange, Removal, RemovalGuard, SyncPlan, apply_plan,
                              guard_removals, plan_effective_dates)
from tests.unit.test_reconcile_support import (NOW, TODAY, day, directory, employee, person,
                                               sync, sync_and_apply)

# ---------------------------------------------------------------- effective dates

EFFECTIVE = [
    ("upcoming, starts today", person(status="upcoming", start_date=day(0)), "active"),
    ("upcoming, started yesterday", person(status="upcoming", start_date=day(-1)), "active"),
    ("upcoming, starts tomorrow", person(status="upcoming", start_date=day(1)), None),
    ("upcoming, no start date", person(status="upcoming", start_date=None), None),
    ("upcoming, malformed start date", person(status="upcoming", start_date="soon"), None),
    ("upcoming, started and already gone",
     person(status="upcoming", start_date=day(-5), leave_date=day(0)), "removed"),
    ("active, leaves today", person(leave_date=day(0)), "removed"),
    ("active, left days ago", person(leave_date=day(-3)), "removed"),
    ("active, leaves tomorrow", person(leave_date=day(1)), None),
    ("active, no leave date", person(), None),
    ("active, removal rejected", person(leave_date=day(-1), removal_rejected=True), None),
    ("removed stays removed", person(status="removed", removal_reason="terminated",
                                     leave_date=day(-9)), None),
]


@pytest.mark.parametrize("stored, after", [c[1:] for c in EFFECTIVE],
                         ids=[c[0] for c in EFFECTIVE])
def test_effective_dates(stored, after):
    plan = plan_effective_dates([stored], TODAY)
    result = apply_plan(directory(stored), plan, NOW)["1"]
    if after is None:
        assert plan.is_empty and plan.unchanged == 1
    else:
        assert result["status"] == after
        if after == "removed":
            assert [r.reason for r in plan.removals] == ["terminated"]
    assert plan_effective_dates([result], TODAY).is_empty
    assert plan.field_presence_after is None


def test_effective_date_pass_agrees_with_the_next_full_sync():
    """The pass acts on the dates HiBob gave; the full sync on the same day must not undo it."""
    hibob = [employee("1", lifecycle_status="hired", status="Inactive", start_date=day(3)),
             employee("2", termination_date=day(5)),
             employee("3", lifecycle_status="garden leave", last_day_of_work=day(2),
                      termination_date=day(40))]
    _, stored = sync_and_apply({}, hibob, include_future_joiners=True)
    for offset in range(0, 8):
        later = TODAY + timedelta(days=offset)
        stored = apply_plan(stored, plan_effective_dates(stored.values(), later), NOW)
        follow_up = sync(stored, hibob, today=later, include_future_joiners=True)
        assert follow_up.is_empty, offset
    assert [stored[n]["status"] for n in "123"] == ["active", "removed", "removed"]


# ---------------------------------------------------------------- removal guard

GUARD = [
    # (removed in window, proposed, active at window start, already held, held?)
    (0, 10, 40, False, False),     # the minimum of 10 allows 10
    (0, 11, 40, False, True),      # 11 > max(10, 8)
    (5, 6, 40, False, True),       # the window counts earlier removals too
    (0, 20, 100, False, False),    # 20 % of 100
    (0, 21, 100, False, True),
    (19, 1, 100, False, False),
    (20, 1, 100, False, True),
    (0, 199, 1000, False, False),
    (0, 201, 1000, False, True),
    (0, 1, 1000, True, True),      # already held: everything later waits too
    (0, 0, 10, True, False),       # nothing proposed: nothing to hold
    (0, 12, 0, False, True),       # a store with nobody active still has the minimum
]


@pytest.mark.parametrize("removed, proposed, active, held_already, held", GUARD)
def test_removal_guard(removed, proposed, active, held_already, held):
    removals = [f"r{i}" for i in range(proposed)]
    apply, hold = guard_removals(removals, removed_in_window=removed,
                                 active_at_window_start=active, already_held=held_already)
    assert (apply, hold) == (([], removals) if held else (removals, []))


def test_guard_threshold_is_exact_for_decimal_percentages():
    assert RemovalGuard(33.3, 1).threshold(1000) == 333
    assert RemovalGuard(12.5, 1).threshold(8) == 1
    assert RemovalGuard(20, 10).threshold(51) == 10


def test_guard_from_settings():
    guard = RemovalGuard.from_settings({"removal_guard_percent": 5, "removal_guard_min": 2})
    assert guard == RemovalGuard(5, 2)
    assert RemovalGuard.from_settings({}) == RemovalGuard(20, 10)
    assert guard.trips(removed_in_window=0, proposed=3, active_at_window_start=40)


def test_held_removals_do_not_hold_back_updates():
    """A leaver renamed on their way out: the rename applies even while the removal is held."""
    stored = directory(person())
    plan = sync(stored, [employee(lifecycle_status="terminated", last_name="New")])
    applied, held = guard_removals(plan.removals, removed_in_window=0,
                                   active_at_window_start=1, already_held=True)
    plan.removals = applied
    result = apply_plan(stored, plan, NOW)
    assert held and result["1"]["last_name"] == "New" and result["1"]["status"] == "active"


# ---------------------------------------------------------------- apply_plan

def test_apply_plan_sets_timestamps_and_keeps_input_untouched():
    stored = directory(person("1"), person("2", status="removed", removal_reason="terminated"))
    snapshot = {k: dict(v) for k, v in stored.items()}
    plan, result = sync_and_apply(stored, [employee("2"), employee("3")])
    assert stored == snapshot
    assert result["1"]["status"] == "removed" and result["1"]["removed_at"] == NOW
    assert result["2"]["status"] == "active" and result["2"]["removed_at"] is None
    assert result["3"]["added_at"] == result["3"]["updated_at"] == NOW
    assert result["3"]["id"] and result["3"]["id"] != result["2"]["id"]


def test_apply_plan_takes_an_id_factory():
    plan = sync({}, [employee("7")])
    assert apply_plan({}, plan, NOW, new_id=lambda ext: f"new-{ext}")["7"]["id"] == "new-7"


@pytest.mark.parametrize("plan", [
    SyncPlan(adds=[{"external_id": "1"}]),
    SyncPlan(updates=[PersonChange("id-9", "9", {}, {})]),
    SyncPlan(updates=[PersonChange("id-1", "1", {"email": {"before": "x", "after": "y"}},
                                   {"email": "y"})]),
    SyncPlan(removals=[Removal("id-1", "1", "terminated",
                               {"status": {"before": "upcoming", "after": "removed"}})]),
    SyncPlan(removals=[Removal("other-id", "1", "terminated",
                               {"status": {"before": "active", "after": "removed"}})]),
], ids=["add known", "update unknown", "stale before", "stale status", "id mismatch"])
def test_apply_plan_refuses_a_plan_made_from_other_data(plan):
    with pytest.raises(ValueError):
        apply_plan(directory(person("1")), plan, NOW)
