"""Credentials, permission scope, silent omission, showInactive and the one-filter rule."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.server import RunningSandbox

BIRTHDAY_AND_ID = ["root.id", "root.email", "personal.shortBirthDate", "internal.status",
                   "internal.lifecycleStatus", "work.department"]


def as_user(hibob, credentials: tuple[str, str]):
    hibob.auth = credentials
    return hibob


def error_body(answer: requests.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"key", "error"}
    assert isinstance(body["key"], str) and isinstance(body["error"], str)
    return body


@pytest.mark.parametrize("auth", [None, ("SERVICE-1001", "wrong-token"), ("SERVICE-404", "x")])
def test_bad_credentials_are_401_with_a_key_and_error(sandbox: RunningSandbox, auth) -> None:
    answer = requests.post(sandbox.base_url + "/people/search", json={"fields": ["root.id"]},
                           auth=auth, timeout=10)
    assert answer.status_code == 401
    error_body(answer)


def test_malformed_authorization_header_is_401(sandbox: RunningSandbox) -> None:
    answer = requests.post(sandbox.base_url + "/people/search", json={"fields": ["root.id"]},
                           headers={"Authorization": "Basic not-base64!"}, timeout=10)
    assert answer.status_code == 401


def test_service_user_in_no_permission_group_gets_403_on_people(sandbox: RunningSandbox,
                                                               hibob) -> None:
    as_user(hibob, sandbox.credentials_of("no_group"))
    for answer in (hibob.search(["root.id"]),
                   hibob.post("/people/x@example.com", json={"fields": ["root.id"]})):
        assert answer.status_code == 403
        error_body(answer)
    # Metadata needs no data permission (reference §3).
    assert hibob.get("/company/people/fields").status_code == 200


def test_group_membership_can_be_taken_away_and_given_back(sandbox: RunningSandbox, hibob,
                                                          control) -> None:
    user_id = sandbox.credentials[0]
    assert control.patch(f"/service-users/{user_id}", json={"in_group": False}).ok
    assert hibob.search(["root.id"]).status_code == 403
    assert control.patch(f"/service-users/{user_id}", json={"in_group": True}).ok
    assert hibob.search(["root.id"]).status_code == 200


def test_fields_outside_the_scope_are_silently_omitted(sandbox: RunningSandbox, hibob) -> None:
    as_user(hibob, sandbox.credentials_of("no_personal"))
    answer = hibob.search(BIRTHDAY_AND_ID + ["no.such.field"], showInactive=True)

    assert answer.status_code == 200
    for employee in answer.json()["employees"]:
        assert "personal" not in employee and "/personal/shortBirthDate" not in employee
        assert "no" not in employee and "/no/such/field" not in employee
        assert "id" in employee and "internal" in employee and "work" in employee


def test_removing_a_category_through_the_control_api(sandbox: RunningSandbox, hibob,
                                                    control) -> None:
    before = hibob.search(BIRTHDAY_AND_ID).json()["employees"]
    assert all("personal" in e for e in before)
    control.patch(f"/service-users/{sandbox.credentials[0]}",
                  json={"categories": ["root", "work", "lifecycle"]})
    after = hibob.search(BIRTHDAY_AND_ID).json()["employees"]
    assert len(after) == len(before)
    assert not any("personal" in e or "/personal/shortBirthDate" in e for e in after)


def test_granting_a_category_reveals_its_fields(sandbox: RunningSandbox, hibob) -> None:
    user = sandbox.state.add_service_user(categories=["root", "work", "address",
                                                      "personalContact"])
    as_user(hibob, (user.id, user.token))
    employees = hibob.search(["root.id", "work.site", "address.city", "address.siteCountry",
                              "home.mobilePhone"]).json()["employees"]
    london = [e for e in employees if e["work"]["site"] == "London"]
    assert london and all(e["address"]["city"] == "London" for e in london)
    assert all(e["/address/siteCountry"] == {"value": "United Kingdom"} for e in london)
    assert all("mobilePhone" in e["home"] for e in employees)


def test_scope_that_matches_nobody_answers_an_empty_list(sandbox: RunningSandbox, hibob) -> None:
    as_user(hibob, sandbox.credentials_of("sees_nobody"))
    answer = hibob.search(BIRTHDAY_AND_ID, showInactive=True)
    assert answer.status_code == 200 and answer.json() == {"employees": []}


def test_scope_by_department_and_lifecycle(sandbox: RunningSandbox, hibob, control) -> None:
    departments = hibob.get("/company/named-lists/department").json()["items"]
    engineering = next(d for d in departments if d["name"] == "Engineering")
    control.patch(f"/service-users/{sandbox.credentials[0]}", json={
        "departments": ["Engineering"], "lifecycle_statuses": ["employed", "hired"]})

    employees = hibob.search(BIRTHDAY_AND_ID, showInactive=True).json()["employees"]
    assert employees
    assert {e["work"]["department"] for e in employees} == {engineering["id"]}
    assert {e["internal"]["lifecycleStatus"] for e in employees} <= {"employed", "hired"}
    outsider = next(p for p in sandbox.state.directory.snapshot()
                    if p.department != engineering["id"])
    assert hibob.post(f"/people/{outsider.id}", json={"fields": ["root.id"]}).status_code == 404


def test_employed_only_scope_hides_joiners_and_leavers_even_with_show_inactive(
        sandbox: RunningSandbox, hibob) -> None:
    as_user(hibob, sandbox.credentials_of("employed_only"))
    employees = hibob.search(BIRTHDAY_AND_ID, showInactive=True).json()["employees"]
    assert {e["internal"]["lifecycleStatus"] for e in employees} == {"employed"}


def test_show_inactive_adds_hired_and_terminated_people(hibob) -> None:
    active = hibob.search(BIRTHDAY_AND_ID).json()["employees"]
    everyone = hibob.search(BIRTHDAY_AND_ID, showInactive=True).json()["employees"]

    assert {e["internal"]["status"] for e in active} == {"Active"}
    inactive = [e for e in everyone if e["internal"]["status"] == "Inactive"]
    assert len(everyone) == len(active) + len(inactive)
    assert {"hired", "terminated"} <= {e["internal"]["lifecycleStatus"] for e in inactive}


def test_one_person_read_returns_inactive_people_in_scope(sandbox: RunningSandbox, hibob) -> None:
    leaver = sandbox.state.directory.people[sandbox.state.directory.cases["terminated"][0]]
    answer = hibob.post(f"/people/{leaver.id}", json={"fields": BIRTHDAY_AND_ID})
    assert answer.status_code == 200
    assert answer.json()["internal"]["status"] == "Inactive"


@pytest.mark.parametrize("body, why", [
    ({"fields": ["root.id"], "filters": []}, "empty filters list"),
    ({"fields": ["root.id"], "filters": [
        {"fieldPath": "root.id", "operator": "equals", "values": ["1"]},
        {"fieldPath": "root.email", "operator": "equals", "values": ["a@b.c"]}]}, "two filters"),
    ({"fields": ["root.id"], "filters": [
        {"fieldPath": "work.department", "operator": "equals", "values": ["1"]}]}, "field"),
    ({"fields": ["root.id"], "filters": [
        {"fieldPath": "root.email", "operator": "contains", "values": ["a"]}]}, "operator"),
    ({"fields": ["root.id"], "filters": [
        {"fieldPath": "root.email", "operator": "equals", "values": []}]}, "empty values"),
    ({"fields": ["root.id"], "filters": [
        {"fieldPath": "root.email", "operator": "equals", "values": "a@b.c"}]}, "values not list"),
    ({"fields": ["root.id"], "filters": {"fieldPath": "root.id"}}, "filters not a list"),
    ({"fields": ["root.id"] * 401}, "more than 400 fields"),
    ({"fields": "root.id"}, "fields not a list"),
    ({"fields": ["root.id"], "showInactive": "yes"}, "showInactive not a boolean"),
    ({"fields": ["root.id"], "humanReadable": "YES"}, "humanReadable value"),
])
def test_search_refuses_what_hibob_refuses(hibob, body: dict[str, Any], why: str) -> None:
    answer = hibob.post("/people/search", json=body)
    assert answer.status_code == 400, why
    error_body(answer)


def test_malformed_json_is_400(hibob) -> None:
    answer = hibob.post("/people/search", data=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_filter_by_email_is_case_insensitive_and_honours_show_inactive(
        sandbox: RunningSandbox, hibob) -> None:
    directory = sandbox.state.directory
    someone = next(p for p in directory.snapshot() if p.status == "Active" and p.email)
    hired = directory.people[directory.cases["future_joiner"][0]]
    by_email = {"fieldPath": "root.email", "operator": "equals",
                "values": [someone.email.upper(), hired.email]}

    visible = hibob.search(["root.id"], filters=[by_email]).json()["employees"]
    assert [e["id"] for e in visible] == [someone.id]
    with_inactive = hibob.search(["root.id"], filters=[by_email], showInactive=True).json()
    assert {e["id"] for e in with_inactive["employees"]} == {someone.id, hired.id}

    by_id = {"fieldPath": "root.id", "operator": "equals", "values": [someone.id]}
    assert [e["id"] for e in hibob.search(["root.id"], filters=[by_id]).json()["employees"]] \
        == [someone.id]


def test_read_by_email_prefers_the_active_profile_when_an_address_was_reused(
        sandbox: RunningSandbox, hibob) -> None:
    leaver_id, joiner_id = sandbox.state.directory.cases["reused_email"]
    email = sandbox.state.directory.people[joiner_id].email
    assert sandbox.state.directory.people[leaver_id].email == email
    answer = hibob.post(f"/people/{email}", json={"fields": ["root.id"]})
    assert answer.json()["id"] == joiner_id
