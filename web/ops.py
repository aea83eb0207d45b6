"""Health, readiness and metrics: open (no authentication), for load balancers and Prometheus.

/healthz answers while the process serves; /readyz says whether it can do useful work (database
and Redis reachable, each within a short timeout so a hung dependency cannot hang the probe).
/metrics is Prometheus text: shared/metrics.py says what is counted where and why.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import redis
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from sqlalchemy import exc as sa_exc

from shared import metrics as peoplesync_metrics
from shared.schemas import HealthSchema, ReadinessSchema
from web import current_context
from web.auth import open_access
from web.errors import error_response
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


@bp.app_errorhandler(sa_exc.OperationalError)
@bp.app_errorhandler(sa_exc.InterfaceError)
@bp.app_errorhandler(sa_exc.TimeoutError)
def database_unavailable(exc: Exception) -> Response:
    """The database is unreachable (or busy): 503 with Retry-After on every route, not a 500,
    which DESIGN keeps for bugs. The detail (host, port, driver text) stays in the log."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
    return error_response(503, "unavailable", "the database is unreachable; retry shortly",
                          headers={"Retry-After": "30"})


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


# Per-process request latencies (the only metric kept in process memory: see shared/metrics.py).
# With PROMETHEUS_MULTIPROC_DIR set before the process starts, prometheus_client keeps the values
# in files there and /metrics merges the files of every gunicorn worker (docs/operations.md).
HTTP_REQUEST_DURATION = Histogram(
    "peoplesync_http_request_duration_seconds", "Web requests by route, method and status",
    ["endpoint", "method", "status"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


@bp.before_app_request
def _start_timer() -> None:
    g.ops_started = time.perf_counter()


@bp.after_app_request
def _time_request(response: Response) -> Response:
    started = g.pop("ops_started", None)
    if started is not None:
        # The route's endpoint name, never the raw path: ids in paths would explode the series.
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unrouted"
        HTTP_REQUEST_DURATION.labels(endpoint, request.method, str(response.status_code)).observe(
            time.perf_counter() - started)
    return response


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def _registry(app: Flask) -> CollectorRegistry:
    # One registry per app, not prometheus_client's global one: tests build many apps.
    registry = app.extensions.get("peoplesync.metrics")
    if registry is None:
        registry = CollectorRegistry()
        registry.register(peoplesync_metrics.StateCollector(lambda: app.extensions["peoplesync"]))
        if multiprocess_dir():
            multiprocess.MultiProcessCollector(registry)  # every worker's files, merged at scrape
        else:
            registry.register(HTTP_REQUEST_DURATION)  # one process: its own values are the truth
        app.extensions["peoplesync.metrics"] = registry
    return registry


@bp.get("/metrics")
@operation("Prometheus metrics", responses={200: None}, tag="ops", content_type="text/plain")
def metrics() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(generate_latest(_registry(app)), mimetype=CONTENT_TYPE_LATEST)
