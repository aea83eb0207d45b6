"""marshmallow schemas of the store-backend API: what requests may hold and what responses hold.

The same classes validate requests, document the API (web/openapi.py feeds them to apispec) and,
in the tests, check that every response has exactly the documented shape — so the three cannot
drift apart. Request schemas keep marshmallow's default ``unknown=RAISE``: a misspelt setting is a
400 naming the field, never silently ignored. Response schemas mark every key required (present,
possibly null), because clients rely on a key being there.
"""
from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

STORE_ID_PATTERN = "^[A-Za-z0-9._-]{1,64}$"
_STORE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
RUN_TRIGGERS = ("initial", "scheduled", "manual", "webhook", "effective_date", "approval")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")
RUN_PHASES = ("fetching", "applying")
INTEGRATION_STATES = ("connecting", "active", "needs_attention", "held", "disconnected")
PERSON_STATUSES = ("active", "upcoming", "removed")
REMOVAL_REASONS = ("terminated", "not_visible", "deleted")
CHANGE_KINDS = ("person.added", "person.updated", "person.removed", "person.restored",
                "integration.state_changed", "removals.held")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


# --- field helpers -------------------------------------------------------------------------

def validate_store_id(value: str) -> None:
    # fullmatch, not validate.Regexp: Python's "$" also matches before a trailing newline.
    if not _STORE_ID.fullmatch(value):
        raise ValidationError("must be 1 to 64 letters, digits, '.', '_' or '-'")


def store_id_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate_store_id, metadata={"pattern": STORE_ID_PATTERN,
                                                               "example": "acme-shop"}, **kwargs)


@lru_cache(maxsize=1)
def known_time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_timezone(value: str) -> None:
    zones = known_time_zones()
    if zones:
        if value in zones:
            return
    else:
        # A machine without a zone list (no tzdata index) still knows the zones it can load.
        try:
            zoneinfo.ZoneInfo(value)
            return
        except Exception:  # ValueError, ZoneInfoNotFoundError, IsADirectoryError...
            pass
    raise ValidationError("must be an IANA time zone name such as Europe/Paris")


# "Contains a non-space character and no NUL", for the OpenAPI document (text() enforces it).
TEXT_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A required-by-default string with content: blank or NUL-carrying values are refused
    (PostgreSQL cannot store NUL, and a blank token is a paste mistake)."""
    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")
        if "\x00" in value:
            raise ValidationError("must not contain NUL characters")
    metadata = {"pattern": TEXT_PATTERN, **kwargs.pop("metadata", {})}
    return fields.String(validate=[validate.Length(min=1, max=max_length), check], metadata=metadata, **kwargs)


def validate_no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


class StrictBoolean(fields.Boolean):
    """JSON true/false only: marshmallow's Boolean would also take "yes", "0" or 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def nullable_datetime() -> fields.DateTime:
    return fields.DateTime(required=True, allow_none=True)


# --- requests ------------------------------------------------------------------------------

class CredentialsInputSchema(Schema):
    service_user_id = text(200, required=True, metadata={"description": "The HiBob service user's ID."})
    token = text(1000, required=True, load_only=True,
                 metadata={"description": "The HiBob service user's token (stored encrypted, never returned)."})
    # HiBob retired API keys in 2025; old store backends may still send these, so they are
    # accepted and ignored with a `field_ignored` warning rather than refused.
    api_key = fields.Raw(allow_none=True, load_only=True, metadata={
        "deprecated": True, "description": "Ignored (HiBob retired API keys in 2025); adds a field_ignored warning."})
    report_id = fields.Raw(allow_none=True, load_only=True, metadata={
        "deprecated": True, "description": "Ignored (people are read from the service user's permission "
                                           "group); adds a field_ignored warning."})

    @post_load
    def _strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A token pasted with a trailing newline is the same token: HiBob ids and tokens hold no spaces.
        for key in ("service_user_id", "token"):
            data[key] = data[key].strip()
        return data


