"""Tenant isolation. The store-backend token acts for every store (DESIGN), so isolation is about
everything else: a store's webhook secret, its runs, people, feed and inbox never reach another.

Both stores sync the *same* HiBob company here (B through a service user that sees fewer people),
so the same HiBob employee ids exist in both: the hardest case for a mix-up.
"""
from __future__ import annotations

import pytest

from shared import service
from tests.integration.syncing import connect, store_people
from tests.integration.test_webhooks import drain, event, post, sign

API = "/api/v1"


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


@pytest.fixture
def two_stores(ctx, hibob_sandbox, run_jobs):
    a = connect(ctx, hibob_sandbox, store_id="store-a")
    b = connect(ctx, hibob_sandbox, store_id="store-b", credentials=hibob_sandbox.credentials_of("employed_only"))
    run_jobs()
    service.set_webhook_secret(ctx, a, "secret-of-a")
    service.set_webhook_secret(ctx, b, "secret-of-b")
    return a, b


def get(client, store_auth, path: str):
    return client.get(API + path, headers=store_auth)


def test_a_stores_webhook_secret_never_validates_a_post_to_another_store(ctx, client, hibob_sandbox, two_stores):
    a, b = two_stores
    body = event("employee.updated", next(iter(store_people(ctx, "store-b"))))
    assert post(client, b, body, signature=sign(body, "secret-of-a")).status_code == 401
    assert post(client, a, body, signature=sign(body, "secret-of-b")).status_code == 401
    assert post(client, b, body, signature=sign(body, "secret-of-b")).get_json() == {"status": "accepted"}
    # a store with no secret yet is not opened by another store's secret either
    c = connect(ctx, hibob_sandbox, store_id="store-c")
    assert post(client, c, body, signature=sign(body, "secret-of-a")).status_code == 409
    # during a rotation only the store's own previous secret is honoured
    service.set_webhook_secret(ctx, b, "new-secret-of-b")
    later = event("employee.updated", "1", at="2026-12-04T12:00:00")
    assert post(client, b, later, signature=sign(later, "secret-of-b")).status_code == 200
    assert post(client, b, later, signature=sign(later, "secret-of-a")).status_code == 401


def test_the_same_event_for_two_stores_is_two_events_each_applied_to_its_own_store(ctx, client, hibob_sandbox,
                                                                                   run_jobs, two_stores):
    a, b = two_stores
    both = set(store_people(ctx, "store-a")) & set(store_people(ctx, "store-b"))
    person = sorted(both)[0]
    hibob_sandbox.state.directory.update(person, email="moved@example.com")
    body = event("employee.updated", person)
    assert post(client, a, body, signature=sign(body, "secret-of-a")).get_json() == {"status": "accepted"}
    drain(ctx, run_jobs)
    assert store_people(ctx, "store-a")[person]["email"] == "moved@example.com"
    assert store_people(ctx, "store-b")[person]["email"] != "moved@example.com"  # B heard nothing yet
    # B's identical delivery is B's own event, not a duplicate of A's
    assert post(client, b, body, signature=sign(body, "secret-of-b")).get_json() == {"status": "accepted"}
    drain(ctx, run_jobs)
    assert store_people(ctx, "store-b")[person]["email"] == "moved@example.com"


def test_another_integrations_run_is_404_under_this_integration(client, store_auth, ctx, two_stores):
    a, b = two_stores
    run_of_a = get(client, store_auth, f"/integrations/{a}/runs").get_json()["items"][0]["id"]
    run_of_b = get(client, store_auth, f"/integrations/{b}/runs").get_json()["items"][0]["id"]
    assert get(client, store_auth, f"/integrations/{a}/runs/{run_of_a}").status_code == 200
    for path in (f"/integrations/{b}/runs/{run_of_a}", f"/integrations/{b}/runs/{run_of_a}/changes",
                 f"/integrations/{a}/runs/{run_of_b}", f"/integrations/{a}/runs/{run_of_b}/changes"):
        answer = get(client, store_auth, path)
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found", path
    runs_of_b = {r["id"] for r in get(client, store_auth, f"/integrations/{b}/runs").get_json()["items"]}
    assert run_of_a not in runs_of_b


def test_store_paths_show_only_that_stores_integration_people_and_feed(client, store_auth, ctx, two_stores):
    a, b = two_stores
    assert get(client, store_auth, "/stores/store-a/integration").get_json()["id"] == a
    assert get(client, store_auth, "/stores/store-b/integration").get_json()["id"] == b
    people = {store: get(client, store_auth, f"/stores/{store}/people?status=all&limit=1000").get_json()["items"]
              for store in ("store-a", "store-b")}
    ids = {store: {p["id"] for p in items} for store, items in people.items()}
    assert ids["store-a"] and ids["store-b"] and not ids["store-a"] & ids["store-b"]
    assert all(p["store_id"] == store for store, items in people.items() for p in items)
    for store, integration_id in (("store-a", a), ("store-b", b)):
        feed = get(client, store_auth, f"/stores/{store}/changes?limit=1000").get_json()["items"]
        assert feed and all(e["person_id"] is None or e["person_id"] in ids[store] for e in feed)
        run_ids = {r["id"] for r in get(client, store_auth, f"/integrations/{integration_id}/runs").get_json()["items"]}
        assert {e["run_id"] for e in feed if e["run_id"]} <= run_ids
    # a cursor taken from A's feed, handed to B's, still only pages through B's feed
    cursor = get(client, store_auth, "/stores/store-a/changes?limit=1").get_json()["next_cursor"]
    page = get(client, store_auth, f"/stores/store-b/changes?cursor={cursor}")
    assert page.status_code in (200, 400)
    if page.status_code == 200:
        assert all(e["person_id"] is None or e["person_id"] in ids["store-b"] for e in page.get_json()["items"])
    # an unknown store is a 404 or empty, never another store's data
    assert get(client, store_auth, "/stores/store-z/integration").status_code == 404
    other = get(client, store_auth, "/stores/store-z/people?status=all").get_json()
    assert other["items"] == []


def test_purging_one_store_leaves_the_other_untouched(client, store_auth, ctx, two_stores):
    a, b = two_stores
    before_b = store_people(ctx, "store-b")
    assert client.delete(f"{API}/integrations/{a}?people=purge", headers=store_auth).status_code == 204
    assert store_people(ctx, "store-a") == {}
    assert store_people(ctx, "store-b") == before_b
