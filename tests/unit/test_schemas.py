"""Request schemas, error flattening and representations: tables of cases, no I/O."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from shared import representations
from shared import schemas as s
from shared.service import IntegrationView
from web.errors import flatten_messages


def load_error(schema: type, data: object) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema().load(data)
    return flatten_messages(caught.value.messages)


CREATE = {"store_id": "acme", "provider": "hibob", "credentials": {"service_user_id": "u", "token": "t"}}


@pytest.mark.parametrize("store_id", ["a", "A.b_c-9", "x" * 64, "..", "-"])
def test_store_ids_that_are_accepted(store_id):
    assert s.IntegrationCreateSchema().load({**CREATE, "store_id": store_id})["store_id"] == store_id


@pytest.mark.parametrize("store_id", ["", "x" * 65, "a b", "a/b", "a\n", "\nab", "é", "a\x00", 5, None])
def test_store_ids_that_are_refused(store_id):
    assert "store_id" in load_error(s.IntegrationCreateSchema, {**CREATE, "store_id": store_id})


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_iana_time_zones_are_accepted(name):
    assert s.SettingsInputSchema().load({"timezone": name}) == {"timezone": name}


@pytest.mark.parametrize("name", ["", "utc", "Europe", "America/", "../etc/passwd", "/etc/localtime", "Paris",
                                  "Europe/Paris\x00", "x" * 65])
def test_other_time_zone_names_are_refused(name):
    assert "timezone" in load_error(s.SettingsInputSchema, {"timezone": name})


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, "1", None])
def test_booleans_must_be_json_booleans(value):
    assert "sync_birthdays" in load_error(s.SettingsInputSchema, {"sync_birthdays": value})


@pytest.mark.parametrize("field, value, ok", [
    ("removal_guard_percent", 0, True), ("removal_guard_percent", 100, True), ("removal_guard_percent", 101, False),
    ("removal_guard_percent", -1, False), ("removal_guard_percent", 5.0, False), ("removal_guard_percent", "5", False),
    ("removal_guard_min", 0, True), ("removal_guard_min", 10**6, True), ("removal_guard_min", -1, False),
    ("removal_guard_min", False, False), ("removal_guard_min", float("inf"), False)])
def test_guard_numbers(field, value, ok):
    if ok:
        assert s.SettingsInputSchema().load({field: value}) == {field: value}
    else:
        assert field in load_error(s.SettingsInputSchema, {field: value})


def test_settings_input_keeps_only_what_was_given():
    assert s.SettingsInputSchema().load({}) == {}


def test_credentials_are_trimmed_and_retired_fields_accepted():
    loaded = s.CredentialsInputSchema().load({"service_user_id": " u ", "token": "t\n", "api_key": 12,
                                              "report_id": None})
    assert loaded == {"service_user_id": "u", "token": "t", "api_key": 12, "report_id": None}


@pytest.mark.parametrize("credentials, field", [
    ({"token": "t"}, "credentials.service_user_id"), ({"service_user_id": "u"}, "credentials.token"),
    ({"service_user_id": "u", "token": " "}, "credentials.token"),
    ({"service_user_id": "u", "token": "t\x00"}, "credentials.token"),
    ({"service_user_id": "u" * 201, "token": "t"}, "credentials.service_user_id"),
    ({"service_user_id": "u", "token": "t", "secret": "s"}, "credentials.secret")])
def test_credential_errors_name_the_nested_field(credentials, field):
    assert field in load_error(s.IntegrationCreateSchema, {**CREATE, "credentials": credentials})


def test_query_defaults_and_parsing():
    assert s.PeopleQuerySchema().load({}) == {"limit": 100, "status": "active"}
    assert s.PageQuerySchema().load({"limit": "1000", "utm_source": "x"}) == {"limit": 1000}


@pytest.mark.parametrize("messages, flat", [
    ({"a": ["bad"]}, {"a": ["bad"]}),
    ({"credentials": {"token": ["missing"], "_schema": ["odd"]}}, {"credentials.token": ["missing"],
                                                                  "credentials": ["odd"]}),
    ({"_schema": ["Invalid input type."]}, {"": ["Invalid input type."]}),
    ({"items": {0: {"id": ["bad"]}}}, {"items.0.id": ["bad"]}),
])
def test_error_messages_flatten_to_field_paths(messages, flat):
    assert flatten_messages(messages) == flat


# --- representations ---------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 1, 12, 30, 15, 123456)
ROW = {"id": "0b4c9a4e-6a4c-4c57-9d87-1c8a0a5ef001", "store_id": "acme", "provider": "hibob", "state": "active",
       "state_reason": None, "warnings": [{"code": "birthdays_not_visible", "message": "m", "extra": "x"}],
       "settings": {"timezone": "Asia/Tokyo", "legacy": 1}, "webhook_secret_enc": "gAAAA-secret",
       "credentials_enc": "gAAAA-creds", "last_event_at": NAIVE, "last_ping_at": None, "next_run_at": NAIVE,
       "created_at": NAIVE, "updated_at": NAIVE.replace(tzinfo=timezone(timedelta(hours=2)))}


def test_integration_representation_is_designs_shape_with_utc_times_and_no_secrets():
    body = representations.integration(IntegrationView(row=ROW, current_run=None, last_run=None, people={}),
                                       "https://sync.example/")
    s.IntegrationSchema().load(body)
    assert body["created_at"] == "2026-03-01T12:30:15Z" and body["updated_at"] == "2026-03-01T10:30:15Z"
    assert body["webhook"]["url"] == f"https://sync.example/webhooks/hibob/{ROW['id']}"
    assert body["webhook"]["secret_set"] is True and "gAAAA" not in str(body)
    assert body["settings"]["timezone"] == "Asia/Tokyo" and "legacy" not in body["settings"]
    assert body["warnings"] == [{"code": "birthdays_not_visible", "message": "m"}]


def test_run_representation_fills_counts_and_trims_the_error():
    run = representations.run({"id": ROW["id"], "trigger": "manual", "status": "failed", "counts": {"added": 3},
                               "error": {"code": "hibob_unavailable", "message": "503", "trace": "..."},
                               "started_at": NAIVE, "finished_at": None})
    s.RunSchema().load(run)
    assert run["counts"]["added"] == 3 and run["counts"]["held"] == 0
    assert run["error"] == {"code": "hibob_unavailable", "message": "503"}
    assert run["phase"] is None and run["fetched"] is None