class SettingsInputSchema(Schema):
    sync_birthdays = StrictBoolean(metadata={"description": "false clears stored birthdays."})
    include_future_joiners = StrictBoolean()
    removal_guard_percent = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))
    # The upper bound only keeps the number sane; any real company fits below it.
    removal_guard_min = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000_000))
    # The zone list is in the document (as an enum) so that clients can offer it as a choice.
    timezone = fields.String(validate=[validate.Length(min=1, max=64), validate_timezone],
                             metadata={"description": "IANA time zone name", "example": "Europe/Paris",
                                       "enum": list(known_time_zones())})


class IntegrationCreateSchema(Schema):
    store_id = store_id_field(required=True)
    provider = fields.String(required=True, validate=validate.OneOf(["hibob"]))
    credentials = fields.Nested(CredentialsInputSchema, required=True)
    settings = fields.Nested(SettingsInputSchema)


class IntegrationUpdateSchema(Schema):
    credentials = fields.Nested(CredentialsInputSchema)
    settings = fields.Nested(SettingsInputSchema)


class WebhookSecretInputSchema(Schema):
    secret = text(500, required=True, load_only=True,
                  metadata={"description": "The secret HiBob shows for the webhook (stored encrypted)."})


class ActorSchema(Schema):
    id = text(200, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=320))


class RemovalDecisionInputSchema(Schema):
    batch_id = text(100, required=True)
    actor = fields.Nested(ActorSchema)


class DashboardLinkInputSchema(Schema):
    actor = fields.Nested(ActorSchema, metadata={
        "description": "The store admin the link is for; recorded with the removals they approve or reject."})


# Query strings: unknown parameters are ignored (proxies and caches add their own).
class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Opaque: the next_cursor of the previous page.",
                                     "pattern": "^[A-Za-z0-9_-]+$"})


class PeopleQuerySchema(PageQuerySchema):
    status = fields.String(load_default="active",
                           validate=validate.OneOf(["active", "upcoming", "removed", "all"]))
    q = fields.String(validate=[validate.Length(min=1, max=200), validate_no_nul],
                      metadata={"description": "Case-insensitive substring of the name or email.",
                                "pattern": "^[^\\u0000]*$"})


class DisconnectQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    people = fields.String(validate=validate.OneOf(["remove", "purge"]), metadata={
        "description": "Omit to keep the people; `remove` marks them removed; `purge` erases them."})


# --- responses -----------------------------------------------------------------------------

class SettingsSchema(Schema):
    sync_birthdays = fields.Boolean(required=True)
    include_future_joiners = fields.Boolean(required=True)
    removal_guard_percent = fields.Integer(required=True)
    removal_guard_min = fields.Integer(required=True)
    timezone = fields.String(required=True)


class StateReasonSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    hibob_steps = fields.List(fields.String(), required=True)


class WarningSchema(Schema):
    code = fields.String(required=True, metadata={"example": "field_ignored"})
    field = fields.String()
    message = fields.String(required=True)


class WebhookSchema(Schema):
    url = fields.String(required=True, metadata={"description": "Paste into HiBob's webhook settings."})
    secret_set = fields.Boolean(required=True)
    last_event_at = nullable_datetime()
    last_ping_at = nullable_datetime()


class RunCountsSchema(Schema):
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    removed = fields.Integer(required=True)
    restored = fields.Integer(required=True)
    held = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)


class RunErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class RunSchema(Schema):
    id = fields.UUID(required=True)
    trigger = fields.String(required=True, validate=validate.OneOf(RUN_TRIGGERS))
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    phase = fields.String(required=True, allow_none=True, validate=validate.OneOf(RUN_PHASES))
    fetched = fields.Integer(required=True, allow_none=True)
    started_at = nullable_datetime()
    finished_at = nullable_datetime()
    counts = fields.Nested(RunCountsSchema, required=True)
    error = fields.Nested(RunErrorSchema, required=True, allow_none=True)


class PeopleCountsSchema(Schema):
    active = fields.Integer(required=True)
    upcoming = fields.Integer(required=True)
    removed = fields.Integer(required=True)


