"""The sync rules, pure: who belongs in the store and what a sync changes.

No I/O, no clock, no database, no logging: plain functions over plain data (dicts, dataclasses,
dates), so the rules can be tested exhaustively and a 100k-person diff stays fast. The jobs fetch,
call these, and store. The rules in prose: docs/sync-rules.md.
"""
from __future__ import annotations

from shared.reconcile.apply import apply_plan
from shared.reconcile.classify import Classification, classify, parse_date
from shared.reconcile.person import plan_person
from shared.reconcile.sync import plan_sync
from shared.reconcile.effective import plan_effective_dates
from shared.reconcile.guard import RemovalGuard, guard_removals
from shared.reconcile.plan import (LIFECYCLE_FIELDS, PROFILE_FIELDS, TRACKED_FIELDS, PersonChange,
                                   Removal, SyncPlan)

__all__ = [
    "Classification", "classify", "parse_date",
    "SyncPlan", "PersonChange", "Removal", "PROFILE_FIELDS", "LIFECYCLE_FIELDS", "TRACKED_FIELDS",
    "plan_sync", "plan_person", "plan_effective_dates",
    "RemovalGuard", "guard_removals",
    "apply_plan",
]
