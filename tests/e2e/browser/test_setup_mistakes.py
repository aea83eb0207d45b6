"""An admin who set something up wrong in HiBob learns exactly what and where, on the page."""
from __future__ import annotations

import pytest

from tests.e2e.browser.conftest import assert_controls_named, connect_hibob, expect, shoot

pytestmark = pytest.mark.browser


def _update_token(page, user: str, token: str) -> None:
    form = page.get_by_role("region", name="Update token")
    form.get_by_label("Service user ID").fill(user)
    form.get_by_label("User token").fill(token)
    form.get_by_role("button", name="Update token").click()


def test_a_wrong_token_shows_the_fix_and_a_new_token_recovers(dashboard, hibob_sandbox, worker):
    page = dashboard.open()
    user, _ = hibob_sandbox.credentials
    connect_hibob(page, user, "not-the-token", wait_active=False)

    status = page.locator("#live-status")
    expect(page.locator("#state-label")).to_have_text("Needs attention", timeout=30_000)
    expect(status).to_contain_text("HiBob rejected the service user ID or token")
    expect(status.get_by_role("list").first).to_contain_text("Settings → Integrations → Service users")
    expect(status.get_by_role("link", name="Update token")).to_be_visible()
    expect(status.locator(".facts")).to_contain_text("Failed, ")
    shoot(page, "integration-wrong-token")
    assert_controls_named(page)

    # The next mistake: the right user... in no permission group. The fix names the group steps.
    no_group_user, no_group_token = hibob_sandbox.credentials_of("no_group")
    _update_token(page, no_group_user, no_group_token)
    expect(page.locator("#state-label")).to_have_text("Needs attention", timeout=30_000)
    expect(status).to_contain_text("in no permission group", timeout=30_000)
    steps = status.locator(".fix-steps")
    expect(steps).to_contain_text("Settings → Account → Permission groups")
    expect(steps).to_contain_text("add the service user as a member")
    expect(steps).to_contain_text("Hired and Terminated")
    shoot(page, "integration-no-permission-group")
    assert_controls_named(page)

    # Fixed in HiBob: the group now holds the user; Sync now checks again and people arrive.
    hibob_sandbox.state.update_service_user(no_group_user, in_group=True)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#state-label")).to_have_text("Active", timeout=30_000)
    expect(status).not_to_contain_text("What is wrong")

    # A token update with a blank token is refused by the API's own schema, on the page.
    _update_token(page, user, "   ")
    expect(page.get_by_role("region", name="Update token")).to_contain_text("This is required.")
