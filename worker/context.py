"""What a job needs (config, database, queues, secrets), built once per worker process.

Nothing about an integration is cached here: jobs read it from the database every time. Tests
install a context built from their own config with `install()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis

from shared.config import Config, load_config
from shared.crypto import SecretBox
from shared.db import Database
from shared.queues import Queues, redis_client


@dataclass
class JobContext:
    config: Config
    db: Database
    redis: redis.Redis

    @cached_property
    def queues(self) -> Queues:
        return Queues(self.redis, self.config.queue_prefix)

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.config.credentials_keys)

    @classmethod
    def from_config(cls, config: Config) -> JobContext:
        if not config.redis_url:
            raise RuntimeError("REDIS_URL is not set (the local run command starts an embedded server)")
        return cls(config=config, db=Database(config.database_url), redis=redis_client(config.redis_url))


_current: JobContext | None = None


def get_context() -> JobContext:
    global _current
    if _current is None:
        _current = JobContext.from_config(load_config())
    return _current


def install(context: JobContext | None) -> None:
    global _current
    _current = context
