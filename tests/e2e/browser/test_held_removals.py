"""The removal guard holds a batch; the admin reviews it on the panel and approves it there."""
from __future__ import annotations

import re

import pytest

from shared.db import changes as changes_db
from tests.e2e.browser.conftest import assert_controls_named, connect_hibob, expect, shoot

pytestmark = pytest.mark.browser

ADMIN = {"id": "admin-7", "email": "admin@store.example"}


def test_a_held_removal_is_approved_from_the_page(dashboard, hibob_sandbox, worker, ctx):
    page = dashboard.open(actor=ADMIN)
    connect_hibob(page, *hibob_sandbox.credentials)
    page.get_by_role("link", name="People & Budget").click()
    active = int(page.locator("#count-active").inner_text())
    guard = max(10, active * 20 // 100)

    # A mass departure in HiBob: more leavers at once than the guard allows.
    directory = hibob_sandbox.state.directory
    leavers = [p for p in directory.snapshot() if p.lifecycle == "employed"][:guard + 2]
    for person in leavers:
        directory.terminate(person.id)
    page.get_by_role("link", name="HiBob integration", exact=True).click()
    page.get_by_role("button", name="Sync now").click()

    held = page.get_by_role("region", name=re.compile(r"removals? held for your review"))
    expect(held).to_be_visible(timeout=30_000)
    expect(held.get_by_role("heading")).to_have_text(f"{len(leavers)} removals held for your review")
    expect(held).to_contain_text("nobody was removed")
    expect(held.locator("tbody tr")).to_have_count(len(leavers))
    expect(held).to_contain_text("left the company")
    expect(page.locator("#state-label")).to_have_text("Removals held")
    shoot(page, "integration-held")
    assert_controls_named(page)
    page.get_by_role("link", name="People & Budget").click()
    expect(page.get_by_text("Some removals are held for your review")).to_be_visible()
    expect(page.locator("#count-removed")).to_have_text("0")

    page.get_by_role("link", name="See what to do").click()
    page.get_by_role("button", name="Approve removals").click()
    expect(page.get_by_role("status").filter(has_text="Removals approved")).to_be_visible()
    expect(page.locator("#state-label")).to_have_text("Active")
    expect(page.get_by_role("button", name="Approve removals")).to_have_count(0)

    page.get_by_role("link", name="People & Budget").click()
    expect(page.locator("#count-removed")).to_have_text(str(len(leavers)))
    expect(page.locator("#count-active")).to_have_text(str(active - len(leavers)))
    page.get_by_role("link", name="Sync history").click()
    approval = page.locator("table tbody tr").first
    expect(approval).to_contain_text("Removals approved")
    approval.get_by_role("link", name=re.compile("Changes")).click()
    expect(page.locator(".change-person-removed")).to_have_count(len(leavers))
    expect(page.locator(".change-person-removed").first).to_contain_text("Reason: left the company")

    # The actor the store backend named when it asked for the link is on every removal.
    with ctx.db.begin() as conn:
        removed = [e for e in changes_db.page(conn, "store-1", 0, 10_000) if e["kind"] == "person.removed"]
    assert len(removed) == len(leavers) and all(e["actor"] == ADMIN for e in removed)
