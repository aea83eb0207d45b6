"""The effective-date pass: start and leaving dates that arrive without anything changing in HiBob.

HiBob fires its lifecycle webhooks at midnight in the site's time zone and a full sync may be a
day away, so the store acts on the dates it already holds, in the integration's time zone, with
no HiBob call. The full sync reaches the same verdict from the same dates (``classify``), so the
two never flip a person back and forth.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from shared.reconcile.classify import parse_date
from shared.reconcile.plan import PersonChange, Removal, SyncPlan


def plan_effective_dates(stored_people: Iterable[Mapping[str, Any]], today: date) -> SyncPlan:
    """Move upcoming people whose start date has come to active, and remove active people whose
    leave date has come (reason ``terminated``).

    People whose removal an admin rejected (``removal_rejected``) are not removed. Any stored
    people may be passed; those with nothing due count as unchanged.
    """
    plan = SyncPlan()
    for person in stored_people:
        status = person["status"]
        rejected = bool(person.get("removal_rejected"))
        if status == "upcoming":
            start = parse_date(person.get("start_date"))
            if start is not None and start <= today:
                leave = parse_date(person.get("leave_date"))
                if leave is not None and leave <= today and not rejected:
                    # Started and already gone (a fixed term we never saw begin).
                    plan.removals.append(Removal.of(person, "terminated"))
                else:
                    started = {"status": {"before": "upcoming", "after": "active"}}
                    plan.updates.append(PersonChange.of(person, started))
                continue
        elif status == "active" and not rejected:
            leave = parse_date(person.get("leave_date"))
            if leave is not None and leave <= today:
                plan.removals.append(Removal.of(person, "terminated"))
                continue
        plan.unchanged += 1
    return plan
