"""Shared fixtures: one RSA key pair per test session (generation is the slow part), a clock
that only moves when told to, and a verifier wired to both."""

from __future__ import annotations

from tests.helpers.clock import FakeClock

from collections.abc import Callable

import pytest

from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.credentials import StaticPasswords
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutPolicy, LockoutTracker
from pyobshell.security.replay_cache import ReplayCache
from pyobshell.security.request_verifier import RequestVerifier

ROOT_PASSWORD = "r00t-S3cret!"
AGENT_PASSWORD = "ag3nt-pw"


@pytest.fixture
def lockout(clock: FakeClock) -> LockoutTracker:
    return LockoutTracker(LockoutPolicy(max_failures=3, window=60, lock_seconds=120), clock=clock)


@pytest.fixture
def verifier(key_pair: AgentKeyPair, clock: FakeClock, lockout: LockoutTracker) -> RequestVerifier:
    return RequestVerifier(
        key_pair,
        StaticPasswords(root=ROOT_PASSWORD, agent=AGENT_PASSWORD),
        clock=clock,
        replay_cache=ReplayCache(clock=clock),
        lockout=lockout,
    )


def assert_refused(call: Callable[[], object], *failures: AuthFailure) -> AuthError:
    """The call is refused for one of ``failures``, with that failure's obshell code and status."""
    with pytest.raises(AuthError) as info:
        call()
    err = info.value
    assert err.failure in failures, f"refused for {err.failure}, expected {failures}"
    expected = err.failure.value
    assert (err.status, err.code, err.old_code) == (int(expected.kind), expected.code, expected.old_code)
    assert err.message.startswith("Unauthorized: "), err.message
    return err
