"""The removal guard: stop a mass removal before it reaches the store.

A wrong removal costs money and goodwill (budgets, gifts), and the usual cause of many at once is
not a layoff but a narrowed HiBob permission group or a broken read. So removals are counted per
integration over a rolling 24 hours, whatever caused them (full sync, webhooks, effective dates),
and past the threshold all of a run's removals wait for an admin. Adds and updates still apply.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RemovalGuard:
    """``max(minimum, percent % of the active people at the start of the window)`` removals per
    rolling 24 hours; DESIGN settings ``removal_guard_percent`` and ``removal_guard_min``."""

    percent: float = 20
    minimum: int = 10

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RemovalGuard:
        return cls(settings.get("removal_guard_percent", 20), settings.get("removal_guard_min", 10))

    def threshold(self, active_at_window_start: int) -> int:
        """The most removals the window may hold (the ``threshold`` shown with held removals)."""
        # Exact decimal arithmetic: 33.3 % of 1000 must allow 333, not 332.
        share = Fraction(str(self.percent)) * active_at_window_start / 100
        return max(self.minimum, math.floor(share))

    def trips(self, *, removed_in_window: int, proposed: int, active_at_window_start: int) -> bool:
        """True when applying ``proposed`` more removals would exceed the threshold."""
        limit = self.threshold(active_at_window_start)
        return proposed > 0 and removed_in_window + proposed > limit

    def split(self, removals: Sequence[T], *, removed_in_window: int, active_at_window_start: int,
              already_held: bool) -> tuple[list[T], list[T]]:
        """``(apply, held)``: all of this run's removals apply, or all of them are held.

        Held when the integration is already held (every later removal joins the held batch until
        an admin decides) or when these removals would trip the guard.
        """
        if not removals:
            return [], []
        if already_held or self.trips(removed_in_window=removed_in_window, proposed=len(removals),
                                      active_at_window_start=active_at_window_start):
            return [], list(removals)
        return list(removals), []


def guard_removals(removals: Sequence[T], *, removed_in_window: int, active_at_window_start: int,
                   already_held: bool, percent: float = 20,
                   minimum: int = 10) -> tuple[list[T], list[T]]:
    """``RemovalGuard(percent, minimum).split(...)`` as one call."""
    return RemovalGuard(percent, minimum).split(
        removals, removed_in_window=removed_in_window,
        active_at_window_start=active_at_window_start, already_held=already_held)
