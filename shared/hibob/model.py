"""The shape the rest of peoplesync sees of a HiBob employee.

The HiBob client decodes each employee of a search (or a one-person read) into a plain ``dict``
with the keys below. The contract that everything downstream relies on:

* ``external_id`` (HiBob ``root.id``, always a string) is always present.
* Every other key is present only when HiBob returned the field: a **missing key** means the
  service user may not see it (HiBob silently omits fields it hides); a key whose value is
  ``None`` means HiBob returned an explicit null (permitted, but empty).
* Values are machine values: dates ``YYYY-MM-DD``, birthday ``MM-DD``, the department the raw
  named-list item id (the sync resolves it to a label), statuses as HiBob sends them.
"""
from __future__ import annotations

from typing import Any

Employee = dict[str, Any]

# Our key -> HiBob field id (request) and jsonPath (response).
EMPLOYEE_FIELDS: dict[str, tuple[str, str]] = {
    "external_id": ("root.id", "id"),
    "email": ("root.email", "email"),
    "first_name": ("root.firstName", "firstName"),
    "last_name": ("root.surname", "surname"),
    "display_name": ("root.displayName", "displayName"),
    "birthday": ("personal.shortBirthDate", "personal.shortBirthDate"),
    "start_date": ("work.startDate", "work.startDate"),
    "department_id": ("work.department", "work.department"),
    "site": ("work.site", "work.site"),
    "status": ("internal.status", "internal.status"),
    "lifecycle_status": ("internal.lifecycleStatus", "internal.lifecycleStatus"),
    "termination_date": ("internal.terminationDate", "internal.terminationDate"),
    "last_day_of_work": ("employee.lastDayOfWork", "employee.lastDayOfWork"),
}

# The field ids a full sync asks HiBob for, in a stable order.
SYNC_FIELD_IDS: list[str] = [field_id for field_id, _ in EMPLOYEE_FIELDS.values()]

# The HiBob named list that holds department labels.
DEPARTMENT_LIST = "department"
