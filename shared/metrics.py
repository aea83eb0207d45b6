"""Prometheus metrics: what happened (counters, histograms) and what is (gauges), for `/metrics`.

**What happened** is counted in Redis (``Tally``), not in prometheus_client's in-process values.
Sync runs and HiBob calls happen in rq work-horses: processes forked for one job that exit after
it, on any number of machines. In-process counters would die with each horse, and
prometheus_client's multiprocess mode would leave a file per horse pid behind (thousands a day)
and only work where web and worker share a disk. A Redis hash is shared by every process on every
machine, so whichever web process answers a scrape reports the same figures. Redis may lose it
(DESIGN: Redis may lose everything): Prometheus reads that as a counter reset, which ``rate()``
and ``increase()`` handle. Counting is best effort: a Redis error never fails a job or a request.

**What is** (integrations by state, queue depth, the oldest event not yet in the store) is read
from the database and Redis at scrape time by ``StateCollector``, so it is never stale and needs
no process to keep it.

Web-process request latencies are the exception: they are plain prometheus_client metrics kept
per process (``web/ops.py``), merged across gunicorn workers through ``PROMETHEUS_MULTIPROC_DIR``
(docs/operations.md).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis
import requests
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from shared import clock
from shared.db import inbox as inbox_db
from shared.db import integrations as integrations_db
from shared.queues import QUEUE_NAMES

log = logging.getLogger(__name__)

STATES = ("connecting", "active", "needs_attention", "held", "disconnected")


@dataclass(frozen=True)
class Spec:
    """One metric counted in Redis: its exposed name (without ``_total``), help, labels, kind."""

    name: str
    help: str
    labels: tuple[str, ...]
    kind: str = "counter"  # or "histogram"
    buckets: tuple[float, ...] = ()


SYNC_RUNS = Spec("peoplesync_sync_runs", "Sync runs that fetched from HiBob, by trigger, outcome (succeeded, "
                 "failed, or crashed: the job raised) and the failure's reason", ("trigger", "status", "reason"))
SYNC_RUN_DURATION = Spec("peoplesync_sync_run_duration_seconds", "From a run's start to its end",
                         ("trigger", "status"), "histogram",
                         (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600))
WEBHOOK_EVENTS = Spec("peoplesync_webhook_events", "HiBob webhook deliveries by result (accepted, duplicate, "
                      "ignored, ping, unauthorized, no_secret, not_found, invalid, too_large, unavailable)",
                      ("result",))
HIBOB_RESPONSES = Spec("peoplesync_hibob_responses", "HiBob answers by endpoint and HTTP status ('timeout' "
                       "or 'error' when no answer came)", ("endpoint", "status"))
EVENT_LAG = Spec("peoplesync_event_to_store_lag_seconds", "From a HiBob event's receipt to its change being "
                 "in the store's feed", (), "histogram", (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600))
SPECS = (SYNC_RUNS, SYNC_RUN_DURATION, WEBHOOK_EVENTS, HIBOB_RESPONSES, EVENT_LAG)


class Tally:
    """Counters and histograms in Redis, one hash per metric under the deployment's key prefix.

    Hash fields are JSON arrays: the label values, then ``"n"`` (a counter), or a bucket index,
    ``"sum"`` or ``"count"`` (a histogram; buckets are stored non-cumulative, one HINCRBY each).
    """

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, spec: Spec) -> str:
        return f"{self.prefix}metrics:{spec.name}"

    def count(self, spec: Spec, amount: int = 1, **labels: str) -> None:
        self._write(spec, [(self._field(spec, labels, "n"), amount)])

    def observe(self, spec: Spec, value: float, **labels: str) -> None:
        if not math.isfinite(value):
            return
        value = max(value, 0.0)
        index = next((i for i, le in enumerate(spec.buckets) if value <= le), len(spec.buckets))
        self._write(spec, [(self._field(spec, labels, index), 1), (self._field(spec, labels, "count"), 1)],
                    add_float=(self._field(spec, labels, "sum"), value))

    def read(self, spec: Spec) -> dict[tuple[str, ...], dict[str, float]]:
        """{label values: {field: value}} as stored (raises redis errors: the caller decides)."""
        out: dict[tuple[str, ...], dict[str, float]] = {}
        for raw_field, raw_value in self.client.hgetall(self.key(spec)).items():
            try:
                *values, part = json.loads(raw_field)
                out.setdefault(tuple(values), {})[str(part)] = float(raw_value)
            except (ValueError, TypeError):
                continue  # not ours: ignore rather than fail the scrape
        return out

    def _field(self, spec: Spec, labels: Mapping[str, str], part: str | int) -> str:
        return json.dumps([str(labels.get(name, "")) for name in spec.labels] + [part])

    def _write(self, spec: Spec, increments: list[tuple[str, int]],
               add_float: tuple[str, float] | None = None) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for field, amount in increments:
                pipe.hincrby(self.key(spec), field, amount)
            if add_float is not None:
                pipe.hincrbyfloat(self.key(spec), *add_float)
            pipe.execute()
        except redis.RedisError as exc:  # metrics must never break the work they describe
            log.debug("metric %s not counted: %s", spec.name, type(exc).__name__)


def tally_for(ctx: Any) -> Tally:
    """The tally of a JobContext (its Redis and its key prefix)."""
    return Tally(ctx.redis, ctx.config.queue_prefix)


# --- HiBob answers ----------------------------------------------------------------------------

_HIBOB_ENDPOINTS = (
    (re.compile(r"/people/search$"), "people.search"),
    (re.compile(r"/company/people/fields$"), "company.fields"),
    (re.compile(r"/company/named-lists(/|$)"), "company.named-list"),
    (re.compile(r"/people/[^/]+$"), "people.read"),
)


def hibob_endpoint(url: str) -> str:
    """A bounded label for a HiBob URL (never the employee id it may contain)."""
    path = requests.utils.urlparse(url).path.rstrip("/")
    return next((name for pattern, name in _HIBOB_ENDPOINTS if pattern.search(path)), "other")


class CountingSession(requests.Session):
    """A ``requests.Session`` that counts every answer (or its absence) in ``HIBOB_RESPONSES``.

    Handed to ``HiBobClient`` (its ``session`` argument), so the client stays the only code that
    speaks HiBob's HTTP and this only watches.
    """

    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self._tally = tally

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        endpoint = hibob_endpoint(url.decode() if isinstance(url, bytes) else url)
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.Timeout:
            self._tally.count(HIBOB_RESPONSES, endpoint=endpoint, status="timeout")
            raise
        except requests.RequestException:
            self._tally.count(HIBOB_RESPONSES, endpoint=endpoint, status="error")
            raise
        self._tally.count(HIBOB_RESPONSES, endpoint=endpoint, status=str(response.status_code))
        return response


# --- the scrape ---------------------------------------------------------------------------------

def seconds_since(instant: datetime | None, now: datetime) -> float:
    if instant is None:
        return 0.0
    if instant.tzinfo is None:  # SQLite hands back naive datetimes holding UTC
        instant = instant.replace(tzinfo=timezone.utc)
    return max((now - instant).total_seconds(), 0.0)


class StateCollector(Collector):
    """Everything peoplesync exposes except web request latencies, read at scrape time.

    A source that is down (database or Redis) drops its metrics from this scrape and sets
    ``peoplesync_metrics_source_up{source}`` to 0: a scrape never fails because of it.

    Args:
        context: returns the JobContext (config, db, redis, queues) to read from.
    """

    def __init__(self, context: Callable[[], Any]) -> None:
        self._context = context

    def collect(self) -> Iterator[Metric]:
        ctx = self._context()
        up = GaugeMetricFamily("peoplesync_metrics_source_up",
                               "Whether this scrape could read the source (1) or not (0)", labels=["source"])
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                families = list(read(ctx))
            except Exception as exc:  # the scrape reports the outage instead of failing
                log.warning("metrics: %s unavailable: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _database(self, ctx: Any) -> Iterator[Metric]:
        now = clock.now()
        with ctx.db.begin() as conn:
            by_state = integrations_db.count_by_state(conn)
            live = integrations_db.all_live(conn)
            oldest = inbox_db.oldest_pending_at(conn)
        states = GaugeMetricFamily("peoplesync_integrations", "Integrations by state", labels=["state"])
        for state in sorted(set(STATES) | set(by_state)):
            states.add_metric([state], by_state.get(state, 0))
        yield states
        reasons: dict[str, int] = {}
        for row in live:
            if row["state"] == "needs_attention":
                code = (row.get("state_reason") or {}).get("code") or "unknown"
                reasons[code] = reasons.get(code, 0) + 1
        attention = GaugeMetricFamily("peoplesync_integrations_needing_attention",
                                      "Integrations in needs_attention, by the reason an admin can act on",
                                      labels=["reason"])
        for code, count in sorted(reasons.items()):
            attention.add_metric([code], count)
        yield attention
        yield GaugeMetricFamily("peoplesync_oldest_pending_event_age_seconds",
                                "Age of the oldest received HiBob event not yet applied (0 when none)",
                                value=seconds_since(oldest, now))

    def _redis(self, ctx: Any) -> Iterator[Metric]:
        depth = GaugeMetricFamily("peoplesync_queue_depth", "Jobs waiting per queue", labels=["queue"])
        failed = GaugeMetricFamily("peoplesync_failed_jobs", "Jobs in each queue's failed registry "
                                   "(`peoplesync requeue-failed` puts them back)", labels=["queue"])
        scheduled = GaugeMetricFamily("peoplesync_scheduled_jobs", "Jobs waiting for a later time "
                                      "(retries, backoff, debounce) per queue", labels=["queue"])
        for short in QUEUE_NAMES:
            queue = ctx.queues.queue(short)
            depth.add_metric([short], queue.count)
            failed.add_metric([short], queue.failed_job_registry.count)
            scheduled.add_metric([short], queue.scheduled_job_registry.count)
        yield from (depth, failed, scheduled)
        tally = tally_for(ctx)
        for spec in SPECS:
            yield self._family(spec, tally.read(spec))

    def _family(self, spec: Spec, stored: dict[tuple[str, ...], dict[str, float]]) -> Metric:
        if spec.kind == "counter":
            family = CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
            for values, fields in sorted(stored.items()):
                family.add_metric(list(values), fields.get("n", 0.0))
            return family
        histogram = HistogramMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for values, fields in sorted(stored.items()):
            running, buckets = 0.0, []
            for index, le in enumerate((*spec.buckets, math.inf)):
                running += fields.get(str(index), 0.0)
                buckets.append(("+Inf" if le == math.inf else repr(float(le)), running))
            histogram.add_metric(list(values), buckets, fields.get("sum", 0.0))
        return histogram
