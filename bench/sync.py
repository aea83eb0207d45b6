"""Benchmark: what a full sync costs, end to end, next to the bare cost of reading HiBob.

    .venv/bin/python bench/sync.py [--sizes 1000,10000,100000] [--db sqlite,postgresql]
                                   [--repeat 3] [--postgres-url URL] [--profile DIR] [--verbose]

For each company size the sandbox (in this process) generates the company and serves its
pre-rendered search answer over loopback; one search warms its cache before anything is measured,
and again after every change made to the company, so no measurement pays for the emulator's
rendering (nor for its rate limit, which is lifted). Redis is a private ``redis-server`` on a
free port (fakeredis' TCP server in this process where none is installed; nothing touches a
shared Redis); PostgreSQL runs in a private schema dropped at the
end (``--postgres-url``, default the local ``test`` database), SQLite in a temporary file.

Every measurement runs in a fresh Python process that imports everything, connects to the
database and Redis, builds the decoder, then starts the clock:

* bare:        ``requests.post`` the search, ``json.loads(response.content)``.
* initial:     ``service.create_integration`` (the real enqueue) -> an in-process rq worker,
               already up and waiting on its queues as a deployed one is, runs the real job
               (``worker.jobs.run_sync``) -> the job returns with its run ``succeeded``
               (committed); the database starts empty.
* no change:   ``service.request_sync`` -> the waiting worker -> ``succeeded``; nothing changed
               in HiBob.
* 1 % changed: the same, after 1 % of the company changed through the sandbox's own directory
               API: 80 % of those e-mail or department updates, 10 % terminations, 10 % hires.

What rq does after the job (the store-notification job, the worker's teardown) is not timed. Peak memory is the process's peak RSS (``VmHWM``, i.e. ``ru_maxrss``), reset through
``/proc/self/clear_refs`` just before the work, minus the RSS at that moment: what the work added
to a warm worker (not tracemalloc, which misses C allocations: msgspec, psycopg, sqlite3).
Figures are medians of ``--repeat`` runs. ``--profile DIR`` wraps each sync in cProfile and writes
``DIR/<size>-<db>-<step>.prof`` (times are then inflated); ``--verbose`` prints every run.
Prints Markdown: the table, each step in detail, and the targets of the benchmark issue, met or
missed. The figures in docs/benchmarks.md come from this script.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import PrivateSchema, free_port, peak_rss_bytes, reset_peak  # noqa: E402

STORE_ID = "bench-store"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHANGED_SHARE = 0.01

# The targets of the benchmark issue.
NO_CHANGE_MAX = 1.3       # x bare time
INITIAL_PG_MAX = 3.0      # x bare time, at the largest size, on PostgreSQL
PEAK_HEADROOM_MB = 100.0  # over the bare cost's own peak
LINEAR_EXPONENT_MAX = 1.1  # time ~ size^k between consecutive sizes; 1 is linear

VERBOSE = False


# --- child side: one measurement in a fresh process ------------------------------------------

def _time_collections() -> list[float]:
    """Sum the time the cyclic garbage collector spends from now on: ``[seconds, start of the
    current collection]`` (a list the callback updates)."""
    import gc

    spent = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]
    gc.callbacks.append(callback)
    return spent


def _child(step: str) -> dict[str, Any]:
    env = json.loads(os.environ["BENCH_ENV"])
    if step == "bare":
        import requests

        from shared.hibob.model import SYNC_FIELD_IDS

        baseline = reset_peak()
        started = time.perf_counter()
        response = requests.post(env["url"] + "/people/search", auth=(env["user"], env["token"]),
                                 json={"fields": SYNC_FIELD_IDS, "showInactive": True},
                                 timeout=(3.05, 300))
        response.raise_for_status()
        count = len(json.loads(response.content)["employees"])
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "peak_mb": (peak_rss_bytes() - baseline) / 1e6,
                "count": count}

    from shared import service
    from shared.config import load_config
    from shared.db import runs as runs_db
    from shared.hibob.decode import decoder_for
    from shared.hibob.model import SYNC_FIELD_IDS
    from worker.context import JobContext, install

    config = load_config({"env": "test", "database_url": env["database_url"],
                          "redis_url": env["redis_url"], "queue_prefix": env["queue_prefix"],
                          "var_dir": env["var_dir"], "hibob_api_url": env["url"]}, environ={})
    ctx = JobContext.from_config(config)
    install(ctx)
    # A worker that has been up a while: modules imported, pools connected, decoder built.
    ctx.db.ping()
    ctx.redis.ping()
    decoder_for(SYNC_FIELD_IDS)
    import worker.apply  # noqa: F401  (rq would import it on the first job)
    import worker.jobs  # noqa: F401
    import worker.notify  # noqa: F401

    # "Run succeeded" is when the job returns (its transaction has committed); what rq does
    # after that (the store-notification job, the burst worker's teardown) is not counted.
    begun: list[float] = []
    finished: list[tuple[float, float]] = []
    job = worker.jobs.run_sync

    def run_sync(run_id: str) -> str:
        begun.append(time.perf_counter())
        try:
            return job(run_id)
        finally:
            finished.append((time.perf_counter(), time.process_time()))
    worker.jobs.run_sync = run_sync  # rq imports "worker.jobs.run_sync" when it runs the job

    profiler = None
    if env.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
    # A deployed worker is already up and waiting on its queues: the clock starts once this one
    # is (its blocking pop on the wire), with the enqueue, and stops when the job returns.
    in_process = ctx.queues.in_process_worker()
    marks: dict[str, Any] = {}

    def enqueue() -> None:
        try:
            while in_process.get_state() != "idle":
                time.sleep(0.001)
            time.sleep(0.05)
            marks["cpu"], marks["started"] = time.process_time(), time.perf_counter()
            if step == "initial":
                row = service.create_integration(ctx, STORE_ID, {"service_user_id": env["user"],
                                                                 "token": env["token"]}, {}, [])
                with ctx.db.begin() as conn:
                    marks["run_id"] = runs_db.find(conn, row["id"], ["queued"])[0]["id"]
                marks["integration_id"] = row["id"]
            else:
                marks["integration_id"] = env["integration_id"]
                marks["run_id"] = service.request_sync(ctx, env["integration_id"])
        except BaseException as exc:  # the worker then quits once idle; reported below
            marks["error"] = repr(exc)

    gc_seconds = _time_collections()
    baseline = reset_peak()
    enqueuer = threading.Thread(target=enqueue)
    enqueuer.start()
    if profiler is not None:
        profiler.enable()
    in_process.work(burst=False, max_jobs=1, max_idle_time=60, logging_level="WARNING")
    if profiler is not None:
        profiler.disable()
    enqueuer.join()
    if "error" in marks:
        raise SystemExit(f"{step}: the enqueue failed: {marks['error']}")
    started, cpu = marks["started"], marks["cpu"]
    integration_id, run_id = marks["integration_id"], marks["run_id"]
    if len(finished) != 1:
        raise SystemExit(f"expected one sync job, {len(finished)} ran")
    seconds, cpu = finished[0][0] - started, finished[0][1] - cpu
    peak_mb = (peak_rss_bytes() - baseline) / 1e6
    if profiler is not None:
        profiler.dump_stats(env["profile"])
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
    if run is None or run["status"] != "succeeded":
        raise SystemExit(f"run {run_id} did not succeed: {run}")
    ctx.db.dispose()
    return {"seconds": seconds, "cpu": cpu, "gc": gc_seconds[0], "pickup": begun[0] - started, "peak_mb": peak_mb,
            "counts": run["counts"],
            "fetched": run["fetched"], "integration_id": integration_id}


# --- parent side ------------------------------------------------------------------------------

def _run_child(step: str, env: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", step],
                          env={**os.environ, "BENCH_ENV": json.dumps(env)},
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if VERBOSE:
        cpu = f" (worker CPU {result['cpu']:.3f} s)" if "cpu" in result else ""
        print(f"  {step}: {result['seconds']:.3f} s measured{cpu}, {result['peak_mb']:.0f} MB, "
              f"{time.perf_counter() - started:.1f} s with start-up", file=sys.stderr)
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (the run with the median time for anything else)."""
    middle = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
    return {**middle, **{key: statistics.median(r[key] for r in runs)
                         for key in ("seconds", "peak_mb", "cpu", "gc", "pickup") if key in middle}}


