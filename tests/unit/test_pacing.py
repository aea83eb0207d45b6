"""The shared HiBob call budget: per-service-user windows and the deployment-wide 401/403 breaker.

Each test builds its own fakeredis server; "two workers" are two pacers on two connections to it.
Time is a fake clock that ``sleep`` advances, so waits are exact and instant.
"""
from __future__ import annotations

import fakeredis
import pytest

from shared.hibob.errors import AuthFailureBudgetSpent, RateLimited
from shared.hibob.pacing import SEARCH, RedisPacer
from tests.conftest import FakeTime


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def make_pacer(server: fakeredis.FakeServer, fake_time: FakeTime, **kwargs: object) -> RedisPacer:
    return RedisPacer(fakeredis.FakeStrictRedis(server=server), clock=fake_time.clock,
                      sleep=fake_time.sleep, **kwargs)  # type: ignore[arg-type]


def test_45_searches_a_minute_go_out_at_once_and_the_46th_waits_for_the_window(server, fake_time):
    pacer = make_pacer(server, fake_time)
    for _ in range(45):
        pacer.release(pacer.acquire("SERVICE-1", SEARCH))
        fake_time.now += 0.1
    assert fake_time.sleeps == []
    pacer.acquire("SERVICE-1", SEARCH)
    # The first call left the window 60 s after it was made.
    assert fake_time.sleeps == [pytest.approx(60 - 4.5)]


def test_two_workers_share_one_budget_per_service_user(server, fake_time):
    worker_a, worker_b = make_pacer(server, fake_time), make_pacer(server, fake_time)
    for _ in range(20):
        worker_a.release(worker_a.acquire("SERVICE-1", SEARCH))
        worker_b.release(worker_b.acquire("SERVICE-1", SEARCH))
    for _ in range(5):
        worker_a.release(worker_a.acquire("SERVICE-1", SEARCH))
    assert fake_time.sleeps == []
    worker_b.acquire("SERVICE-1", SEARCH)
    assert len(fake_time.sleeps) == 1 and fake_time.sleeps[0] == pytest.approx(60)


def test_service_users_and_endpoints_have_their_own_budgets(server, fake_time):
    pacer = make_pacer(server, fake_time, search_per_minute=2, other_per_minute=3)
    for _ in range(2):
        pacer.release(pacer.acquire("SERVICE-1", SEARCH))
        pacer.release(pacer.acquire("SERVICE-2", SEARCH))
    for _ in range(3):
        pacer.release(pacer.acquire("SERVICE-1", "people.read"))
    assert fake_time.sleeps == []


def test_a_wait_longer_than_max_wait_raises_rate_limited_with_the_reset(server, fake_time):
    pacer = make_pacer(server, fake_time, search_per_minute=1, max_wait=5)
    pacer.release(pacer.acquire("SERVICE-1", SEARCH))
    with pytest.raises(RateLimited) as caught:
        pacer.acquire("SERVICE-1", SEARCH)
    assert caught.value.code == "rate_limited"
    assert caught.value.reset_at == pytest.approx(fake_time.now + 60)
    assert fake_time.sleeps == []


def test_a_429_blocks_every_worker_until_hibobs_reset(server, fake_time):
    worker_a, worker_b = make_pacer(server, fake_time), make_pacer(server, fake_time)
    worker_a.note_rate_limited("SERVICE-1", SEARCH, fake_time.now + 30)
    worker_b.release(worker_b.acquire("SERVICE-1", SEARCH))
    assert fake_time.sleeps == [pytest.approx(30)]
    # Another service user is not held back.
    worker_b.release(worker_b.acquire("SERVICE-2", SEARCH))
    assert len(fake_time.sleeps) == 1


def test_twenty_auth_failures_in_10_s_hold_back_every_integration(server, fake_time):
    pacer = make_pacer(server, fake_time, max_wait=1)
    for number in range(20):
        pacer.record_auth_failure(pacer.acquire(f"SERVICE-{number}", SEARCH))
    with pytest.raises(AuthFailureBudgetSpent) as caught:
        pacer.acquire("SERVICE-HEALTHY", SEARCH)
    assert caught.value.code == "rate_limited"
    assert "401/403" in str(caught.value)
    assert caught.value.reset_at == pytest.approx(fake_time.now + 10)


def test_the_breaker_waits_when_allowed_and_reopens_after_10_s(server, fake_time):
    pacer = make_pacer(server, fake_time)
    for number in range(20):
        pacer.record_auth_failure(pacer.acquire(f"SERVICE-{number}", SEARCH))
        fake_time.now += 0.2
    pacer.acquire("SERVICE-HEALTHY", SEARCH)
    assert fake_time.sleeps == [pytest.approx(10 - 4.0)]


def test_calls_in_flight_hold_breaker_slots_so_a_burst_cannot_overshoot(server, fake_time):
    pacer = make_pacer(server, fake_time, max_wait=1)
    in_flight = [pacer.acquire(f"SERVICE-{number}", SEARCH) for number in range(20)]
    with pytest.raises(AuthFailureBudgetSpent):
        pacer.acquire("SERVICE-21", SEARCH)
    pacer.release(in_flight.pop())  # one answered 200: its slot is free again
    pacer.acquire("SERVICE-21", SEARCH)


def test_a_permit_never_settled_frees_its_slot_after_hold_seconds(server, fake_time):
    pacer = make_pacer(server, fake_time, auth_failures_per_10s=1, max_wait=100)
    pacer.acquire("SERVICE-1", SEARCH, hold_seconds=40)  # the worker died mid-call
    pacer.acquire("SERVICE-2", SEARCH)
    assert sum(fake_time.sleeps) == pytest.approx(40, abs=0.5)


def test_keys_hold_a_hash_of_the_service_user_never_the_id_or_token(server, fake_time):
    pacer = make_pacer(server, fake_time)
    pacer.record_auth_failure(pacer.acquire("SERVICE-5772", SEARCH))
    pacer.note_rate_limited("SERVICE-5772", SEARCH, fake_time.now + 30)
    keys = [key.decode() for key in fakeredis.FakeStrictRedis(server=server).keys("*")]
    assert keys and all(key.startswith("peoplesync:hibob:") for key in keys)
    assert not any("5772" in key or "SERVICE" in key for key in keys)
