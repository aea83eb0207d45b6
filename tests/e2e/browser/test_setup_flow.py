"""A store admin connects HiBob from an empty store and ends on a synced people list."""
from __future__ import annotations

import re

import pytest

from shared import clock
from tests.e2e.browser.conftest import assert_controls_named, expect, shoot
from tests.integration.syncing import expected_active

pytestmark = pytest.mark.browser


def test_from_an_empty_store_to_a_synced_people_list(dashboard, hibob_sandbox, worker):
    page = dashboard.open()
    expect(page.get_by_role("heading", name="People & Budget")).to_be_visible()
    expect(page.get_by_text("No people yet")).to_be_visible()
    # Keyboard first: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    shoot(page, "people-empty")
    assert_controls_named(page)

    # The setup guide's path: Upload people → Sync HRIS → HiBob.
    page.get_by_role("link", name="Upload people").click()
    shoot(page, "upload-people")
    assert_controls_named(page)
    page.get_by_role("link", name="Sync HRIS").click()
    shoot(page, "sync-hris")
    assert_controls_named(page)
    page.get_by_role("link", name="HiBob", exact=True).click()
    expect(page.get_by_role("heading", name="Connect HiBob")).to_be_visible()
    checklist = page.get_by_role("region", name="In HiBob first")
    for step in ("Create a service user", "Add the service user to the group", "Birthdays (optional)"):
        expect(checklist.get_by_label(step)).to_be_visible()
    expect(checklist).to_contain_text("remove the default")
    expect(checklist).to_contain_text("Hired and Terminated")
    expect(page.get_by_label("HiBob API key")).to_be_visible()
    expect(page.get_by_label("Report ID")).to_be_visible()
    expect(page.get_by_text("Leave both empty")).to_be_visible()
    shoot(page, "connect-hibob")
    assert_controls_named(page)

    # A blank form is refused with the API schema's verdict, next to the fields.
    page.get_by_role("button", name="Integrate").click()
    expect(page.get_by_role("alert")).to_contain_text("Service user ID: This is required.")
    expect(page.get_by_label("Service user ID")).to_have_attribute("aria-invalid", "true")
    shoot(page, "connect-hibob-errors")
    assert_controls_named(page)

    user, token = hibob_sandbox.credentials
    page.get_by_label("Service user ID").fill(user)
    page.get_by_label("User token").fill(token)
    page.get_by_label("Include future joiners").check()
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_label("User token").press("Enter")  # the keyboard submits the form

    # Progress is shown live on the panel, without reloading it.
    expect(page).to_have_url(re.compile(r"/dashboard/integration$"))
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#progress-label")).to_contain_text(re.compile(r"Connecting|Pulling|Pulled|Done"))
    expect(page.locator("#progress-label")).to_contain_text("Done: pulled 60 people", timeout=30_000)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    expect(page.locator("#state-label")).to_have_text("Active")
    shoot(page, "integration-active")
    assert_controls_named(page)

    # The people appear, with counts, search and the status filter.
    want = expected_active(hibob_sandbox, clock.today_in("Europe/Paris"))
    upcoming = [p for p in hibob_sandbox.state.directory.snapshot() if p.lifecycle == "hired"]
    page.get_by_role("link", name="People & Budget").click()
    expect(page.locator("#count-active")).to_have_text(str(len(want)))
    expect(page.locator("#count-upcoming")).to_have_text(str(len(upcoming)))
    shoot(page, "people")
    assert_controls_named(page)
    person = next(p for p in hibob_sandbox.state.directory.snapshot() if p.id in want and p.values.get("root.email"))
    email = person.values["root.email"]
    page.get_by_label("Search people").fill(email)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(email)
    page.get_by_label("Search people").fill("")
    page.get_by_label("Status", exact=True).select_option("upcoming")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(len(upcoming))
    expect(rows.first).to_contain_text("Upcoming (starts")

    # The history shows the first sync and who it added.
    page.get_by_role("link", name="Sync history").click()
    run_row = page.locator("table tbody tr").first
    expect(run_row).to_contain_text("First sync")
    expect(run_row).to_contain_text("Succeeded")
    shoot(page, "sync-history")
    assert_controls_named(page)
    run_row.get_by_role("link", name=re.compile("Changes")).click()
    expect(page.get_by_role("heading", name="First sync")).to_be_visible()
    expect(page.locator(".change-person-added")).to_have_count(len(want) + len(upcoming))
    shoot(page, "sync-run")
    assert_controls_named(page)
