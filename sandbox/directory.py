"""The company's people and named lists, and every change an HR admin can make to them.

Each change bumps ``version`` (which invalidates cached search answers), bumps the changed
person's ``rev`` (which invalidates that person's rendered fragment) and emits the webhooks v2
events HiBob would send, through the ``emit`` callback. Lifecycle moves that happen because a day
passed (a start date arriving, a termination taking effect) are applied by ``tick`` with
``triggeredBy: "system"``.
"""
from __future__ import annotations

import random
import threading
from datetime import date
from typing import Any, Callable

from sandbox.company import Company, list_item
from sandbox.names import ascii_spelling
from sandbox.people import (ACTIVE, LEAVE_TYPES, TERMINATED, Person, apply_lifecycle, day_after,
                            lifecycle_on)

Emit = Callable[[str, dict[str, Any], str], None]  # (type, data, triggeredBy)
UNSET: Any = object()


class ChangeRefused(ValueError):
    """A change HiBob would refuse (unknown person, rehire before the termination date...)."""


class Directory:
    def __init__(self, company: Company, today: Callable[[], date], emit: Emit) -> None:
        self.company_id = company.company_id
        self.domain = company.domain
        self.admin_id = company.admin_id
        self.cases = company.cases
        self.people: dict[str, Person] = {p.id: p for p in company.people}
        self.named_lists = company.named_lists
        self.version = 1  # any change to what an answer could contain
        self.lists_version = 1  # label changes only (humanReadable answers)
        self.lock = threading.RLock()
        self._today_fn = today
        self._emit = emit
        self._ticked_day = today().isoformat()
        self._rng = random.Random(company.company_id)
        self._rows: set[tuple[str, str, str]] = set()  # table rows written through changes

    # -- reading ---------------------------------------------------------------------------

    def today(self) -> str:
        return self._today_fn().isoformat()

    def find(self, identifier: str) -> Person | None:
        """By backend id, else by e-mail (case-insensitive). When a reused address matches
        several profiles, the Active one wins, then the latest start date [U]."""
        person = self.people.get(identifier)
        if person is not None:
            return person
        wanted = identifier.lower()
        matches = [p for p in self.snapshot() if (p.email or "").lower() == wanted]
        matches.sort(key=lambda p: (p.status == ACTIVE, p.values["work.startDate"]), reverse=True)
        return matches[0] if matches else None

    def snapshot(self) -> list[Person]:
        with self.lock:
            return list(self.people.values())

    def person_name(self, person_id: str) -> str | None:
        person = self.people.get(person_id)
        return person.values["root.displayName"] if person else None

    def list_items(self, name: str, include_archived: bool = False) -> list[dict[str, Any]] | None:
        items = self.named_lists.get(name)
        if items is None:
            return None
        return [dict(item) for item in items if include_archived or not item["archived"]]

    def department_id(self, name_or_id: str) -> str:
        for item in self.named_lists["department"]:
            if name_or_id in (item["id"], item["name"]):
                return item["id"]
        raise ValueError(f"no department {name_or_id!r} in the named list")

    # -- time ------------------------------------------------------------------------------

    def tick(self, force: bool = False) -> int:
        """Apply lifecycle moves due by today; returns how many people moved."""
        today = self.today()
        if today == self._ticked_day and not force:
            return 0
        moved = 0
        with self.lock:
            if today == self._ticked_day and not force:
                return 0  # another thread got here first
            self._ticked_day = today
            for person in self.people.values():
                events = apply_lifecycle(person, today)
                if events is None:
                    continue
                moved += 1
                for event in events:
                    self._emit(event, {"employeeId": person.id}, "system")
            if moved:
                self.version += 1
        return moved

    # -- changes ---------------------------------------------------------------------------

    @staticmethod
    def _day(text: str | None) -> str | None:
        """Validate an ISO date given by a caller (a ValueError becomes a 400)."""
        return None if text is None else date.fromisoformat(text).isoformat()

    def _get(self, person_id: str) -> Person:
        person = self.people.get(person_id)
        if person is None:
            raise KeyError(person_id)
        return person

    def _write(self, person: Person, changes: dict[str, Any]) -> list[str]:
        """Replace ``person.values`` with the changes applied; the ids whose value changed."""
        values = dict(person.values)
        changed = [key for key, value in changes.items() if values.get(key) != value]
        values.update(changes)
        if "root.firstName" in changed or "root.surname" in changed:
            values["root.displayName"] = values["root.fullName"] = (
                f"{values['root.firstName']} {values['root.surname']}")
        if changed:
            person.values = values
            person.rev += 1
            self.version += 1
        return changed

    def _settle(self, person: Person, triggered_by: str) -> None:
        """Re-derive a person's lifecycle after a change; emit what became effective today."""
        events = apply_lifecycle(person, self.today())
        if events:
            self.version += 1
            for event in events:
                self._emit(event, {"employeeId": person.id}, triggered_by)

    def _table_entry(self, person_id: str, table: str, effective: str, by: str) -> None:
        # Historical tables are keyed by effective date: a second write for the same person,
        # table and date changes that row (table.entry.updated) instead of adding one.
        row = (person_id, table, effective)
        kind = "table.entry.updated" if row in self._rows else "table.entry.created"
        self._rows.add(row)
        self._emit(kind, {"employeeId": person_id, "tableId": table, "effectiveDate": effective},
                   by)

    def _updated(self, person_id: str, field_ids: list[str], by: str) -> None:
        if field_ids:
            self._emit("employee.updated", {"employeeId": person_id, "fieldUpdates": field_ids},
                       by)

    def hire(self, first_name: str, surname: str, *, email: str | None = UNSET,
             start_date: str | None = None, department: str | None = None,
             birth_date: str | None = None, site: str | None = None,
             person_id: str | None = None) -> Person:
        """Create a profile; a start date after today makes a future joiner (hired, Inactive)."""
        with self.lock:
            today = self.today()
            pid = person_id or str(3 * 10**18 + self._rng.getrandbits(60) % 10**18)
            if pid in self.people:
                raise ChangeRefused(f"employee id {pid} already exists")
            start = self._day(start_date) or today
            if email is UNSET:
                email = f"{ascii_spelling(first_name)}.{ascii_spelling(surname)}@{self.domain}"
            site_id = next((item["id"] for item in self.named_lists.get("site", [])
                            if site is not None and item["name"] == site), None)
            # Fields not set here are simply absent: answers show them as permitted-but-empty.
            values: dict[str, Any] = {
                "root.id": pid, "root.companyId": self.company_id, "root.email": email,
                "root.firstName": first_name, "root.surname": surname,
                "root.displayName": f"{first_name} {surname}",
                "root.fullName": f"{first_name} {surname}",
                "root.creationDateTime": f"{today}T09:00:00.000000",
                "personal.birthDate": self._day(birth_date),
                "personal.shortBirthDate": birth_date[5:] if birth_date else None,
                "work.startDate": start, "work.originalStartDate": start,
                "employee.firstDayOfWork": start,
                "work.department": self.department_id(department) if department else None,
                "work.site": site, "work.siteId": site_id, "work.isManager": False,
                "work.employeeIdInCompany": len(self.people) + 1,
            }
            lifecycle, status = lifecycle_on(values, None, True, today)
            values.update({"internal.lifecycleStatus": lifecycle, "internal.status": status,
                           "root.state": "active" if status == ACTIVE else "inactive",
                           "internal.currentActiveStatusStartDate": start})
            person = Person(id=pid, values=values)
            self.people[pid] = person
            self.version += 1
            self._emit("employee.created", {"employeeId": pid}, self.admin_id)
            self._table_entry(pid, "work", start, self.admin_id)
            if lifecycle != "hired":
                self._emit("employee.joined", {"employeeId": pid}, self.admin_id)
            return person

    def terminate(self, person_id: str, *, termination_date: str | None = None,
                  last_day_of_work: str | None = None, reason: str | None = None) -> Person:
        """Schedule or record a termination. Default termination date: yesterday (but not before
        the start date), so the person is terminated at once: terminated is the status from the
        day after the termination date (see ``sandbox.people``).
        A last day of work before the termination date means garden leave in between."""
        with self.lock:
            person = self._get(person_id)
            yesterday = date.fromordinal(self._today_fn().toordinal() - 1).isoformat()
            term = self._day(termination_date) or max(yesterday, person.values["work.startDate"])
            last = self._day(last_day_of_work) or term
            if last > term:
                raise ChangeRefused("last day of work is after the termination date")
            if term < person.values["work.startDate"]:
                raise ChangeRefused("termination date is before the start date")
            reasons = self.named_lists["terminationreason"]
            reason_id = next((i["id"] for i in reasons if reason in (i["id"], i["name"])),
                             reasons[0]["id"])
            changed = self._write(person, {"internal.terminationDate": term,
                                           "employee.lastDayOfWork": last,
                                           "internal.terminationReason": reason_id})
            self._table_entry(person.id, "lifecycle", day_after(term), self.admin_id)
            self._updated(person.id, changed, self.admin_id)
            self._settle(person, self.admin_id)
            return person

    def rehire(self, person_id: str, *, start_date: str | None = None) -> Person:
        """Rehire on the same profile (same id): the new start date must follow the termination."""
        with self.lock:
            person = self._get(person_id)
            if person.lifecycle != TERMINATED:
                raise ChangeRefused("only a terminated employee can be rehired")
            start = self._day(start_date) or self.today()
            if start <= person.values["internal.terminationDate"]:
                raise ChangeRefused("the new start date must be after the termination date")
            changed = self._write(person, {
                "work.startDate": start, "employee.firstDayOfWork": start,
                "internal.terminationDate": None, "employee.lastDayOfWork": None,
                "internal.terminationReason": None, "internal.terminationType": None})
            self._table_entry(person.id, "lifecycle", start, self.admin_id)
            self._updated(person.id, changed, self.admin_id)
            self._settle(person, self.admin_id)
            return person

    def start_leave(self, person_id: str, *, leave_type: str = "leave",
                    active: bool = False) -> Person:
        if leave_type not in LEAVE_TYPES:
            raise ChangeRefused(f"leave type must be one of {LEAVE_TYPES}")
        with self.lock:
            person = self._get(person_id)
            person.leave_type, person.leave_active = leave_type, active
            self._table_entry(person.id, "lifecycle", self.today(), self.admin_id)
            self._settle(person, self.admin_id)
            return person

    def end_leave(self, person_id: str) -> Person:
        with self.lock:
            person = self._get(person_id)
            person.leave_type, person.leave_active = None, True
            self._table_entry(person.id, "lifecycle", self.today(), self.admin_id)
            self._settle(person, self.admin_id)
            return person

    def delete(self, person_id: str) -> None:
        with self.lock:
            self._get(person_id)
            del self.people[person_id]
            self.version += 1
            self._emit("employee.deleted", {"employeeId": person_id}, self.admin_id)

    def update(self, person_id: str, *, email: str | None = UNSET, birthday: str | None = UNSET,
               department: str | None = UNSET, first_name: str = UNSET,
               surname: str = UNSET) -> Person:
        """Change plain fields. ``birthday`` is "YYYY-MM-DD" or "MM-DD" (keeps the birth year).

        As in HiBob, ``fieldUpdates`` lists only what was written: a birthday change writes
        ``personal.birthDate``; the derived ``shortBirthDate`` and ``age`` are not listed [U].
        A department change writes a work-table entry, so it also sends table.entry.created.
        """
        with self.lock:
            person = self._get(person_id)
            changes: dict[str, Any] = {}
            if email is not UNSET:
                changes["root.email"] = email
            if first_name is not UNSET:
                changes["root.firstName"] = first_name
            if surname is not UNSET:
                changes["root.surname"] = surname
            if birthday is not UNSET:
                changes.update(self._birth_changes(person, birthday))
            if department is not UNSET:
                changes["work.department"] = (self.department_id(department)
                                              if department is not None else None)
            changed = self._write(person, changes)
            if "work.department" in changed:
                self._table_entry(person.id, "work", self.today(), self.admin_id)
            listed = [f for f in changed if f not in ("personal.shortBirthDate",
                                                      "root.displayName", "root.fullName")]
            self._updated(person.id, listed, self.admin_id)
            if {"root.email", "root.firstName", "root.surname"} & set(changed):
                self._refresh_reports(person)
            return person

    @staticmethod
    def _birth_changes(person: Person, birthday: str | None) -> dict[str, Any]:
        if birthday is None:
            return {"personal.birthDate": None, "personal.shortBirthDate": None}
        if len(birthday) == 5:  # "MM-DD": keep the year, or pick a leap year for Feb 29
            old = person.values.get("personal.birthDate")
            year = old[:4] if old and not birthday == "02-29" else "1992"
            birthday = f"{year}-{birthday}"
        date.fromisoformat(birthday)  # refuses "02-30" and friends
        return {"personal.birthDate": birthday, "personal.shortBirthDate": birthday[5:]}

    def _refresh_reports(self, manager: Person) -> None:
        """Keep the reportsTo copies of a manager's name and e-mail current (no events)."""
        boss = manager.values
        for person in self.people.values():
            if person.values.get("work.manager") == manager.id:
                self._write(person, {"work.reportsTo": {
                    "id": manager.id, "firstName": boss["root.firstName"],
                    "surname": boss["root.surname"], "email": boss["root.email"],
                    "displayName": boss["root.displayName"]}})

    def rename_list_item(self, list_name: str, item_id: str, name: str) -> dict[str, Any]:
        """Rename a named-list item (e.g. a department). Ids stay, so no employee changes and
        no employee webhooks: only human-readable labels move."""
        with self.lock:
            for item in self.named_lists.get(list_name, []):
                if item_id in (item["id"], item["name"]):
                    item["name"] = item["value"] = name
                    self.lists_version += 1
                    self.version += 1
                    return dict(item)
            raise KeyError(item_id)

    def add_list_item(self, list_name: str, name: str, archived: bool = False) -> dict[str, Any]:
        with self.lock:
            items = self.named_lists.setdefault(list_name, [])
            item = list_item(str(self._rng.randrange(100_000_000, 999_999_999)), name, archived)
            items.append(item)
            self.lists_version += 1
            self.version += 1
            return dict(item)

    def counts(self) -> dict[str, Any]:
        by_lifecycle: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for person in self.snapshot():
            by_lifecycle[person.lifecycle] = by_lifecycle.get(person.lifecycle, 0) + 1
            by_status[person.status] = by_status.get(person.status, 0) + 1
        return {"people": len(self.people), "lifecycle": by_lifecycle, "status": by_status}
