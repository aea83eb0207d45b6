"""The cron config: run exactly one `rq cron worker/cron.py --url "$REDIS_URL"`.

rq's cron only enqueues; ordinary workers execute. Every entry is idempotent, so a restart (which
fires interval entries at once) or an accidental second cron process costs a little work, not
wrong data.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rq loads this file by path

from shared.queues import register_cron  # noqa: E402
from worker import periodic  # noqa: E402

register_cron(os.environ.get("PEOPLESYNC_QUEUE_PREFIX", ""), [
    ("maintenance", periodic.fan_out, {"interval": 300}),
    ("maintenance", periodic.effective_dates, {"interval": 900}),
    ("maintenance", periodic.sweep, {"interval": 60}),
])
