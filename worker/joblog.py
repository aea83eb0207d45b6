"""Job loggers: every line a job writes carries the integration id and run id (never a token,
a secret or a birthday)."""
from __future__ import annotations

import logging
from typing import Any


class JobLog(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        extra = {**self.extra, **kwargs.pop("extra", {})}
        kwargs["extra"] = extra
        context = " ".join(f"{k}={v}" for k, v in self.extra.items() if v)
        return f"[{context}] {msg}", kwargs


def job_log(name: str, integration_id: str | None = None, run_id: str | None = None) -> JobLog:
    return JobLog(logging.getLogger(name), {"integration_id": integration_id, "run_id": run_id})
