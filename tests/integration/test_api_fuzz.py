"""Random JSON at the write calls: never a 500, and a 4xx changes nothing."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.db.tables import integrations, store_changes, stores, sync_runs
from tests.integration.test_api import API, _release_app, connect  # noqa: F401

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
any_json = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def maybe(value: st.SearchStrategy) -> st.SearchStrategy:
    """A plausible value most of the time, anything JSON sometimes."""
    return st.one_of(value, any_json)


near_settings = st.fixed_dictionaries({}, optional={
    "sync_birthdays": maybe(st.booleans()), "include_future_joiners": maybe(st.booleans()),
    "removal_guard_percent": maybe(st.integers(-5, 105)), "removal_guard_min": maybe(st.integers(-5, 50)),
    "timezone": maybe(st.sampled_from(["UTC", "Europe/Paris", "Mars/Base", "", "America"])),
    "colour": any_json})
near_credentials = st.fixed_dictionaries({}, optional={
    "service_user_id": maybe(st.text(min_size=0, max_size=8)), "token": maybe(st.text(min_size=0, max_size=8)),
    "api_key": any_json, "report_id": any_json, "password": any_json})
near_create = st.fixed_dictionaries({}, optional={
    "store_id": maybe(st.from_regex(r"[A-Za-z0-9._ \n-]{0,66}", fullmatch=True)),
    "provider": maybe(st.sampled_from(["hibob", "HiBob", ""])),
    "credentials": maybe(near_credentials), "settings": maybe(near_settings), "extra": any_json})
valid_create = st.fixed_dictionaries({
    "store_id": st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True), "provider": st.just("hibob"),
    "credentials": st.fixed_dictionaries({"service_user_id": st.text(min_size=1, max_size=8).filter(str.strip),
                                          "token": st.text(min_size=1, max_size=8).filter(str.strip)}),
}, optional={"settings": st.fixed_dictionaries({}, optional={
    "sync_birthdays": st.booleans(), "removal_guard_percent": st.integers(0, 100),
    "timezone": st.sampled_from(["UTC", "Europe/Paris"])})})
near_update = st.fixed_dictionaries({}, optional={
    "credentials": maybe(near_credentials), "settings": maybe(near_settings), "state": any_json})


def snapshot(ctx) -> dict[str, Any]:
    with ctx.db.begin() as conn:
        counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                  for t in (integrations, sync_runs, store_changes, stores)}
        rows = [dict(r) for r in conn.execute(sa.select(integrations).order_by(integrations.c.id)).mappings()]
    return {"counts": counts, "integrations": rows}


def send(client, store_auth, method: str, url: str, body: Any):
    # json.dumps writes Infinity for float("inf"): Python's parser takes it, so the schemas meet it.
    return client.open(url, method=method, data=json.dumps(body), content_type="application/json",
                       headers=store_auth)


def check(response, before: dict[str, Any], after: dict[str, Any]) -> None:
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: are 2xx reached too?
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json or response.status_code == 204
    if response.status_code >= 400:
        assert set(response.json["error"]) >= {"code", "message"}
        assert after == before, "a refused request changed the database"


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.one_of(valid_create, near_create, any_json))
def test_random_connect_bodies(client, store_auth, ctx, body):
    before = snapshot(ctx)
    response = send(client, store_auth, "POST", f"{API}/integrations", body)
    check(response, before, snapshot(ctx))


@FUZZ
@given(body=st.one_of(near_update, any_json))
def test_random_patch_bodies(client, store_auth, ctx, body):
    integration = _the_integration(client, store_auth, ctx)
    before = snapshot(ctx)
    response = send(client, store_auth, "PATCH", f"{API}/integrations/{integration}", body)
    check(response, before, snapshot(ctx))


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({}, optional={"secret": maybe(st.text(max_size=5)),
                                                          "batch_id": maybe(st.text(max_size=5)),
                                                          "actor": any_json}), any_json),
       target=st.sampled_from([("PUT", "webhook-secret"), ("POST", "removals/approve"),
                               ("POST", "removals/reject"), ("POST", "sync")]))
def test_random_bodies_on_the_other_write_calls(client, store_auth, ctx, body, target):
    integration = _the_integration(client, store_auth, ctx)
    method, tail = target
    before = snapshot(ctx)
    response = send(client, store_auth, method, f"{API}/integrations/{integration}/{tail}", body)
    check(response, before, snapshot(ctx))


def _the_integration(client, store_auth, ctx) -> str:
    """One integration shared by every example of a test (created by the first)."""
    with ctx.db.begin() as conn:
        found = conn.execute(sa.select(integrations.c.id).where(integrations.c.store_id == "fuzz-shop")).first()
    return found[0] if found else connect(client, store_auth, store_id="fuzz-shop")["id"]
