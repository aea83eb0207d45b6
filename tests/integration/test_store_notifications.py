"""With STORE_WEBHOOK_URL set, each batch of feed entries is POSTed there, signed the Standard
Webhooks way, retried on failure; the receiver ends up with exactly what the feed holds."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared import representations, service
from tests.integration.syncing import connect, feed


class Receiver:
    def __init__(self):
        self.posts: list[dict] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.posts.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


@pytest.fixture
def config_overrides(receiver):
    return {"store_webhook_url": receiver.url}


def verify(secret: str, post: dict) -> bool:
    h = {k.lower(): v for k, v in post["headers"].items()}
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + post["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest("v1," + expected, part) for part in h["webhook-signature"].split())


def test_receiver_gets_every_change_exactly_as_the_feed_holds_it(ctx, hibob_sandbox, run_jobs, receiver):
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    directory = hibob_sandbox.state.directory
    directory.hire("Nia", "Okafor")
    receiver.fail_next = 1  # the store backend hiccups once: the delivery is retried
    service.request_sync(ctx, integration_id)
    run_jobs()
    import time
    deadline = time.time() + 15
    expected = [representations.change(e) for e in feed(ctx)]
    while time.time() < deadline:
        got = [item for post in receiver.posts for item in json.loads(post["body"])["items"]]
        if len(got) >= len(expected):
            break
        run_jobs(with_scheduler=True)  # due retries move from the scheduled registry
        time.sleep(0.5)
    got = [item for post in receiver.posts for item in json.loads(post["body"])["items"]]
    assert got == json.loads(json.dumps(expected))
    assert all(verify(ctx.config.store_webhook_secret, post) for post in receiver.posts)
    tampered = dict(receiver.posts[0], body=receiver.posts[0]["body"] + b" ")
    assert not verify(ctx.config.store_webhook_secret, tampered)
