"""Run the sandbox on a real socket: ``start_sandbox()`` for tests and benchmarks."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_sandbox_app
from sandbox.state import SandboxState

TICK_SECONDS = 0.5


class _QuietHandler(WSGIRequestHandler):
    # Tests and benchmarks make thousands of calls; the call log keeps them, stderr need not.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class RunningSandbox:
    """A sandbox serving on loopback in background threads until ``stop()``."""

    state: SandboxState
    server: BaseWSGIServer
    host: str
    port: int
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        """The HiBob base URL (what HIBOB_API_URL should be set to)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.port}/_control"

    @property
    def credentials(self) -> tuple[str, str]:
        """(service user id, token) of the default user: everyone, all categories we use."""
        return self.state.credentials

    def credentials_of(self, name: str) -> tuple[str, str]:
        """Credentials of a predefined service user: no_group, sees_nobody, no_personal,
        no_lifecycle, employed_only."""
        user = self.state.predefined[name]
        return user.id, user.token

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.state.webhooks.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_state(state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    server = make_server(host, port, create_sandbox_app(state), threaded=True,
                         request_handler=_QuietHandler)
    running = RunningSandbox(state, server, host, server.server_port)
    # A short poll makes stop() take milliseconds instead of half a second per test.
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                               name="sandbox-http", daemon=True)

    def tick() -> None:
        # Lifecycle moves must happen (and their webhooks fire) when a day passes even if nobody
        # calls: e.g. a test rewrites PEOPLESYNC_CLOCK_FILE and waits for employee.joined.
        while not running._stopping.wait(TICK_SECONDS):
            state.tick()

    ticker = threading.Thread(target=tick, name="sandbox-clock", daemon=True)
    running._threads += [serving, ticker]
    state.webhooks.start()
    serving.start()
    ticker.start()
    return running


def start_sandbox(*, people: int = 100, seed: int = 1, host: str = "127.0.0.1", port: int = 0,
                  webhook_retry_delays: tuple[float, ...] | None = None) -> RunningSandbox:
    """Generate a company and serve it on ``host:port`` (0 = a free port) in the background."""
    state = SandboxState(people=people, seed=seed, webhook_retry_delays=webhook_retry_delays)
    return serve_state(state, host, port)
