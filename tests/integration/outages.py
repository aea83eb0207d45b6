"""Tools for the fault tests: outages we cause without touching the shared servers.

* ``RedisServer``: a private redis-server on a free port that a test may kill (SIGKILL, nothing
  saved) and start again empty, as a Redis without persistence does after a crash. A test module
  that imports the fixtures ``redis_server`` and ``config_overrides`` runs its app on one.
* ``PgProxy``: a loopback TCP proxy in front of PostgreSQL. ``cut()`` drops every connection
  through it and refuses new ones (what a network partition or a failover looks like to the
  app); ``restore()`` lets connections through again. The shared PostgreSQL never notices more
  than clients going away.
* ``children_of`` / ``wait_until``: small process and polling helpers.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conftest import free_port, need_real


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def children_of(pid: int) -> list[int]:
    """Direct children of a process (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after it.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class RedisServer:
    """A private redis-server (no persistence) that can be killed and started again."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        need_real("redis-server binary", binary is not None)
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        try:
            wait_until(lambda: _pings(client), 10, 0.05, "redis-server to answer")
        finally:
            client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: everything in memory is gone, as after a crash of a Redis without persistence."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def config_overrides(redis_server: RedisServer) -> dict[str, str]:
    """The app's Redis is ``redis_server``."""
    return {"redis_url": redis_server.url}


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


class PgProxy:
    """Loopback TCP proxy to PostgreSQL that can cut every connection through it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closing = False
        self.connections = 0
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()

    @classmethod
    def for_url(cls, database_url: str) -> tuple[PgProxy, str]:
        """A proxy for the server of ``database_url`` and the same URL pointed through it."""
        parts = urlsplit(database_url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or 5432)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return proxy, urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``restore``."""
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closing = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                _close(client)  # refused at once, like a host that is down
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self._lock:
                    self._sockets.discard(sock)
                _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def require_postgres(config) -> None:
    need_real("PostgreSQL server", config.database_url.startswith("postgresql"))


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
