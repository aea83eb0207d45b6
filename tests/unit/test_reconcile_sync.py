"""The full-sync diff and the one-person plan: scenarios a store admin would notice."""
from __future__ import annotations

import pytest

from shared.reconcile import (PersonChange, Removal, SyncPlan, apply_plan, plan_effective_dates,
                              plan_person)
from tests.unit.test_reconcile_support import (FULL_PRESENCE, NOW, SETTINGS, TODAY, day,
                                               directory, employee, entries, person, sync,
                                               sync_and_apply)

# One person, one scenario: (id, stored person or None, employee, settings, expected outcome).
# The outcome: entry kinds for that person, and the stored person after applying the plan
# (a subset of fields), or None when the person must not be in the directory at all.
SCENARIOS = [
    ("joiner", None, employee(), {},
     ["add"], {"status": "active", "email": "p1@example.com", "birthday": "08-10",
               "removal_rejected": False}),
    ("future joiner, setting on", None,
     employee(lifecycle_status="hired", status="Inactive", start_date=day(10)),
     {"include_future_joiners": True}, ["add"], {"status": "upcoming", "start_date": day(10)}),
    ("future joiner, setting off", None,
     employee(lifecycle_status="hired", status="Inactive", start_date=day(10)), {}, [], None),
    ("upcoming person, setting turned off", person(status="upcoming", start_date=day(10)),
     employee(lifecycle_status="hired", status="Inactive", start_date=day(10)), {},
     ["removal"], {"status": "removed", "removal_reason": "not_visible"}),
    ("upcoming person starts today", person(status="upcoming", start_date=day(0)),
     employee(lifecycle_status="hired", status="Inactive", start_date=day(0)),
     {"include_future_joiners": True}, ["update"], {"status": "active"}),
    ("leaver announced", person(), employee(termination_date=day(20)), {},
     ["update"], {"status": "active", "leave_date": day(21)}),
    ("leaver's last day is today", person(leave_date=day(1)), employee(termination_date=day(0)),
     {}, [], {"status": "active", "leave_date": day(1)}),
    ("leaver terminated in HiBob", person(),
     employee(lifecycle_status="terminated", status="Inactive", termination_date=day(-1)), {},
     ["removal"], {"status": "removed", "removal_reason": "terminated", "removed_at": NOW}),
    ("leaver cancelled", person(leave_date=day(21)), employee(), {},
     ["update"], {"status": "active", "leave_date": None}),
    ("garden leave before the last day", person(),
     employee(lifecycle_status="garden leave", last_day_of_work=day(3),
              termination_date=day(60)), {},
     ["update"], {"status": "active", "leave_date": day(4)}),
    ("garden leave on the last day", person(leave_date=day(4)),
     employee(lifecycle_status="garden leave", last_day_of_work=day(0),
              termination_date=day(60)), {},
     ["update"], {"status": "active", "leave_date": day(1)}),
    ("garden leave after the last day", person(leave_date=day(0)),
     employee(lifecycle_status="garden leave", status="Inactive", last_day_of_work=day(-1),
              termination_date=day(60)), {},
     ["removal"], {"status": "removed", "removal_reason": "terminated", "leave_date": day(0)}),
    ("terminated and renamed on the same day", person(),
     employee(lifecycle_status="terminated", status="Inactive", last_name="Newname"), {},
     ["update", "removal"], {"status": "removed", "last_name": "Newname"}),
    ("rehire", person(status="removed", removal_reason="terminated", start_date="2019-01-01"),
     employee(start_date=day(-2)), {},
     ["restore"], {"id": "id-1", "status": "active", "removal_reason": None,
                   "start_date": day(-2), "removed_at": None}),
    ("rehire starting later, setting on",
     person(status="removed", removal_reason="terminated"),
     employee(lifecycle_status="hired", status="Inactive", start_date=day(30),
              termination_date=day(-400)),
     {"include_future_joiners": True}, ["restore"], {"status": "upcoming", "leave_date": None}),
    ("rehire starting later, setting off",
     person(status="removed", removal_reason="terminated"),
     employee(lifecycle_status="hired", status="Inactive", start_date=day(30)), {},
     ["update"], {"status": "removed", "start_date": day(30)}),
    ("terminated person already removed stays as history",
     person(status="removed", removal_reason="not_visible"),
     employee(lifecycle_status="terminated", status="Inactive"), {},
     [], {"status": "removed", "removal_reason": "not_visible"}),
    ("terminated before the store knew them", None,
     employee(lifecycle_status="terminated", status="Inactive"), {}, [], None),
    ("email change", person(), employee(email="new@example.com"), {},
     ["update"], {"email": "new@example.com", "id": "id-1"}),
    ("birthday change", person(), employee(birthday="02-29"), {},
     ["update"], {"birthday": "02-29"}),
    ("birthday with a year is not stored", person(), employee(birthday="1986-08-10"), {},
     [], {"birthday": "08-10"}),
    ("malformed start date keeps the stored one", person(), employee(start_date="2020-02-30"),
     {}, [], {"start_date": "2020-01-06"}),
    ("birthday sync off clears the stored birthday", person(), employee(), {"sync_birthdays": False},
     ["update"], {"birthday": None}),
    ("birthday sync off adds joiners without birthday", None, employee(),
     {"sync_birthdays": False}, ["add"], {"birthday": None}),
    ("department renamed", person(), employee(department="Platform Engineering"), {},
     ["update"], {"department": "Platform Engineering"}),
    ("a hidden key keeps the stored value", person(),
     employee(department=..., birthday=..., email=...), {},
     [], {"department": "Engineering", "birthday": "08-10", "email": "p1@example.com"}),
    ("an explicit null clears", person(), employee(department=None, site=None), {},
     ["update"], {"department": None, "site": None}),
    ("a joiner's hidden fields are empty", None, employee(birthday=..., site=...), {},
     ["add"], {"birthday": None, "site": None}),
    ("a hidden start date: the stored one decides",
     person(status="upcoming", start_date=day(-1)),
     employee(lifecycle_status="hired", status="Inactive", start_date=...),
     {"include_future_joiners": True}, ["update"], {"status": "active", "start_date": day(-1)}),
    ("lifecycle hidden: the store keeps what it knows", person(status="upcoming", start_date=day(9)),
     employee(status=..., lifecycle_status=..., termination_date=..., last_day_of_work=...,
              start_date=day(-1)),
     {}, ["update"], {"status": "upcoming", "start_date": day(-1)}),
    ("lifecycle hidden: nobody new is added", None,
     employee(status=..., lifecycle_status=..., termination_date=..., last_day_of_work=...), {},
     [], None),
    ("rejected removal is not proposed again", person(removal_rejected=True),
     employee(lifecycle_status="terminated", status="Inactive"), {},
     [], {"status": "active", "removal_rejected": True}),
    ("rejected removal, person shown active again: flag cleared", person(removal_rejected=True),
     employee(), {}, [], {"status": "active", "removal_rejected": False}),
]


