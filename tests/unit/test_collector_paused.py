"""collector_paused: the cyclic garbage collector is off inside, and always restored after."""
from __future__ import annotations

import gc

import pytest

from shared.memory import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_enabled_again_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_enabled_again_when_the_apply_raises():
    with pytest.raises(RuntimeError):
        with collector_paused():
            raise RuntimeError("database gone")
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
