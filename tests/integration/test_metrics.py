"""Observability: /metrics (Prometheus text, the same whichever gunicorn worker answers, never
failing because a source is down) and JSON logs whose job lines carry the integration and run."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared import logs, service
from tests.conftest import free_port, worker_env
from tests.integration.syncing import connect, integration
from tests.integration.test_webhooks import SECRET, drain, event, post, sign

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} of one /metrics answer."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_cover_runs_webhooks_states_queues_hibob_and_lag(ctx, client, hibob_sandbox, run_jobs,
                                                               monkeypatch):
    """Counters live under this test's key prefix and gauges read this test's database, so they
    start at zero; web request latencies are per process, so only their growth is compared."""
    monkeypatch.setattr("shared.hibob.client._backoff", lambda attempt: 0.0)
    integration_id = connect(ctx, hibob_sandbox)
    samples = scrape(client)
    webhook_posts_before = value(samples, "peoplesync_http_request_duration_seconds_count",
                                 endpoint="webhooks.hibob_event", method="POST", status="200")
    assert value(samples, "peoplesync_integrations", state="connecting") == 1
    assert value(samples, "peoplesync_integrations", state="active") == 0  # every state, zeros too
    assert value(samples, "peoplesync_queue_depth", queue="sync") == 1
    run_jobs()
    service.set_webhook_secret(ctx, integration_id, SECRET)
    person = next(p for p in hibob_sandbox.state.directory.snapshot() if p.lifecycle == "employed")
    body = event("employee.updated", person.id)
    assert post(client, integration_id, body).get_json() == {"status": "accepted"}
    assert post(client, integration_id, body).get_json() == {"status": "duplicate"}
    assert post(client, integration_id, body, signature=sign(body, "wrong")).status_code == 401
    assert post(client, integration_id, b"Ping test", signature=None).status_code == 200
    assert scrape(client)["peoplesync_oldest_pending_event_age_seconds"][()] >= 0
    drain(ctx, run_jobs)
    hibob_sandbox.state.add_fault("status", status=503, endpoint="search", count=100)
    service.request_sync(ctx, integration_id)
    run_jobs()

    samples = scrape(client)
    assert value(samples, "peoplesync_integrations", state="needs_attention") == 1
    assert value(samples, "peoplesync_integrations_needing_attention", reason="hibob_unavailable") == 1
    assert value(samples, "peoplesync_queue_depth", queue="sync") == 0
    assert value(samples, "peoplesync_sync_runs_total", trigger="initial", status="succeeded", reason="") == 1
    assert value(samples, "peoplesync_sync_runs_total", trigger="webhook", status="succeeded", reason="") == 1
    assert value(samples, "peoplesync_sync_runs_total", trigger="manual", status="failed",
                 reason="hibob_unavailable") == 1
    assert value(samples, "peoplesync_sync_run_duration_seconds_count", trigger="initial", status="succeeded") == 1
    assert value(samples, "peoplesync_sync_run_duration_seconds_bucket", trigger="initial", status="succeeded",
                 le="+Inf") == 1
    for result, count in (("accepted", 1), ("duplicate", 1), ("unauthorized", 1), ("ping", 1)):
        assert value(samples, "peoplesync_webhook_events_total", result=result) == count, result
    assert value(samples, "peoplesync_hibob_responses_total", endpoint="people.search", status="200") == 1
    assert value(samples, "peoplesync_hibob_responses_total", endpoint="people.read", status="200") == 1
    assert value(samples, "peoplesync_hibob_responses_total", endpoint="people.search", status="503") == 4
    assert value(samples, "peoplesync_event_to_store_lag_seconds_count") == 1
    assert value(samples, "peoplesync_oldest_pending_event_age_seconds") == 0
    assert value(samples, "peoplesync_metrics_source_up", source="database") == 1
    assert value(samples, "peoplesync_metrics_source_up", source="redis") == 1
    assert value(samples, "peoplesync_http_request_duration_seconds_count", endpoint="webhooks.hibob_event",
                 method="POST", status="200") - webhook_posts_before == 3


def test_a_scrape_survives_redis_and_the_database_being_down(config):
    from web import create_app

    port = free_port()
    app = create_app(config.with_(redis_url=f"redis://127.0.0.1:{port}/0",
                                  database_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"))
    try:
        samples = scrape(app.test_client())
        assert value(samples, "peoplesync_metrics_source_up", source="redis") == 0
        assert value(samples, "peoplesync_metrics_source_up", source="database") == 0
        assert "peoplesync_queue_depth" not in samples
    finally:
        app.extensions["peoplesync"].db.dispose()


@pytest.mark.parametrize("multiproc_dir_set", [False, True])
def test_every_gunicorn_worker_answers_the_same_figures(config, ctx, tmp_path, multiproc_dir_set):
    """Two gunicorn workers: request counts merged across them (PROMETHEUS_MULTIPROC_DIR), whether
    the operator set the directory (stale files are cleared) or gunicorn.conf.py made one."""
    port = free_port()
    env = worker_env(config)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if multiproc_dir_set:
        metrics_dir = tmp_path / "prom"
        metrics_dir.mkdir()
        (metrics_dir / "histogram_99999.db").write_bytes(b"stale from a previous run")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30",
                             "web:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # refused, or accepted before a worker has booted
                pass
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()[-3000:]
            time.sleep(0.2)
        for _ in range(29):
            with requests.Session() as fresh:  # new connections spread over both workers
                assert fresh.get(f"{base}/healthz", timeout=30).status_code == 200
        seen = set()
        for _ in range(6):
            with requests.Session() as fresh:
                text = fresh.get(f"{base}/metrics", timeout=30).text
            count = sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                        if s.name == "peoplesync_http_request_duration_seconds_count"
                        and s.labels.get("endpoint") == "ops.healthz")
            seen.add(count)
        # every scrape, whichever worker answered, saw the same total (at least our 30 requests:
        # a start-up probe that timed out may still have been served)
        assert len(seen) == 1 and min(seen) >= 30, seen
        if multiproc_dir_set:
            assert not (metrics_dir / "histogram_99999.db").exists()
            assert list(metrics_dir.glob("histogram_*.db"))
    finally:
        proc.terminate()
        proc.wait(20)


# --- logs ---------------------------------------------------------------------------------------

@pytest.fixture
def json_log():
    """Everything logged (INFO and up) as the JSON lines production writes."""
    stream = io.StringIO()
    handler = logs.handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_line_a_job_writes_carries_the_integration_and_run(ctx, hibob_sandbox, run_jobs, json_log):
    hibob_sandbox.state.add_fault("status", status=502, endpoint="search", count=1)  # a retry warning
    integration_id = connect(ctx, hibob_sandbox)
    run_jobs()
    assert integration(ctx, integration_id)["state"] == "active"
    lines = json_log()
    from_jobs = [line for line in lines if not line["logger"].startswith("rq.")]
    loggers = {line["logger"] for line in from_jobs}
    assert {"peoplesync.hibob", "worker.jobs", "worker.apply"} <= loggers, loggers
    run_id = next(line["run_id"] for line in from_jobs if line["logger"] == "worker.apply")
    for line in from_jobs:
        assert line["integration_id"] == integration_id and line["run_id"] == run_id, line
        assert {"timestamp", "level", "logger", "message"} <= line.keys()


def test_the_rq_worker_process_writes_json_lines(ctx, config, hibob_sandbox):
    """What the Procfile runs: `rq worker -c worker.rq_settings ...` (its DICT_CONFIG is shared.logs'):
    JSON from the worker and its horses."""
    integration_id = connect(ctx, hibob_sandbox)
    queues = [config.queue_prefix + q for q in ("events", "sync", "notify", "maintenance")]
    rq = str(Path(sys.executable).with_name("rq"))
    done = subprocess.run([rq, "worker", "--burst", "--url", config.redis_url, "-c", "worker.rq_settings", *queues],
                          env=worker_env(config), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert integration(ctx, integration_id)["state"] == "active"
    lines = [json.loads(line) for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert any(line["logger"] == "rq.worker" for line in lines)
    applied = [line for line in lines if line["logger"] == "worker.apply"]
    assert applied and all(line["integration_id"] == integration_id and line["run_id"] for line in applied)
    assert not any("\x1b[" in line["message"] for line in lines)
