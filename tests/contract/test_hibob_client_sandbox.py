"""The HiBob client against the sandbox (the HiBob emulator) over real HTTP on loopback.

Fixtures ``sandbox`` (60 people, seed 7) and ``control`` (its control API) come from conftest.py.
"""
from __future__ import annotations

import json
import time
from typing import Any

import fakeredis
import pytest

from shared.hibob.client import HiBobClient
from shared.hibob.decode import decoder_for
from shared.hibob.errors import (AuthFailed, HiBobUnavailable, InvalidData, PermissionMissing,
                                 PersonGone, RateLimited)
from shared.hibob.model import EMPLOYEE_FIELDS, SYNC_FIELD_IDS
from shared.hibob.pacing import RedisPacer

LIFECYCLE_KEYS = {"status", "lifecycle_status", "termination_date", "last_day_of_work"}


class RecordingSleep:
    """Remembers each wait; really sleeps only when asked (the sandbox's 429 windows are
    wall-clock, its injected faults are not)."""

    def __init__(self, real: bool = False) -> None:
        self.real = real
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.real:
            time.sleep(seconds)


def make_client(sandbox: Any, credentials: tuple[str, str] | None = None,
                **kwargs: Any) -> HiBobClient:
    kwargs.setdefault("sleep", RecordingSleep())
    return HiBobClient(sandbox.base_url, *(credentials or sandbox.credentials), **kwargs)


def statuses(control: Any) -> list[int]:
    return [call["status"] for call in control.get("/calls").json()["calls"]]


def corrupt(sandbox: Any, position: int, **values: Any) -> str:
    """Give the person at ``position`` raw field values the control API would refuse.

    The control API has no fault for malformed people data, so this edits the sandbox's state the
    way its own Directory does (replace ``values``, bump ``rev`` and ``version``).
    """
    directory = sandbox.state.directory
    with directory.lock:
        person = list(directory.people.values())[position]
        person.values = {**person.values, **values}
        person.rev += 1
        directory.version += 1
    return person.id


def test_search_returns_everyone_the_service_user_sees_in_machine_values(sandbox, control):
    with make_client(sandbox) as client:
        result = client.search_people()
    people = {p["id"]: p for p in control.get("/people").json()["people"]}
    assert {e["external_id"] for e in result.employees} == set(people)
    assert {e["lifecycle_status"] for e in result.employees} >= {"hired", "terminated",
                                                                 "employed"}
    for employee in result.employees:
        expected = people[employee["external_id"]]
        assert employee["email"] == expected["email"]
        assert employee["birthday"] == expected["birthday"]
        assert employee["start_date"] == expected["start_date"]
        assert employee["department_id"] == expected["department"]
        assert set(employee) == set(EMPLOYEE_FIELDS)
    assert result.missing_counts == {} and result.byte_size > 10_000
    (call,) = control.get("/calls").json()["calls"]
    assert call["request"] == {"fields": SYNC_FIELD_IDS, "showInactive": True}


def test_read_person_matches_the_search(sandbox):
    with make_client(sandbox) as client:
        everyone = client.search_people().employees
        assert client.read_person(everyone[5]["external_id"]) == everyone[5]


@pytest.mark.parametrize("credentials", [("SERVICE-1001", "wrong-token"),
                                         ("SERVICE-0000", "whatever")])
def test_rejected_credentials_are_auth_failed_after_a_single_call(sandbox, control, credentials):
    with make_client(sandbox, credentials) as client, pytest.raises(AuthFailed) as caught:
        client.search_people()
    assert caught.value.code == "auth_failed"
    assert credentials[1] not in str(caught.value)
    assert statuses(control) == [401]


def test_a_service_user_in_no_permission_group_is_permission_missing(sandbox, control):
    with make_client(sandbox, sandbox.credentials_of("no_group")) as client:
        with pytest.raises(PermissionMissing) as caught:
            client.search_people()
    assert caught.value.code == "permission_missing"
    assert statuses(control) == [403]


def test_an_unknown_or_deleted_person_is_person_gone(sandbox, control):
    with make_client(sandbox) as client:
        with pytest.raises(PersonGone):
            client.read_person("1234567890123456789")
        someone = client.search_people().employees[7]["external_id"]
        control.delete(f"/people/{someone}")
        with pytest.raises(PersonGone) as caught:
            client.read_person(someone)
    assert caught.value.employee_id == someone


