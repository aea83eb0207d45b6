"""Decoding HiBob people answers into the model's Employee dicts (shared/hibob/model.py)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from shared.hibob.decode import decoder_for
from shared.hibob.errors import InvalidData
from shared.hibob.model import SYNC_FIELD_IDS

DECODER = decoder_for(SYNC_FIELD_IDS)

NESTED = {
    "id": "3332883894235038486", "email": "ada@example.com", "firstName": "Ada",
    "surname": "Lovelace", "displayName": "Ada Lovelace", "fullName": "Ada Lovelace",
    "work": {"startDate": "2021-03-04", "department": "163829346", "site": "London",
             "title": "99", "reportsTo": {"id": "1", "email": "boss@example.com"}},
    "personal": {"shortBirthDate": "12-10"},
    "internal": {"status": "Active", "lifecycleStatus": "employed", "terminationDate": None},
    "employee": {"lastDayOfWork": None},
    "humanReadable": {"work": {"startDate": "04/03/2021"}},
}
EXPECTED = {
    "external_id": "3332883894235038486", "email": "ada@example.com", "first_name": "Ada",
    "last_name": "Lovelace", "display_name": "Ada Lovelace", "birthday": "12-10",
    "start_date": "2021-03-04", "department_id": "163829346", "site": "London",
    "status": "Active", "lifecycle_status": "employed", "termination_date": None,
    "last_day_of_work": None,
}


def search(*employees: Any) -> bytes:
    return json.dumps({"employees": list(employees)}).encode()


def slash_only(nested: dict[str, Any]) -> dict[str, Any]:
    """The same employee in HiBob's "/a/b": {"value": ...} encoding only."""
    out: dict[str, Any] = {}
    for key, value in nested.items():
        if isinstance(value, dict) and key != "humanReadable":
            out.update({f"/{key}/{inner}": {"value": v} for inner, v in value.items()})
        elif key != "humanReadable":
            out[f"/root/{key}"] = {"value": value}
    return out


def invalid(body: bytes) -> str:
    with pytest.raises(InvalidData) as caught:
        DECODER.search(body)
    assert caught.value.code == "invalid_data"
    return str(caught.value)


def test_nested_encoding_decodes_to_model_keys_with_machine_values():
    result = DECODER.search(search(NESTED))
    assert result.employees == [EXPECTED]
    assert result.missing_counts == {}


def test_slash_encoding_alone_decodes_to_the_same_employee():
    assert DECODER.search(search(slash_only(NESTED))).employees == [EXPECTED]


def test_both_encodings_together_decode_once():
    assert DECODER.search(search({**slash_only(NESTED), **NESTED})).employees == [EXPECTED]


def test_a_hidden_field_is_a_missing_key_and_an_explicit_null_is_none():
    person = {"id": "1", "email": None, "work": {"startDate": "2020-01-01"}}
    result = DECODER.search(search(person))
    assert result.employees == [{"external_id": "1", "email": None, "start_date": "2020-01-01"}]
    assert result.missing_counts["birthday"] == 1
    assert "email" not in result.missing_counts


def test_a_whole_category_hidden_leaves_all_its_keys_missing():
    person = {key: value for key, value in NESTED.items() if key != "personal"}
    assert "birthday" not in DECODER.search(search(person)).employees[0]


def test_a_null_category_holds_nothing_rather_than_nulls():
    # A null must be explicit to clear a stored value; "work": null is not one per work field.
    employee = DECODER.search(search({"id": "1", "work": None})).employees[0]
    assert employee == {"external_id": "1"}


@pytest.mark.parametrize("person, expected", [
    # nested null, slash value: the value wins
    ({"id": "1", "work": {"site": None}, "/work/site": {"value": "Paris"}}, "Paris"),
    # nested missing, slash null: explicit null
    ({"id": "1", "/work/site": {"value": None}}, None),
    ({"id": "1", "/work/site": None}, None),
    # nested value beats slash value
    ({"id": "1", "work": {"site": "Rome"}, "/work/site": {"value": "Paris"}}, "Rome"),
    # nested null, slash wrapper without a value: null
    ({"id": "1", "work": {"site": None}, "/work/site": {}}, None),
])
def test_encodings_merge_first_non_null_wins(person, expected):
    assert DECODER.search(search(person)).employees[0]["site"] == expected


def test_a_slash_wrapper_without_value_is_missing():
    assert "site" not in DECODER.search(search({"id": "1", "/work/site": {}})).employees[0]


def test_department_item_ids_sent_as_numbers_become_strings():
    person = {"id": "1", "work": {"department": 163829346}}
    assert DECODER.search(search(person)).employees[0]["department_id"] == "163829346"


def test_ids_stay_strings_with_every_digit():
    person = {"id": "3980342332732998349"}
    assert DECODER.search(search(person)).employees[0]["external_id"] == "3980342332732998349"


def test_a_numeric_id_is_invalid_data_not_coerced():
    message = invalid(search({"id": "1"}, {"id": 3980342332732998349}))
    assert "employee #1" in message and "root.id" in message and "number" in message


@pytest.mark.parametrize("person", [{"email": "x@example.com"}, {"id": None}, {"id": ""},
                                    {"/root/id": {"value": None}}, {"/root/id": {}}])
def test_an_employee_without_an_id_is_invalid_data_naming_its_index(person):
    message = invalid(search({"id": "1"}, person))
    assert "employee #1" in message and ("id" in message)


