"""gunicorn reads this file from its working directory by itself (the Procfile's `web` entry).

It only prepares metrics (docs/operations.md, "Metrics"): each gunicorn worker keeps its request
latencies through prometheus_client, which writes them to files under PROMETHEUS_MULTIPROC_DIR so
that /metrics, whichever worker answers, merges every worker's figures (web/ops.py).

* Unset: a private temporary directory is made and exported to the workers, and removed at exit.
* Set: its prometheus_client files (``*.db``) are deleted at start, since files left by a
  previous run would be summed in. Nothing else in the directory is touched.

The variable must be in the environment before a worker imports prometheus_client, which is why
this is done here (in the master, before workers fork) and not in ``create_app``; do not run
gunicorn with ``--preload`` unless PROMETHEUS_MULTIPROC_DIR is already set outside.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile

_made_here: list[str] = []


def on_starting(server):  # noqa: ANN001 - gunicorn's hook signature
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="peoplesync-metrics-")
        _made_here.append(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):  # noqa: ANN001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # drops a dead worker's live gauges (if any)


def on_exit(server):  # noqa: ANN001
    for path in _made_here:
        shutil.rmtree(path, ignore_errors=True)