def test_429_waits_for_the_announced_reset_then_succeeds(sandbox, control):
    control.patch("/config", json={"search_limit": 1, "rate_window": 0.5})
    sleep = RecordingSleep(real=True)
    with make_client(sandbox, sleep=sleep) as client:
        client.search_people()
        started = time.time()
        assert len(client.search_people().employees) == 60
    assert statuses(control) == [200, 429, 200]
    (wait,) = sleep.waits
    assert 0 < wait <= 2.0 and time.time() - started >= wait


def test_429_with_a_far_reset_raises_rate_limited_for_rescheduling(sandbox, control):
    control.patch("/config", json={"search_limit": 1, "rate_window": 600})
    with make_client(sandbox, max_rate_limit_wait=5) as client:
        client.search_people()
        with pytest.raises(RateLimited) as caught:
            client.search_people()
    assert time.time() + 590 < caught.value.reset_at <= time.time() + 601
    assert statuses(control) == [200, 429]


def test_5xx_is_retried_then_succeeds(sandbox, control):
    control.post("/faults", json={"kind": "status", "status": 503, "count": 2,
                                  "endpoint": "search"})
    with make_client(sandbox) as client:
        assert len(client.search_people().employees) == 60
    assert statuses(control) == [503, 503, 200]


def test_5xx_that_persists_is_hibob_unavailable_after_the_retries(sandbox, control):
    control.post("/faults", json={"kind": "status", "status": 502, "count": 10})
    with make_client(sandbox, max_retries=2) as client:
        with pytest.raises(HiBobUnavailable) as caught:
            client.search_people()
    assert caught.value.status == 502 and caught.value.code == "hibob_unavailable"
    assert statuses(control) == [502, 502, 502]


def test_a_slow_answer_times_out_and_is_retried(sandbox, control):
    control.post("/faults", json={"kind": "slow", "delay": 1.0, "endpoint": "search"})
    sleep = RecordingSleep()
    with make_client(sandbox, timeout=(1, 0.3), sleep=sleep) as client:
        assert len(client.search_people().employees) == 60
    assert len(sleep.waits) == 1


def test_html_with_status_200_is_invalid_data_and_not_retried(sandbox, control):
    control.post("/faults", json={"kind": "html", "endpoint": "search"})
    with make_client(sandbox) as client, pytest.raises(InvalidData, match="text/html"):
        client.search_people()
    assert statuses(control) == [200]


def test_a_wrong_api_path_answering_its_web_page_is_invalid_data(sandbox):
    with HiBobClient(sandbox.base_url + "/api", *sandbox.credentials) as client:
        with pytest.raises(InvalidData, match="not JSON"):
            client.people_fields()


@pytest.mark.parametrize("values, words, names_id", [
    ({"root.id": "DUPLICATE"}, "#3 and #9 of HiBob's people search both have id 'DUPLICATE'",
     False),
    ({"root.id": None}, "employee #9: field root.id is null", False),
    ({"root.id": 3332883894235038486}, "employee #9: field root.id is a number", False),
    ({"internal.status": 1}, "field internal.status is a number", True),
    ({"work.startDate": "03/04/2021"}, "field work.startDate is a string of 10 characters, "
                                       "expected a date YYYY-MM-DD", True),
    ({"personal.shortBirthDate": "1986-08-10"}, "field personal.shortBirthDate", True),
])
def test_malformed_people_data_is_invalid_data_naming_the_problem(sandbox, values, words,
                                                                  names_id):
    if "DUPLICATE" in values.values():
        corrupt(sandbox, 3, **values)
    victim = corrupt(sandbox, 9, **values)
    with make_client(sandbox) as client, pytest.raises(InvalidData) as caught:
        client.search_people()
    assert words in str(caught.value)
    if names_id:
        assert f"employee #9 (id '{victim}')" in str(caught.value)
    assert "1986" not in str(caught.value)  # never a birthday in a message


def test_a_hidden_category_leaves_keys_missing_while_empty_fields_are_null(sandbox):
    with make_client(sandbox) as client:
        everyone = client.search_people().employees
    without_birthday = [e for e in everyone if e["birthday"] is None]
    assert without_birthday, "the sandbox company always has people without a birthday"
    with make_client(sandbox, sandbox.credentials_of("no_personal")) as client:
        hidden = client.search_people()
    assert all("birthday" not in e for e in hidden.employees)
    assert hidden.missing_counts == {"birthday": 60}
    with make_client(sandbox, sandbox.credentials_of("no_lifecycle")) as client:
        hidden = client.search_people()
    assert all(not LIFECYCLE_KEYS & set(e) for e in hidden.employees)
    assert all("email" in e for e in hidden.employees)


