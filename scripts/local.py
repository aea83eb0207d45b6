"""Start the whole service locally: embedded Redis if REDIS_URL is unset, migrations, then honcho.

Run through `scripts/run`. Everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_embedded_redis() -> str:
    """fakeredis' TCP server in this process: every honcho child reaches it over loopback."""
    from fakeredis import TcpFakeServer

    port = int(os.environ.get("EMBEDDED_REDIS_PORT") or free_port())
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    # Client connections outlive tests; their handler threads must not hold the process open.
    server.daemon_threads, server.block_on_close = True, False
    threading.Thread(target=server.serve_forever, daemon=True, name="embedded-redis").start()
    return f"redis://127.0.0.1:{port}/0"


def main() -> int:
    os.chdir(ROOT)
    env = os.environ
    env.setdefault("PEOPLESYNC_ENV", "local")
    env.setdefault("WEB_PORT", "8000")
    env.setdefault("SANDBOX_PORT", "8100")
    env.setdefault("HIBOB_API_URL", f"http://127.0.0.1:{env['SANDBOX_PORT']}/v1")
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{env['WEB_PORT']}")
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = start_embedded_redis()
        env["PEOPLESYNC_EMBEDDED_REDIS"] = "1"
    from shared.config import load_config
    from shared.db import Database

    config = load_config()  # generates the local secrets under var/ on first run
    Database(config.database_url).migrate()
    bin_dir = str(ROOT / ".venv" / "bin")
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    honcho = subprocess.Popen([sys.executable, "-m", "honcho", "start", "-f", "Procfile.dev"], env=env)
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        # honcho got the same Ctrl-C (same process group) and is stopping its children.
        honcho.send_signal(signal.SIGINT)
        return honcho.wait()


if __name__ == "__main__":
    sys.exit(main())
