"""Bad input from HiBob: any status, content type, headers and body (or no answer at all), fed to
the HiBob client through a canned transport, and to the sync job end to end.

The client either returns what was asked for or raises one of its typed errors, never anything
else, and no message carries the token. The job never crashes: the run ends succeeded, or failed
with a reason an admin can act on in plain words, and a failed run changes nobody in the store.
"""
from __future__ import annotations

import base64
import functools
import io
import json
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from shared import metrics, reasons, service
from shared.db.tables import people as people_table
from shared.db.tables import store_changes
from shared.hibob.client import HiBobClient
from shared.hibob.errors import HiBobError
from tests.unit.test_hibob_decode_properties import hibobish, json_values, person_and_expected
from worker import jobs

USER, TOKEN = "SERVICE-4711", "fuzz-token-b9f1c2"
BASIC = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
HTML = b"<!doctype html><html><head><title>bob</title></head><body>app</body></html>"


@st.composite
def valid_search(draw: st.DrawFn) -> bytes:
    ids = draw(st.sets(st.from_regex(r"[1-9][0-9]{2,18}", fullmatch=True), min_size=1, max_size=6))
    return json.dumps({"employees": [draw(person_and_expected(i))[0] for i in sorted(ids)]}).encode()


named_list = st.fixed_dictionaries({"items": st.lists(st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=4) | st.integers(0, 99), "name": st.text(max_size=6)}), max_size=4)}).map(
    lambda d: json.dumps(d).encode())
bodies = st.one_of(valid_search(), valid_search(), named_list,
                   st.lists(hibobish, max_size=4).map(lambda e: json.dumps({"employees": e}).encode()),
                   json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                   st.sampled_from([b"", HTML, b'{"key": "internal.error", "error": "boom"}', b"{", b"null"]))
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 405, 408, 429, 429, 429, 500, 502, 503, 504]) \
    | st.integers(100, 599)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/html",
                                 "text/plain", "application/problem+json", None, "application/json;;"])
limit_headers = st.fixed_dictionaries({}, optional={
    "X-RateLimit-Reset": st.sampled_from(["1", "0", "-5", "nan", "inf", "soon", "99999999999", "1e308", "1e12"])
    | st.floats(allow_nan=True).map(str),
    "Retry-After": st.sampled_from(["1", "Wed, 21 Oct 2015 07:28:00 GMT", "x", "-1"]),
})
fields_list = st.lists(st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8)}), max_size=3).map(
    lambda d: json.dumps(d).encode())
one_person = person_and_expected("4242").map(lambda pair: json.dumps(pair[0]).encode())
GOOD_BODIES = {"people.search": valid_search(), "people.read": one_person, "company.named-list": named_list,
               "company.fields": fields_list, "other": st.just(b"{}")}


def answers(endpoint: str) -> st.SearchStrategy:
    """Mostly what HiBob should answer there, often anything at all."""
    good = st.tuples(st.just(200), st.just("application/json"), st.just({}), GOOD_BODIES[endpoint])
    return st.one_of(good, good, st.tuples(statuses, content_types, limit_headers, bodies),
                     st.sampled_from(["timeout", "connection error"]))


class CannedAdapter(requests.adapters.BaseAdapter):
    """Answers each request with the next canned answer for its endpoint (the last one repeats)."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        super().__init__()
        self.script = {k: list(v) for k, v in script.items()}

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ANN001
        queue = self.script[metrics.hibob_endpoint(request.url)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer == "timeout":
            raise requests.ReadTimeout("read timed out (canned)", request=request)
        if answer == "connection error":
            raise requests.ConnectionError("connection refused (canned)", request=request)
        status, content_type, headers, body = answer
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response.headers = CaseInsensitiveDict({**headers, **({"Content-Type": content_type} if content_type else {})})
        response.raw = io.BytesIO(body)
        return response

    def close(self) -> None:
        pass


def canned_session(script: dict[str, list[Any]]) -> requests.Session:
    session = requests.Session()
    session.mount("http://", CannedAdapter(script))
    return session


def no_secret_in(text: str) -> None:
    assert TOKEN not in text and BASIC not in text


def script_of(data) -> dict[str, list[Any]]:
    return {endpoint: data.draw(st.lists(answers(endpoint), min_size=1, max_size=4), label=endpoint)
            for endpoint in GOOD_BODIES}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), call=st.sampled_from(["search", "read", "named_list", "fields"]))
def test_the_client_returns_what_was_asked_or_a_typed_error(data, call):
    client = HiBobClient("http://hibob.test/v1", USER, TOKEN, session=canned_session(script_of(data)),
                         sleep=lambda seconds: None, clock=lambda: 1_700_000_000.0, max_retries=2)
    try:
        if call == "search":
            result = client.search_people()
            assert all(isinstance(e["external_id"], str) and e["external_id"] for e in result.employees)
        elif call == "read":
            assert client.read_person("4242")["external_id"] == "4242"
        elif call == "named_list":
            labels = client.named_list("department")
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
        else:
            assert all(isinstance(item["id"], str) for item in client.people_fields())
        event(f"{call}: ok")
    except HiBobError as error:
        event(f"{call}: {error.code}")
        no_secret_in(str(error))
        no_secret_in(repr(error))


# --- the sync job end to end ---------------------------------------------------------------------

@pytest.fixture
def fuzzed_hibob(monkeypatch):
    """The job's HiBob session answers from a script the test sets; no pacing, no waiting."""
    holder: dict[str, Any] = {}
    monkeypatch.setattr(metrics, "CountingSession", lambda tally: canned_session(holder["script"]))
    monkeypatch.setattr(jobs, "RedisPacer", lambda *args, **kwargs: None)
    monkeypatch.setattr(jobs, "HiBobClient", functools.partial(HiBobClient, sleep=lambda seconds: None))
    return holder


