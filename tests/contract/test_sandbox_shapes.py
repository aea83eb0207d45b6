"""The sandbox's answers have the shapes HiBob's real answers have (reference §2, §3).

These tests pin key names and value types to what the reference quotes from a real tenant, so the
sandbox cannot drift away from HiBob while the rest of peoplesync is tested against it.
"""
from __future__ import annotations

import re
from typing import Any

from sandbox.server import RunningSandbox

SYNC_FIELDS = ["root.id", "root.email", "root.firstName", "root.surname", "root.displayName",
               "personal.shortBirthDate", "work.startDate", "work.department", "work.site",
               "internal.status", "internal.lifecycleStatus", "internal.terminationDate",
               "employee.lastDayOfWork"]
JSON_PATHS = {"root.id": "id", "root.email": "email", "root.firstName": "firstName",
              "root.surname": "surname", "root.displayName": "displayName"}
LIFECYCLE_VALUES = {"hired", "employed", "garden leave", "terminated", "leave", "parental leave"}
EMPLOYEE_ID = re.compile(r"^\d{15,20}$")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def dig(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        obj = obj[part]
    return obj


def assert_both_encodings(employee: dict[str, Any], field_ids: list[str]) -> None:
    """Nested value by jsonPath always; "/a/b": {"value": v} exactly when v is not null."""
    for field_id in field_ids:
        nested = dig(employee, JSON_PATHS.get(field_id, field_id))
        slash = "/" + field_id.replace(".", "/")
        if nested is None:
            assert slash not in employee, f"{slash} present for a null value"
        else:
            assert employee[slash] == {"value": nested}, field_id


def test_single_read_has_the_captured_shape(sandbox: RunningSandbox, hibob, control) -> None:
    # The reference's real capture: a future joiner with no department, title or manager, read
    # by a service user that may see personal contact details, with humanReadable APPEND.
    user = sandbox.state.add_service_user(categories=["root", "work", "lifecycle",
                                                      "personalContact"])
    hired = control.post("/people", json={"first_name": "Ada", "surname": "Okafor",
                                          "start_date": "2099-09-06", "site": "London"}).json()
    fields = ["root.id", "root.email", "root.firstName", "root.displayName", "internal.status",
              "work.department", "work.reportsTo", "work.site", "work.startDate", "work.title",
              "home.mobilePhone"]
    hibob.auth = (user.id, user.token)
    answer = hibob.post(f"/people/{hired['id']}", json={"fields": fields,
                                                         "humanReadable": "APPEND"})

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {
        "/internal/status", "/root/displayName", "/root/email", "/root/firstName", "/root/id",
        "/work/site", "/work/startDate",
        "displayName", "email", "firstName", "home", "humanReadable", "id", "internal", "work"}
    assert EMPLOYEE_ID.match(body["id"]) and body["/root/id"] == {"value": body["id"]}
    assert body["work"] == {"department": None, "reportsTo": None, "site": "London",
                            "startDate": "2099-09-06", "title": None}
    assert body["home"] == {"mobilePhone": None}
    assert body["internal"] == {"status": "Inactive"}
    assert body["/work/startDate"] == {"value": "2099-09-06"}
    human = body["humanReadable"]
    assert human["id"] == body["id"] and human["email"] == body["email"]
    assert set(human["work"]) == {"site", "startDate"}  # labels only for non-null values
    assert human["work"]["startDate"] != "2099-09-06"  # locale-formatted, never ISO


def test_search_wraps_employees_in_both_encodings(hibob) -> None:
    answer = hibob.search(SYNC_FIELDS)

    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["employees"]
    assert body["employees"]
    for employee in body["employees"]:
        assert isinstance(employee["id"], str) and EMPLOYEE_ID.match(employee["id"])
        assert_both_encodings(employee, SYNC_FIELDS)
        assert employee["internal"]["status"] == "Active"  # showInactive defaults to false


def test_values_use_hibob_formats(hibob) -> None:
    employees = hibob.search(SYNC_FIELDS, showInactive=True).json()["employees"]

    by_lifecycle: dict[str, set[str]] = {}
    for employee in employees:
        lifecycle = employee["internal"]["lifecycleStatus"]
        by_lifecycle.setdefault(lifecycle, set()).add(employee["internal"]["status"])
        birthday = employee["personal"]["shortBirthDate"]
        assert birthday is None or re.match(r"^\d{2}-\d{2}$", birthday)
        assert ISO_DAY.match(employee["work"]["startDate"])
        for day in (employee["internal"]["terminationDate"],
                    employee["employee"]["lastDayOfWork"]):
            assert day is None or ISO_DAY.match(day)
    assert set(by_lifecycle) <= LIFECYCLE_VALUES
    assert {"hired", "employed", "garden leave", "terminated"} <= set(by_lifecycle)
    assert by_lifecycle["hired"] == {"Inactive"} and by_lifecycle["terminated"] == {"Inactive"}
    assert by_lifecycle["employed"] == {"Active"}
    assert by_lifecycle["garden leave"] == {"Active", "Inactive"}  # Active on the last day only
    assert "02-29" in {e["personal"]["shortBirthDate"] for e in employees}


def test_fields_metadata_has_the_documented_shape(hibob) -> None:
    answer = hibob.get("/company/people/fields")

    assert answer.status_code == 200
    fields = answer.json()
    assert isinstance(fields, list)
    keys = {"id", "name", "category", "categoryId", "categoryDisplayName", "jsonPath", "type",
            "typeData", "historical", "description"}
    assert all(set(f) == keys for f in fields)
    by_id = {f["id"]: f for f in fields}
    # Verbatim the element the reference quotes (§3).
    assert by_id["personal.shortBirthDate"] == {
        "id": "personal.shortBirthDate", "name": "Birthday", "category": "personal",
        "categoryId": "personal", "categoryDisplayName": "Personal",
        "jsonPath": "personal.shortBirthDate", "type": "short-date", "typeData": {},
        "historical": False, "description": None}
    categories = {"root.id": "root", "root.email": "root", "root.state": "userData",
                  "work.startDate": "work", "work.department": "work",
                  "personal.birthDate": "personal", "home.mobilePhone": "personalContact",
                  "address.city": "address", "internal.status": "lifecycle",
                  "internal.lifecycleStatus": "lifecycle", "internal.terminationDate": "lifecycle",
                  "employee.lastDayOfWork": "lifecycle", "employee.firstDayOfWork": "lifecycle"}
    for field_id, category in categories.items():
        assert by_id[field_id]["categoryId"] == category, field_id
    assert by_id["root.id"]["jsonPath"] == "id"
    assert by_id["work.department"]["typeData"] == {"listId": "department"}
    assert by_id["work.department"]["historical"] is True


def test_named_list_of_departments(hibob) -> None:
    current = hibob.get("/company/named-lists/department").json()
    everything = hibob.get("/company/named-lists/department",
                           params={"includeArchived": "true"}).json()

    assert set(current) == {"name", "values", "items"} and current["name"] == "department"
    assert current["values"] == current["items"]
    for item in everything["items"]:
        assert set(item) == {"id", "value", "name", "archived", "children"}
        assert isinstance(item["id"], str) and item["id"].isdigit()
        assert item["children"] == []
    assert not any(item["archived"] for item in current["items"])
    assert any(item["archived"] for item in everything["items"])
    # Machine department values are item ids (some point at archived items).
    ids = {item["id"] for item in everything["items"]}
    employees = hibob.search(["root.id", "work.department"], showInactive=True).json()
    assert {e["work"]["department"] for e in employees["employees"]} <= ids


def test_named_list_names_are_case_sensitive(hibob) -> None:
    answer = hibob.get("/company/named-lists/Department")
    assert answer.status_code == 404 and answer.content == b""


def test_human_readable_replace_gives_labels(hibob) -> None:
    lists = hibob.get("/company/named-lists/department",
                      params={"includeArchived": "true"}).json()["items"]
    names = {item["name"] for item in lists}
    employees = hibob.search(["root.id", "work.department", "work.startDate"],
                             humanReadable="REPLACE").json()["employees"]
    for employee in employees:
        assert employee["work"]["department"] in names
        assert re.match(r"^\d{2}/\d{2}/\d{4}$", employee["work"]["startDate"])


def test_wrong_get_path_answers_html_with_200(hibob) -> None:
    answer = hibob.get("/people/3332883894235038486/variables")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")


def test_unknown_employee_is_404(hibob) -> None:
    assert hibob.post("/people/3332883894235038486", json={"fields": ["root.id"]}
                      ).status_code == 404
    assert hibob.post("/people/nobody@example.com", json={"fields": ["root.id"]}
                      ).status_code == 404
