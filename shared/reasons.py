"""Why an integration needs attention, in words a store admin can act on, with the HiBob steps.

The steps follow the store's HiBob setup guide (Part 1): create a service user, put it in a
permission group whose conditions pick the people to sync (Hired and Terminated included), give
the group People's Data view rights, and Personal sections for birthdays.
"""
from __future__ import annotations

from typing import Any

STEP_SERVICE_USER = ("In HiBob, go to Settings → Integrations → Service users, open the service user "
                     "(or create one) and copy its ID and token into this form.")
STEP_GROUP = ("In HiBob, go to Settings → Account → Permission groups, create a group for the store sync "
              "(or open yours), choose Select people, remove the default condition, and add the service user "
              "as a member.")
STEP_PEOPLE_DATA = ("In that permission group's People's Data rules, allow viewing the Basic info, Work and "
                    "Lifecycle sections for the people in the group.")
STEP_CONDITIONS = ("In the group's conditions (Select people), include people whose lifecycle status is Hired "
                   "and Terminated as well as Employed; otherwise future joiners and leavers are never seen.")
STEP_PERSONAL = ("For birthdays: in the group's People's Data rules, allow viewing People → Personal "
                 "sections.")

REASONS: dict[str, dict[str, Any]] = {
    "auth_failed": {
        "message": "HiBob rejected the service user ID or token. Check both, or create a new token.",
        "hibob_steps": [STEP_SERVICE_USER],
    },
    "permission_missing": {
        "message": "The service user is not allowed to read people: it is probably in no permission group, "
                   "or its group cannot view People's Data.",
        "hibob_steps": [STEP_GROUP, STEP_PEOPLE_DATA, STEP_CONDITIONS],
    },
    "no_people_visible": {
        "message": "The service user can sign in but sees nobody: its permission group's conditions select "
                   "no people.",
        "hibob_steps": [STEP_GROUP, STEP_CONDITIONS, STEP_PEOPLE_DATA],
    },
    "hibob_unavailable": {
        "message": "HiBob did not answer (errors or time-outs). peoplesync keeps retrying with growing pauses.",
        "hibob_steps": [],
    },
    "rate_limited": {
        "message": "HiBob asked us to slow down. The sync resumes by itself once HiBob's limit resets.",
        "hibob_steps": [],
    },
    "invalid_data": {
        "message": "HiBob answered with data peoplesync cannot use safely, so nothing was changed.",
        "hibob_steps": [],
    },
}

WARNINGS: dict[str, str] = {
    "birthdays_not_visible": "Birthdays are switched on but the service user cannot see them.",
    "field_hidden": "HiBob stopped returning this field for most people, so the stored values were kept.",
    "field_ignored": "HiBob retired API keys and report IDs in 2025; this value is not needed and was ignored.",
}


def reason(code: str, detail: str | None = None) -> dict[str, Any]:
    """A `state_reason` object: code, message (plus a detail), and the HiBob steps to fix it."""
    entry = REASONS[code]
    message = entry["message"] if not detail else f"{entry['message']} ({detail})"
    steps = list(entry["hibob_steps"])
    return {"code": code, "message": message, "hibob_steps": steps}


def birthday_warning() -> dict[str, Any]:
    return {"code": "birthdays_not_visible", "field": "birthday",
            "message": WARNINGS["birthdays_not_visible"] + " " + STEP_PERSONAL}