def people_and_person_changes(ctx) -> tuple[list, list]:
    with ctx.db.begin() as conn:
        people = sorted(map(repr, conn.execute(sa.select(people_table)).all()))
        changes = sorted(map(repr, conn.execute(sa.select(store_changes).where(
            store_changes.c.kind.like("person.%"))).all()))
    return people, changes


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_sync_job_never_crashes_and_a_failed_run_changes_nobody(ctx, fuzzed_hibob, data):
    integration_id = _integration(ctx)
    fuzzed_hibob["script"] = script_of(data)
    before = people_and_person_changes(ctx)
    run_id = service.request_sync(ctx, integration_id)
    outcome = jobs.run_sync(run_id)  # any exception here is a crash: the test fails
    with ctx.db.begin() as conn:
        run = conn.execute(sa.text("SELECT status, error FROM sync_runs WHERE id = :id"), {"id": run_id}).one()
    status, error = run.status, run.error if isinstance(run.error, (dict, type(None))) else json.loads(run.error)
    event(f"{outcome}: {status} {(error or {}).get('code', '')}")
    assert status in ("succeeded", "failed")
    if status == "failed":
        assert error["code"] in reasons.REASONS
        for marker in ("<html", "Traceback", "canned", "Exception", TOKEN, BASIC):
            assert marker not in error["message"]
        assert people_and_person_changes(ctx) == before, "a failed run changed the store"


def _integration(ctx) -> str:
    with ctx.db.begin() as conn:
        found = conn.execute(sa.text("SELECT id FROM integrations WHERE store_id = 'fuzz-hibob'")).scalar()
    if found:
        return found
    return service.create_integration(ctx, "fuzz-hibob", {"service_user_id": USER, "token": TOKEN}, {}, [])["id"]


@pytest.mark.parametrize("headers", [{"X-RateLimit-Reset": "1e308"}, {"X-RateLimit-Reset": "99999999999"},
                                     {"Retry-After": "inf"}, {"Retry-After": "nan"}])
def test_an_absurd_rate_limit_reset_is_rate_limited_within_the_hour_not_a_crash(ctx, monkeypatch, headers):
    """Found by the fuzzing above: such a header crashed the shared pacer (Redis refuses the expiry)
    and the failure bookkeeping (no datetime that far), leaving the run `running` for the sweeper
    to restart into the same crash."""
    from datetime import timedelta

    from shared import clock

    script = {endpoint: [(429, "application/json", headers, b'{"key": "too.many.requests"}')]
              for endpoint in GOOD_BODIES}
    monkeypatch.setattr(metrics, "CountingSession", lambda tally: canned_session(script))
    monkeypatch.setattr(jobs, "HiBobClient", functools.partial(HiBobClient, sleep=lambda seconds: None))
    integration_id = _integration(ctx)
    run_id = service.request_sync(ctx, integration_id)
    assert jobs.run_sync(run_id) == "failed"
    view = service.describe(ctx, integration_id)
    assert view.row["state_reason"]["code"] == "rate_limited"
    next_run = view.row["next_run_at"]
    next_run = next_run if next_run.tzinfo else next_run.replace(tzinfo=clock.now().tzinfo)
    assert next_run <= clock.now() + jobs.BACKOFF_CAP + timedelta(seconds=5)


def test_a_nul_in_hibob_texts_is_dropped_and_the_sync_succeeds(ctx):
    """Found by the fuzzing above on PostgreSQL, whose text cannot hold U+0000: a display name
    carrying one crashed the apply, and the sweeper restarted the run into the same crash."""
    person = {"id": "100", "firstName": "Ada", "surname": "Love\u0000lace", "displayName": "Ada\u0000",
              "work": {"startDate": "2020-01-06", "department": "7\u0000"}, "internal": {"status": "Active"}}
    script = {"people.search": [(200, "application/json", {}, json.dumps({"employees": [person]}).encode())],
              "company.named-list": [(200, "application/json", {},
                                      b'{"items": [{"id": "7", "name": "Eng\\u0000ineering"}]}')],
              "people.read": [(404, "application/json", {}, b"{}")], "company.fields": [(200, "application/json", {}, b"[]")],
              "other": [(404, "application/json", {}, b"{}")]}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics, "CountingSession", lambda tally: canned_session(script))
        patch.setattr(jobs, "RedisPacer", lambda *args, **kwargs: None)
        integration_id = _integration(ctx)
        assert jobs.run_sync(service.request_sync(ctx, integration_id)) == "succeeded"
    with ctx.db.begin() as conn:
        stored = conn.execute(sa.select(people_table.c.last_name, people_table.c.display_name,
                                        people_table.c.department)).one()
    assert tuple(stored) == ("Lovelace", "Ada", "Engineering")