def test_duplicate_ids_are_invalid_data_naming_both_indexes_and_the_id():
    message = invalid(search({"id": "7"}, {"id": "8"}, {"/root/id": {"value": "7"}}))
    assert "#0" in message and "#2" in message and "'7'" in message


@pytest.mark.parametrize("field, value", [
    ("startDate", "2021/03/04"), ("startDate", "2021-02-30"), ("startDate", "04-03-2021"),
    ("startDate", "2021-03-04T00:00:00"), ("startDate", 20210304),
])
def test_bad_dates_are_invalid_data_naming_employee_and_field(field, value):
    message = invalid(search({"id": "1"}, {"id": "42", "work": {field: value}}))
    assert "employee #1 (id '42')" in message and "work.startDate" in message
    assert "YYYY-MM-DD" in message


@pytest.mark.parametrize("birthday", ["02-30", "13-01", "1986-08-10", "8-10", 810, True])
def test_bad_birthdays_are_invalid_data_without_echoing_the_value(birthday):
    message = invalid(search({"id": "42", "personal": {"shortBirthDate": birthday}}))
    assert "personal.shortBirthDate" in message and "MM-DD" in message
    assert str(birthday) not in message


def test_february_29_is_a_birthday():
    person = {"id": "1", "personal": {"shortBirthDate": "02-29"}}
    assert DECODER.search(search(person)).employees[0]["birthday"] == "02-29"


@pytest.mark.parametrize("person, field", [
    ({"id": "1", "internal": {"status": 1}}, "internal.status"),
    ({"id": "1", "internal": {"lifecycleStatus": ["employed"]}}, "internal.lifecycleStatus"),
    ({"id": "1", "email": {"address": "x"}}, "root.email"),
    ({"id": "1", "work": {"department": True}}, "work.department"),
    ({"id": "1", "work": "Sales"}, "'work'"),
])
def test_wrong_types_are_invalid_data_naming_the_field(person, field):
    assert field in invalid(search(person))


def test_a_wrong_type_in_the_slash_encoding_names_the_slash_key():
    message = invalid(search({"id": "5", "/work/startDate": {"value": "yesterday"}}))
    assert "employee #0 (id '5')" in message and "'/work/startDate'" in message


@pytest.mark.parametrize("body, words", [
    (b"<!doctype html><html>Bob</html>", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"employees": [', "not valid JSON"),
    (b"[]", "'employees' list"),
    (b'{"people": []}', "'employees' list"),
    (b'{"employees": {"id": "1"}}', "'employees' list"),
    (b'{"employees": [1]}', "employee #0 is a number, not an object"),
])
def test_answers_that_are_not_a_people_list_are_invalid_data(body, words):
    assert words in invalid(body)


def test_an_empty_company_is_a_valid_answer():
    assert DECODER.search(b'{"employees": []}').employees == []


def test_a_subset_of_fields_yields_only_those_keys_and_always_the_id():
    decoder = decoder_for(["root.email"])
    assert decoder.field_ids == ("root.id", "root.email")
    assert decoder.search(search(NESTED)).employees == [
        {"external_id": NESTED["id"], "email": "ada@example.com"}]


def test_a_field_the_model_does_not_know_is_a_programming_error():
    with pytest.raises(ValueError, match="about.hobbies"):
        decoder_for(["root.id", "about.hobbies"])


def test_a_one_person_answer_decodes_the_same_way():
    assert DECODER.person(json.dumps(NESTED).encode()) == EXPECTED
    assert DECODER.person(json.dumps(slash_only(NESTED)).encode()) == EXPECTED


@pytest.mark.parametrize("body, words", [
    (b"<html></html>", "not valid JSON"),
    (b'{"employees": []}', "no id"),
    (b'{"id": "1", "work": {"startDate": "soon"}}', "work.startDate"),
    (b"[1]", "not an object"),
])
def test_a_malformed_one_person_answer_is_invalid_data(body, words):
    with pytest.raises(InvalidData, match=words):
        DECODER.person(body)


def test_decoding_reads_from_a_bytearray_without_copying_it_first():
    assert DECODER.search(bytearray(search(NESTED))).employees == [EXPECTED]


# --- U+0000, which PostgreSQL cannot store (found by tests/integration/test_fuzz_hibob.py) ---------

def test_a_nul_in_a_text_is_dropped_in_either_encoding():
    nested = {**NESTED, "displayName": "Ada\u0000 Lovelace", "work": {**NESTED["work"], "site": "\u0000London"}}
    slash = {**slash_only(NESTED), "/root/surname": {"value": "Love\u0000lace"}}
    for encoded in (search(nested, slash | {"/root/id": {"value": "2"}}), bytearray(search(nested))):
        first = DECODER.search(encoded).employees[0]
        assert first["display_name"] == "Ada Lovelace" and first["site"] == "London"
    assert DECODER.search(search({**slash, "/root/id": {"value": "2"}})).employees[0]["last_name"] == "Lovelace"
    assert DECODER.person(json.dumps(nested).encode())["display_name"] == "Ada Lovelace"


def test_a_nul_in_an_id_is_invalid_data_not_a_guess():
    message = invalid(search(NESTED, {**NESTED, "id": "3332883894235038486\u0000"}))
    assert "employee #1" in message and "root.id" in message and "NUL" in message


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul():
    person = {**NESTED, "displayName": "C:\\u0000 drive"}  # a backslash, then the letters u0000
    assert DECODER.search(search(person)).employees[0]["display_name"] == "C:\\u0000 drive"
