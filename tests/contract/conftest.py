"""Fixtures for the sandbox contract tests: a running sandbox and a webhook receiver.

Everything goes over real HTTP on loopback, as peoplesync's HiBob client would see it.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest
import requests

from sandbox.server import RunningSandbox, start_sandbox

# Short webhook backoff so a test can watch every retry within a second.
TEST_RETRY_DELAYS = (0.05, 0.1, 0.2)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A sandbox company of 60 people (seed 7), served on a free loopback port."""
    running = start_sandbox(people=60, seed=7, webhook_retry_delays=TEST_RETRY_DELAYS)
    try:
        yield running
    finally:
        running.stop()


class HiBobSession(requests.Session):
    """requests.Session bound to a base URL and, for HiBob calls, a service user's Basic auth."""

    def __init__(self, base_url: str, credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self.auth = credentials
        self.headers["Accept"] = "application/json"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base_url + url, *args, **kwargs)

    def search(self, fields: list[str], **extra: Any) -> requests.Response:
        return self.post("/people/search", json={"fields": fields, **extra})


@pytest.fixture
def hibob(sandbox: RunningSandbox) -> Iterator[HiBobSession]:
    """A client for the sandbox's HiBob API, as the default service user."""
    with HiBobSession(sandbox.base_url, sandbox.credentials) as session:
        yield session


@pytest.fixture
def control(sandbox: RunningSandbox) -> Iterator[HiBobSession]:
    """A client for the sandbox's control API (no credentials needed)."""
    with HiBobSession(sandbox.control_url) as session:
        yield session


class WebhookReceiver:
    """A tiny HTTP server that records every POST and answers with scripted statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.scripted: deque[int] = deque()
        self.default_status = 200
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    status = receiver.scripted.popleft() if receiver.scripted \
                        else receiver.default_status
                    receiver.received.append({"body": body, "headers": dict(self.headers),
                                              "status": status, "at": time.monotonic()})
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hibob"

    def answer_with(self, *statuses: int) -> None:
        """The next requests get these statuses, in order; then ``default_status``."""
        with self._cond:
            self.scripted.extend(statuses)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook listener on loopback (the role peoplesync's web process plays)."""
    listener = WebhookReceiver()
    try:
        yield listener
    finally:
        listener.close()
