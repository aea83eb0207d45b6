"""Experiment hook for bench/webhooks.py: an rq settings module (``rq worker -c bench.rq_preload``).

``rq worker`` imports its ``-c`` module in the parent process, before it forks a work-horse per
job, so whatever this module imports is already in memory in every horse. Without it, each horse
imports the job's module tree itself (worker.events → SQLAlchemy, psycopg, cryptography, the HiBob
client, msgspec...): 0.3–1 s per job on the shared 2-core box, depending on its load.

Nothing here opens a connection: sockets must not cross a fork (each horse still builds its own
JobContext, engine and Redis client on first use).

Experiments only, through the environment:

* ``BENCH_PACER_READS_PER_MINUTE``: RedisPacer's budget per service user for every endpoint but
  the people search (``people.read``, ``company.named-list``, ...) instead of 45/min.
* ``BENCH_PACER_NAMED_LISTS_PER_MINUTE``: the same for ``company.named-list`` alone.
* ``BENCH_PRELOAD=0``: apply the pacer settings only, import nothing (one change at a time).
"""
from __future__ import annotations

import os

if os.environ.get("BENCH_PRELOAD", "1") != "0":
    import worker.apply  # noqa: F401
    import worker.events  # noqa: F401
    import worker.jobs  # noqa: F401
    import worker.notify  # noqa: F401
    from shared.hibob import client as _client  # noqa: F401
    from shared.hibob.decode import decoder_for
    from shared.hibob.model import SYNC_FIELD_IDS

    decoder_for(SYNC_FIELD_IDS)  # built once here instead of once per horse
    if os.environ.get("DATABASE_URL"):
        from sqlalchemy.engine import make_url

        make_url(os.environ["DATABASE_URL"]).get_dialect().import_dbapi()  # psycopg: ~0.1 s more

_others = os.environ.get("BENCH_PACER_READS_PER_MINUTE")
_named_lists = os.environ.get("BENCH_PACER_NAMED_LISTS_PER_MINUTE")
if _others or _named_lists:
    from shared.hibob import pacing

    _acquire = pacing.RedisPacer.acquire

    def _acquire_with_bench_limits(self, service_user_id, endpoint, **kwargs):  # type: ignore[no-untyped-def]
        saved = self.other_per_minute
        if endpoint == "company.named-list" and _named_lists:
            self.other_per_minute = int(_named_lists)
        elif _others:
            self.other_per_minute = int(_others)
        try:
            return _acquire(self, service_user_id, endpoint, **kwargs)
        finally:
            self.other_per_minute = saved

    pacing.RedisPacer.acquire = _acquire_with_bench_limits  # type: ignore[method-assign]
