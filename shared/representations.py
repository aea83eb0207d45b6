"""Database rows -> the JSON the store backend sees (DESIGN's Integration, Run, Person, Change).

Whitelists, not blacklists: each function names the keys it emits, so a column added to a table
(a credential, a sort key, the removal-rejected flag) never leaks into an answer by accident.
Times are RFC 3339 UTC with a ``Z``; SQLite returns naive datetimes, which hold UTC.
"""
from __future__ import annotations

from typing import Any

from shared.clock import rfc3339
from shared.db.runs import EMPTY_COUNTS
from shared.service import DEFAULT_SETTINGS, IntegrationView


def webhook_url(public_base_url: str, integration_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/webhooks/hibob/{integration_id}"


def effective_settings(stored: dict[str, Any] | None) -> dict[str, Any]:
    stored = stored or {}
    return {key: stored.get(key, default) for key, default in DEFAULT_SETTINGS.items()}


def _warning(item: dict[str, Any]) -> dict[str, Any]:
    out = {"code": str(item.get("code", "")), "message": str(item.get("message", ""))}
    if item.get("field"):
        out["field"] = str(item["field"])
    return out


def _state_reason(reason: dict[str, Any] | None) -> dict[str, Any] | None:
    if not reason:
        return None
    return {"code": reason.get("code", ""), "message": reason.get("message", ""),
            "hibob_steps": list(reason.get("hibob_steps") or [])}


def integration(view: IntegrationView, public_base_url: str) -> dict[str, Any]:
    row = view.row
    return {
        "id": row["id"],
        "store_id": row["store_id"],
        "provider": row["provider"],
        "state": row["state"],
        "state_reason": _state_reason(row.get("state_reason")),
        "warnings": [_warning(w) for w in row.get("warnings") or []],
        "settings": effective_settings(row.get("settings")),
        "webhook": {
            "url": webhook_url(public_base_url, row["id"]),
            "secret_set": row.get("webhook_secret_enc") is not None,
            "last_event_at": rfc3339(row.get("last_event_at")),
            "last_ping_at": rfc3339(row.get("last_ping_at")),
        },
        "current_run": run(view.current_run) if view.current_run else None,
        "last_run": run(view.last_run) if view.last_run else None,
        "next_run_at": rfc3339(row.get("next_run_at")),
        "people": {status: int(view.people.get(status, 0)) for status in ("active", "upcoming", "removed")},
        "held_removals": view.held_removals,
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }


def run(row: dict[str, Any]) -> dict[str, Any]:
    counts = {**EMPTY_COUNTS, **(row.get("counts") or {})}
    error = row.get("error")
    return {
        "id": row["id"],
        "trigger": row["trigger"],
        "status": row["status"],
        "phase": row.get("phase"),
        "fetched": row.get("fetched"),
        "started_at": rfc3339(row.get("started_at")),
        "finished_at": rfc3339(row.get("finished_at")),
        "counts": {key: int(counts[key]) for key in EMPTY_COUNTS},
        "error": {"code": error.get("code", ""), "message": error.get("message", "")} if error else None,
    }


def person(row: dict[str, Any]) -> dict[str, Any]:
    # Not exposed: sort_key and leave_date (internal scheduling), removal_rejected (guard
    # bookkeeping) and integration_id (the store sees one directory, whichever integration fed it).
    return {
        "id": row["id"],
        "store_id": row["store_id"],
        "external_id": row["external_id"],
        "email": row.get("email"),
        "first_name": row.get("first_name"),
        "last_name": row.get("last_name"),
        "display_name": row.get("display_name"),
        "birthday": row.get("birthday"),
        "start_date": row.get("start_date"),
        "department": row.get("department"),
        "site": row.get("site"),
        "status": row["status"],
        "added_at": rfc3339(row["added_at"]),
        "updated_at": rfc3339(row["updated_at"]),
        "removed_at": rfc3339(row.get("removed_at")),
        "removal_reason": row.get("removal_reason"),
    }


def change(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": int(row["seq"]),
        "at": rfc3339(row["at"]),
        "kind": row["kind"],
        "person_id": row.get("person_id"),
        "external_id": row.get("external_id"),
        "run_id": row.get("run_id"),
        "changes": row.get("changes") or {},
    }


def held_removals(batch: dict[str, Any]) -> dict[str, Any]:
    """``service.held_removals(...)`` -> the API's answer. Each person's ``removal_reason`` is why
    they would be removed (their status is still what it is in the store)."""
    return {
        "batch_id": batch["batch_id"],
        "held_since": rfc3339(batch["held_since"]),
        "threshold": int(batch["threshold"]),
        "people": [person(p) for p in batch["people"]],
    }