def test_a_one_person_read_without_permission_lacks_the_key(sandbox):
    with make_client(sandbox) as client:
        someone = client.search_people().employees[2]["external_id"]
    with make_client(sandbox, sandbox.credentials_of("no_personal")) as client:
        person = client.read_person(someone)
    assert "birthday" not in person and person["external_id"] == someone


def test_each_of_hibobs_two_encodings_decodes_on_its_own(sandbox, hibob):
    """The sandbox sends both encodings; strip one, then the other, from its real answer."""
    raw = hibob.search(SYNC_FIELD_IDS, showInactive=True).json()
    decoder = decoder_for(SYNC_FIELD_IDS)
    both = decoder.search(json.dumps(raw).encode()).employees
    nested = [{k: v for k, v in e.items() if not k.startswith("/")} for e in raw["employees"]]
    slash = [{k: v for k, v in e.items() if k.startswith("/")} for e in raw["employees"]]
    assert decoder.search(json.dumps({"employees": nested}).encode()).employees == both
    # Slash keys exist only for non-null values, so alone they cannot say "explicitly empty".
    only_slash = decoder.search(json.dumps({"employees": slash}).encode()).employees
    assert only_slash == [{k: v for k, v in e.items() if v is not None} for e in both]


def test_named_list_labels_resolve_every_department_archived_ones_included(sandbox, control):
    with make_client(sandbox) as client:
        labels = client.named_list("department")
        everyone = client.search_people().employees
        assert client.named_list("department") == labels
    items = control.get("/named-lists/department").json()["items"]
    assert labels == {item["id"]: item["name"] for item in items}
    assert any(item["archived"] for item in items)
    assert {e["department_id"] for e in everyone} <= set(labels)
    named_list_calls = [c for c in control.get("/calls").json()["calls"]
                        if c["endpoint"] == "named-lists"]
    assert len(named_list_calls) == 1  # cached per client
    with make_client(sandbox) as client, pytest.raises(HiBobUnavailable, match="404"):
        client.named_list("no-such-list")


def test_field_metadata_agrees_with_the_models_json_paths(sandbox):
    with make_client(sandbox) as client:
        metadata = {f["id"]: f for f in client.people_fields()}
    for key, (field_id, json_path) in EMPLOYEE_FIELDS.items():
        assert metadata[field_id]["jsonPath"] == json_path, key


def test_two_clients_share_one_paced_search_budget(sandbox, control):
    server = fakeredis.FakeServer()
    waits: list[float] = []
    clients = [make_client(sandbox, pacer=RedisPacer(
        fakeredis.FakeStrictRedis(server=server), search_per_minute=2, max_wait=0.5,
        sleep=waits.append)) for _ in range(2)]
    clients[0].search_people()
    clients[1].search_people()
    with pytest.raises(RateLimited, match="budget"):
        clients[0].search_people()
    assert statuses(control) == [200, 200]  # the third call never reached HiBob
    for client in clients:
        client.close()


def test_the_pacer_keeps_a_busy_service_user_under_hibobs_50_a_minute(sandbox, control):
    pacer = RedisPacer(fakeredis.FakeStrictRedis(), max_wait=0.5)
    with make_client(sandbox, pacer=pacer) as client:
        for _ in range(45):
            client.search_people(["root.id"])
        with pytest.raises(RateLimited):
            client.search_people(["root.id"])
    assert statuses(control) == [200] * 45  # HiBob never had to answer 429


def test_the_auth_breaker_holds_back_the_21st_rejected_login_in_10_s(sandbox, control):
    redis = fakeredis.FakeStrictRedis()
    rejected = held = 0
    for number in range(25):
        pacer = RedisPacer(redis, max_wait=0.2, sleep=lambda seconds: None)
        with make_client(sandbox, (f"SERVICE-{number}", "revoked"), pacer=pacer) as client:
            try:
                client.search_people()
            except AuthFailed:
                rejected += 1
            except RateLimited as error:
                assert "401/403" in str(error)
                held += 1
    assert (rejected, held) == (20, 5)
    assert statuses(control) == [401] * 20
