"""Rate limits (429 and the X-RateLimit headers), injected faults and the call log."""
from __future__ import annotations

import time

from sandbox.server import RunningSandbox


def test_search_allows_50_a_minute_then_429_with_reset_headers(hibob) -> None:
    remaining = []
    for _ in range(50):
        answer = hibob.search(["root.id"])
        assert answer.status_code == 200
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    refused = hibob.search(["root.id"])

    assert remaining == list(range(49, -1, -1))
    assert refused.status_code == 429
    assert set(refused.json()) == {"key", "error"}
    headers = refused.headers
    assert headers["X-RateLimit-Limit"] == "50" and headers["X-RateLimit-Remaining"] == "0"
    reset = int(headers["X-RateLimit-Reset"])  # Unix epoch seconds, not a delta
    assert time.time() < reset <= time.time() + 61


def test_the_window_refills_after_reset(sandbox: RunningSandbox, hibob, control) -> None:
    control.patch("/config", json={"search_limit": 2, "rate_window": 0.3})
    assert [hibob.search(["root.id"]).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert hibob.search(["root.id"]).status_code == 200


def test_limits_count_per_service_user(sandbox: RunningSandbox, hibob, control) -> None:
    control.patch("/config", json={"search_limit": 1})
    assert hibob.search(["root.id"]).status_code == 200
    assert hibob.search(["root.id"]).status_code == 429
    hibob.auth = sandbox.credentials_of("no_personal")
    assert hibob.search(["root.id"]).status_code == 200


def test_one_person_reads_have_a_configurable_limit(sandbox: RunningSandbox, hibob,
                                                    control) -> None:
    someone = sandbox.state.directory.snapshot()[1].id
    assert "X-RateLimit-Limit" not in hibob.post(f"/people/{someone}", json={}).headers
    control.patch("/config", json={"read_limit": 3})
    codes = [hibob.post(f"/people/{someone}", json={"fields": ["root.id"]}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_status_faults_then_normal_answers(sandbox: RunningSandbox, hibob, control) -> None:
    control.post("/faults", json={"kind": "status", "status": 503, "count": 2,
                                  "endpoint": "search"})
    codes = [hibob.search(["root.id"]).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert control.get("/faults").json() == {"faults": []}


def test_faults_only_hit_their_endpoint(sandbox: RunningSandbox, hibob) -> None:
    sandbox.state.add_fault("status", status=500, endpoint="read")
    assert hibob.search(["root.id"]).status_code == 200
    someone = sandbox.state.directory.snapshot()[0].id
    assert hibob.post(f"/people/{someone}", json={}).status_code == 500


def test_slow_fault_delays_then_answers(sandbox: RunningSandbox, hibob) -> None:
    sandbox.state.add_fault("slow", delay=0.4)
    started = time.perf_counter()
    answer = hibob.search(["root.id"])
    assert answer.status_code == 200 and time.perf_counter() - started >= 0.4


def test_html_fault_is_200_text_html(sandbox: RunningSandbox, hibob) -> None:
    sandbox.state.add_fault("html", endpoint="search")
    answer = hibob.search(["root.id"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.lstrip().lower().startswith("<!doctype html")


def test_call_log_records_each_call(sandbox: RunningSandbox, hibob, control) -> None:
    sandbox.state.add_fault("status", status=502)
    hibob.search(["root.id"], showInactive=True)
    hibob.search(["root.id"])
    hibob.get("/company/people/fields")

    calls = control.get("/calls").json()["calls"]
    assert [(c["endpoint"], c["status"], c["fault"]) for c in calls] == [
        ("search", 502, "status"), ("search", 200, None), ("fields", 200, None)]
    assert calls[0]["service_user"] == sandbox.credentials[0]
    assert calls[0]["request"] == {"fields": ["root.id"], "showInactive": True}
    later = control.get("/calls", params={"since": calls[1]["seq"]}).json()["calls"]
    assert [c["endpoint"] for c in later] == ["fields"]
    assert control.delete("/calls").status_code == 204
    assert control.get("/calls").json() == {"calls": []}