def _start_redis() -> tuple[Callable[[], None], str]:
    """A private Redis for the run: ``redis-server`` on a free port when it is installed (what a
    deployment runs), else fakeredis' TCP server in this process. Returns (stop, url)."""
    port = free_port()
    binary = shutil.which("redis-server")
    if binary:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)

        def stop() -> None:
            proc.terminate()
            proc.wait(10)
        return stop, f"redis://127.0.0.1:{port}/0"

    from fakeredis import TcpFakeServer
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class NoDelayHandler(TCPFakeRequestHandler):
        # fakeredis flushes each reply of a pipeline separately; with Nagle on, every MULTI/EXEC
        # then waits out the client's delayed ACK: 44 ms instead of 0.5 ms (real Redis: 0.3 ms).
        disable_nagle_algorithm = True

    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = NoDelayHandler
    server.daemon_threads, server.block_on_close = True, False
    threading.Thread(target=server.serve_forever, daemon=True, name="fakeredis").start()

    def shutdown() -> None:
        server.shutdown()
        server.server_close()
    return shutdown, f"redis://127.0.0.1:{port}/0"


def _warm(sandbox: Any) -> int:
    """Make the sandbox render (and cache) the answer the client will ask for; its size."""
    import requests

    from shared.hibob.decode import decoder_for
    from shared.hibob.model import SYNC_FIELD_IDS

    response = requests.post(sandbox.base_url + "/people/search", auth=sandbox.credentials,
                             json={"fields": list(decoder_for(SYNC_FIELD_IDS).field_ids),
                                   "showInactive": True}, timeout=(3.05, 300))
    response.raise_for_status()
    return len(response.content)


