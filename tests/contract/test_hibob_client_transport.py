"""The HiBob client's HTTP behaviour against a scripted stub server over real loopback HTTP.

The sandbox (test_hibob_client_sandbox.py) is the realistic HiBob; this stub exists for exact
answers the sandbox has no reason to produce: header variants of a 429, a body cut mid-stream,
gzip, an error text that echoes the token.
"""
from __future__ import annotations

import gzip
import json
import logging
import pickle
import socket
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fakeredis
import pytest

from shared.hibob.client import HiBobClient
from shared.hibob.errors import (AuthFailed, AuthFailureBudgetSpent, HiBobUnavailable,
                                 InvalidData, PermissionMissing, PersonGone, RateLimited)
from shared.hibob.model import SYNC_FIELD_IDS
from shared.hibob.pacing import RedisPacer
from tests.conftest import FakeTime

TOKEN = "tok-SECRET-abc123"
PEOPLE = {"employees": [{"id": "1", "email": "a@example.com"}, {"id": "2", "email": None}]}


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | list = field(default_factory=lambda: PEOPLE)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0          # seconds before the status line
    cut_after: int | None = None  # send only this many body bytes, then drop the connection


class Stub:
    """A loopback HTTP server answering from a script; records every request."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply()
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers),
                                      "json": json.loads(self.rfile.read(length) or b"null")})
                reply = stub.script.pop(0) if stub.script else stub.default
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) \
                    else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:reply.cut_after] if reply.cut_after is not None else body)
                if reply.cut_after is not None:
                    self.close_connection = True

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.stop()


@pytest.fixture
def client(stub: Stub, fake_time: FakeTime) -> Iterator[HiBobClient]:
    with HiBobClient(stub.base_url, "SERVICE-1", TOKEN, sleep=fake_time.sleep,
                     clock=fake_time.clock, timeout=(1, 2)) as hibob:
        yield hibob


def test_search_sends_basic_auth_explicit_fields_and_show_inactive(client, stub):
    result = client.search_people()
    assert [e["external_id"] for e in result.employees] == ["1", "2"]
    assert result.byte_size == len(json.dumps(PEOPLE).encode())
    (request,) = stub.requests
    assert request["method"] == "POST" and request["path"] == "/v1/people/search"
    assert request["headers"]["Authorization"] == \
        "Basic " + b64encode(f"SERVICE-1:{TOKEN}".encode()).decode()
    assert request["headers"]["Accept"] == "application/json"
    assert request["json"] == {"fields": SYNC_FIELD_IDS, "showInactive": True}


@pytest.mark.parametrize("status, error, code", [(401, AuthFailed, "auth_failed"),
                                                 (403, PermissionMissing, "permission_missing")])
def test_401_and_403_are_typed_and_never_retried(client, stub, status, error, code):
    stub.default = Reply(status, {"key": "x", "error": "Nope"})
    with pytest.raises(error) as caught:
        client.search_people()
    assert caught.value.code == code and caught.value.status == status
    assert "HiBob said: Nope" in str(caught.value)
    assert len(stub.requests) == 1


def test_404_on_a_one_person_read_is_person_gone(client, stub):
    stub.default = Reply(404, {"key": "not_found", "error": "Employee not found"})
    with pytest.raises(PersonGone) as caught:
        client.read_person("3332883894235038486")
    assert caught.value.employee_id == "3332883894235038486"
    assert caught.value.code == "person_gone"
    assert stub.requests[0]["path"] == "/v1/people/3332883894235038486"
    assert stub.requests[0]["json"] == {"fields": SYNC_FIELD_IDS}


def test_other_4xx_are_not_retried(client, stub):
    stub.default = Reply(400, {"key": "bad", "error": "filters must not be empty"})
    with pytest.raises(HiBobUnavailable, match="400.*filters must not be empty"):
        client.search_people()
    assert len(stub.requests) == 1


def test_429_waits_until_hibobs_reset_then_succeeds(client, stub, fake_time):
    reset = fake_time.now + 20
    stub.script = [Reply(429, {"error": "Too many"}, {"X-RateLimit-Reset": str(int(reset))})]
    assert len(client.search_people().employees) == 2
    assert len(stub.requests) == 2
    (wait,) = fake_time.sleeps
    assert 20 <= wait <= 20.5


@pytest.mark.parametrize("headers, expected_wait", [
    ({"X-RateLimit-Reset": "7"}, 7),                   # a small number can only be a delay
    ({"Retry-After": "3"}, 3),
    ({"Retry-After": "HTTP-DATE+5"}, 5),
    ({}, None),                                        # nothing said: backoff
])
def test_429_reset_header_variants(client, stub, fake_time, headers, expected_wait):
    if headers.get("Retry-After") == "HTTP-DATE+5":
        headers = {"Retry-After": formatdate(fake_time.now + 5, usegmt=True)}
    stub.script = [Reply(429, b"", headers)]
    client.search_people()
    (wait,) = fake_time.sleeps
    if expected_wait is not None:
        assert expected_wait <= wait <= expected_wait + 0.5
    else:
        assert 0 <= wait <= 65.5


def test_429_whose_reset_is_too_far_raises_rate_limited_for_rescheduling(client, stub, fake_time):
    reset = int(fake_time.now + 600)
    stub.default = Reply(429, b"", {"X-RateLimit-Reset": str(reset)})
    with pytest.raises(RateLimited) as caught:
        client.search_people()
    assert caught.value.reset_at == reset and caught.value.code == "rate_limited"
    assert len(stub.requests) == 1 and fake_time.sleeps == []


def test_429_that_keeps_coming_gives_up_after_max_retries(client, stub, fake_time):
    stub.default = Reply(429, b"", {"X-RateLimit-Reset": "1"})
    with pytest.raises(RateLimited):
        client.search_people()
    assert len(stub.requests) == client.max_retries + 1


def test_5xx_is_retried_with_growing_jittered_backoff_then_succeeds(client, stub, fake_time):
    stub.script = [Reply(503, b"busy"), Reply(502, b"<html>bad gateway</html>",
                                              {"Content-Type": "text/html"})]
    assert len(client.search_people().employees) == 2
    assert len(stub.requests) == 3
    first, second = fake_time.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0


def test_5xx_that_persists_raises_hibob_unavailable_after_max_retries(client, stub, fake_time):
    stub.default = Reply(500, {"error": "Internal"})
    with pytest.raises(HiBobUnavailable) as caught:
        client.search_people()
    assert caught.value.status == 500 and caught.value.code == "hibob_unavailable"
    assert len(stub.requests) == 4 and len(fake_time.sleeps) == 3


def test_a_slow_answer_times_out_and_is_retried(stub, fake_time):
    stub.script = [Reply(delay=1.0)]
    with HiBobClient(stub.base_url, "SERVICE-1", TOKEN, timeout=(1, 0.2),
                     sleep=fake_time.sleep) as client:
        assert len(client.search_people().employees) == 2
    assert len(stub.requests) == 2 and len(fake_time.sleeps) == 1


def test_an_answer_cut_mid_body_is_retried(client, stub):
    stub.script = [Reply(cut_after=10)]
    assert len(client.search_people().employees) == 2
    assert len(stub.requests) == 2


def test_connection_refused_is_hibob_unavailable_after_retries(fake_time):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with HiBobClient(f"http://127.0.0.1:{port}/v1", "SERVICE-1", TOKEN,
                         sleep=fake_time.sleep) as client:
            with pytest.raises(HiBobUnavailable, match="connection failed"):
                client.search_people()
    assert len(fake_time.sleeps) == 3


def test_html_with_status_200_is_invalid_data_and_not_retried(client, stub):
    stub.default = Reply(200, b"<!doctype html><title>Bob</title>",
                         {"Content-Type": "text/html; charset=utf-8"})
    with pytest.raises(InvalidData, match="text/html"):
        client.search_people()
    assert len(stub.requests) == 1


def test_a_gzip_answer_is_decoded(client, stub):
    stub.default = Reply(body=gzip.compress(json.dumps(PEOPLE).encode()),
                         headers={"Content-Encoding": "gzip"})
    assert len(client.search_people().employees) == 2


def test_an_answer_larger_than_the_cap_is_refused(client, stub):
    client.max_body_bytes = 10
    with pytest.raises(InvalidData, match="larger than 10 bytes"):
        client.search_people()


def test_the_token_never_appears_in_errors_or_logs(client, stub, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"error": f"bad token {TOKEN}"}
    stub.script = [Reply(500, echo), Reply(500, echo), Reply(500, echo), Reply(500, echo)]
    with pytest.raises(HiBobUnavailable) as caught:
        client.search_people()
    stub.default = Reply(401, echo)
    with pytest.raises(AuthFailed) as caught_auth:
        client.search_people()
    texts = [str(caught.value), str(caught_auth.value), repr(client), caplog.text]
    credentials = b64encode(f"SERVICE-1:{TOKEN}".encode()).decode()
    assert all(TOKEN not in text and credentials not in text for text in texts)
    assert "***" in str(caught_auth.value)


def test_errors_survive_pickling_with_their_attributes():
    for error in [RateLimited("slow down", reset_at=12.5, status=429),
                  PersonGone("gone", employee_id="7"), AuthFailed("no", status=401)]:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


def test_read_person_answering_someone_else_is_invalid_data(client, stub):
    stub.default = Reply(body={"id": "999"})
    with pytest.raises(InvalidData, match="'1'.*'999'"):
        client.read_person("1")


def test_named_list_flattens_nested_items_and_is_cached_per_client(client, stub):
    stub.default = Reply(body={"name": "department", "items": [
        {"id": "10", "value": "Engineering", "name": "Engineering", "archived": False,
         "children": [{"id": 11, "value": "Backend", "name": "Backend", "children": []}]},
        {"id": "20", "value": "Sales", "name": "Sales", "archived": True, "children": []}]})
    expected = {"10": "Engineering", "11": "Backend", "20": "Sales"}
    assert client.named_list("department") == expected
    assert client.named_list("department") == expected
    (request,) = stub.requests
    assert request["method"] == "GET"
    assert request["path"] == "/v1/company/named-lists/department?includeArchived=true"


@pytest.mark.parametrize("body, words", [
    ({"items": {"id": "1"}}, "no 'items' list"),
    ({"items": [{"id": "1", "name": "A"}, {"id": 1, "name": "B"}]}, "appears twice"),
    ({"items": [{"name": "A"}]}, "no string id"),
    ({"items": [{"id": "1", "name": "A", "children": [{"id": "2"}]}]}, "item 2 has no label"),
])
def test_a_malformed_named_list_is_invalid_data(client, stub, body, words):
    stub.default = Reply(body=body)
    with pytest.raises(InvalidData, match=words):
        client.named_list("department")


def test_a_nul_in_a_named_list_is_dropped_from_labels_and_ids_alike(client, stub):
    """As the decoder drops it from a person's department id (PostgreSQL cannot store U+0000)."""
    stub.default = Reply(body={"items": [{"id": "16\u00003", "name": "Sa\u0000les"}]})
    assert client.named_list("department") == {"163": "Sales"}


