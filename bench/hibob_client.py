"""Benchmark: what a people search costs the HiBob client, next to the bare minimum.

    .venv/bin/python bench/hibob_client.py [--sizes 1000,10000,100000] [--repeat 3]

For each company size the sandbox generates the company and serves its pre-rendered search answer
over loopback (one warm-up search renders and caches it). Every measurement then runs in a fresh
Python process, so its peak memory is its own: the peak RSS (VmHWM) minus the RSS just before the
measured work, after imports.

* bare:   ``requests.post`` the search, ``json.loads(response.content)`` (stdlib, everything).
* client: ``HiBobClient.search_people()``: fetch, validate, decode into model Employee dicts.

A second table compares decoders on the largest answer (bytes already in memory, ijson streaming
from a file), each producing the same model dicts: why the client uses typed msgspec Structs.
Prints Markdown tables; the figures in docs/hibob-client.md come from this script.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import peak_rss_bytes, rss_bytes  # noqa: E402


# --- child side: one measurement in a fresh process ------------------------------------------

def _extract(employee: dict[str, Any]) -> dict[str, Any]:
    """Model dict from a generic decode: nested first, then the slash encoding (no validation)."""
    from shared.hibob.model import EMPLOYEE_FIELDS
    out: dict[str, Any] = {}
    for key, (field_id, json_path) in EMPLOYEE_FIELDS.items():
        category, _, name = json_path.rpartition(".")
        holder = employee.get(category) if category else employee
        value = holder.get(name) if isinstance(holder, dict) else None
        if value is None:
            slash = employee.get("/" + field_id.replace(".", "/"))
            value = slash.get("value") if isinstance(slash, dict) else value
        out[key] = value
    return out


def _child(mode: str) -> dict[str, Any]:
    import requests

    from shared.hibob.client import HiBobClient
    from shared.hibob.decode import decoder_for
    from shared.hibob.model import SYNC_FIELD_IDS

    url, user, token = (os.environ.get(k, "") for k in ("BENCH_URL", "BENCH_SU", "BENCH_TOKEN"))
    path = os.environ.get("BENCH_FILE", "")
    body = Path(path).read_bytes() if mode.startswith("decode-") and mode != "decode-ijson" \
        else b""
    decoder_for(SYNC_FIELD_IDS)  # build the Structs before measuring, as a worker would have
    baseline = rss_bytes()
    started = time.perf_counter()
    if mode == "bare":
        response = requests.post(url + "/people/search", auth=(user, token), timeout=(3.05, 60),
                                 json={"fields": SYNC_FIELD_IDS, "showInactive": True})
        response.raise_for_status()
        count = len(json.loads(response.content)["employees"])
    elif mode == "client":
        with HiBobClient(url, user, token) as client:
            count = len(client.search_people().employees)
    elif mode == "decode-msgspec-typed":
        count = len(decoder_for(SYNC_FIELD_IDS).search(body).employees)
    elif mode == "decode-json":
        count = len([_extract(e) for e in json.loads(body)["employees"]])
    elif mode == "decode-orjson":
        import orjson
        count = len([_extract(e) for e in orjson.loads(body)["employees"]])
    elif mode == "decode-msgspec-generic":
        import msgspec
        count = len([_extract(e) for e in msgspec.json.decode(body)["employees"]])
    elif mode == "decode-ijson":
        import ijson
        with open(path, "rb") as stream:
            count = len([_extract(e) for e in ijson.items(stream, "employees.item",
                                                           use_float=True)])
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": (peak_rss_bytes() - baseline) / 1e6, "count": count}


# --- parent side ------------------------------------------------------------------------------

def _measure(mode: str, env: dict[str, str], repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, __file__, "--child", mode],
                              env={**os.environ, **env}, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{done.stderr[-2000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    counts = {run["count"] for run in runs}
    assert len(counts) == 1, counts
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mb": statistics.median(r["peak_mb"] for r in runs), "count": counts.pop()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return

    import requests

    from sandbox.server import start_sandbox
    from shared.hibob.model import SYNC_FIELD_IDS

    rows, largest = [], None
    for size in (int(s) for s in args.sizes.split(",")):
        sandbox = start_sandbox(people=size, seed=7)
        try:
            user, token = sandbox.credentials
            env = {"BENCH_URL": sandbox.base_url, "BENCH_SU": user, "BENCH_TOKEN": token}
            warm = requests.post(sandbox.base_url + "/people/search", auth=(user, token),
                                 json={"fields": SYNC_FIELD_IDS, "showInactive": True},
                                 timeout=(3.05, 300))
            warm.raise_for_status()
            bare = _measure("bare", env, args.repeat)
            client = _measure("client", env, args.repeat)
            rows.append((size, len(warm.content), bare, client))
            largest = warm.content
        finally:
            sandbox.stop()
        print(f"measured {size} people", file=sys.stderr)

    print("| people | payload | bare: time | bare: peak | client: time | × bare "
          "| client: peak | × bare |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, payload, bare, client in rows:
        assert bare["count"] == client["count"], (bare, client)
        print(f"| {size:,} | {payload / 1e6:.1f} MB | {bare['seconds']:.3f} s "
              f"| {bare['peak_mb']:.0f} MB | {client['seconds']:.3f} s "
              f"| {client['seconds'] / bare['seconds']:.2f} | {client['peak_mb']:.0f} MB "
              f"| {client['peak_mb'] / max(bare['peak_mb'], 0.1):.2f} |")

    assert largest is not None
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(largest)
        handle.flush()
        env = {"BENCH_FILE": handle.name}
        results = {mode: _measure(f"decode-{mode}", env, args.repeat)
                   for mode in ("json", "orjson", "msgspec-generic", "ijson", "msgspec-typed")}
    base = results["json"]
    print(f"\nDecoding {rows[-1][0]:,} people ({len(largest) / 1e6:.1f} MB) into model dicts:\n")
    print("| decoder | time | × json.loads | peak memory | × json.loads |")
    print("|---|---:|---:|---:|---:|")
    for mode, result in results.items():
        print(f"| {mode} | {result['seconds']:.3f} s | {result['seconds'] / base['seconds']:.2f} "
              f"| {result['peak_mb']:.0f} MB | {result['peak_mb'] / base['peak_mb']:.2f} |")


if __name__ == "__main__":
    main()