def _change_company(sandbox: Any, share: float, rng: random.Random) -> dict[str, int]:
    """Change ``share`` of the company the way an HR admin would, through the directory API."""
    from sandbox.people import EMPLOYED

    directory = sandbox.state.directory
    # Ordinary employees only (no leaver-to-be, no missing e-mail, no reused address...), so
    # that every change made is one the store must see.
    special = {pid for case, ids in directory.cases.items() if case != "employed" for pid in ids}
    # Started before today: a termination (dated yesterday, but never before the start date)
    # then takes effect at once instead of scheduling a last day.
    today = directory.today()
    employed = sorted(p.id for p in directory.snapshot()
                      if p.lifecycle == EMPLOYED and p.id not in special
                      and not p.values.get("internal.terminationDate")
                      and p.values["work.startDate"] < today)
    total = max(1, round(share * len(directory.people)))
    hires = max(1, total // 10)
    leavers = max(1, total // 10)
    updates = max(0, total - hires - leavers)
    chosen = rng.sample(employed, updates + leavers)
    departments = {item["id"]: item["name"] for item in directory.named_lists["department"]
                   if not item["archived"]}
    for number, person_id in enumerate(chosen[:updates]):
        if number % 2:
            directory.update(person_id, email=f"moved.{rng.getrandbits(40):x}@{directory.domain}")
        else:
            current = directory.people[person_id].department
            directory.update(person_id, department=rng.choice(
                sorted(name for item_id, name in departments.items() if item_id != current)))
    for person_id in chosen[updates:]:
        directory.terminate(person_id)
    for number in range(hires):
        directory.hire(f"Bench{rng.getrandbits(24):x}", f"Hire{number}",
                       department=rng.choice(sorted(departments.values())),
                       birth_date="1990-06-15")
    return {"updated": updates, "terminated": leavers, "hired": hires}


class _Database:
    """A private, migrated, empty database of one kind, reset between initial loads."""

    def __init__(self, kind: str, workdir: Path, postgres_url: str) -> None:
        from shared.db import Database
        self.kind = kind
        self.schema: PrivateSchema | None = None
        if kind == "sqlite":
            self.template = workdir / "template.db"
            self.path = workdir / "peoplesync.db"
            db = Database(f"sqlite:///{self.template}")
            db.migrate()
            db.dispose()
            self.url = f"sqlite:///{self.path}"
        else:
            self.schema = PrivateSchema(postgres_url, "bench_")
            self.url = self.schema.url

    def reset(self) -> None:
        import sqlalchemy as sa

        from shared.db.tables import metadata
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            shutil.copy(self.template, self.path)
            return
        assert self.schema is not None
        with self.schema.admin.begin() as conn:
            names = ", ".join(f'"{self.schema.name}"."{t.name}"' for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names}"))

    def drop(self) -> None:
        if self.schema is not None:
            self.schema.drop()


def _measure_db(kind: str, size: int, sandbox: Any, redis_url: str, workdir: Path,
                args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    database = _Database(kind, workdir, args.postgres_url)
    user, token = sandbox.credentials
    env: dict[str, Any] = {"url": sandbox.base_url, "user": user, "token": token,
                           "database_url": database.url, "redis_url": redis_url,
                           "queue_prefix": f"bench{uuid.uuid4().hex[:8]}:",
                           "var_dir": str(workdir / "var")}

    def step_env(step: str) -> dict[str, Any]:
        if not args.profile:
            return env
        return {**env, "profile": str(Path(args.profile) / f"{size}-{kind}-{step}.prof")}

    try:
        result: dict[str, Any] = {}
        runs = []
        for _ in range(args.repeat):
            database.reset()
            runs.append(_run_child("initial", step_env("initial")))
            if not runs[-1]["counts"]["added"] or runs[-1]["counts"] != runs[0]["counts"]:
                raise SystemExit(f"initial loads differ or add nobody: {runs}")
        result["initial"] = _median(runs)
        env["integration_id"] = runs[-1]["integration_id"]
        runs = [_run_child("no_change", step_env("no_change")) for _ in range(args.repeat)]
        for run in runs:
            counts = run["counts"]
            if counts["added"] + counts["updated"] + counts["removed"] + counts["restored"]:
                raise SystemExit(f"expected no change, the run counted {counts}")
        result["no_change"] = _median(runs)
        runs = []
        for _ in range(args.repeat):
            made = _change_company(sandbox, CHANGED_SHARE, rng)
            _warm(sandbox)
            runs.append(_run_child("changed", step_env("changed")))
            counts = runs[-1]["counts"]
            if (counts["added"], counts["updated"], counts["removed"]) != \
                    (made["hired"], made["updated"], made["terminated"]):
                raise SystemExit(f"1 % changed: made {made}, the run counted {counts}")
        result["changed"] = _median(runs)
        result["changed"]["made"] = made
        return result
    finally:
        database.drop()


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _report(rows: list[dict[str, Any]], sizes: list[int], kinds: list[str]) -> None:
    print("| people | db | bare | bare peak | initial | × bare | no change | × bare "
          "| 1 % changed | × bare | worker peak | × bare peak |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        bare = row["bare"]
        largest_pg = row["size"] == max(sizes) and row["db"] == "postgresql"
        cells = []
        for step in ("initial", "no_change", "changed"):
            ratio = row[step]["seconds"] / bare["seconds"]
            flag = ""
            if step == "no_change":
                flag = " " + _mark(ratio <= NO_CHANGE_MAX)
            elif step == "initial" and largest_pg:
                flag = " " + _mark(ratio <= INITIAL_PG_MAX)
            cells.append(f"{row[step]['seconds']:.3f} s | {ratio:.2f}{flag}")
        peak = max(row[step]["peak_mb"] for step in ("initial", "no_change", "changed"))
        ok = peak <= bare["peak_mb"] + PEAK_HEADROOM_MB
        print(f"| {row['size']:,} | {row['db']} | {bare['seconds']:.3f} s | {bare['peak_mb']:.0f} MB "
              f"| {' | '.join(cells)} | {peak:.0f} MB | {peak / max(bare['peak_mb'], 0.1):.2f} "
              f"{_mark(ok)} |")

    print("\nEach step in detail: *pick-up* = from the enqueue call until the job starts (the "
          "enqueue itself, the waiting worker's dequeue); *job* = the job until its run is "
          "`succeeded`; *worker CPU* = CPU time of the worker process over the whole step "
          "(the rest is waiting for HiBob, the database or Redis); *GC* = time in Python's cyclic "
          "garbage collector; *peak* = peak RSS over a warm worker.\n")
    print("| people | db | step | total | pick-up | job | worker CPU | GC | peak |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for step, label in (("initial", "initial"), ("no_change", "no change"),
                            ("changed", "1 % changed")):
            m = row[step]
            print(f"| {row['size']:,} | {row['db']} | {label} | {m['seconds']:.3f} s "
                  f"| {m['pickup']:.3f} s | {m['seconds'] - m['pickup']:.3f} s | {m['cpu']:.3f} s "
                  f"| {m['gc']:.3f} s | {m['peak_mb']:.0f} MB |")

    print("\nTargets:\n")
    by = {(row["size"], row["db"]): row for row in rows}
    for row in rows:
        ratio = row["no_change"]["seconds"] / row["bare"]["seconds"]
        print(f"- no-change reconciliation ≤ {NO_CHANGE_MAX}× bare, {row['size']:,} on {row['db']}: "
              f"{ratio:.2f}× {'met' if ratio <= NO_CHANGE_MAX else 'MISSED'}")
    if "postgresql" in kinds:
        row = by[(max(sizes), "postgresql")]
        ratio = row["initial"]["seconds"] / row["bare"]["seconds"]
        print(f"- initial load ≤ {INITIAL_PG_MAX}× bare, {max(sizes):,} on PostgreSQL: "
              f"{ratio:.2f}× {'met' if ratio <= INITIAL_PG_MAX else 'MISSED'}")
    for row in rows:
        peak = max(row[s]["peak_mb"] for s in ("initial", "no_change", "changed"))
        limit = row["bare"]["peak_mb"] + PEAK_HEADROOM_MB
        print(f"- worker peak ≤ bare peak + {PEAK_HEADROOM_MB:.0f} MB, {row['size']:,} on "
              f"{row['db']}: {peak:.0f} MB vs {limit:.0f} MB "
              f"{'met' if peak <= limit else 'MISSED'}")
    for kind in kinds:
        for small, large in zip(sizes, sizes[1:]):
            parts = []
            ok = True
            for step in ("bare", "initial", "no_change", "changed"):
                a = by[(small, kind)][step]["seconds"]
                b = by[(large, kind)][step]["seconds"]
                exponent = math.log(b / a) / math.log(large / small)
                ok = ok and (step == "bare" or exponent <= LINEAR_EXPONENT_MAX)
                parts.append(f"{step.replace('_', ' ')} ×{b / a:.1f} (k={exponent:.2f})")
            print(f"- linear growth (time ∝ size^k, k ≤ {LINEAR_EXPONENT_MAX}), {small:,} → "
                  f"{large:,} on {kind}: {', '.join(parts)}: {'met' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                  DEFAULT_POSTGRES_URL))
    parser.add_argument("--profile", help="directory for cProfile output of every sync")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true", help="print every run to stderr")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    global VERBOSE
    VERBOSE = args.verbose
    if args.postgres_url.startswith("postgresql://"):
        args.postgres_url = "postgresql+psycopg://" + args.postgres_url[len("postgresql://"):]
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k.strip() for k in args.db.split(",")]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown:
        raise SystemExit(f"unknown --db {sorted(unknown)}: sqlite, postgresql")

    from sandbox.server import start_sandbox

    stop_redis, redis_url = _start_redis()
    rows = []
    begun = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        for size in sizes:
            generated = time.perf_counter()
            sandbox = start_sandbox(people=size, seed=args.seed)
            # HiBob's 50 searches a minute is HiBob's limit, not a cost of ours; the worker's
            # own pacer (45/min) still runs, with one budget per database below.
            sandbox.state.search_limit = None
            try:
                payload = _warm(sandbox)
                user, token = sandbox.credentials
                bare = _median([_run_child("bare", {"url": sandbox.base_url, "user": user,
                                                    "token": token})
                                for _ in range(args.repeat)])
                bare["payload"] = payload
                for kind in kinds:
                    workdir = Path(tmp) / f"{size}-{kind}"
                    rng = random.Random(f"{args.seed}-{size}-{kind}")
                    result = _measure_db(kind, size, sandbox, redis_url, workdir, args, rng)
                    rows.append({"size": size, "db": kind, "bare": bare, **result})
                    print(f"measured {size:,} people on {kind}", file=sys.stderr)
            finally:
                sandbox.stop()
            print(f"{size:,} people: {time.perf_counter() - generated:.0f} s", file=sys.stderr)
    stop_redis()
    took, load_after = time.perf_counter() - begun, os.getloadavg()[0]
    print(f"total {took:.0f} s", file=sys.stderr)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average (1 min) "
          f"{load_before:.2f} → {load_after:.2f}, {took:.0f} s in all, median of {args.repeat}.\n")
    _report(rows, sizes, kinds)


if __name__ == "__main__":
    main()
