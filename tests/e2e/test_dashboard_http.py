"""The dashboard over plain HTTP (Flask's test client, no browser): links, sessions, CSRF, framing,
validation by the API's schemas, one store per session, and a 100,000-person list."""
from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
import redis
from marshmallow import RAISE

from shared import clock
from shared import schemas as s
from shared.config import ConfigError
from shared.db import people as people_db
from tests.integration.test_api import API, seed_person
from web import create_app

LINK = re.compile(r"^http://peoplesync\.test(/dashboard/link/[A-Za-z0-9._-]+)$")


def link_path(client, store_auth, store_id: str = "acme-shop", **body) -> str:
    answer = client.post(f"{API}/stores/{store_id}/dashboard-link", json=body or None, headers=store_auth)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return LINK.match(answer.json["url"])[1]


def signed_in(app, store_auth, store_id: str = "acme-shop", **body):
    client = app.test_client()
    answer = client.get(link_path(client, store_auth, store_id, **body))
    assert answer.status_code == 303 and answer.headers["Location"] == "/dashboard/people"
    return client


def csrf_of(client, path: str = "/dashboard/hris/hibob") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def move_clock(monkeypatch, tmp_path, delta: timedelta) -> None:
    path = tmp_path / "now"
    path.write_text(clock.rfc3339(clock.now() + delta))
    monkeypatch.setenv("PEOPLESYNC_ENV", "test")
    monkeypatch.setenv("PEOPLESYNC_CLOCK_FILE", str(path))


# --- the link call ---------------------------------------------------------------------------

def test_the_store_backend_gets_a_ten_minute_link(client, store_auth):
    before = clock.now()
    answer = client.post(f"{API}/stores/acme-shop/dashboard-link", json={
        "actor": {"id": "admin-7", "email": "admin@acme.example"}}, headers=store_auth)
    assert answer.status_code == 201
    s.DashboardLinkSchema().load(answer.json, unknown=RAISE)
    assert LINK.match(answer.json["url"])
    expires = clock.parse_instant(answer.json["expires_at"])
    assert timedelta(minutes=9, seconds=58) <= expires - before <= timedelta(minutes=10, seconds=1)
    # No body at all is fine too; two links are never the same.
    assert link_path(client, store_auth) != link_path(client, store_auth)


@pytest.mark.parametrize("body, field", [
    ({"actor": {"id": "a"}}, "actor.email"),
    ({"actor": {"id": "a", "email": "not-an-email"}}, "actor.email"),
    ({"actor": "admin"}, "actor"),
    ({"who": "admin"}, "who"),
])
def test_a_bad_link_request_is_a_400_naming_the_field(client, store_auth, body, field):
    answer = client.post(f"{API}/stores/acme-shop/dashboard-link", json=body, headers=store_auth)
    assert answer.status_code == 400 and field in answer.json["error"]["fields"]


def test_only_the_store_backend_gets_links(client):
    answer = client.post(f"{API}/stores/acme-shop/dashboard-link", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert client.post(f"{API}/stores/bad%20id/dashboard-link").status_code in (401, 404)


# --- opening it ------------------------------------------------------------------------------

def test_a_link_opens_once_and_sets_a_strict_session_cookie(app, client, store_auth):
    path = link_path(client, store_auth)
    assert app.test_client().head(path).status_code == 204  # a link previewer's probe does not use it up
    opened = app.test_client().get(path)
    assert opened.status_code == 303 and opened.headers["Referrer-Policy"] == "no-referrer"
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith("peoplesync_dashboard=")
    assert "HttpOnly" in cookie and "Path=/dashboard" in cookie and "SameSite=Lax" in cookie
    again = app.test_client().get(path)
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)


