"""What the benchmarks in bench/ share: memory readings, free ports, a private PostgreSQL schema.

Import as ``bench.measure`` once the script has put the repository root on ``sys.path``.
"""
from __future__ import annotations

import contextlib
import os
import socket
import uuid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``VmHWM``) since it started or ``reset_peak``."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> int:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0); return the baseline.

    On an older kernel the peak then also covers what ran before, which only overstates it.
    """
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return rss_bytes()


class PrivateSchema:
    """A PostgreSQL schema of the benchmark's own, migrated to the newest revision; ``drop()``
    removes it. Nothing outside it is touched."""

    def __init__(self, postgres_url: str, prefix: str) -> None:
        import sqlalchemy as sa

        from shared.db import Database

        self.name = prefix + uuid.uuid4().hex[:10]
        self.admin = sa.create_engine(postgres_url)
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in postgres_url else "?"
        self.url = f"{postgres_url}{sep}options=-csearch_path%3D{self.name}"
        db = Database(self.url)
        db.migrate()
        db.dispose()

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()
