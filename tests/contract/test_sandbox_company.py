"""The generated company: reproducible per seed, realistic, and fast enough for 100,000 people."""
from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.company import generate_company
from sandbox.people import lifecycle_on
from sandbox.server import RunningSandbox, serve_state
from sandbox.state import SandboxState

TODAY = date(2026, 6, 1)
ROOT = Path(__file__).resolve().parents[2]
SYNC_FIELDS = ["root.id", "root.email", "root.firstName", "root.surname", "root.displayName",
               "personal.shortBirthDate", "work.startDate", "work.department", "work.site",
               "internal.status", "internal.lifecycleStatus", "internal.terminationDate",
               "employee.lastDayOfWork"]


def test_same_seed_same_company_other_seed_other_company() -> None:
    first, again = generate_company(60, 7, TODAY), generate_company(60, 7, TODAY)
    other = generate_company(60, 8, TODAY)

    assert [p.values for p in first.people] == [p.values for p in again.people]
    assert first.named_lists == again.named_lists
    assert {p.id for p in first.people}.isdisjoint({p.id for p in other.people})


def test_the_company_holds_the_awkward_cases() -> None:
    company = generate_company(60, 7, TODAY)
    people = company.people
    by_lifecycle = Counter(p.lifecycle for p in people)
    today = TODAY.isoformat()

    assert by_lifecycle["employed"] > 40
    joiners = [p for p in people if p.lifecycle == "hired"]
    assert joiners and all(p.values["work.startDate"] > today and p.status == "Inactive"
                           for p in joiners)
    assert by_lifecycle["terminated"] >= 3
    garden = [p for p in people if p.lifecycle == "garden leave"]
    assert {p.status for p in garden} == {"Active", "Inactive"}
    assert all(p.values["employee.lastDayOfWork"] < p.values["internal.terminationDate"]
               for p in garden)
    assert by_lifecycle["leave"] + by_lifecycle["parental leave"] >= 2
    assert any(p.email is None for p in people)
    names = Counter(p.values["root.displayName"] for p in people)
    assert any(count > 1 for count in names.values())  # namesakes
    assert any(p.values["personal.shortBirthDate"] == "02-29" for p in people)
    assert any(not p.values["root.displayName"].isascii() for p in people)
    rehired = [p for p in people
               if p.values["work.originalStartDate"] < p.values["work.startDate"]]
    assert rehired


def test_departments_come_from_the_named_list() -> None:
    company = generate_company(2000, 3, TODAY)
    items = {i["id"]: i for i in company.named_lists["department"]}
    used = Counter(p.values["work.department"] for p in company.people)

    assert set(used) <= set(items)
    assert len(used) >= 10
    archived = {i for i in items if items[i]["archived"]}
    assert archived & set(used)  # former staff still point at archived departments
    assert all(p.lifecycle == "terminated" for p in company.people
               if p.values["work.department"] in archived)
    assert sum(1 for p in company.people if p.values["personal.birthDate"] is None) > 20


@settings(max_examples=12, deadline=None)
@given(n=st.integers(min_value=30, max_value=400), seed=st.integers(0, 10**6))
def test_every_company_is_consistent(n: int, seed: int) -> None:
    company = generate_company(n, seed, TODAY)
    people = company.people

    assert len(people) == n == len({p.id for p in people})
    assert all(len(p.id) == 19 and p.id.isdigit() for p in people)
    for person in people:
        values = person.values
        assert (values["internal.lifecycleStatus"], values["internal.status"]) == lifecycle_on(
            values, person.leave_type, person.leave_active, TODAY.isoformat())
        assert values["root.id"] == person.id
        birthday = values["personal.shortBirthDate"]
        assert birthday is None or birthday == values["personal.birthDate"][5:]
    emails = Counter(p.email.lower() for p in people if p.email)
    reused = [e for e, count in emails.items() if count > 1]
    assert len(reused) <= 1  # only the deliberately reused address of a former employee
    assert any(p.values["personal.birthDate"] is None for p in people)
    archived = {i["id"] for i in company.named_lists["department"] if i["archived"]}
    assert any(p.values["work.department"] in archived for p in people)
    for case in ("future_joiner", "terminated", "garden_leave", "no_email", "namesake",
                 "leap_day_birthday", "rehired"):
        assert company.cases.get(case), case


def test_a_100k_company_generates_and_serves_quickly(capsys: pytest.CaptureFixture) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    state = SandboxState(people=100_000, seed=1)
    generated = time.perf_counter() - started
    generated_cpu = time.process_time() - cpu_started  # what it costs on an idle machine
    running = serve_state(state)
    try:
        first, size = _timed_search(running)
        cached, size_again = _timed_search(running)
        cached_again, _ = _timed_search(running)
    finally:
        running.stop()
    assert size == size_again > 50_000_000
    with capsys.disabled():
        print(f"\n[sandbox 100k] generate {generated:.2f}s (cpu {generated_cpu:.2f}s), "
              f"first search {first:.2f}s, "
              f"cached search {min(cached, cached_again):.2f}s ({size / 1e6:.0f} MB)")


def _timed_search(running: RunningSandbox) -> tuple[float, int]:
    token = base64.b64encode(":".join(running.credentials).encode()).decode()
    connection = http.client.HTTPConnection(running.host, running.port, timeout=60)
    started = time.perf_counter()
    connection.request("POST", "/v1/people/search",
                       json.dumps({"fields": SYNC_FIELDS, "showInactive": True}),
                       {"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    answer = connection.getresponse()
    size = len(answer.read())
    elapsed = time.perf_counter() - started
    connection.close()
    assert answer.status == 200
    return elapsed, size


def test_ctl_drives_a_running_sandbox(sandbox: RunningSandbox) -> None:
    url = sandbox.control_url.removesuffix("/_control")

    def ctl(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "sandbox", "ctl", "--url", url, *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    hired = json.loads(ctl("hire", "Ngozi", "Adeyemi", "--department", "Sales",
                           "--birthday", "02-29"))
    assert hired["lifecycle_status"] == "employed" and hired["birthday"] == "02-29"
    ctl("set-email", hired["id"], "ngozi@example.com")
    assert sandbox.state.directory.people[hired["id"]].email == "ngozi@example.com"
    assert "Ngozi Adeyemi" in ctl("list", "--q", "ngozi")
