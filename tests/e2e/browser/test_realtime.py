"""Real-time updates set up from the panel: a change in HiBob reaches the people list by webhook."""
from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.browser.conftest import assert_controls_named, connect_hibob, eventually, expect, shoot

pytestmark = pytest.mark.browser

SECRET = "hibob-shows-this-secret"


def test_a_webhook_driven_change_appears_on_the_people_list(dashboard, hibob_sandbox, worker):
    page = dashboard.open()
    connect_hibob(page, *hibob_sandbox.credentials)
    realtime = page.get_by_role("region", name="Real-time updates")
    webhook_url = page.get_by_label("Webhook URL").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/webhooks/hibob/[0-9a-f-]{36}", webhook_url)
    expect(realtime.locator("#last-ping")).to_have_text("never")

    # The admin creates the webhook in HiBob with that URL; HiBob pings it before any secret exists.
    answer = requests.post(f"{hibob_sandbox.control_url}/webhooks", json={"url": webhook_url, "secret": SECRET},
                           timeout=10)
    assert answer.status_code == 201, answer.text
    expect(realtime.locator("#last-ping")).to_contain_text("just now", timeout=15_000)  # live, no reload

    page.get_by_label("Webhook secret").fill(SECRET)
    page.get_by_role("button", name="Save secret").click()
    expect(page.get_by_role("status").filter(has_text="Webhook secret saved")).to_be_visible()
    expect(realtime).to_contain_text("Saved: real-time updates are on")

    directory = hibob_sandbox.state.directory
    person = next(p for p in directory.snapshot() if p.lifecycle == "employed" and p.values.get("root.email"))
    directory.update(person.id, email="moved.to.new.address@example.com")

    page.get_by_role("link", name="People & Budget").click()
    page.get_by_label("Search people").fill("moved.to.new.address")

    def shows_new_address() -> bool:
        page.get_by_role("button", name="Search").click()
        return page.locator("table tbody tr").filter(has_text="moved.to.new.address@example.com").count() == 1

    eventually(shows_new_address, seconds=30, message="the webhook-driven change never reached the list")
    page.get_by_role("link", name="HiBob integration", exact=True).click()
    expect(page.locator("#last-event")).not_to_have_text("never")
    shoot(page, "integration-realtime")
    assert_controls_named(page)
    page.get_by_role("link", name="Sync history").click()
    expect(page.locator("table tbody tr").first).to_contain_text("Real-time update from HiBob")
    page.locator("table tbody tr").first.get_by_role("link", name=re.compile("Changes")).click()
    change = page.locator(".change-person-updated")
    expect(change).to_have_count(1)
    expect(change.get_by_role("row", name=re.compile("Email"))).to_contain_text("moved.to.new.address@example.com")
    shoot(page, "sync-run-webhook")
    assert_controls_named(page)