@pytest.mark.parametrize("stored, incoming, settings, kinds, after",
                         [case[1:] for case in SCENARIOS], ids=[case[0] for case in SCENARIOS])
def test_one_person_scenario(stored, incoming, settings, kinds, after):
    before = directory(stored) if stored else {}
    plan, result = sync_and_apply(before, [incoming], **settings)
    assert entries(plan).get("1", []) == kinds
    if after is None:
        assert "1" not in result
    else:
        assert {name: result["1"].get(name) for name in after} == after
    # The same state applied twice changes nothing the second time.
    again = sync(result, [incoming], presence=plan.field_presence_after, **settings)
    assert again.is_empty and again.unchanged == len(result)
    # A webhook re-read of the same person plans exactly the same.
    single = plan_person(stored, incoming, today=TODAY, settings={**SETTINGS, **settings})
    assert (single.adds, single.updates, single.removals, single.restores,
            single.clear_removal_rejected) == (plan.adds, plan.updates, plan.removals,
                                               plan.restores, plan.clear_removal_rejected)


def test_update_lists_changes_and_new_values():
    plan = sync(directory(person()), [employee(email="new@example.com", site="Lyon")])
    assert plan.updates == [PersonChange(
        "id-1", "1",
        {"email": {"before": "p1@example.com", "after": "new@example.com"},
         "site": {"before": "Paris", "after": "Lyon"}},
        {"email": "new@example.com", "site": "Lyon"})]
    assert plan.counts() == {"added": 0, "updated": 1, "removed": 0, "restored": 0,
                             "unchanged": 0}


