"""One sync per integration at a time: a Redis lock that a killed worker cannot leave stuck.

The lock has a short TTL that a background thread keeps extending while the job runs; if the
worker dies (even by SIGKILL) the extensions stop and the lock expires within `ttl` seconds.
Redis may lose it entirely: correctness does not rest on it (the apply step also locks the
integration's row and re-checks the run's status), it only avoids fetching HiBob twice.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.lock import Lock


class LockBusy(Exception):
    """Another worker holds the lock."""


@contextmanager
def held(client: redis.Redis, name: str, ttl: float = 30.0) -> Iterator[Lock]:
    """Hold ``name`` for the duration of the block, renewing it every ttl/3 seconds.

    Raises:
        LockBusy: the lock is held elsewhere.
    """
    lock = client.lock(name, timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False):
        raise LockBusy(name)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                lock.reacquire()
            except Exception:  # lost, or Redis gone: the database check still protects us
                return

    thread = threading.Thread(target=renew, name=f"lock-renew-{name}", daemon=True)
    thread.start()
    try:
        yield lock
    finally:
        stop.set()
        try:
            lock.release()
        except Exception:
            pass  # expired or Redis gone; nothing to undo


def is_held(client: redis.Redis, name: str) -> bool:
    return bool(client.exists(name))
