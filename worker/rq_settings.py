"""The rq worker's settings module: `rq worker -c worker.rq_settings ...` (see Procfile).

rq imports this module in the worker's parent process before it forks a work-horse per job, so:

* ``DICT_CONFIG`` (from shared.logs) makes every line JSON, in the parent and in each horse;
* the job modules imported here are already in memory in every horse. Without this each horse
  imported SQLAlchemy, psycopg, cryptography, msgspec and the HiBob client itself: 0.3-1 s and
  0.6 s of CPU per job, which alone put webhook latency past its target (docs/benchmarks.md).

Nothing here opens a connection: sockets must not cross a fork. Only upper-case names are rq
settings, so the imports below are lower case.
"""
from __future__ import annotations

import os

from shared.logs import DICT_CONFIG  # noqa: F401  (read by rq)
from shared.hibob.decode import decoder_for
from shared.hibob.model import SYNC_FIELD_IDS as _sync_fields
import worker.apply as _apply  # noqa: F401,E402
import worker.events as _events  # noqa: F401,E402
import worker.jobs as _jobs  # noqa: F401,E402
import worker.notify as _notify  # noqa: F401,E402
import worker.periodic as _periodic  # noqa: F401,E402

decoder_for(_sync_fields)  # built once here instead of once per horse
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    import psycopg  # noqa: F401  (the driver's import, once)
