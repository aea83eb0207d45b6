"""Bad input at the HiBob webhook receiver: any body, signature, path and content type.

Never a 500; an answer of the documented kind; and nothing changes unless HiBob's signature over
that very body is right: then a valid event of a type we act on is one new inbox row and a queued
job, a ping or an ignored event only touches last_ping_at/last_event_at, and everything else
changes no data at all.
"""
from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared import service
from shared.db.tables import metadata
from tests.integration.test_api import connect
from tests.integration.test_webhooks import sign
from tests.unit.test_hibob_decode_properties import json_values
from web.webhooks import ACTED_ON

SECRET = "fuzz-webhook-secret"
OLD_SECRET = "fuzz-old-secret"
TOUCHED = {"last_event_at", "last_ping_at", "updated_at"}  # what a signed ping or event may change

acted_on = st.sampled_from(sorted(ACTED_ON))
event_types = st.one_of(acted_on, acted_on, acted_on, st.sampled_from(["timeoff.request.created", "", "employee"]),
                        st.text(max_size=70))
digits = st.from_regex(r"[0-9]{1,19}", fullmatch=True)
employee_ids = st.one_of(digits, digits, digits, st.integers(), st.text(max_size=70), json_values)
instants = st.sampled_from(["2026-12-04T16:53:26.579132", "2026-12-04T16:53:26"]) | st.datetimes().map(
    lambda d: d.isoformat())
triggered = st.one_of(instants, instants, instants, st.text(max_size=45), json_values)


@st.composite
def hibob_events(draw: st.DrawFn) -> bytes:
    """Envelopes shaped like HiBob's v2 events, right or wrong in every field."""
    data = st.fixed_dictionaries({"employeeId": employee_ids}, optional={"fieldUpdates": json_values})
    envelope: dict = {"companyId": draw(st.integers() | json_values), "type": draw(event_types),
                      "triggeredBy": "system", "triggeredAt": draw(triggered), "version": "v2",
                      "data": draw(st.one_of(data, data, data, json_values))}
    if draw(st.integers(0, 3)) == 0:
        envelope.pop(draw(st.sampled_from(sorted(envelope))))  # a key missing
    return json.dumps(envelope, separators=(draw(st.sampled_from([",", ", "])), ":")).encode()


bodies = st.one_of(
    hibob_events(), hibob_events(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"Ping test", b'{"text":"Ping test"}', b" Ping test\n", b"ping test", b'{"text":"Ping"}',
                     b"", b"{", b"[]", b"null", b'{"type": "employee.updated"}', b"\xff\xfe"]),
)
signatures = st.sampled_from(["right"] * 4 + ["old", "wrong", "none", "garbage"])
paths = st.sampled_from(["ours"] * 6 + ["unknown-uuid", "not-a-uuid", "ours-upper"])
content_types = st.sampled_from(["application/json", "text/plain", None, "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x"])


def snapshot(ctx) -> dict:
    with ctx.db.begin() as conn:
        return {t.name: [dict(r) for r in conn.execute(sa.select(t)).mappings()] for t in metadata.sorted_tables}


def without_touched(snap: dict) -> dict:
    out = dict(snap)
    out["integrations"] = [{k: v for k, v in row.items() if k not in TOUCHED} for row in snap["integrations"]]
    return out


@pytest.fixture
def receiver(client, store_auth, ctx):
    created = connect(client, store_auth, store_id="fuzz-hooks")
    service.set_webhook_secret(ctx, created["id"], OLD_SECRET)
    service.set_webhook_secret(ctx, created["id"], SECRET)  # the old one stays valid for 24 hours
    return created["id"]


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies, signature=signatures, path=paths, content_type=content_types)
def test_any_delivery_is_answered_without_a_500_and_only_a_signed_event_changes_data(
        client, ctx, receiver, body, signature, path, content_type):
    integration_id = {"ours": receiver, "unknown-uuid": str(uuid.uuid4()), "not-a-uuid": "../../api/v1",
                      "ours-upper": receiver.upper()}[path]
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if signature != "none":
        headers["Bob-Signature"] = {"right": sign(body, SECRET), "old": sign(body, OLD_SECRET),
                                    "wrong": sign(body, "not-the-secret"), "garbage": "é%%\x00"}[signature]
    before = snapshot(ctx)
    depth = ctx.queues.depth()["events"]
    answer = client.post(f"/webhooks/hibob/{integration_id}", data=body, headers=headers)
    after = snapshot(ctx)
    result = (answer.get_json(silent=True) or {}).get("status") or (answer.get_json(silent=True) or {}).get(
        "error", {}).get("code")
    event(f"{answer.status_code} {result}")
    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.is_json
    inbox_growth = len(after["webhook_inbox"]) - len(before["webhook_inbox"])
    if answer.status_code == 200 and result == "accepted":
        assert signature in ("right", "old")
        assert inbox_growth == 1
        assert without_touched(after) == without_touched(before) | {"webhook_inbox": after["webhook_inbox"]}
    elif answer.status_code == 200:
        assert result in ("ping", "duplicate", "ignored")
        assert inbox_growth == 0 and without_touched(after) == without_touched(before)
        assert ctx.queues.depth()["events"] == depth
    else:
        assert answer.status_code in (400, 401, 404, 405, 409, 413, 415), answer.status_code
        assert after == before, "a refused delivery changed data"
        assert ctx.queues.depth()["events"] == depth
