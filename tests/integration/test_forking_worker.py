"""The production worker process: `rq worker` (forking a work-horse per job) runs the sync.

In the real pass this talks to the machine's Redis and PostgreSQL; bare, to the embedded
fakeredis TCP server and SQLite (a forking worker needs a server over TCP either way).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, worker_env
from tests.integration.syncing import connect, expected_active, active_ids, integration
from shared import clock


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


def test_rq_worker_process_runs_the_initial_sync(ctx, config, hibob_sandbox):
    integration_id = connect(ctx, hibob_sandbox)
    queues = [config.queue_prefix + q for q in ("events", "sync", "notify", "maintenance")]
    rq = str(Path(sys.executable).with_name("rq"))
    done = subprocess.run([rq, "worker", "--burst", "--with-scheduler", "--url", config.redis_url, *queues],
                          env=worker_env(config), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Job OK" in done.stderr or "Job OK" in done.stdout
    assert integration(ctx, integration_id)["state"] == "active"
    assert active_ids(ctx) == expected_active(hibob_sandbox, clock.today_in("UTC"))