def test_people_fields_returns_hibobs_descriptors(client, stub):
    fields = [{"id": "root.id", "categoryId": "root", "jsonPath": "id", "type": "text"}]
    stub.default = Reply(body=fields)
    assert client.people_fields() == fields
    assert stub.requests[0]["path"] == "/v1/company/people/fields"
    stub.default = Reply(body={"fields": fields})
    with pytest.raises(InvalidData, match="not a list"):
        client.people_fields()


def test_the_auth_breaker_stops_calls_before_they_reach_hibob(stub, fake_time):
    """25 integrations with revoked tokens: only 20 of their calls go out in 10 s."""
    stub.default = Reply(401, {"error": "Unauthorized"})
    server = fakeredis.FakeServer()
    outcomes = []
    for number in range(25):
        pacer = RedisPacer(fakeredis.FakeStrictRedis(server=server), clock=fake_time.clock,
                           sleep=fake_time.sleep, max_wait=1)
        with HiBobClient(stub.base_url, f"SERVICE-{number}", TOKEN, pacer=pacer,
                         sleep=fake_time.sleep, clock=fake_time.clock) as client:
            with pytest.raises((AuthFailed, AuthFailureBudgetSpent)) as caught:
                client.search_people()
            outcomes.append(type(caught.value))
    assert outcomes.count(AuthFailed) == 20 and outcomes.count(AuthFailureBudgetSpent) == 5
    assert len(stub.requests) == 20


def test_two_clients_share_one_search_budget(stub, fake_time):
    server = fakeredis.FakeServer()
    clients = [HiBobClient(stub.base_url, "SERVICE-1", TOKEN, sleep=fake_time.sleep,
                           clock=fake_time.clock,
                           pacer=RedisPacer(fakeredis.FakeStrictRedis(server=server),
                                            search_per_minute=3, clock=fake_time.clock,
                                            sleep=fake_time.sleep)) for _ in range(2)]
    for client in clients + clients:
        client.search_people()
    assert len(fake_time.sleeps) == 1 and 59 <= fake_time.sleeps[0] <= 60
    assert len(stub.requests) == 4
