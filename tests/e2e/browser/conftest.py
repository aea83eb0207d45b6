"""Browser tests: Debian's Chromium, driven by Playwright, against the real app, worker and sandbox.

- the app: ``create_app(config)`` served by werkzeug (threaded) on a free loopback port, which is
  also its PUBLIC_BASE_URL, so dashboard links and the webhook URL it shows are real addresses;
- the worker: the production ``rq worker --with-scheduler`` in a subprocess (rq installs signal
  handlers, so it cannot run in a thread of this process);
- HiBob: the sandbox (``hibob_sandbox``: 60 people, seed 7), over HTTP.

Chromium is never downloaded: `apt-get install chromium` provides /usr/bin/chromium (.ci/run does
it). Without it these tests skip saying so, and fail under PEOPLESYNC_REQUIRE_REAL=1.
``PEOPLESYNC_SCREENSHOTS=docs/screenshots`` makes ``shoot()`` save each screen at laptop and
phone width (see README).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import REQUIRE_REAL, free_port, worker_env

try:
    from playwright.sync_api import expect
except ImportError:  # the `chromium` fixture then skips (or fails) every browser test, saying why
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("PEOPLESYNC_CHROMIUM", "/usr/bin/chromium")
# Flags that keep Chromium from phoning home: this network refuses such connections in bulk.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("PEOPLESYNC_SCREENSHOTS", "")
HOW_TO_INSTALL = ("browser tests need Debian's Chromium and Playwright: `apt-get install -y chromium` and "
                  "`.venv/bin/pip install -r requirements.txt` (never `playwright install`)")


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed"
    return None


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (each test gets fresh contexts: no shared cookies)."""
    missing = _missing_browser()
    if missing:
        message = f"{missing}; {HOW_TO_INSTALL}"
        if REQUIRE_REAL:
            pytest.fail(message + " (PEOPLESYNC_REQUIRE_REAL=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # launch() starts Chromium on a fresh temporary profile (user-data dir) and removes it after.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def web_port() -> int:
    return free_port()


@pytest.fixture
def config_overrides(web_port):
    return {"public_base_url": f"http://127.0.0.1:{web_port}"}


@pytest.fixture
def hibob_api_url(hibob_sandbox):
    return hibob_sandbox.base_url


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture
def live_app(app, web_port) -> Iterator[str]:
    """The app on a real socket; yields its base URL."""
    server = make_server("127.0.0.1", web_port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                              name="peoplesync-web")
    thread.start()
    yield f"http://127.0.0.1:{web_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(config, ctx, tmp_path) -> Iterator[subprocess.Popen]:
    """The production worker (`rq worker --with-scheduler`) on this test's queues, until the test ends."""
    queues = [config.queue_prefix + q for q in ("events", "sync", "notify", "maintenance")]
    rq = str(Path(sys.executable).with_name("rq"))
    env = worker_env(config, PUBLIC_BASE_URL=config.public_base_url)
    with open(tmp_path / "worker.log", "w") as log:  # read it when a test fails
        process = subprocess.Popen([rq, "worker", "--with-scheduler", "--url", config.redis_url, *queues],
                                   env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        yield process
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Dashboard:
    """Opens the dashboard the way a store backend does: ask for a link, open it in a browser."""

    base_url: str
    store_token: str
    browser: Any
    _contexts: list[Any]

    def link(self, store_id: str = "store-1", actor: dict[str, str] | None = None) -> str:
        body = {"actor": actor} if actor else {}
        answer = requests.post(f"{self.base_url}/api/v1/stores/{store_id}/dashboard-link", json=body,
                               headers={"Authorization": f"Bearer {self.store_token}"}, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()["url"]

    def new_page(self) -> Any:
        context = self.browser.new_context(viewport=LAPTOP)
        context.set_default_timeout(20_000)
        self._contexts.append(context)
        return context.new_page()

    def open(self, store_id: str = "store-1", actor: dict[str, str] | None = None) -> Any:
        page = self.new_page()
        page.goto(self.link(store_id, actor))
        return page


@pytest.fixture
def dashboard(chromium, live_app, config) -> Iterator[Dashboard]:
    opened = Dashboard(live_app, config.store_api_token, chromium, [])
    yield opened
    for context in opened._contexts:
        context.close()


def shoot(page: Any, name: str) -> None:
    """Save the current screen at laptop and phone width (only with PEOPLESYNC_SCREENSHOTS set)."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    if not folder.is_absolute():
        folder = ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        # The whole page, up to two and a half screens: enough to show a screen, small enough to read.
        height = min(page.evaluate("document.documentElement.scrollHeight"), int(size["height"] * 2.5))
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True, animations="disabled",
                        clip={"x": 0, "y": 0, "width": size["width"], "height": height})
    page.set_viewport_size(LAPTOP)


def eventually(check: Callable[[], Any], seconds: float = 30, every: float = 0.5, message: str = "") -> Any:
    """Retry ``check`` until it returns a truthy value (assertion errors count as falsy)."""
    deadline = time.time() + seconds
    last: Exception | None = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(message or f"condition not met within {seconds}s: {last}")


def connect_hibob(page: Any, user: str, token: str, *, wait_active: bool = True) -> None:
    """Fill the setup guide's form and press Integrate; optionally wait for the first sync to end."""
    page.goto(page.url.split("/dashboard/")[0] + "/dashboard/hris/hibob")
    page.get_by_label("Service user ID").fill(user)
    page.get_by_label("User token").fill(token)
    page.get_by_role("button", name="Integrate").click()
    if wait_active:
        expect(page.locator("#state-label")).to_have_text("Active", timeout=30_000)


# Every visible form control and button must have an accessible name (a label, aria-label(ledby),
# or text content for buttons and links).
_UNNAMED_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a[href], [role=button]'))
  .filter(el => el.getClientRects().length > 0)
  .filter(el => {
    const labelled = (el.labels && Array.from(el.labels).some(l => l.textContent.trim()))
      || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(' ').some(id => {
           const t = document.getElementById(id); return t && t.textContent.trim(); });
    const text = ['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim();
    return !(labelled || text);
  })
  .map(el => el.outerHTML.slice(0, 120))"""


def assert_controls_named(page: Any) -> None:
    unnamed = page.evaluate(_UNNAMED_CONTROLS)
    assert not unnamed, f"controls without an accessible name on {page.url}: {unnamed}"