def test_removal_lists_the_lifecycle_change():
    plan = sync(directory(person()), [employee(lifecycle_status="terminated")])
    assert plan.removals == [Removal("id-1", "1", "terminated",
                                     {"status": {"before": "active", "after": "removed"},
                                      "removal_reason": {"before": None, "after": "terminated"}})]


def test_restore_reports_every_change():
    stored = person(status="removed", removal_reason="terminated", email="old@example.com",
                    leave_date="2024-01-01")
    plan = sync(directory(stored), [employee()])
    assert plan.restores[0].changes == {
        "email": {"before": "old@example.com", "after": "p1@example.com"},
        "status": {"before": "removed", "after": "active"},
        "removal_reason": {"before": "terminated", "after": None},
        "leave_date": {"before": "2024-01-01", "after": None}}


def test_someone_hibob_no_longer_shows_is_removed_not_visible():
    stored = directory(person("1"), person("2"), person("3", status="upcoming"),
                       person("4", status="removed", removal_reason="terminated"))
    plan, result = sync_and_apply(stored, [employee("1")])
    assert {r.external_id: r.reason for r in plan.removals} == {"2": "not_visible",
                                                               "3": "not_visible"}
    assert result["2"]["status"] == result["3"]["status"] == "removed"
    assert result["4"] == stored["4"]  # history stays as it was
    assert len(result) == 4  # nobody is ever deleted


def test_birthday_sync_off_clears_everyone_including_people_not_shown():
    stored = directory(person("1"), person("2"), person("3", status="removed"))
    plan, result = sync_and_apply(stored, [employee("1")], sync_birthdays=False)
    assert {p["birthday"] for p in result.values()} == {None}
    assert not any(w["code"] == "birthdays_not_visible" for w in plan.warnings)


def test_rejected_removal_comes_back_only_after_being_seen_again():
    stored = directory(person(removal_rejected=True))
    gone = employee(lifecycle_status="terminated", status="Inactive")
    # Still terminated, or not shown at all: not proposed again.
    plan, result = sync_and_apply(stored, [gone])
    assert plan.is_empty
    plan, result = sync_and_apply(stored, [])
    assert plan.removals == [] and result == stored
    # Shown active again: the plan says to clear the flag, which is no change for the feed.
    plan, result = sync_and_apply(stored, [employee()])
    assert plan.clear_removal_rejected == ["id-1"] and plan.updates == []
    assert result["1"]["removal_rejected"] is False
    # Dropped anew: a new removal.
    plan, result = sync_and_apply(result, [gone])
    assert [r.reason for r in plan.removals] == ["terminated"]


def test_rejected_removal_is_not_made_by_a_webhook_or_the_effective_date_pass():
    stored = person(removal_rejected=True, leave_date=day(-1))
    assert plan_person(stored, None, today=TODAY, settings=SETTINGS).is_empty
    assert plan_effective_dates([stored], TODAY).is_empty


def test_deleted_in_hibob():
    plan = plan_person(person(), None, today=TODAY, settings=SETTINGS)
    assert [(r.external_id, r.reason) for r in plan.removals] == [("1", "deleted")]
    assert plan.field_presence_after is None
    removed = apply_plan(directory(person()), plan, NOW)["1"]
    assert plan_person(removed, None, today=TODAY, settings=SETTINGS).is_empty
    assert plan_person(None, None, today=TODAY, settings=SETTINGS).is_empty


def test_deleted_then_seen_again_is_restored():
    removed = person(status="removed", removal_reason="deleted")
    plan = plan_person(removed, employee(), today=TODAY, settings=SETTINGS)
    assert [r.external_id for r in plan.restores] == ["1"]


def test_one_person_plan_rejects_two_different_people():
    with pytest.raises(ValueError):
        plan_person(person("1"), employee("2"), today=TODAY, settings=SETTINGS)


