"""Who may call the sandbox and how often: service users, their permission scope, rate limits.

A HiBob service user starts with no permissions; an admin puts it in a permission group that says
*which employees* it may see (a condition such as department or lifecycle status) and *which field
categories* it may view (reference §1, §2.3). The sandbox gives each service user one such group
of its own: ``in_group`` says whether it is in it at all (not in any group -> 403 on people data).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from sandbox.fields import DEFAULT_CATEGORIES
from sandbox.people import Person


@dataclass(frozen=True)
class ServiceUser:
    id: str
    token: str
    in_group: bool = True
    categories: frozenset[str] = DEFAULT_CATEGORIES
    departments: frozenset[str] | None = None  # department item ids; None = every department
    lifecycle_statuses: frozenset[str] | None = None  # None = every lifecycle status
    employee_ids: frozenset[str] | None = None  # an explicit list, for "just these people"
    label: str = ""

    def sees(self, person: Person) -> bool:
        values = person.values
        return ((self.departments is None or values["work.department"] in self.departments)
                and (self.lifecycle_statuses is None
                     or values["internal.lifecycleStatus"] in self.lifecycle_statuses)
                and (self.employee_ids is None or person.id in self.employee_ids))

    def scope_key(self) -> tuple[Any, ...]:
        """Everything that changes what this user's answers contain (a cache key part)."""
        def frozen(items: frozenset[str] | None) -> tuple[str, ...] | None:
            return None if items is None else tuple(sorted(items))

        return (tuple(sorted(self.categories)), frozen(self.departments),
                frozen(self.lifecycle_statuses), frozen(self.employee_ids))

    def with_scope(self, **changes: Any) -> ServiceUser:
        converted = {key: (None if value is None else frozenset(value))
                     if key in ("categories", "departments", "lifecycle_statuses", "employee_ids")
                     else value for key, value in changes.items()}
        if converted.get("categories", self.categories) is None:
            converted["categories"] = frozenset()
        return replace(self, **converted)

    def describe(self) -> dict[str, Any]:
        def listed(items: Iterable[str] | None) -> list[str] | None:
            return None if items is None else sorted(items)

        return {
            "id": self.id,
            "token": self.token,  # a sandbox token: showing it is the point of the control API
            "label": self.label,
            "in_group": self.in_group,
            "categories": sorted(self.categories),
            "departments": listed(self.departments),
            "lifecycle_statuses": listed(self.lifecycle_statuses),
            "employee_ids": listed(self.employee_ids),
        }


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(id, token)`` from an ``Authorization: Basic ...`` header, or None if malformed."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, token = decoded.partition(":")
    return (user, token) if sep else None


def authenticate(users: dict[str, ServiceUser], header: str | None) -> ServiceUser | None:
    creds = basic_credentials(header)
    if creds is None:
        return None
    user = users.get(creds[0])
    if user is None or not hmac.compare_digest(user.token.encode(), creds[1].encode()):
        return None
    return user


@dataclass
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_epoch)}


@dataclass
class RateLimiter:
    """Fixed windows per (service user, endpoint); HiBob counts requests per endpoint per minute.

    The window opens at a user's first request and the reset header is that instant plus the
    window, in Unix epoch seconds (reference §5). Uses wall-clock time, not the sandbox clock:
    a test moving the calendar a month ahead should not refill anyone's budget.
    """

    _windows: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, user_id: str, endpoint: str, limit: int, window: float,
            now: float) -> RateDecision:
        with self._lock:
            opened, count = self._windows.get((user_id, endpoint), (now, 0.0))
            if now >= opened + window:
                opened, count = now, 0.0
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[(user_id, endpoint)] = [opened, count]
            return RateDecision(allowed, limit, max(limit - int(count), 0),
                                math.ceil(opened + window))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