def test_every_page_needs_a_session(app):
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("dashboard.") or rule.endpoint in ("dashboard.open_link", "dashboard.static"):
            continue
        url = re.sub(r"<[^>]+>", lambda m: "approve" if "any(" in m[0] else str(uuid.uuid4()), rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            answer = client.open(url, method=method)
            assert answer.status_code == 401, (method, url, answer.status_code)
            assert "Open this page from your store" in answer.get_data(as_text=True)
            checked += 1
    assert checked >= 15


def test_a_session_lasts_eight_hours_from_the_link(app, store_auth, monkeypatch, tmp_path):
    client = signed_in(app, store_auth)
    move_clock(monkeypatch, tmp_path, timedelta(hours=7, minutes=59))
    assert client.get("/dashboard/people").status_code == 200
    move_clock(monkeypatch, tmp_path, timedelta(hours=8, seconds=1))
    assert client.get("/dashboard/people").status_code == 401


def test_links_survive_a_secret_key_rotation(config, ctx, store_auth):
    old = create_app(config)
    path = link_path(old.test_client(), store_auth)
    rotated = create_app(config.with_(secret_keys=("brand-new-key",) + config.secret_keys))
    assert rotated.test_client().get(path).status_code == 303
    retired = create_app(config.with_(secret_keys=("brand-new-key",)))
    assert retired.test_client().get(link_path(old.test_client(), store_auth)).status_code == 403


def test_redis_down_refuses_the_link_rather_than_opening_it_unchecked(app, client, store_auth, monkeypatch):
    path = link_path(client, store_auth)

    def down(*_args, **_kwargs):
        raise redis.ConnectionError("down")
    monkeypatch.setattr(app.extensions["peoplesync"].redis, "set", down)
    answer = app.test_client().get(path)
    assert answer.status_code == 503 and answer.headers["Retry-After"]


# --- framing and headers ---------------------------------------------------------------------

def test_pages_cannot_be_framed_by_default(app, store_auth):
    answer = signed_in(app, store_auth).get("/dashboard/people")
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"


def test_framing_origins_and_a_third_party_cookie(config, ctx, store_auth):
    framed = create_app(config.with_(extra={"dashboard_frame_ancestors": "https://admin.shop.example, https://*.shop.example"}))
    client = framed.test_client()
    opened = client.get(link_path(client, store_auth))
    cookie = opened.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    csp = opened.headers["Content-Security-Policy"]
    assert "frame-ancestors https://admin.shop.example https://*.shop.example" in csp
    assert "X-Frame-Options" not in opened.headers


def test_a_malformed_frame_ancestor_stops_the_app_naming_the_variable(config, ctx):
    with pytest.raises(ConfigError, match="DASHBOARD_FRAME_ANCESTORS"):
        create_app(config.with_(extra={"dashboard_frame_ancestors": "https://ok.example; script-src *"}))


# --- forms -----------------------------------------------------------------------------------

def test_a_post_without_the_csrf_token_changes_nothing(app, client, store_auth):
    session = signed_in(app, store_auth)
    answer = session.post("/dashboard/hris/hibob", data={"service_user_id": "S", "token": "t", "timezone": "UTC"})
    assert answer.status_code == 400
    assert client.get(f"{API}/stores/acme-shop/integration", headers=store_auth).status_code == 404
    forged = session.post("/dashboard/hris/hibob", data={"csrf_token": "guess", "service_user_id": "S",
                                                         "token": "t", "timezone": "UTC"})
    assert forged.status_code == 400


def test_the_form_is_judged_by_the_api_schema_and_creates_through_the_api_code(app, client, store_auth):
    session = signed_in(app, store_auth)
    form = {"csrf_token": csrf_of(session), "service_user_id": "SERVICE-1", "token": "tok", "timezone": "Mars/Base"}
    refused = session.post("/dashboard/hris/hibob", data=form)
    api = client.post(f"{API}/integrations", json={"store_id": "x", "provider": "hibob", "credentials": {
        "service_user_id": "S", "token": "t"}, "settings": {"timezone": "Mars/Base"}}, headers=store_auth)
    api_message = api.json["error"]["fields"]["settings.timezone"][0]
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and api_message[:1].upper() + api_message[1:] in page
    assert "tok" not in re.findall(r'name="token"[^>]*value="([^"]*)"', page)  # the token is never echoed

    created = session.post("/dashboard/hris/hibob", data={**form, "timezone": "Europe/Paris", "api_key": "legacy",
                                                          "include_future_joiners": "on"})
    assert created.status_code == 303 and created.headers["Location"] == "/dashboard/integration"
    integration = client.get(f"{API}/stores/acme-shop/integration", headers=store_auth).json
    assert integration["state"] == "connecting"
    assert integration["settings"]["timezone"] == "Europe/Paris"
    assert integration["settings"]["include_future_joiners"] is True
    assert integration["settings"]["sync_birthdays"] is False  # an unticked box is false
    assert [w["code"] for w in integration["warnings"]] == ["field_ignored"]
    assert integration["current_run"]["trigger"] == "initial"
    # A second Integrate is the API's 409, shown as the existing integration.
    again = session.post("/dashboard/hris/hibob", data={**form, "timezone": "UTC"})
    assert again.status_code == 303 and again.headers["Location"] == "/dashboard/integration"


def test_settings_and_disconnect_act_on_the_session_store_only(app, client, store_auth, ctx):
    other = client.post(f"{API}/integrations", json={"store_id": "other-shop", "provider": "hibob", "credentials": {
        "service_user_id": "S", "token": "t"}}, headers=store_auth).json
    seed_person(ctx, "other-shop", other["id"], "99", first="Zed", last="Other")
    session = signed_in(app, store_auth)
    assert "Zed" not in session.get("/dashboard/people?status=all").get_data(as_text=True)
    assert session.get("/dashboard/integration").headers["Location"] == "/dashboard/hris/hibob"
    assert session.get(f"/dashboard/runs/{uuid.uuid4()}").status_code == 404
    token = csrf_of(session)
    assert session.post("/dashboard/integration/disconnect", data={"csrf_token": token}).status_code == 404
    assert client.get(f"{API}/integrations/{other['id']}", headers=store_auth).json["state"] == "connecting"

    session.post("/dashboard/hris/hibob", data={"csrf_token": token, "service_user_id": "S", "token": "t",
                                                "timezone": "UTC"})
    bad = session.post("/dashboard/integration/settings", data={
        "csrf_token": token, "timezone": "UTC", "removal_guard_percent": "150", "removal_guard_min": "x"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Must be greater than or equal to 0 and less than or equal to 100." in text
    assert "Not a valid integer." in text
    ok = session.post("/dashboard/integration/settings", data={
        "csrf_token": token, "timezone": "Asia/Tokyo", "removal_guard_percent": "30", "removal_guard_min": "5",
        "sync_birthdays": "on"})
    assert ok.status_code == 303
    mine = client.get(f"{API}/stores/acme-shop/integration", headers=store_auth).json
    assert mine["settings"] == {"sync_birthdays": True, "include_future_joiners": False,
                                "removal_guard_percent": 30, "removal_guard_min": 5, "timezone": "Asia/Tokyo"}
    assert session.post("/dashboard/integration/disconnect", data={"csrf_token": token,
                                                                   "people": "shred"}).status_code == 400
    assert session.post("/dashboard/integration/disconnect", data={"csrf_token": token,
                                                                   "people": "keep"}).status_code == 303
    assert client.get(f"{API}/integrations/{mine['id']}", headers=store_auth).json["state"] == "disconnected"
    assert client.get(f"{API}/integrations/{other['id']}", headers=store_auth).json["state"] == "connecting"


def test_the_actor_named_by_the_backend_is_recorded_with_what_they_do(app, store_auth):
    from shared.db import integrations as integrations_db
    from shared.db import runs as runs_db

    session = signed_in(app, store_auth, actor={"id": "admin-7", "email": "admin@acme.example"})
    token = csrf_of(session)
    session.post("/dashboard/hris/hibob", data={"csrf_token": token, "service_user_id": "S", "token": "t",
                                                "timezone": "UTC"})
    ctx = app.extensions["peoplesync"]
    with ctx.db.begin() as conn:  # the first sync has finished (no worker runs in this test)
        integration = integrations_db.get_live_for_store(conn, "acme-shop")
        (initial,) = runs_db.page(conn, integration["id"], 10, None)
        runs_db.update(conn, initial["id"], status="succeeded", finished_at=clock.now())
    assert session.post("/dashboard/integration/sync", data={"csrf_token": token}).status_code == 303
    with ctx.db.begin() as conn:
        manual = runs_db.page(conn, integration["id"], 10, None)[0]
    assert manual["trigger"] == "manual" and manual["actor"] == {"id": "admin-7", "email": "admin@acme.example"}


def test_a_decision_on_a_batch_that_changed_is_refused_on_the_page(app, store_auth):
    session = signed_in(app, store_auth)
    token = csrf_of(session)
    session.post("/dashboard/hris/hibob", data={"csrf_token": token, "service_user_id": "S", "token": "t",
                                                "timezone": "UTC"})
    answer = session.post("/dashboard/integration/removals/approve", data={"csrf_token": token,
                                                                           "batch_id": "read-long-ago"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("#held")
    assert "The held list changed since this page was loaded" in session.get("/dashboard/integration").get_data(
        as_text=True)
    blank = session.post("/dashboard/integration/removals/reject", data={"csrf_token": token, "batch_id": ""})
    assert blank.status_code == 400


# --- 100,000 people --------------------------------------------------------------------------

def test_a_100000_person_list_pages_and_searches_fast(app, store_auth, ctx):
    now = clock.now()
    rows = [{"id": str(uuid.uuid4()), "store_id": "acme-shop", "integration_id": "i-1", "external_id": str(n),
             "email": f"person{n}@acme.example", "first_name": f"First{n}", "last_name": f"Last{n:06d}",
             "display_name": f"First{n} Last{n:06d}", "birthday": "02-29" if n % 365 == 0 else "07-14",
             "start_date": "2020-01-06", "leave_date": None, "department": "Sales", "site": "Paris",
             "status": "removed" if n % 10 == 0 else "active", "removal_reason": "terminated" if n % 10 == 0 else None,
             "removal_rejected": False, "sort_key": f"last{n:06d} first{n}", "added_at": now, "updated_at": now,
             "removed_at": now if n % 10 == 0 else None} for n in range(100_000)]
    with ctx.db.begin() as conn:
        people_db.insert(conn, rows)
    session = signed_in(app, store_auth)
    timings = {}

    def get(url: str) -> str:
        start = time.perf_counter()
        answer = session.get(url)
        timings[url[:60]] = time.perf_counter() - start
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    first = get("/dashboard/people")
    assert ">90,000</span>" in first and ">10,000</span>" in first
    assert "First1 Last000001" in first and "29 February" not in first  # person 0 is removed: not listed
    cursor = re.search(r'rel="next" href="[^"]*cursor=([^"&]+)', first)[1]
    # Walk 40 pages deep by cursor: each page costs what the first does.
    for _ in range(40):
        page = get(f"/dashboard/people?status=active&cursor={cursor}")
        cursor = re.search(r'rel="next" href="[^"]*cursor=([^"&]+)', page)[1]
    # 41 pages of 50 = the 2,050th active person, who is number 2,277 (every tenth was removed).
    assert "First2277 Last002277" in page and "Last002278" not in page
    found = get("/dashboard/people?q=person99999%40acme&status=all")
    assert "person99999@acme.example" in found and found.count("<tr>") == 2  # header + one person
    removed = get("/dashboard/people?status=removed")
    assert "left the company" in removed
    slowest = max(timings.values())
    print("\n100,000 people:", {k: f"{v * 1000:.0f} ms" for k, v in timings.items()})
    assert slowest < 2.0, timings