def people(n: int, **fields):
    return ([person(str(i)) for i in range(n)], [employee(str(i), **fields) for i in range(n)])


def test_birthday_permission_removed_keeps_birthdays_and_warns():
    stored_people, employees = people(20, birthday=...)
    stored = directory(*stored_people)
    plan, result = sync_and_apply(stored, employees, presence=FULL_PRESENCE)
    assert plan.is_empty and result == stored
    assert [w["code"] for w in plan.warnings] == ["field_hidden", "birthdays_not_visible"]
    assert plan.warnings[0]["field"] == "birthday"
    # The warning stays until HiBob returns birthdays again ...
    again = sync(result, employees, presence=plan.field_presence_after)
    assert [w["code"] for w in again.warnings] == ["field_hidden", "birthdays_not_visible"]
    # ... and goes when it does.
    _, back = people(20)
    healed = sync(result, back, presence=again.field_presence_after)
    assert healed.warnings == [] and healed.field_presence_after["birthday"] == 1.0


def test_field_hidden_needs_nine_in_ten_missing_now_and_half_present_before():
    stored_people, employees = people(20)
    for hidden in employees[:17]:  # 85% missing: not the hidden rule, just 17 hidden keys
        del hidden["site"]
    plan = sync(directory(*stored_people), employees, presence=FULL_PRESENCE)
    assert plan.warnings == [] and plan.field_presence_after["site"] == 0.15
    del employees[17]["site"]  # 90% missing now
    assert [w["field"] for w in sync(directory(*stored_people), employees,
                                     presence=FULL_PRESENCE).warnings] == ["site"]
    # Present for fewer than half last time: no warning (it was never really visible).
    assert sync(directory(*stored_people), employees,
                presence={**FULL_PRESENCE, "site": 0.4}).warnings == []


def test_first_sync_measures_presence():
    _, employees = people(4)
    del employees[0]["department"]
    plan = sync({}, employees)
    assert plan.field_presence_after["department"] == 0.75
    assert plan.field_presence_after["email"] == 1.0
    assert plan.warnings == []


def test_birthdays_not_visible_at_all():
    _, employees = people(3, birthday=...)
    plan = sync({}, employees)
    assert [w["code"] for w in plan.warnings] == ["birthdays_not_visible"]
    assert {a["birthday"] for a in plan.adds} == {None}


def test_lifecycle_not_visible_warns_and_adds_no_one():
    _, employees = people(3, status=..., lifecycle_status=..., termination_date=...,
                          last_day_of_work=...)
    plan = sync({}, employees)
    assert plan.adds == [] and plan.ignored == 3
    assert [w["code"] for w in plan.warnings] == ["lifecycle_not_visible"]


def test_no_people_visible_keeps_presence_and_proposes_removals():
    stored = directory(person("1"), person("2"))
    plan = sync(stored, [], presence=FULL_PRESENCE)
    assert [w["code"] for w in plan.warnings] == ["no_people_visible"]
    assert plan.field_presence_after == FULL_PRESENCE
    assert len(plan.removals) == 2  # the removal guard decides whether they apply


def test_repeated_employee_ids_use_the_first():
    plan = sync({}, [employee("1"), employee("1", email="other@example.com")])
    assert [a["email"] for a in plan.adds] == ["p1@example.com"]
    assert [w["code"] for w in plan.warnings] == ["duplicate_employee"]


def test_mixed_shapes_in_one_read():
    """Keys hidden for some people only, interleaved: same outcome as person by person."""
    stored_people, employees = people(12)
    for i, incoming in enumerate(employees):
        if i % 2:
            del incoming["birthday"]
        if i % 3 == 0:
            del incoming["termination_date"]
        if i % 4 == 0:
            incoming["department"] = "Sales"
    plan = sync(directory(*stored_people), employees)
    assert sorted(u.external_id for u in plan.updates) == ["0", "4", "8"]
    assert plan.unchanged == 9
    assert plan.field_presence_after["birthday"] == 0.5
    assert plan.field_presence_after["termination_date"] == pytest.approx(8 / 12)


def test_empty_plan():
    plan = SyncPlan()
    assert plan.is_empty
    plan.clear_removal_rejected.append("id-1")
    assert not plan.is_empty
