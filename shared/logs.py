"""Logs: one JSON object per line, from every process (web, rq worker and its work-horses, cron).

Every line a job writes while it works on a run carries ``integration_id`` and ``run_id``, even
lines from code that knows nothing about runs (the HiBob client's retry warnings, rq's own "Job
OK"): jobs ``bind`` the ids in a context variable and a filter on the handler copies them onto
each record. No line carries a token, a secret or a birthday: the code that logs never has them
in its arguments (the HiBob client redacts its own messages, jobs take ids only).

How each process gets it:

* ``rq worker -c shared.logs ...`` and ``rq cron -c shared.logs ...``: rq reads ``DICT_CONFIG``
  from the module named by ``-c`` and applies it with ``logging.config.dictConfig`` before it
  starts; the forked work-horses inherit it. rq then sees a handler on the root logger and adds
  none of its own, so its lines are JSON too. ``--logging-level`` still sets rq's own loggers.
* the web (gunicorn ``web:create_app()``) and the Flask CLI: ``create_app`` calls ``configure``
  outside tests.

Only ``DICT_CONFIG`` is upper case here on purpose: rq treats every upper-case name of the ``-c``
module as a setting (``REDIS_URL``, ``QUEUES``...).
"""
from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

_fields: ContextVar[Mapping[str, str]] = ContextVar("peoplesync_log_fields", default=MappingProxyType({}))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # rq colours its lines when it thinks it writes to a terminal
_HANDLER_MARK = "_peoplesync_json"


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Stamp every log line written inside the block with ``fields`` (``None`` values skipped).

    Blocks nest: an inner ``bound(run_id=...)`` keeps the outer ``integration_id``.
    """
    token = _fields.set(MappingProxyType({**_fields.get(), **{k: str(v) for k, v in fields.items() if v}}))
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields() -> Mapping[str, str]:
    """The fields ``bound`` holds right now (for tests and for code that hands work on)."""
    return _fields.get()


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (a value the call site passed explicitly wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _fields.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class PeoplesyncJsonFormatter(JsonFormatter):
    """``{"timestamp", "level", "logger", "message", ...extra fields}``; ANSI colours stripped."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        message = log_data.get("message")
        if isinstance(message, str):
            log_data["message"] = _ANSI.sub("", message)
        return log_data


def json_formatter() -> logging.Formatter:
    return PeoplesyncJsonFormatter("%(levelname)s %(name)s %(message)s", timestamp=True,
                                   rename_fields={"levelname": "level", "name": "logger"})


def handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing JSON lines with the bound fields."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(json_formatter())
    out.addFilter(ContextFilter())
    setattr(out, _HANDLER_MARK, True)
    return out


def configure(level: int | str = "INFO", stream: IO[str] | None = None) -> None:
    """Send the root logger's lines to ``stream`` as JSON. Idempotent: a second call only sets
    the level, so building several apps in one process does not duplicate lines."""
    root = logging.getLogger()
    if not any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        root.addHandler(handler(stream))
    root.setLevel(level)


# Read by `rq worker -c shared.logs` and `rq cron -c shared.logs` (see the module docstring).
DICT_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "shared.logs.ContextFilter"}},
    "formatters": {"json": {"()": "shared.logs.json_formatter"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                          "formatter": "json", "filters": ["context"]}},
    "root": {"level": "INFO", "handlers": ["json"]},
}
