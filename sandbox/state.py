"""Everything one running sandbox holds: the company, service users, faults, limits, call log.

Tests may use this object directly (``running.state``): ``state.directory.hire(...)``,
``state.add_service_user(...)``, ``state.add_fault(...)``, ``state.clock.set(...)``. Every change
made here behaves exactly like the same change made through the control API.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Iterable

from sandbox.access import RateDecision, RateLimiter, ServiceUser
from sandbox.clock import SandboxClock
from sandbox.company import Company, generate_company
from sandbox.directory import Directory
from sandbox.fields import DEFAULT_CATEGORIES
from sandbox.people import ACTIVE, Person
from sandbox.render import Labels, RenderCache, compile_spec, render_many, render_one
from sandbox.webhooks import WebhookDispatcher

ENDPOINTS = ("search", "read", "fields", "named-lists", "other")
FAULT_KINDS = ("status", "slow", "html")
DEFAULT_USER_ID = "SERVICE-1001"


@dataclass
class Fault:
    """An injected failure: the next ``remaining`` matching calls get it, in queue order.

    ``status``: answer ``status`` (e.g. 500/502/503) with a JSON error body. ``slow``: wait
    ``delay`` seconds, then answer normally. ``html``: 200 with ``text/html`` (a HiBob web page
    instead of JSON, as a wrong path or a proxy error page gives).
    """

    id: int
    kind: str
    endpoint: str = "*"
    status: int = 503
    delay: float = 0.0
    remaining: int = 1


class SandboxState:
    def __init__(self, *, people: int = 100, seed: int = 1, company: Company | None = None,
                 clock: SandboxClock | None = None,
                 webhook_retry_delays: tuple[float, ...] | None = None) -> None:
        self.clock = clock or SandboxClock()
        self.seed = seed
        company = company or generate_company(people, seed, self.clock.today())
        self.webhooks = WebhookDispatcher(company.company_id, self.clock, webhook_retry_delays)
        self.directory = Directory(company, self.clock.today, self.webhooks.emit)
        self.cache = RenderCache()
        self.limiter = RateLimiter()
        self.search_limit: int | None = 50  # HiBob: 50 requests/minute on people search
        self.read_limit: int | None = None  # POST /people/{id}: not published [U]; off by default
        self.rate_window = 60.0
        self.service_users: dict[str, ServiceUser] = {}
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        self._calls: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._call_seq = itertools.count(1)
        self.default_user = self.add_service_user(user_id=DEFAULT_USER_ID, label="default")
        self.predefined = self.create_predefined_service_users()

    # -- service users ---------------------------------------------------------------------

    @property
    def credentials(self) -> tuple[str, str]:
        return self.default_user.id, self.default_user.token

    def _token(self, user_id: str) -> str:
        # Deterministic per seed, so `serve --seed 1` prints the same credentials every time.
        return hashlib.sha256(f"{self.seed}:{user_id}".encode()).hexdigest()[:40]

    def add_service_user(self, *, user_id: str | None = None, token: str | None = None,
                         in_group: bool = True,
                         categories: Iterable[str] | None = DEFAULT_CATEGORIES,
                         departments: Iterable[str] | None = None,
                         lifecycle_statuses: Iterable[str] | None = None,
                         employee_ids: Iterable[str] | None = None,
                         label: str = "") -> ServiceUser:
        """Add a service user with its own permission group. Departments by name or item id."""
        with self._lock:
            if user_id is None:
                number = 1001
                while f"SERVICE-{number}" in self.service_users:
                    number += 1
                user_id = f"SERVICE-{number}"
            elif user_id in self.service_users:
                raise ValueError(f"service user {user_id} already exists")
            user = ServiceUser(user_id, token or self._token(user_id), label=label).with_scope(
                in_group=in_group, categories=categories, departments=self._departments(
                    departments), lifecycle_statuses=lifecycle_statuses,
                employee_ids=employee_ids)
            self.service_users[user_id] = user
            if user_id == DEFAULT_USER_ID:
                self.default_user = user
            return user

    def update_service_user(self, user_id: str, **changes: Any) -> ServiceUser:
        """Change scope or group membership: in_group, categories, departments,
        lifecycle_statuses, employee_ids (None = no restriction, except categories)."""
        with self._lock:
            user = self.service_users[user_id]
            if "departments" in changes:
                changes["departments"] = self._departments(changes["departments"])
            user = user.with_scope(**changes)
            self.service_users[user_id] = user
            if user_id == DEFAULT_USER_ID:
                self.default_user = user
            return user

    def _departments(self, departments: Iterable[str] | None) -> list[str] | None:
        if departments is None:
            return None
        return [self.directory.department_id(d) for d in departments]

    def create_predefined_service_users(self) -> dict[str, ServiceUser]:
        """The connect-error cases, by name; idempotent. A wrong token needs no user of its own:
        send any other token for the default user."""
        specs: dict[str, dict[str, Any]] = {
            "no_group": {"in_group": False, "label": "in no permission group (403)"},
            "sees_nobody": {"employee_ids": [], "label": "scope matches nobody"},
            "no_personal": {"categories": ["root", "work", "lifecycle"],
                            "label": "no 'personal' category (no birthdays)"},
            "no_lifecycle": {"categories": ["root", "work", "personal"],
                             "label": "no 'lifecycle' category (no statuses)"},
            "employed_only": {"lifecycle_statuses": ["employed"],
                              "label": "scope: lifecycle status employed only"},
        }
        made = {}
        for number, (name, spec) in enumerate(specs.items(), start=9001):
            user_id = f"SERVICE-{number}"
            made[name] = self.service_users.get(user_id) or self.add_service_user(
                user_id=user_id, **spec)
        return made

    # -- faults and the call log -----------------------------------------------------------

    def add_fault(self, kind: str, *, endpoint: str = "*", status: int = 503,
                  delay: float = 0.0, count: int = 1) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}")
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be '*' or one of {ENDPOINTS}")
        fault = Fault(next(self._fault_ids), kind, endpoint, status, delay, count)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in ("*", endpoint):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def record_call(self, call: dict[str, Any]) -> None:
        with self._lock:
            call["seq"] = next(self._call_seq)
            self._calls.append(call)

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self._calls if c["seq"] > since]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- reading people --------------------------------------------------------------------

    def tick(self) -> int:
        return self.directory.tick()

    def rate(self, user: ServiceUser, endpoint: str) -> RateDecision | None:
        """Count one call against the user's budget; None when the endpoint has no limit."""
        limit = self.search_limit if endpoint == "search" else self.read_limit
        if limit is None:
            return None
        return self.limiter.hit(user.id, endpoint, limit, self.rate_window, time.time())

    def _labels(self) -> Labels:
        return Labels(self.directory.named_lists, self.directory.person_name)

    def search(self, user: ServiceUser, field_ids: list[str], show_inactive: bool,
               match: tuple[str, frozenset[str]] | None, mode: str) -> bytes:
        """The bytes of a people search answer, from cache when nothing changed."""
        today = self.clock.today()
        with self.cache.lock:
            with self.directory.lock:
                version = self.directory.version
                people = list(self.directory.people.values())
            # Key layout (scope, request, version, day): RenderCache.store_answer relies on it.
            key = (user.scope_key(), (tuple(field_ids), show_inactive, match, mode),
                   version, today)
            cached = self.cache.answer(key)
            if cached is not None:
                return cached
            spec = compile_spec(field_ids, user.categories, mode)
            visible = [p for p in people if (show_inactive or p.values["internal.status"] == ACTIVE)
                       and user.sees(p) and (match is None or _matches(p, match))]
            fragments = self.cache.fragments(
                (spec, today, self.directory.lists_version if mode else 0))
            body = render_many(visible, spec, today, self._labels(), fragments)
            self.cache.store_answer(key, body, version)
            return body

    def read(self, user: ServiceUser, identifier: str, field_ids: list[str],
             mode: str) -> bytes | None:
        """One employee (inactive ones too) if this user's scope covers them, else None."""
        person = self.directory.find(identifier)
        if person is None or not user.sees(person):
            return None
        spec = compile_spec(field_ids, user.categories, mode)
        return render_one(person, spec, self.clock.today(), self._labels())

    # -- whole sandbox ---------------------------------------------------------------------

    def reset(self, *, people: int, seed: int, today: date | None = None) -> None:
        """Replace the company with a freshly generated one (service users and webhooks stay)."""
        company = generate_company(people, seed, today or self.clock.today())
        with self._lock:
            self.seed = seed
            self.webhooks.company_id = company.company_id
            self.directory = Directory(company, self.clock.today, self.webhooks.emit)
            self.cache.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "company_id": self.directory.company_id,
            "seed": self.seed,
            "version": self.directory.version,
            "clock": {"now": self.clock.now().isoformat().replace("+00:00", "Z"),
                      "source": self.clock.source()},
            "counts": self.directory.counts(),
            "limits": {"search_per_window": self.search_limit,
                       "read_per_window": self.read_limit, "window_seconds": self.rate_window},
            "default_service_user": self.default_user.describe(),
            "webhooks": [w.describe() for w in self.webhooks.webhooks()],
        }


def _matches(person: Person, match: tuple[str, frozenset[str]]) -> bool:
    field_id, wanted = match
    if field_id == "root.id":
        return person.id in wanted
    return (person.email or "").lower() in wanted
