"""Benchmark: the HiBob webhook path under gunicorn and rq, on real Redis and PostgreSQL.

    .venv/bin/python bench/webhooks.py [--events 1000] [--rate 10] [--employees 200]
        [--throughput-seconds 6] [--rounds 3] [--connections 4] [--rq-workers 1]
        [--postgres-url URL] [--redis-url URL] [--rq-config MODULE] [--rq-worker-class CLASS]
        [--skip-throughput] [--skip-latency]

Prints, in one run:

1. **Receiver throughput.** Verified events accepted per second by one web process
   (``gunicorn --workers 1 "web:create_app()"``, the sync worker) next to a bare Flask endpoint
   (bench/bare_receiver.py) that does the same single INSERT under the same gunicorn settings,
   and their ratio. A load generator (a separate process, ``--connections`` threads) posts
   distinct, correctly signed ``employee.updated`` events for ``--throughput-seconds`` after a
   1 s warm-up; the two servers are measured in alternation ``--rounds`` times; the ratio is the
   median of the per-round ratios (each round's pair shares the machine's load of the moment).
   No rq worker runs during this phase, so the receiver's database and CPU are its own.
2. **Event → store latency.** With 1–2 ``rq worker --with-scheduler`` processes running, an
   integration connected and synced, its webhook secret set and the sandbox's webhook pointed at
   the gunicorn receiver, ``--events`` e-mail changes are made through the sandbox's control API
   at a steady ``--rate`` per second, round robin over ``--employees`` employed people. Latency
   is from the moment the change is sent to the sandbox (which then sends the signed v2 event) to
   the moment the change's row is visible in ``store_changes`` (polled every 20 ms, so figures
   are up to 20 ms high). A change overtaken by a later change of the same person before it
   landed counts as landed with that later change (the re-read reads the newest value).
   Percentiles p50/p95/p99 and the targets p95 ≤ 1 s, p99 ≤ 2 s.
3. **Where the time goes**, per landed event, from timestamps every component already writes:
   the sandbox's delivery log, the inbox row, the rq job hash, the sync run and the feed row.

Everything is private and removed at the end: a ``redis-server`` on a free port (or, with
``--redis-url``, a shared Redis under a private key prefix whose keys are deleted, never
flushed), a PostgreSQL schema created and dropped, the sandbox, gunicorn and rq processes
(stopped by their own process group ids). ``--rq-config bench.rq_preload`` and
``--rq-worker-class`` are for experiments (see docs/benchmarks-webhooks.md).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import PrivateSchema, free_port  # noqa: E402

BIN = ROOT / ".venv" / "bin"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STORE_ID = "bench-webhooks"
WEBHOOK_SECRET = "bench-webhook-secret"
P95_TARGET, P99_TARGET = 1.0, 2.0
POLL_SECONDS = 0.02
QUEUES = ("events", "sync", "notify", "maintenance")


# --- small helpers ----------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def parse_instant(text: str | None) -> float | None:
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def epoch(value: Any) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (rq work-horses, gunicorn workers)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU of a process, its reaped children, and its live children (one level)."""
    total = process_cpu(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(process_cpu(int(c)) for c in children)


class Processes:
    """Subprocesses this run started, each in its own process group, stopped by group id."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.running[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        else:
            # The leader is gone; make sure nothing it started (a horse, a scheduler) outlives it.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - still starting
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


# --- the load generator (a child process) ------------------------------------------------------

def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """POST distinct signed events with ``connections`` threads; count what answered 2xx."""
    import http.client

    host, port, path = spec["host"], spec["port"], spec["path"]
    warmup, seconds = spec["warmup"], spec["seconds"]
    base = datetime(2030, 1, 1) + timedelta(days=spec["round"])
    counter = itertools.count()
    start = time.perf_counter()
    measure_from, measure_to = start + warmup, start + warmup + seconds
    results: list[tuple[int, int, float]] = []  # (status, accepted?, latency) in the window
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine = []
        while True:
            i = next(counter)
            at = (base + timedelta(microseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            body = (b'{"companyId":1,"type":"employee.updated","triggeredBy":"bench","triggeredAt":"'
                    + at.encode() + b'","version":"v2","data":{"employeeId":"'
                    + str(3100000000000000000 + i % 5000).encode()
                    + b'","fieldUpdates":[{"fieldId":"root.email"}]}}')
            headers = {"Content-Type": "application/json", "Bob-Signature": sign(body, spec["secret"])}
            sent = time.perf_counter()
            if sent >= measure_to:
                break
            try:
                conn.request("POST", path, body, headers)
                answer = conn.getresponse()
                data = answer.read()
                status = answer.status
                if answer.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                status, data = 0, b""
            done = time.perf_counter()
            if sent >= measure_from and done <= measure_to:
                mine.append((status, b'"accepted"' in data, done - sent))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(spec["connections"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [r[2] for r in results]
    return {"count": len(results), "accepted": sum(1 for r in results if r[1]),
            "ok": sum(1 for r in results if 200 <= r[0] < 300),
            "statuses": sorted({r[0] for r in results}), "seconds": seconds,
            "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
            "p99_ms": percentile(latencies, 99) * 1000 if latencies else None}


# --- the run ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.procs = Processes(workdir)
        self.prefix = f"benchwh{uuid.uuid4().hex[:8]}:"
        self.schema: PrivateSchema | None = None
        self.redis_url = ""
        self.report: list[str] = []
        self.ctx = None

    # -- infrastructure ----------------------------------------------------------------------

    def start_redis(self) -> None:
        if self.args.redis_url:
            self.redis_url = self.args.redis_url
            return
        binary = shutil.which("redis-server")
        if not binary:
            raise SystemExit("no redis-server binary; pass --redis-url (a private prefix is used)")
        port = free_port()
        self.procs.start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(self.workdir)], os.environ.copy())
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        import redis

        client = redis.Redis.from_url(self.redis_url)
        wait_until(client.ping, 10, "redis-server")
        client.close()

    def create_schema(self) -> str:
        from bench.bare_receiver import metadata as bare_metadata
        from shared.db import Database

        self.schema = PrivateSchema(self.args.postgres_url, "bench_wh_")
        self.database_url = self.schema.url
        db = Database(self.database_url)
        bare_metadata.create_all(db.engine)
        db.dispose()
        return self.database_url

    def drop_schema(self) -> None:
        if self.schema is not None:
            self.schema.drop()

    def delete_redis_keys(self) -> None:
        """With a shared Redis: delete this run's keys (rq's job hashes included), never flush."""
        if not self.args.redis_url or self.ctx is None:
            return
        client = self.ctx.redis
        job_ids: set[bytes] = set()
        for short in QUEUES:
            name = self.prefix + short
            job_ids.update(client.lrange(f"rq:queue:{name}", 0, -1))
            for registry in ("scheduled", "started", "finished", "failed", "deferred", "canceled"):
                job_ids.update(client.zrange(f"rq:{registry}:{name}", 0, -1))
        keys = [f"rq:job:{j.decode()}" for j in job_ids] + [f"rq:results:{j.decode()}" for j in job_ids]
        keys += list(client.scan_iter(match=f"*{self.prefix}*", count=500))
        # A stopped rq worker leaves its hash for 60 s; ours list our queues.
        keys += [k for k in client.scan_iter(match="rq:worker:*", count=500)
                 if self.prefix.encode() in (client.hget(k, "queues") or b"")]
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])

    def env(self) -> dict[str, str]:
        skip = ("PEOPLESYNC_", "BENCH_PACER", "BENCH_PRELOAD", "STORE_WEBHOOK", "SYNC_INTERVAL", "RQ_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        env.update({
            "PEOPLESYNC_ENV": "test", "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
            "CREDENTIALS_KEY": self.credentials_key, "SECRET_KEY": self.secret_key,
            "STORE_API_TOKEN": self.store_token, "HIBOB_API_URL": self.hibob_url,
            "PEOPLESYNC_QUEUE_PREFIX": self.prefix, "PUBLIC_BASE_URL": "http://127.0.0.1",
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        })
        return env

    def start_sandbox(self) -> None:
        port = free_port()
        people = self.args.company or max(self.args.employees * 3 // 2, 60)
        self.procs.start("sandbox", [str(BIN / "python"), "-m", "sandbox", "serve", "--port", str(port),
                                     "--people", str(people), "--seed", str(self.args.seed),
                                     "--retry-delays", "0.5,1,2,5,10"], os.environ.copy())
        self.control = f"http://127.0.0.1:{port}/_control"
        self.hibob_url = f"http://127.0.0.1:{port}/v1"
        import requests

        self.http = requests.Session()
        state = wait_until(lambda: self.http.get(self.control + "/state", timeout=5).json(), 60, "the sandbox")
        users = self.http.get(self.control + "/service-users", timeout=5).json()
        default = next(u for u in users["service_users"] if u["id"] == users["default"])
        self.hibob_credentials = {"service_user_id": default["id"], "token": default["token"]}
        self.sandbox_people = state["counts"]["people"]

    def start_web(self, name: str, app: str) -> str:
        port = free_port()
        self.procs.start(name, [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                "--timeout", "30", app], self.env())

        def up() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        wait_until(up, 30, f"gunicorn {name}")
        return f"http://127.0.0.1:{port}"

    def start_workers(self) -> None:
        queues = [self.prefix + q for q in QUEUES]
        argv = [str(BIN / "rq"), "worker", "--with-scheduler", "--url", self.redis_url]
        if self.args.rq_config:
            argv += ["-c", self.args.rq_config]
        if self.args.rq_worker_class:
            argv += ["-w", self.args.rq_worker_class]
        env = self.env()
        if self.args.pacer_reads_per_minute or self.args.pacer_named_lists_per_minute:
            if self.args.rq_config != "bench.rq_preload":
                raise SystemExit("the --pacer-* experiments need --rq-config bench.rq_preload")
        if self.args.pacer_reads_per_minute:
            env["BENCH_PACER_READS_PER_MINUTE"] = str(self.args.pacer_reads_per_minute)
        if self.args.pacer_named_lists_per_minute:
            env["BENCH_PACER_NAMED_LISTS_PER_MINUTE"] = str(self.args.pacer_named_lists_per_minute)
        if self.args.no_preload:
            env["BENCH_PRELOAD"] = "0"
        for i in range(self.args.rq_workers):
            self.procs.start(f"rq-worker-{i}", argv + queues, env)

    def setup(self) -> None:
        from cryptography.fernet import Fernet

        from shared.config import load_config
        from worker.context import JobContext, install

        self.credentials_key = Fernet.generate_key().decode()
        self.secret_key = secrets.token_urlsafe(32)
        self.store_token = "bench-" + secrets.token_urlsafe(16)
        self.start_redis()
        self.create_schema()
        self.start_sandbox()
        config = load_config({"env": "test", "database_url": self.database_url, "redis_url": self.redis_url,
                              "queue_prefix": self.prefix, "hibob_api_url": self.hibob_url,
                              "credentials_keys": self.credentials_key, "secret_keys": self.secret_key,
                              "store_api_token": self.store_token}, environ={})
        self.ctx = JobContext.from_config(config)
        install(self.ctx)
        self.receiver = self.start_web("receiver", "web:create_app()")

    def teardown(self) -> None:
        for name in [n for n in self.procs.running if n != "redis"][::-1]:
            self.procs.stop(name)
        try:
            self.delete_redis_keys()
        finally:
            if self.ctx is not None:
                self.ctx.db.dispose()
            self.procs.stop("redis")
            self.drop_schema()

    # -- phase 1: throughput -------------------------------------------------------------------

    def throughput(self) -> None:
        import sqlalchemy as sa

        from shared import service

        args = self.args
        row = service.create_integration(self.ctx, STORE_ID, self.hibob_credentials, {}, [])
        self.integration_id = row["id"]
        service.set_webhook_secret(self.ctx, self.integration_id, WEBHOOK_SECRET)
        if args.skip_throughput:
            return
        bare = self.start_web("bare", "bench.bare_receiver:create_app()")
        path = f"/webhooks/hibob/{self.integration_id}"
        load_before = loadavg()
        rounds: dict[str, list[dict[str, Any]]] = {"receiver": [], "bare": []}
        cpu: dict[str, list[float]] = {"receiver": [], "bare": []}
        for number in range(args.rounds):
            for name, url in (("receiver", self.receiver), ("bare", bare)):
                port = int(url.rsplit(":", 1)[1])
                spec = {"host": "127.0.0.1", "port": port, "path": path, "secret": WEBHOOK_SECRET,
                        "warmup": 1.0, "seconds": args.throughput_seconds, "connections": args.connections,
                        "round": number * 2 + (name == "bare")}
                gunicorn_pid = self.procs.running[name].pid
                cpu_before = tree_cpu(gunicorn_pid)
                done = subprocess.run([sys.executable, __file__, "--loadgen", json.dumps(spec)],
                                      capture_output=True, text=True, check=False)
                cpu_after = tree_cpu(gunicorn_pid)
                if done.returncode != 0:
                    raise SystemExit(f"load generator failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if result["ok"] != result["count"] or (name == "receiver" and result["accepted"] != result["count"]):
                    raise SystemExit(f"{name} answered something other than 200 accepted: {result}\n"
                                     f"{self.procs.tail(name)}")
                result["rate"] = result["count"] / result["seconds"]
                rounds[name].append(result)
                # CPU of the whole measured call, warm-up included: per accepted event, roughly.
                cpu[name].append((cpu_after - cpu_before) / max(1, result["count"]) * 1000
                                 * result["seconds"] / (result["seconds"] + spec["warmup"]))
                print(f"  throughput round {number + 1} {name}: {result['rate']:.0f}/s", file=sys.stderr)
        self.procs.stop("bare")
        load_after = loadavg()
        with self.ctx.db.begin() as conn:
            inbox = conn.execute(sa.text("SELECT count(*) FROM webhook_inbox")).scalar_one()
            bare_rows = conn.execute(sa.text("SELECT count(*) FROM bare_inbox")).scalar_one()
            # The latency phase starts from an empty inbox; the one debounced job the flood left
            # scheduled then finds nothing pending and does nothing.
            conn.execute(sa.text("DELETE FROM webhook_inbox"))
        self.ctx.redis.delete(f"{self.prefix}events-pending:{self.integration_id}")

        med = {n: statistics.median(r["rate"] for r in rounds[n]) for n in rounds}
        # Paired per round (the two measurements of a round are seconds apart, so they share the
        # machine's load), then the median: steadier than a ratio of medians on a shared box.
        paired = [r["rate"] / b["rate"] for r, b in zip(rounds["receiver"], rounds["bare"])]
        ratio = statistics.median(paired)
        out = self.report
        out.append("## Receiver throughput\n")
        out.append(f"One gunicorn process (`--workers 1 --timeout 30`, sync worker) per endpoint; "
                   f"{args.connections} client connections; {args.throughput_seconds:.0f} s measured "
                   f"after 1 s warm-up; {args.rounds} alternating rounds, median shown. Distinct "
                   f"signed `employee.updated` events; every answer was 200 (receiver: "
                   f"`accepted`). Rows committed: inbox {inbox:,}, bare {bare_rows:,}. "
                   f"Load average (1/5/15 min) {load_before} before, {load_after} after.\n")
        out.append("| endpoint | events/s (median) | rounds | latency p50 | latency p99 | server CPU per event |")
        out.append("|---|---:|---|---:|---:|---:|")
        labels = {"receiver": "peoplesync receiver (verify, inbox, enqueue)",
                  "bare": "bare Flask + the same INSERT"}
        for name in ("receiver", "bare"):
            rs = rounds[name]
            out.append(f"| {labels[name]} | {med[name]:.0f} | "
                       f"{', '.join(format(r['rate'], '.0f') for r in rs)} | "
                       f"{statistics.median(r['p50_ms'] for r in rs):.1f} ms | "
                       f"{statistics.median(r['p99_ms'] for r in rs):.1f} ms | "
                       f"{statistics.median(cpu[name]):.2f} ms |")
        out.append(f"\n**Ratio: the receiver accepts {ratio:.2f}× the bare endpoint's rate** (median of "
                   f"the per-round ratios {', '.join(format(p, '.2f') for p in paired)}; medians of the "
                   f"rates: {med['receiver']:.0f} vs {med['bare']:.0f} events/s).\n")
        self.throughput_figures = {"receiver": med["receiver"], "bare": med["bare"], "ratio": ratio}

    # -- phase 2: latency ----------------------------------------------------------------------

    def wait_for_initial_sync(self) -> None:
        from shared.db import integrations as integrations_db

        def active() -> bool:
            with self.ctx.db.begin() as conn:
                row = integrations_db.get(conn, self.integration_id)
            if row["state"] in ("needs_attention", "disconnected"):
                raise SystemExit(f"initial sync failed: {row['state_reason']}\n{self.procs.tail('rq-worker-0')}")
            return row["state"] == "active"
        wait_until(active, 90, "the initial sync", interval=0.2)

    def choose_employees(self) -> list[str]:
        import sqlalchemy as sa

        people = self.http.get(self.control + "/people", params={"lifecycle": "employed", "limit": 100000},
                               timeout=10).json()["people"]
        with self.ctx.db.begin() as conn:
            active = set(conn.execute(sa.text(
                "SELECT external_id FROM people WHERE store_id = :s AND status = 'active'"),
                {"s": STORE_ID}).scalars())
        eligible = sorted(p["id"] for p in people if p["status"] == "Active" and p["email"]
                          and not p["termination_date"] and p["id"] in active)
        if len(eligible) < self.args.employees:
            raise SystemExit(f"only {len(eligible)} employed, active people with an e-mail in a company of "
                             f"{self.sandbox_people}; raise --company")
        random.Random(self.args.seed).shuffle(eligible)
        return eligible[:self.args.employees]

    def latency(self) -> None:
        import requests
        import sqlalchemy as sa

        args = self.args
        self.start_workers()
        started = time.monotonic()
        self.wait_for_initial_sync()
        initial_seconds = time.monotonic() - started
        answer = self.http.post(self.control + "/webhooks", json={
            "url": f"{self.receiver}/webhooks/hibob/{self.integration_id}", "secret": WEBHOOK_SECRET}, timeout=30)
        if answer.status_code != 201:
            raise SystemExit(f"registering the sandbox webhook failed: {answer.status_code} {answer.text}")
        employees = self.choose_employees()
        time.sleep(1.0)  # let the queues settle after the initial sync's follow-ups
        with self.ctx.db.begin() as conn:
            last_seq = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM store_changes WHERE store_id = :s"),
                                    {"s": STORE_ID}).scalar_one()
        calls_since = max((c["seq"] for c in self.http.get(self.control + "/calls", timeout=10).json()["calls"]),
                          default=0)

        seen: dict[tuple[str, str], float] = {}
        seen_rows: dict[tuple[str, str], dict[str, Any]] = {}
        jobs: dict[str, dict[str, Any]] = {}
        stop = threading.Event()

        def poll_feed() -> None:
            engine = sa.create_engine(self.database_url, pool_size=1)
            after = last_seq
            query = sa.text("SELECT seq, external_id, changes, run_id, at FROM store_changes "
                            "WHERE store_id = :s AND seq > :after ORDER BY seq")
            while not stop.is_set():
                with engine.connect() as conn:
                    rows = conn.execute(query, {"s": STORE_ID, "after": after}).mappings().all()
                now = time.time()
                for row in rows:
                    after = row["seq"]
                    email = (row["changes"] or {}).get("email")
                    if row["external_id"] and email:
                        key = (row["external_id"], email["after"])
                        seen.setdefault(key, now)
                        seen_rows[key] = dict(row)
                time.sleep(POLL_SECONDS)
            engine.dispose()

        def poll_jobs() -> None:
            client = self.ctx.redis
            key = f"rq:finished:{self.prefix}events"
            while not stop.is_set():
                for job_id in client.zrange(key, 0, -1):
                    job_id = job_id.decode()
                    if job_id not in jobs:
                        data = client.hmget(f"rq:job:{job_id}", "created_at", "enqueued_at", "started_at",
                                            "ended_at", "description")
                        if data[0]:
                            jobs[job_id] = dict(zip(("created", "enqueued", "started", "ended"),
                                                    (parse_instant(v) for v in data[:4])))
                stop.wait(0.5)

        pollers = [threading.Thread(target=poll_feed, daemon=True), threading.Thread(target=poll_jobs, daemon=True)]
        for thread in pollers:
            thread.start()
        cpu_names = [n for n in self.procs.running if n.startswith(("receiver", "rq-worker", "sandbox"))]
        cpu_before = {n: tree_cpu(self.procs.running[n].pid) for n in cpu_names}
        load_before = loadavg()
        sent: list[dict[str, Any]] = []
        session = requests.Session()
        t0 = time.time() + 0.2
        for i in range(args.events):
            target = t0 + i / args.rate
            delay = target - time.time()
            if delay > 0:
                time.sleep(delay)
            employee = employees[i % len(employees)]
            email = f"bench.{i}.{employee[-6:]}@example.com"
            at = time.time()
            answer = session.patch(f"{self.control}/people/{employee}", json={"email": email}, timeout=10)
            if answer.status_code != 200:
                raise SystemExit(f"sandbox refused a change: {answer.status_code} {answer.text}")
            sent.append({"i": i, "employee": employee, "email": email, "sent": at, "acked": time.time()})
        send_seconds = time.time() - t0
        deadline = time.time() + args.drain_seconds

        def last_landed() -> bool:
            latest = {}
            for s in sent:
                latest[s["employee"]] = (s["employee"], s["email"])
            return all(k in seen for k in latest.values())
        while time.time() < deadline and not last_landed():
            time.sleep(0.1)
        time.sleep(0.6)  # one more job poll
        stop.set()
        for thread in pollers:
            thread.join(timeout=5)
        load_after = loadavg()
        cpu_after = {n: tree_cpu(self.procs.running[n].pid) for n in cpu_names}

        # Landed: its own value seen, or overtaken by a later change of the same person that was.
        by_employee: dict[str, list[dict[str, Any]]] = {}
        for s in sent:
            by_employee.setdefault(s["employee"], []).append(s)
        superseded = 0
        for changes in by_employee.values():
            later_seen: float | None = None
            for s in reversed(changes):
                own = seen.get((s["employee"], s["email"]))
                if own is not None:
                    s["seen"] = own
                    later_seen = own if later_seen is None else min(own, later_seen)
                elif later_seen is not None:
                    s["seen"], s["superseded"] = later_seen, True
                    superseded += 1
        landed = [s for s in sent if "seen" in s]
        latencies = [s["seen"] - s["sent"] for s in landed]
        missing = len(sent) - len(landed)

        # -- timeline per event, from what every component records ----------------------------
        deliveries = self.http.get(self.control + "/webhooks/deliveries", timeout=30).json()["deliveries"]
        calls = self.http.get(self.control + "/calls", params={"since": calls_since}, timeout=30).json()["calls"]
        with self.ctx.db.begin() as conn:
            inbox = conn.execute(sa.text(
                "SELECT employee_id, triggered_at, received_at, applied_at, run_id, status FROM webhook_inbox "
                "WHERE integration_id = :i"), {"i": self.integration_id}).mappings().all()
            runs = {r["id"]: dict(r) for r in conn.execute(sa.text(
                "SELECT id, trigger, status, scope, created_at, started_at, finished_at, counts, error "
                "FROM sync_runs WHERE integration_id = :i"), {"i": self.integration_id}).mappings()}
        failed_jobs = self.ctx.redis.zcard(f"rq:failed:{self.prefix}events")
        inbox_by_event = {(r["employee_id"], r["triggered_at"]): r for r in inbox}
        delivered: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries:
            if d["type"] == "employee.updated" and d["outcome"] == "delivered":
                body = json.loads(d["body"])
                delivered.setdefault(body["data"]["employeeId"], []).append(
                    {**d, "triggered_at": body["triggeredAt"]})
        retries = sum(1 for d in deliveries if d["type"] != "ping" and d["outcome"] != "delivered")
        job_list = sorted(jobs.values(), key=lambda j: j["started"] or 0)
        steps: dict[str, list[float]] = {k: [] for k in STEPS}
        for employee, changes in by_employee.items():
            hooks = sorted(delivered.get(employee, []), key=lambda d: d["event_seq"])
            for s, d in zip(changes, hooks):
                if "seen" not in s or s.get("superseded"):
                    continue
                post_end = parse_instant(d["at"])
                post_start = post_end - d["duration_ms"] / 1000
                row = inbox_by_event.get((employee, d["triggered_at"]))
                run = runs.get(row["run_id"]) if row and row["run_id"] else None
                feed = seen_rows.get((employee, s["email"]))
                stamps = {"sent": s["sent"], "post_start": post_start, "post_end": post_end,
                          "received": epoch(row["received_at"]) if row else None, "seen": s["seen"]}
                if run:
                    created = epoch(run["created_at"])
                    job = next((j for j in job_list if j["started"] and j["ended"]
                                and j["started"] - 0.002 <= created <= j["ended"] + 0.002), None)
                    stamps.update({"run_created": created, "run_started": epoch(run["started_at"]),
                                   "applying": epoch(feed["at"]) if feed else None})
                    if job:
                        stamps.update({"job_ready": job["enqueued"], "job_started": job["started"]})
                # An event that arrives while its job already waits (or already runs, inside the
                # debounce window) rides on that job: it spends nothing on the steps it missed.
                latest = None
                for key in CHAIN:
                    if stamps.get(key) is not None:
                        latest = stamps[key] = stamps[key] if latest is None else max(latest, stamps[key])
                for name, (a, b) in STEPS.items():
                    if stamps.get(a) is not None and stamps.get(b) is not None:
                        steps[name].append(stamps[b] - stamps[a])

        webhook_runs = [r for r in runs.values() if r["trigger"] == "webhook"]
        scoped = [r for r in webhook_runs if r["scope"]]
        full = [r for r in webhook_runs if not r["scope"]]
        endpoint_counts: dict[str, int] = {}
        for call in calls:
            endpoint_counts[call["endpoint"]] = endpoint_counts.get(call["endpoint"], 0) + 1
        cpu_used = {n: cpu_after[n] - cpu_before[n] for n in cpu_names}

        out = self.report
        out.append("## Event → store feed latency\n")
        worker_desc = f"{args.rq_workers} × `rq worker --with-scheduler`"
        if args.rq_config:
            worker_desc += f" `-c {args.rq_config}`"
        if args.rq_worker_class:
            worker_desc += f" `-w {args.rq_worker_class}`"
        if args.pacer_reads_per_minute:
            worker_desc += f" (pacer: {args.pacer_reads_per_minute}/min for reads and named lists)"
        if args.pacer_named_lists_per_minute:
            worker_desc += f" (pacer: {args.pacer_named_lists_per_minute}/min for named lists)"
        if args.no_preload:
            worker_desc += " (no preload)"
        out.append(f"{len(sent):,} e-mail changes sent at {args.rate:g}/s (took {send_seconds:.1f} s) round robin "
                   f"over {len(employees)} employed people of a {self.sandbox_people}-person sandbox company; "
                   f"receiver: 1 gunicorn process; workers: {worker_desc}; `DEBOUNCE_SECONDS` = "
                   f"{_debounce()}. Initial sync took {initial_seconds:.1f} s. Load average (1/5/15 min) "
                   f"{load_before} before, {load_after} after.\n")
        if latencies:
            p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
            out.append("| events | landed | overtaken | missing | p50 | p95 | p99 | max | p95 ≤ 1 s | p99 ≤ 2 s |")
            out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
            out.append(f"| {len(sent):,} | {len(landed):,} | {superseded} | {missing} | {p50:.3f} s | {p95:.3f} s | "
                       f"{p99:.3f} s | {max(latencies):.3f} s | {'met' if p95 <= P95_TARGET and not missing else 'MISSED'} | "
                       f"{'met' if p99 <= P99_TARGET and not missing else 'MISSED'} |")
            self.latency_figures = {"p50": p50, "p95": p95, "p99": p99, "missing": missing}
        else:
            out.append(f"No change landed within {args.drain_seconds:.0f} s of the last send.")
            self.latency_figures = {"missing": missing}
        out.append("\n### Where the time goes (landed events, not overtaken)\n")
        out.append("| step | from → to | n | p50 | p95 | p99 | max |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for name, (a, b) in STEPS.items():
            values = steps[name]
            if values:
                out.append(f"| {name} | {a} → {b} | {len(values)} | "
                           + " | ".join(f"{percentile(values, q) * 1000:.0f} ms" for q in (50, 95, 99))
                           + f" | {max(values) * 1000:.0f} ms |")
        sizes = [len(r["scope"]) for r in scoped]
        waits = [j["enqueued"] - j["created"] for j in jobs.values() if j["enqueued"] and j["created"]]
        if waits:
            out.append(f"\nEvents jobs, created → on the queue (rq's scheduler, for `enqueue_in` jobs): "
                       f"p50 {percentile(waits, 50) * 1000:.0f} ms, p95 {percentile(waits, 95) * 1000:.0f} ms, "
                       f"max {max(waits) * 1000:.0f} ms over {len(waits)} jobs.")
        out.append("")
        out.append(f"- Webhook runs: {len(webhook_runs)} ({len(scoped)} re-reads of "
                   f"{statistics.mean(sizes) if sizes else 0:.1f} people on average, max {max(sizes, default=0)}; "
                   f"{len(full)} folded into a full sync); not succeeded: "
                   f"{sum(1 for r in webhook_runs if r['status'] != 'succeeded')}; failed rq jobs: {failed_jobs}; "
                   f"events jobs seen: {len(jobs)}.")
        out.append("- HiBob calls during the phase: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(endpoint_counts.items())) + ".")
        out.append(f"- Webhook deliveries that needed a retry: {retries}.")
        out.append("- CPU seconds used during the phase: "
                   + ", ".join(f"{n} {v:.1f}" for n, v in cpu_used.items())
                   + f" (phase {time.time() - t0:.0f} s, 2 cores).")

    # -- main ----------------------------------------------------------------------------------

    def run(self) -> None:
        began = time.monotonic()
        self.setup()
        self.throughput()
        if not self.args.skip_latency:
            self.latency()
        header = [f"# bench/webhooks.py — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
                  f"{os.cpu_count()} CPUs, load average {loadavg()}, total {time.monotonic() - began:.0f} s\n"]
        print("\n".join(header + self.report))


CHAIN = ("sent", "post_start", "post_end", "received", "job_ready", "job_started", "run_created",
         "run_started", "applying", "seen")
STEPS = {
    "sandbox → POST starts": ("sent", "post_start"),
    "receiver answers (inbox committed)": ("post_start", "post_end"),
    "receiver commit → job on the queue (rq scheduler)": ("received", "job_ready"),
    "queue → horse started (wait for worker, fork)": ("job_ready", "job_started"),
    "horse → run created (imports, context, in-job debounce, lock)": ("job_started", "run_created"),
    "run queued → started": ("run_created", "run_started"),
    "HiBob re-read (+ pacer waits)": ("run_started", "applying"),
    "apply + commit + poll": ("applying", "seen"),
    "total": ("sent", "seen"),
}


def _debounce() -> str:
    from worker import events

    return f"{events.DEBOUNCE_SECONDS:g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--company", type=int, default=0, help="sandbox company size (default 1.5 × employees)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--throughput-seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rq-workers", type=int, default=1)
    parser.add_argument("--rq-config", default="worker.rq_settings",
                        help="rq -c settings module (default: what the Procfile uses; experiment: bench.rq_preload)")
    parser.add_argument("--rq-worker-class", help="rq -w worker class (experiment)")
    parser.add_argument("--pacer-reads-per-minute", type=int,
                        help="experiment (needs --rq-config bench.rq_preload): RedisPacer's budget for "
                             "people reads and named lists (every endpoint but the search), instead "
                             "of 45/min")
    parser.add_argument("--pacer-named-lists-per-minute", type=int,
                        help="experiment (needs --rq-config bench.rq_preload): the budget for named "
                             "lists alone")
    parser.add_argument("--no-preload", action="store_true",
                        help="with --rq-config bench.rq_preload: patch the pacer only, import nothing")
    parser.add_argument("--drain-seconds", type=float, default=60.0)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--redis-url", help="a shared Redis (private key prefix) instead of a private redis-server")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--keep-logs", action="store_true", help="keep the process logs (path on stderr)")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        print(json.dumps(loadgen(json.loads(args.loadgen))))
        return
    if args.postgres_url.startswith("postgresql://"):
        args.postgres_url = "postgresql+psycopg://" + args.postgres_url[len("postgresql://"):]
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    bench = Bench(args, workdir)
    try:
        bench.run()
    finally:
        bench.teardown()
        if args.keep_logs:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
