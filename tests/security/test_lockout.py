import pytest

from pyobshell.security.lockout import LockoutPolicy, LockoutTracker, fingerprint

from tests.helpers.clock import FakeClock


def test_lock_and_release():
    clock = FakeClock(0)
    tracker = LockoutTracker(LockoutPolicy(max_failures=2, window=10, lock_seconds=30), clock=clock)
    assert not tracker.record_failure("a", b"guess-1")
    assert not tracker.record_failure("a", b"guess-1")  # the same wrong credential again counts once
    assert tracker.record_failure("a", b"guess-2")
    assert tracker.is_locked("a") and not tracker.is_locked("b")
    assert tracker.seconds_left("a") == 30
    clock.advance(30)
    assert not tracker.is_locked("a")
    assert not tracker.record_failure("a", b"guess-1")  # the count started again after the lock


def test_tracked_addresses_are_bounded_and_locks_kept_longest():
    clock = FakeClock(0)
    tracker = LockoutTracker(LockoutPolicy(max_failures=2, window=10, lock_seconds=100, max_addresses=3), clock=clock)
    tracker.record_failure("attacker", b"1")
    assert tracker.record_failure("attacker", b"2")
    for i in range(10):
        clock.advance(1)
        tracker.record_failure(f"x{i}")
    assert len(tracker) == 3
    assert tracker.is_locked("attacker")


def test_invalid_policy_refused():
    with pytest.raises(ValueError):
        LockoutPolicy(max_failures=0)


def test_fingerprints_tell_credentials_and_kinds_apart_without_keeping_them():
    assert fingerprint("root_password", "pw") == fingerprint("root_password", "pw")
    assert fingerprint("root_password", "pw") != fingerprint("root_password", "pw2")
    assert fingerprint("root_password", "pw") != fingerprint("agent_password", "pw")
    assert b"pw" not in fingerprint("root_password", "pw")
