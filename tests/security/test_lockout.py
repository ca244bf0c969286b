import pytest

from pyobshell.security.lockout import LockoutPolicy, LockoutTracker

from .conftest import FakeClock


def test_lock_and_release():
    clock = FakeClock(0)
    tracker = LockoutTracker(LockoutPolicy(max_failures=2, window=10, lock_seconds=30), clock=clock)
    assert not tracker.record_failure("a")
    assert tracker.record_failure("a")
    assert tracker.is_locked("a") and not tracker.is_locked("b")
    clock.advance(30)
    assert not tracker.is_locked("a")
    assert not tracker.record_failure("a")  # the count started again after the lock


def test_tracked_addresses_are_bounded_and_locks_kept_longest():
    clock = FakeClock(0)
    tracker = LockoutTracker(LockoutPolicy(max_failures=2, window=10, lock_seconds=100, max_addresses=3), clock=clock)
    tracker.record_failure("attacker")
    assert tracker.record_failure("attacker")
    for i in range(10):
        clock.advance(1)
        tracker.record_failure(f"x{i}")
    assert len(tracker) == 3
    assert tracker.is_locked("attacker")


def test_invalid_policy_refused():
    with pytest.raises(ValueError):
        LockoutPolicy(max_failures=0)
