"""Tell the store backend what changed: POST each new batch of its change feed to
STORE_WEBHOOK_URL, signed the Standard Webhooks way. The feed stays the source of truth; this is
a push so the store need not poll. A failed POST raises, and rq retries with backoff."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import redis
import requests

from shared import representations
from shared.db import changes as changes_db
from shared.locks import LockBusy, held
from shared.queues import retry_policy
from worker.context import get_context
from worker.joblog import job_log

BATCH = 500
TIMEOUT = (3.05, 10)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature` value: v1,<base64 HMAC-SHA256 over "id.timestamp.body">."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _pending_key(ctx, store_id: str) -> str:
    return f"{ctx.config.queue_prefix}notify-pending:{store_id}"


def notify_store(store_id: str) -> int:
    """Deliver every undelivered feed entry of a store, in order, in batches. Returns how many."""
    ctx = get_context()
    url, secret = ctx.config.store_webhook_url, ctx.config.store_webhook_secret
    if not url or not secret:
        return 0
    # Cleared before reading the cursor: an entry committed after this point queues a new job.
    ctx.redis.delete(_pending_key(ctx, store_id))
    try:
        with held(ctx.redis, f"{ctx.config.queue_prefix}lock:notify:{store_id}"):
            return _deliver(ctx, store_id, url, secret)
    except LockBusy:
        ctx.queues.enqueue("notify", "worker.notify.notify_store", store_id, delay=1)
        return 0


def _deliver(ctx, store_id: str, url: str, secret: str) -> int:
    log = job_log(__name__)
    sent = 0
    with requests.Session() as session:
        while True:
            with ctx.db.begin() as conn:
                delivered, last = changes_db.delivery_cursor(conn, store_id)
                if delivered >= last:
                    return sent
                entries = changes_db.page(conn, store_id, delivered, BATCH)
            items = [representations.change(e) for e in entries]
            first_seq, last_seq = entries[0]["seq"], entries[-1]["seq"]
            body = json.dumps({"type": "people.changes", "store_id": store_id, "items": items},
                              separators=(",", ":")).encode()
            msg_id = f"msg_{store_id}_{first_seq}_{last_seq}"
            ts = int(time.time())
            response = session.post(url, data=body, timeout=TIMEOUT, headers={
                "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                "webhook-signature": sign(secret, msg_id, ts, body)})
            if not 200 <= response.status_code < 300:
                log.warning("store webhook for %s answered %s; will retry", store_id, response.status_code)
                raise RuntimeError(f"store webhook answered {response.status_code}")
            with ctx.db.begin() as conn:
                changes_db.mark_delivered(conn, store_id, last_seq)
            sent += len(entries)


def enqueue_notify(store_id: str) -> None:
    """Queue delivery of a store's new feed entries (at most one waiting delivery job per store)."""
    ctx = get_context()
    if not ctx.config.store_webhook_url:
        return
    try:
        # One waiting delivery per store is enough: the job delivers everything up to the end.
        if ctx.redis.set(_pending_key(ctx, store_id), 1, nx=True, ex=120):
            ctx.queues.enqueue("notify", "worker.notify.notify_store", store_id,
                               retry=retry_policy([5, 30, 120, 600, 1800]))
    except redis.RedisError:
        pass  # the sweeper sees the store is behind and queues it again
