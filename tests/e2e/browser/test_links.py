"""Nothing but a fresh link from the store backend opens the dashboard, and only once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared import clock
from tests.e2e.browser.conftest import expect, shoot

pytestmark = pytest.mark.browser


def test_a_reused_link_is_refused_in_another_browser(dashboard):
    link = dashboard.link("store-1")
    first = dashboard.new_page()
    first.goto(link)
    expect(first.get_by_role("heading", name="People & Budget")).to_be_visible()
    assert "/link/" not in first.url  # the token left the address bar

    other = dashboard.new_page()
    answer = other.goto(link)
    assert answer.status == 410
    expect(other.get_by_role("heading", name="This link was already used")).to_be_visible()
    expect(other.get_by_role("navigation", name="Dashboard")).to_have_count(0)
    shoot(other, "link-used")
    assert other.goto(link.split("/dashboard/")[0] + "/dashboard/people").status == 401
    expect(other.get_by_role("heading", name="Open this page from your store")).to_be_visible()

    # The browser that opened it just carries on (the back button, a second click).
    first.goto(link)
    expect(first.get_by_role("heading", name="People & Budget")).to_be_visible()


def test_an_expired_or_tampered_link_is_refused(dashboard, tmp_path, monkeypatch):
    link = dashboard.link("store-1")
    now_file = tmp_path / "now"
    now_file.write_text(clock.rfc3339(clock.now() + timedelta(minutes=10, seconds=1)))
    monkeypatch.setenv("PEOPLESYNC_ENV", "test")
    monkeypatch.setenv("PEOPLESYNC_CLOCK_FILE", str(now_file))  # the app serves from this process
    page = dashboard.new_page()
    assert page.goto(link).status == 410
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    shoot(page, "link-expired")
    monkeypatch.delenv("PEOPLESYNC_CLOCK_FILE")

    # One character changed: the signature no longer matches.
    fresh = dashboard.link("store-1")
    tampered = fresh[:-3] + ("A" if fresh[-3] != "A" else "B") + fresh[-2:]
    assert page.goto(tampered).status == 403
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    # ... and the untouched link still works: a refused look-alike does not burn it.
    page.goto(fresh)
    expect(page.get_by_role("heading", name="People & Budget")).to_be_visible()
