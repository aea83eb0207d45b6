"""Health, readiness and metrics: open (no authentication), for load balancers and Prometheus.

/healthz answers while the process serves; /readyz says whether it can do useful work (database
and Redis reachable, each within a short timeout so a hung dependency cannot hang the probe).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.db import integrations as integrations_db
from shared.schemas import HealthSchema, ReadinessSchema
from web import current_context
from web.auth import open_access
from web.openapi import operation

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 3.0
REDIS_TIMEOUT = 1.0

bp = open_access(Blueprint("ops", __name__))


def _within(seconds: float, check: Callable[[], object]) -> str:
    """Run ``check`` in a thread: "ok", "timeout" or the exception's class name (never its text,
    which can hold a connection URL).

    A daemon thread, not an executor: a hung check must not hold up the process's exit.
    """
    outcome: list[str] = []

    def run() -> None:
        try:
            check()
            outcome.append("ok")
        except Exception as exc:  # readiness reports failures, it never raises them
            outcome.append(f"error: {type(exc).__name__}")

    thread = threading.Thread(target=run, name="readyz-check", daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else "timeout"


def _probe_redis(app: Flask) -> redis.Redis:
    """A client with short timeouts, separate from the job client whose reads may block longer."""
    client = app.extensions.get("peoplesync.probe_redis")
    if client is None:
        url = app.extensions["peoplesync"].config.redis_url
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        app.extensions["peoplesync.probe_redis"] = client
    return client


@bp.get("/healthz")
@operation("The process serves", responses={200: HealthSchema}, tag="ops")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@operation("Database and Redis are reachable", responses={200: ReadinessSchema, 503: ReadinessSchema}, tag="ops")
def readyz() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = _probe_redis(app)
    status = {"database": _within(DATABASE_TIMEOUT, current_context().db.ping),
              "redis": _within(REDIS_TIMEOUT, client.ping)}
    response = jsonify(status)
    response.status_code = 200 if all(v == "ok" for v in status.values()) else 503
    return response


class _StateCollector(Collector):
    """Scrape-time figures read from the shared stores, so every web process reports the same."""

    def __init__(self, app: Flask):
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ctx = self._app.extensions["peoplesync"]
        integrations = GaugeMetricFamily("peoplesync_integrations", "Integrations by state", labels=["state"])
        try:
            with ctx.db.begin() as conn:
                for state, count in sorted(integrations_db.count_by_state(conn).items()):
                    integrations.add_metric([state], count)
            yield integrations
        except Exception as exc:  # a scrape must not fail because one source is down
            log.warning("metrics: database unavailable: %s", type(exc).__name__)
        depth = GaugeMetricFamily("peoplesync_queue_depth", "Jobs waiting per queue", labels=["queue"])
        try:
            for queue, count in sorted(ctx.queues.depth().items()):
                depth.add_metric([queue], count)
            yield depth
        except Exception as exc:
            log.warning("metrics: redis unavailable: %s", type(exc).__name__)


def _registry(app: Flask) -> CollectorRegistry:
    # One registry per app, not prometheus_client's global one: tests build many apps.
    registry = app.extensions.get("peoplesync.metrics")
    if registry is None:
        registry = CollectorRegistry()
        registry.register(_StateCollector(app))
        app.extensions["peoplesync.metrics"] = registry
    return registry


@bp.get("/metrics")
@operation("Prometheus metrics", responses={200: None}, tag="ops", content_type="text/plain")
def metrics() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(generate_latest(_registry(app)), mimetype=CONTENT_TYPE_LATEST)
