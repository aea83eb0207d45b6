"""Lists: run history, a run's changes, the store's people and the store's change feed —
their order, their cursors, and how they refuse bad cursors and limits."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared import clock
from shared import schemas as s
from tests.integration.test_api import (  # noqa: F401  (_release_app is an autouse fixture)
    API,
    _release_app,
    conforms,
    connect,
    error_of,
    seed_changes,
    seed_person,
    seed_run,
)
from web import pagination


def walk(client, store_auth, url: str, limit: int) -> list[list[dict]]:
    """Follow next_cursor until it is null; the pages seen."""
    pages, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""),
                              headers=store_auth)
        assert response.status_code == 200, response.json
        pages.append(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


# --- runs --------------------------------------------------------------------------------------

def test_runs_are_listed_newest_first_and_pages_cover_each_run_once(client, store_auth, ctx):
    body = connect(client, store_auth)
    iid = body["id"]
    base = clock.now() - timedelta(days=1)
    # Two runs share an instant: the id breaks the tie, so neither is skipped at a page boundary.
    created = [base, base + timedelta(minutes=1), base + timedelta(minutes=1), base + timedelta(minutes=2)]
    seeded = [seed_run(ctx, iid, "acme-shop", created_at=at) for at in created]

    pages = walk(client, store_auth, f"{API}/integrations/{iid}/runs", limit=2)
    ids = [r["id"] for page in pages for r in page]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(ids) == sorted(seeded + [body["current_run"]["id"]]) and len(set(ids)) == 5
    assert ids[0] == body["current_run"]["id"] and ids[-1] == seeded[0]
    assert set(ids[2:4]) == set(seeded[1:3])
    conforms(s.RunPageSchema, client.get(f"{API}/integrations/{iid}/runs", headers=store_auth).json)


def test_one_run_with_its_error(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    run_id = seed_run(ctx, iid, "acme-shop", status="failed", fetched=12,
                      error={"code": "auth_failed", "message": "HiBob answered 401", "detail": "internal"})
    run = client.get(f"{API}/integrations/{iid}/runs/{run_id}", headers=store_auth).json
    conforms(s.RunSchema, run)
    assert run["status"] == "failed" and run["fetched"] == 12
    assert run["error"] == {"code": "auth_failed", "message": "HiBob answered 401"}
    assert run["started_at"].endswith("Z") and run["finished_at"].endswith("Z")


def test_runs_of_unknown_or_other_integrations_are_404(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    other = connect(client, store_auth, store_id="other-shop")
    other_run = other["current_run"]["id"]
    for path in (f"/integrations/{uuid.uuid4()}/runs", f"/integrations/{iid}/runs/{uuid.uuid4()}",
                 f"/integrations/{iid}/runs/{other_run}", f"/integrations/{iid}/runs/{other_run}/changes",
                 f"/integrations/{iid}/runs/nope"):
        error_of(client.get(API + path, headers=store_auth), 404, "not_found")


def test_a_runs_changes_are_paginated_in_feed_order(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    run_id = seed_run(ctx, iid, "acme-shop")
    seed_changes(ctx, "acme-shop", 3, run_id=run_id, integration_id=iid)
    seed_changes(ctx, "acme-shop", 2, run_id=None, integration_id=iid)  # someone else's changes
    seed_changes(ctx, "acme-shop", 2, run_id=run_id, integration_id=iid)

    pages = walk(client, store_auth, f"{API}/integrations/{iid}/runs/{run_id}/changes", limit=2)
    items = [c for page in pages for c in page]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert all(c["run_id"] == run_id for c in items)
    assert [c["seq"] for c in items] == sorted(c["seq"] for c in items) and len(items) == 5
    conforms(s.ChangeSchema, items, many=True)


# --- people ------------------------------------------------------------------------------------

@pytest.fixture
def directory(client, store_auth, ctx):
    iid = connect(client, store_auth)["id"]
    people = {
        "zoe": seed_person(ctx, "acme-shop", iid, "10", first="Zoe", last="Adams"),
        "bob": seed_person(ctx, "acme-shop", iid, "11", first="Bob", last="Brown", email="bob@corp.example"),
        "amy": seed_person(ctx, "acme-shop", iid, "12", first="Amy", last="Brown"),
        "cal": seed_person(ctx, "acme-shop", iid, "13", first="Cal", last="Cole", status="upcoming"),
        "dan": seed_person(ctx, "acme-shop", iid, "14", first="Dan", last="Dorn", status="removed"),
    }
    seed_person(ctx, "other-shop", iid, "10", first="Zed", last="Other")
    return people


def test_people_default_to_active_sorted_by_last_then_first_name(client, store_auth, directory):
    response = client.get(f"{API}/stores/acme-shop/people", headers=store_auth)
    conforms(s.PersonPageSchema, response.json)
    assert [p["id"] for p in response.json["items"]] == [directory["zoe"], directory["amy"], directory["bob"]]
    assert response.json["next_cursor"] is None


@pytest.mark.parametrize("status, names", [
    ("upcoming", ["cal"]), ("removed", ["dan"]), ("all", ["zoe", "amy", "bob", "cal", "dan"]),
    ("active", ["zoe", "amy", "bob"])])
def test_people_by_status(client, store_auth, directory, status, names):
    items = client.get(f"{API}/stores/acme-shop/people?status={status}", headers=store_auth).json["items"]
    assert [p["id"] for p in items] == [directory[n] for n in names]


@pytest.mark.parametrize("q, names", [("brown", ["amy", "bob"]), ("AMY", ["amy"]), ("corp.example", ["bob"]),
                                      ("zoe adams", ["zoe"]), ("%", []), ("_", [])])
def test_people_search_matches_name_and_email(client, store_auth, directory, q, names):
    items = client.get(f"{API}/stores/acme-shop/people", query_string={"q": q}, headers=store_auth).json["items"]
    assert [p["id"] for p in items] == [directory[n] for n in names]


def test_people_pages_follow_the_cursor(client, store_auth, directory):
    pages = walk(client, store_auth, f"{API}/stores/acme-shop/people?status=all", limit=2)
    assert [p["id"] for page in pages for p in page] == [directory[n] for n in ("zoe", "amy", "bob", "cal", "dan")]


def test_a_person_shows_designs_fields_only(client, store_auth, directory):
    person = client.get(f"{API}/stores/acme-shop/people?status=removed", headers=store_auth).json["items"][0]
    assert set(person) == {"id", "store_id", "external_id", "email", "first_name", "last_name", "display_name",
                           "birthday", "start_date", "department", "site", "status", "added_at", "updated_at",
                           "removed_at", "removal_reason"}
    assert person["birthday"] == "04-21" and person["start_date"] == "2024-01-15"
    assert person["removed_at"].endswith("Z") and person["removal_reason"] == "terminated"


def test_a_store_without_people_has_an_empty_list(client, store_auth):
    assert client.get(f"{API}/stores/nobody/people", headers=store_auth).json == {"items": [], "next_cursor": None}


# --- the change feed ---------------------------------------------------------------------------

def test_feed_next_cursor_is_always_present_and_resumes_where_the_poller_stopped(client, store_auth, ctx):
    empty = client.get(f"{API}/stores/acme-shop/changes", headers=store_auth).json
    assert empty["items"] == [] and isinstance(empty["next_cursor"], str)
    conforms(s.FeedPageSchema, empty)

    seed_changes(ctx, "acme-shop", 5)
    first = client.get(f"{API}/stores/acme-shop/changes?limit=3&cursor={empty['next_cursor']}",
                       headers=store_auth).json
    assert [c["seq"] for c in first["items"]] == [1, 2, 3]
    rest = client.get(f"{API}/stores/acme-shop/changes?cursor={first['next_cursor']}", headers=store_auth).json
    assert [c["seq"] for c in rest["items"]] == [4, 5]
    caught_up = client.get(f"{API}/stores/acme-shop/changes?cursor={rest['next_cursor']}", headers=store_auth).json
    assert caught_up == {"items": [], "next_cursor": rest["next_cursor"]}

    seed_changes(ctx, "acme-shop", 1)
    later = client.get(f"{API}/stores/acme-shop/changes?cursor={caught_up['next_cursor']}",
                       headers=store_auth).json
    assert [c["seq"] for c in later["items"]] == [6]
    conforms(s.FeedPageSchema, later)
    assert later["items"][0]["changes"] == {"department": {"before": "Sales", "after": "Dept 0"}}


def test_feeds_are_per_store(client, store_auth, ctx):
    seed_changes(ctx, "acme-shop", 2)
    seed_changes(ctx, "other-shop", 3)
    items = client.get(f"{API}/stores/other-shop/changes", headers=store_auth).json["items"]
    assert [c["seq"] for c in items] == [1, 2, 3]


# --- bad cursors and limits --------------------------------------------------------------------

LISTS = ["/stores/acme-shop/people", "/stores/acme-shop/changes", "/integrations/{iid}/runs",
         "/integrations/{iid}/runs/{run}/changes"]
FOREIGN = pagination.encode("elsewhere", 1)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["garbage!", "eyJrIjoi", "e30", FOREIGN, pagination.encode("feed", -1),
                                    pagination.encode("people", ["a\x00", "b"]), pagination.encode("runs", ["x", "y"]),
                                    pagination.encode("feed", True), "x" * 2001])
def test_a_bad_cursor_is_400(client, store_auth, path, cursor):
    body = connect(client, store_auth)
    url = API + path.format(iid=body["id"], run=body["current_run"]["id"])
    error = error_of(client.get(url, query_string={"cursor": cursor}, headers=store_auth), 400, "validation_failed")
    assert "cursor" in error["fields"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", ""])
def test_a_limit_outside_1_to_1000_is_400(client, store_auth, path, limit):
    body = connect(client, store_auth)
    url = API + path.format(iid=body["id"], run=body["current_run"]["id"])
    error = error_of(client.get(url, query_string={"limit": limit}, headers=store_auth), 400, "validation_failed")
    assert "limit" in error["fields"]


def test_a_cursor_from_another_list_is_refused(client, store_auth, directory):
    people_cursor = client.get(f"{API}/stores/acme-shop/people?limit=1", headers=store_auth).json["next_cursor"]
    error_of(client.get(f"{API}/stores/acme-shop/changes?cursor={people_cursor}", headers=store_auth), 400,
             "validation_failed")


@pytest.mark.parametrize("query, field", [("status=gone", "status"), ("q=%00", "q"), ("q=" + "a" * 201, "q")])
def test_bad_people_filters_are_400(client, store_auth, query, field):
    error = error_of(client.get(f"{API}/stores/acme-shop/people?{query}", headers=store_auth), 400,
                     "validation_failed")
    assert field in error["fields"]
