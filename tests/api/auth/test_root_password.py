"""The root@sys password check: real logins, the cache, adoption and the sealed copy."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.agent.root_password import RootPasswordKeeper
from pyobshell.api.state import AgentState
from pyobshell.errors import ObshellError
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.sealed_secret import SealedSecretFile
from pyobshell.security.verified_password import DEFAULT_TTL_S, LoginOutcome, VerifiedPasswordCache, Verdict
from tests.helpers.clock import FakeClock


class FakeObserver:
    """Answers logins like an observer with ``password``; ``reachable=False`` answers nothing."""

    def __init__(self, password: str):
        self.password, self.reachable, self.logins = password, True, 0

    def __call__(self, candidate: str) -> LoginOutcome:
        self.logins += 1
        if not self.reachable:
            return LoginOutcome.UNREACHABLE
        return LoginOutcome.ACCEPTED if candidate == self.password else LoginOutcome.DENIED


@pytest.fixture
def observer() -> FakeObserver:
    return FakeObserver("pw1")


@pytest.fixture
def store(tmp_path: Path, key_pair: AgentKeyPair) -> SealedSecretFile:
    return SealedSecretFile(tmp_path / "root_password.sealed", key_pair)


def keeper(observer: FakeObserver, clock: FakeClock, store: SealedSecretFile | None = None, initial: str = "pw1", changes: list | None = None) -> RootPasswordKeeper:
    return RootPasswordKeeper(observer, initial, store=store, clock=clock, on_change=(changes.append if changes is not None else None))


def test_a_burst_of_checks_costs_one_login(observer: FakeObserver, clock: FakeClock) -> None:
    checker = keeper(observer, clock)
    assert all(checker.check("pw1") for _ in range(5))
    assert observer.logins == 1
    clock.advance(DEFAULT_TTL_S + 1)
    assert checker.check("pw1") and observer.logins == 2  # checked again once stale


class SlowObserver(FakeObserver):
    """Holds each login until released, so that checks arriving meanwhile overlap it."""

    def __init__(self, password: str):
        super().__init__(password)
        self.release = threading.Event()

    def __call__(self, candidate: str) -> LoginOutcome:
        self.release.wait(10)
        return super().__call__(candidate)


@pytest.mark.parametrize("candidate, accepted", [("pw1", True), ("guess", False)])
def test_checks_that_arrive_together_share_one_login(clock: FakeClock, candidate: str, accepted: bool) -> None:
    slow = SlowObserver("pw1")
    checker = VerifiedPasswordCache(slow, clock=clock)
    with ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(checker.check, candidate) for _ in range(8)]
        time.sleep(0.5)  # every check has started: one logs in, the others wait for it
        slow.release.set()
        verdicts = [answer.result(10) for answer in answers]
    assert [v.accepted for v in verdicts] == [accepted] * 8
    assert slow.logins == 1
    assert checker.check("other") is Verdict.WRONG and slow.logins == 2  # another candidate logs in itself


def test_wrong_password_is_refused_by_the_observer(observer: FakeObserver, clock: FakeClock) -> None:
    checker = keeper(observer, clock)
    assert not checker.check("guess") and not checker.check("guess")
    assert observer.logins == 2  # a refusal is never cached as a success


def test_known_password_works_while_the_observer_is_down(observer: FakeObserver, clock: FakeClock) -> None:
    checker = keeper(observer, clock)
    observer.reachable = False
    assert checker.check("pw1")  # the start-up password, not yet verified
    assert not checker.check("other")  # nothing else can be verified now


def test_password_changed_in_oceanbase_is_adopted_and_sealed(
    observer: FakeObserver, clock: FakeClock, store: SealedSecretFile, key_pair: AgentKeyPair
) -> None:
    changes: list[str] = []
    checker = keeper(observer, clock, store, changes=changes)
    observer.password = "pw2"  # ALTER USER outside the agent
    clock.advance(DEFAULT_TTL_S + 1)
    assert not checker.check("pw1")  # the observer now refuses the old one
    assert checker.check("pw2")
    assert checker.current() == "pw2" and changes == ["pw2"]
    sealed = store.path.read_bytes()
    assert b"pw2" not in sealed and store.path.stat().st_mode & 0o777 == 0o600
    assert SealedSecretFile(store.path, key_pair).load() == "pw2"
    observer.reachable = False
    assert not checker.check("pw1")  # forgotten when the observer refused it


def test_stored_password_is_used_when_none_is_given(observer: FakeObserver, clock: FakeClock, store: SealedSecretFile) -> None:
    store.save("pw1")
    assert keeper(observer, clock, store, initial="").current() == "pw1"


def test_a_sealed_file_from_another_key_is_a_clear_error(tmp_path: Path, store: SealedSecretFile) -> None:
    # PKCS#1 v1.5 with a wrong key may "decrypt" to random bytes (implicit rejection): the file
    # names its key, so the refusal never depends on luck. Two keys, many tries.
    store.save("pw")
    for other in (AgentKeyPair.generate(), AgentKeyPair.generate()):
        for _ in range(20):
            with pytest.raises(ObshellError) as info:
                SealedSecretFile(store.path, other).load()
            assert info.value.code == "Security.SealedSecret.Failed"


def test_a_sealed_file_of_one_line_written_before_is_still_read(store: SealedSecretFile) -> None:
    store.save("old-pw")
    store.path.write_text(store.path.read_text().splitlines()[0] + "\n")
    assert store.load() == "old-pw"


def test_an_empty_sealed_file_is_a_clear_error(store: SealedSecretFile) -> None:
    store.path.write_text("")
    with pytest.raises(ObshellError) as info:
        store.load()
    assert info.value.code == "Security.SealedSecret.Failed"


def test_agent_state_root_password(tmp_path: Path, key_pair: AgentKeyPair, observer: FakeObserver, clock: FakeClock) -> None:
    checker = keeper(observer, clock)
    state = AgentState(ip="127.0.0.1", port=1, home=tmp_path, security=AgentSecurity.create(key_pair, root_password=checker))
    assert state.root_password() == "pw1"
    observer.password = "pw3"
    assert checker.check("pw3") and state.root_password() == "pw3"
    assert AgentState(ip="127.0.0.1", port=1, home=tmp_path).root_password() == ""


def test_a_sealed_copy_made_with_a_lost_key_pair_is_ignored_and_replaced(
        observer: FakeObserver, clock: FakeClock, tmp_path: Path, key_pair: AgentKeyPair) -> None:
    """A home whose key pair was lost (made anew at start) still starts; the copy is rewritten."""
    path = tmp_path / "root_password.sealed"
    SealedSecretFile(path, AgentKeyPair.generate()).save("pw1")  # sealed with the old, lost key
    checker = keeper(observer, clock, SealedSecretFile(path, key_pair), initial="pw1")
    assert checker.current() == "pw1"
    assert checker.check("pw1")
    assert SealedSecretFile(path, key_pair).load() == "pw1"  # sealed again with the new key
