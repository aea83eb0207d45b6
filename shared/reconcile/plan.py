"""What a reconciliation proposes: the plan the DB layer applies (see ``apply.apply_plan``).

Plain dataclasses of plain values, JSON-able through ``dataclasses.asdict``. Within one plan the
entries for one person touch disjoint fields (a leaver's profile update and their removal), so
the order in which the DB layer applies the lists does not matter.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The profile: what HiBob says about a person, copied into the store.
PROFILE_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "display_name", "birthday",
                                   "start_date", "department", "site")
# Where the person stands in the store; derived from the lifecycle, never copied.
LIFECYCLE_FIELDS: tuple[str, ...] = ("status", "removal_reason", "leave_date")
# Employee keys whose presence a full sync tracks (the field_hidden rule): the profile plus the
# lifecycle inputs of ``classify``.
TRACKED_FIELDS: tuple[str, ...] = PROFILE_FIELDS + ("status", "lifecycle_status",
                                                    "termination_date", "last_day_of_work")

Changes = dict[str, dict[str, Any]]  # field -> {"before": value, "after": value}


@dataclass(slots=True)
class PersonChange:
    """An update of a stored person, or a restore (a removed person back in the store).

    ``values`` holds the new value of every changed field (``changes[f]["after"]``), ready for
    an UPDATE; ``changes`` is what the change log and the store's change feed record.
    """

    id: str
    external_id: str
    changes: Changes
    values: dict[str, Any]

    @classmethod
    def of(cls, person: Mapping[str, Any], changes: Changes) -> PersonChange:
        return cls(person["id"], person["external_id"], changes,
                   {name: change["after"] for name, change in changes.items()})


@dataclass(slots=True)
class Removal:
    """A stored person leaving the store: status ``removed`` with ``reason``.

    ``changes`` covers the lifecycle fields only (status, removal_reason); the same person's
    profile changes, if any, come as a separate ``PersonChange`` in ``updates`` so that holding
    removals (the removal guard) never holds back an update. The stored ``leave_date`` is kept as
    history.
    """

    id: str
    external_id: str
    reason: str  # "terminated" | "not_visible" | "deleted"
    changes: Changes

    @classmethod
    def of(cls, person: Mapping[str, Any], reason: str) -> Removal:
        changes: Changes = {"status": {"before": person["status"], "after": "removed"}}
        if person.get("removal_reason") != reason:
            changes["removal_reason"] = {"before": person.get("removal_reason"), "after": reason}
        return cls(person["id"], person["external_id"], reason, changes)


@dataclass(slots=True)
class SyncPlan:
    """Everything one reconciliation proposes.

    ``adds``: new person dicts (every profile field, ``status`` "active"/"upcoming",
    ``removal_reason`` None, ``leave_date`` ISO date or None, ``removal_rejected`` False; the DB
    assigns ``id`` and the timestamps).
    ``unchanged``: stored people this plan leaves exactly as they are.
    ``ignored``: people HiBob shows who are not in the store and are not to be added (terminated
    before the store knew them, future joiners while include_future_joiners is off, unknown).
    ``field_presence_after``: what to store as the next sync's ``field_presence_before``; None
    when the plan comes from a one-person read or the effective-date pass (keep the stored one).
    ``warnings``: ``{"code", "field"?, "message"}`` dicts for the integration's warnings.
    ``clear_removal_rejected``: ids of people whose ``removal_rejected`` flag must be reset to
    False: HiBob shows them in the store again, so a later drop is a new removal. Not a change
    to the person (nothing for the feed).
    """

    adds: list[dict[str, Any]] = field(default_factory=list)
    updates: list[PersonChange] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    restores: list[PersonChange] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0
    field_presence_after: dict[str, float] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    clear_removal_rejected: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when applying the plan would change nothing in the database."""
        return not (self.adds or self.updates or self.removals or self.restores
                    or self.clear_removal_rejected)

    def counts(self) -> dict[str, int]:
        """Run counts (DESIGN's Run.counts, less ``held`` which the removal guard decides)."""
        return {"added": len(self.adds), "updated": len(self.updates),
                "removed": len(self.removals), "restored": len(self.restores),
                "unchanged": self.unchanged}