class IntegrationSchema(Schema):
    id = fields.UUID(required=True)
    store_id = store_id_field(required=True)
    provider = fields.String(required=True, validate=validate.OneOf(["hibob"]))
    state = fields.String(required=True, validate=validate.OneOf(INTEGRATION_STATES))
    state_reason = fields.Nested(StateReasonSchema, required=True, allow_none=True)
    warnings = fields.List(fields.Nested(WarningSchema), required=True)
    settings = fields.Nested(SettingsSchema, required=True)
    webhook = fields.Nested(WebhookSchema, required=True)
    current_run = fields.Nested(RunSchema, required=True, allow_none=True)
    last_run = fields.Nested(RunSchema, required=True, allow_none=True)
    next_run_at = nullable_datetime()
    people = fields.Nested(PeopleCountsSchema, required=True)
    held_removals = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PersonSchema(Schema):
    id = fields.UUID(required=True)
    store_id = fields.String(required=True)
    external_id = fields.String(required=True, metadata={"description": "HiBob's root.id"})
    email = fields.String(required=True, allow_none=True)
    first_name = fields.String(required=True, allow_none=True)
    last_name = fields.String(required=True, allow_none=True)
    display_name = fields.String(required=True, allow_none=True)
    birthday = fields.String(required=True, allow_none=True,
                             metadata={"pattern": "^[0-9]{2}-[0-9]{2}$", "description": "MM-DD; never a year"})
    start_date = fields.Date(required=True, allow_none=True)
    department = fields.String(required=True, allow_none=True)
    site = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(PERSON_STATUSES))
    added_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    removed_at = nullable_datetime()
    removal_reason = fields.String(required=True, allow_none=True, validate=validate.OneOf(REMOVAL_REASONS))


class FieldChangeSchema(Schema):
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class ChangeSchema(Schema):
    seq = fields.Integer(required=True, metadata={"description": "Per store, increasing, no gaps."})
    at = fields.DateTime(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CHANGE_KINDS))
    person_id = fields.UUID(required=True, allow_none=True)
    external_id = fields.String(required=True, allow_none=True)
    run_id = fields.UUID(required=True, allow_none=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(FieldChangeSchema), required=True)


def _page(item: type[Schema], name: str, cursor_doc: str, nullable: bool = True) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(required=True, allow_none=nullable, metadata={"description": cursor_doc}),
    }, name=name)


_NEXT = "Pass as `cursor` to get the next page; null on the last page."
RunPageSchema = _page(RunSchema, "RunPage", _NEXT)
PersonPageSchema = _page(PersonSchema, "PersonPage", _NEXT)
ChangePageSchema = _page(ChangeSchema, "ChangePage", _NEXT)
FeedPageSchema = _page(ChangeSchema, "FeedPage", (
    "Always present: pass it as `cursor` to continue. When `items` is empty you are caught up; "
    "poll again later with this same cursor."), nullable=False)


class RunRefSchema(Schema):
    run_id = fields.UUID(required=True)


class DashboardLinkSchema(Schema):
    url = fields.String(required=True, metadata={
        "description": "Open in the admin's browser (top level or in an iframe allowed by DASHBOARD_FRAME_ANCESTORS)."})
    expires_at = fields.DateTime(required=True)


class HeldRemovalsSchema(Schema):
    batch_id = fields.String(required=True, metadata={
        "description": "Name it to approve or reject; it changes whenever the held people change."})
    held_since = fields.DateTime(required=True)
    threshold = fields.Integer(required=True, metadata={
        "description": "The most removals the guard allowed in 24 hours when it tripped."})
    people = fields.List(fields.Nested(PersonSchema), required=True, metadata={
        "description": "The people whose removal is held, by last then first name; each one's "
                       "`removal_reason` is why they would be removed."})


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                          metadata={"description": "Field path (e.g. credentials.token) -> messages."})
    integration_id = fields.UUID(metadata={"description": "409 on create: the store's live integration."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)
    integration_id = fields.UUID(metadata={"description": "409 on create: the store's live integration."})


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(Schema):
    database = fields.String(required=True, metadata={"description": "ok, or what failed"})
    redis = fields.String(required=True, metadata={"description": "ok, or what failed"})
