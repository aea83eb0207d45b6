"""Apply a plan to a stored directory, in memory: the reference for what the DB layer must do.

Pure (the caller passes the time and may pass the id factory), used by the tests to state the
properties of the rules ("applying a plan reaches the target", "a second plan is empty").
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from shared.reconcile.plan import PersonChange, SyncPlan

_ID_NAMESPACE = uuid.UUID("6f0c3c1e-8a7e-4f4e-9a55-0d1f5f6b2c11")


def _default_id(external_id: str) -> str:
    # Deterministic so that tests are reproducible; the database uses random UUIDs.
    return str(uuid.uuid5(_ID_NAMESPACE, external_id))


def apply_plan(stored: Mapping[str, Mapping[str, Any]], plan: SyncPlan, now_iso: str, *,
               new_id: Callable[[str], str] = _default_id) -> dict[str, dict[str, Any]]:
    """The directory after ``plan``: a new external_id -> person mapping (``stored`` untouched).

    What the DB layer does, per list:
      * adds: insert with a new ``id``, ``added_at`` = ``updated_at`` = now, ``removed_at`` None;
      * updates: set ``values``, ``updated_at`` = now;
      * restores: set ``values`` (status back to active/upcoming), ``removed_at`` None,
        ``updated_at`` = now (``added_at`` is kept: the same store person comes back);
      * removals (those the guard lets through): status ``removed``, ``removal_reason``,
        ``removed_at`` = ``updated_at`` = now; nothing is deleted;
      * clear_removal_rejected: ``removal_rejected`` = False (not a change to the person).

    Raises:
        ValueError: the plan does not fit ``stored`` (an add for a known person, a change for an
            unknown one, or a ``before`` that is not the stored value): it was planned from other
            data, and applying it would lose a change.
    """
    result: dict[str, dict[str, Any]] = dict(stored)  # type: ignore[arg-type]
    copied: set[str] = set()

    def own(external_id: str, person_id: str) -> dict[str, Any]:
        person = result.get(external_id)
        if person is None or person["id"] != person_id:
            raise ValueError("the plan names a person the directory does not hold")
        if external_id not in copied:
            person = result[external_id] = dict(person)
            copied.add(external_id)
        return person

    def change(entry: PersonChange) -> dict[str, Any]:
        person = own(entry.external_id, entry.id)
        for name, values in entry.changes.items():
            if person.get(name) != values["before"]:
                raise ValueError(f"the plan's '{name}' before-value is not the stored one")
        person.update(entry.values)
        person["updated_at"] = now_iso
        return person

    for add in plan.adds:
        external_id = add["external_id"]
        if external_id in result:
            raise ValueError("the plan adds a person the directory already holds")
        result[external_id] = {**add, "id": new_id(external_id), "added_at": now_iso,
                               "updated_at": now_iso, "removed_at": None}
        copied.add(external_id)
    for entry in plan.updates:
        change(entry)
    for entry in plan.restores:
        change(entry)["removed_at"] = None
    for removal in plan.removals:
        person = own(removal.external_id, removal.id)
        if person["status"] != removal.changes["status"]["before"]:
            raise ValueError("the plan removes a person whose status has changed")
        person.update(status="removed", removal_reason=removal.reason, removed_at=now_iso,
                      updated_at=now_iso)
    if plan.clear_removal_rejected:
        by_id = {person["id"]: external_id for external_id, person in result.items()}
        for person_id in plan.clear_removal_rejected:
            own(by_id.get(person_id, ""), person_id)["removal_rejected"] = False
    return result
