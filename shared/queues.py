"""The one module that imports rq: queues, enqueueing, unique ids, workers and cron registration.

Jobs take ids and JSON-able arguments only (never a token): `enqueue` refuses anything else.
(rq's own serializer stays the default because `rq cron` enqueues with it and a worker has one.)
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

log = logging.getLogger(__name__)

# sync: full syncs and connect checks; events: one-person re-reads from webhooks (latency matters,
# so they never wait behind a 100,000-person sync); notify: store webhooks; maintenance: sweepers.
QUEUE_NAMES = ("events", "sync", "notify", "maintenance")
DEFAULT_TIMEOUT = 1800
FAILURE_TTL = 7 * 24 * 3600
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def job_id(*parts: str) -> str:
    """A deterministic rq job id from parts (rq allows only letters, digits, ``_`` and ``-``)."""
    raw = "-".join(parts)
    safe = _SAFE_ID.sub("_", raw)
    if len(safe) > 120 or safe != raw:
        safe = safe[:80] + "-" + hashlib.sha1(raw.encode()).hexdigest()[:16]
    return safe


def redis_client(url: str) -> redis.Redis:
    # rq does not support decode_responses=True clients; keep this one raw.
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)


@dataclass
class Queues:
    """The queues of one deployment (optionally namespaced by a prefix so test runs can share Redis)."""

    connection: redis.Redis
    prefix: str = ""

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def queue(self, short: str) -> Queue:
        return Queue(self.name(short), connection=self.connection,
                     default_timeout=DEFAULT_TIMEOUT)

    def all(self) -> list[Queue]:
        return [self.queue(short) for short in QUEUE_NAMES]

    def enqueue(self, short: str, func: str, *args: Any, id: str | None = None, unique: bool = False,
                delay: float | None = None, retry: Retry | None = None, timeout: int | None = None,
                result_ttl: int = 60, description: str | None = None) -> Job | None:
        """Enqueue ``func`` (a dotted path) with JSON-able ``args``.

        Returns the job, or ``None`` when ``unique`` and a job with this id is still queued or
        running (the caller's work is already on its way).
        """
        json.dumps(args)  # raises TypeError for anything that is not plain data
        queue = self.queue(short)
        kwargs: dict[str, Any] = dict(job_id=id, result_ttl=result_ttl, failure_ttl=FAILURE_TTL,
                                      job_timeout=timeout or DEFAULT_TIMEOUT, retry=retry,
                                      description=description or func)
        try:
            if delay:
                from datetime import timedelta

                return queue.enqueue_in(timedelta(seconds=delay), func, *args, unique=unique, **kwargs)
            return queue.enqueue(func, *args, unique=unique, **kwargs)
        except DuplicateJobError:
            return None

    def job_pending(self, id: str) -> bool:
        """Whether a job with this id is waiting or running."""
        try:
            status = Job.fetch(id, connection=self.connection).get_status()
        except NoSuchJobError:
            return False
        return str(status) in {"queued", "started", "scheduled", "deferred", "JobStatus.QUEUED",
                               "JobStatus.STARTED", "JobStatus.SCHEDULED", "JobStatus.DEFERRED"}

    def depth(self) -> dict[str, int]:
        return {short: self.queue(short).count for short in QUEUE_NAMES}

    def requeue_failed(self) -> int:
        """Put every failed job back on its queue; returns how many."""
        count = 0
        for queue in self.all():
            registry = FailedJobRegistry(queue=queue)
            for jid in registry.get_job_ids():
                try:
                    registry.requeue(jid)
                    count += 1
                except NoSuchJobError:
                    registry.remove(jid)
        return count

    def work_burst(self, shorts: Iterable[str] = QUEUE_NAMES, with_scheduler: bool = False) -> None:
        """Run every queued job in-process until the queues are empty (tests and the CLI)."""
        self.in_process_worker(shorts).work(burst=True, with_scheduler=with_scheduler, logging_level="WARNING")

    def in_process_worker(self, shorts: Iterable[str] = QUEUE_NAMES) -> Worker:
        """A worker that runs jobs in this process (no fork): tests, the CLI, benchmarks."""
        return _InProcessWorker([self.queue(s) for s in shorts], connection=self.connection)

    def forking_worker(self, shorts: Iterable[str] = QUEUE_NAMES) -> Worker:
        return Worker([self.queue(s) for s in shorts], connection=self.connection)


class _InProcessWorker(SimpleWorker):
    """An in-process worker without rq's command channel (shutdown, kill-horse and stop-job
    commands over Redis pub/sub): nobody sends it commands, and with redis-py 8 stopping that
    channel's listener thread at teardown can wait out its 60 s read (rq 2.12 calls
    PubSubWorkerThread.stop(), which now joins): a minute lost per burst, now and then."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def retry_policy(intervals: list[int]) -> Retry:
    return Retry(max=len(intervals), interval=intervals)


def register_cron(prefix: str, entries: Iterable[tuple[str, Any, dict[str, Any]]]) -> None:
    """Register periodic jobs with rq's cron (for `rq cron worker/cron.py`).

    Each entry is (queue short name, function, {"interval": s} or {"cron": "..."}).
    """
    from rq import cron

    for short, func, when in entries:
        cron.register(func, queue_name=f"{prefix}{short}", job_timeout=600, result_ttl=60, **when)
