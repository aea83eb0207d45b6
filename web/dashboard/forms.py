"""HTML form fields → the API's request documents, validated by the API's own schemas.

The dashboard never has rules of its own: it builds the very JSON document the store backend
would send and loads it with shared/schemas, so a value the API refuses is refused here with the
same message. Errors come back keyed by form field name for the template.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from web.errors import flatten_messages

# Schema field path → form field name (form names are the API's leaf names).
FIELD_OF_PATH = {
    "credentials.service_user_id": "service_user_id",
    "credentials.token": "token",
    "credentials.api_key": "api_key",
    "credentials.report_id": "report_id",
    "credentials": "token",
    "settings.sync_birthdays": "sync_birthdays",
    "settings.include_future_joiners": "include_future_joiners",
    "settings.timezone": "timezone",
    "settings.removal_guard_percent": "removal_guard_percent",
    "settings.removal_guard_min": "removal_guard_min",
    "secret": "secret",
    "batch_id": "batch_id",
    "people": "people",
    "q": "q",
    "status": "status",
    "cursor": "cursor",
}


class FormInvalid(Exception):
    """The form does not pass the API schema; ``errors`` maps form field → messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid form")
        self.errors = errors


def load(schema: type[Schema], document: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``document`` with ``schema``.

    Raises:
        FormInvalid: with the messages per form field.
    """
    try:
        return schema().load(document)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for path, messages in flatten_messages(exc.messages).items():
            errors.setdefault(FIELD_OF_PATH.get(path, path or "form"), []).extend(
                _readable(_value_at(document, path), messages))
        raise FormInvalid(errors) from None


def _value_at(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _readable(value: Any, messages: list[str]) -> list[str]:
    """The schema's verdict, worded for a person at a form: an empty box is "required", not a
    length rule; every message reads as a sentence."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ["This is required."]
    return [m[:1].upper() + m[1:] + ("" if m.endswith(".") else ".") for m in messages]


def text(form: Mapping[str, str], name: str) -> str | None:
    """A text field, or None when left empty (so optional fields stay absent)."""
    value = form.get(name)
    return value if value not in (None, "") else None


def checkbox(form: Mapping[str, str], name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


def integer(form: Mapping[str, str], name: str) -> Any:
    """An integer field: the number when it is one, else the raw text (the schema refuses it)."""
    raw = (form.get(name) or "").strip()
    try:
        return int(raw)
    except ValueError:
        return raw


def credentials(form: Mapping[str, str]) -> dict[str, Any]:
    creds: dict[str, Any] = {"service_user_id": form.get("service_user_id", ""), "token": form.get("token", "")}
    for optional in ("api_key", "report_id"):
        if text(form, optional) is not None:
            creds[optional] = form[optional]
    return creds


def people_settings(form: Mapping[str, str], *, guard: bool = False) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "sync_birthdays": checkbox(form, "sync_birthdays"),
        "include_future_joiners": checkbox(form, "include_future_joiners"),
        "timezone": form.get("timezone", ""),
    }
    if guard:
        settings["removal_guard_percent"] = integer(form, "removal_guard_percent")
        settings["removal_guard_min"] = integer(form, "removal_guard_min")
    return settings
