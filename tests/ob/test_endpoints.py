"""Which observer a connection goes to: this agent's own first, then the others of the cluster."""

from __future__ import annotations

import pymysql
import pytest

from pyobshell.ob.endpoints import ObserverEndpoints, SqlEndpoint, is_unreachable

OWN, B, C = SqlEndpoint("127.0.1.1", 2881), SqlEndpoint("127.0.2.1", 2881), SqlEndpoint("127.0.3.1", 2881)
REFUSED = pymysql.err.OperationalError(2003, "Can't connect to MySQL server (Connection refused)")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def endpoints(clock: Clock) -> ObserverEndpoints:
    found = ObserverEndpoints(OWN, down_s=5.0, clock=clock)
    found.learn([(OWN.host, OWN.port), (B.host, B.port), (C.host, C.port)])
    return found


def opener(down: set[SqlEndpoint], tried: list[SqlEndpoint]):
    def open_connection(endpoint: SqlEndpoint) -> str:
        tried.append(endpoint)
        if endpoint in down:
            raise REFUSED
        return f"conn to {endpoint}"
    return open_connection


def test_the_own_observer_comes_first(endpoints):
    tried: list[SqlEndpoint] = []
    assert endpoints.connect(opener(set(), tried)) == f"conn to {OWN}"
    assert tried == [OWN]


def test_a_refusing_own_observer_is_skipped_for_a_while_then_tried_again(endpoints, clock):
    tried: list[SqlEndpoint] = []
    assert endpoints.connect(opener({OWN}, tried)) == f"conn to {B}"
    assert tried == [OWN, B]
    tried.clear()
    assert endpoints.connect(opener({OWN}, tried)) == f"conn to {B}"
    assert tried == [B]  # own refused a moment ago: not asked again yet
    clock.now += 6
    tried.clear()
    assert endpoints.connect(opener(set(), tried)) == f"conn to {OWN}"  # back in first place


def test_the_last_good_observer_is_tried_before_the_others(endpoints, clock):
    endpoints.connect(opener({OWN, B}, []))  # C answered
    assert endpoints.candidates() == [C, OWN, B]  # the refusing ones last while they may be down
    clock.now += 6
    assert endpoints.candidates() == [OWN, C, B]


def test_when_none_answers_the_last_error_is_raised(endpoints):
    with pytest.raises(pymysql.err.OperationalError):
        endpoints.connect(opener({OWN, B, C}, []))


def test_a_wrong_password_is_not_tried_on_every_observer(endpoints):
    tried: list[SqlEndpoint] = []

    def denied(endpoint: SqlEndpoint) -> str:
        tried.append(endpoint)
        raise pymysql.err.OperationalError(1045, "Access denied for user 'root'@'127.0.0.1'")

    with pytest.raises(pymysql.err.OperationalError):
        endpoints.connect(denied)
    assert tried == [OWN]


def test_unreachable_errors():
    assert is_unreachable(REFUSED) and is_unreachable(OSError("no route"))
    assert not is_unreachable(pymysql.err.OperationalError(1045, "denied"))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = REFUSED
    assert is_unreachable(wrapped)


def test_learning_the_servers_keeps_the_own_one_first(clock):
    endpoints = ObserverEndpoints(OWN, clock=clock)
    assert endpoints.candidates() == [OWN]
    endpoints.learn([(C.host, C.port), (OWN.host, OWN.port), (None, None)])
    assert endpoints.candidates() == [OWN, C]


def test_active_servers_of_other_zones_come_before_the_own_zones_peers(clock):
    """A zone's servers restart together: a stand-in from the own zone would go down with it."""
    peer = SqlEndpoint("127.0.1.2", 2881)
    endpoints = ObserverEndpoints(OWN, clock=clock)
    endpoints.learn([(OWN.host, OWN.port, "zone1", "ACTIVE"), (peer.host, peer.port, "zone1", "ACTIVE"),
                     (B.host, B.port, "zone2", "INACTIVE"), (C.host, C.port, "zone3", "ACTIVE")])
    assert endpoints.candidates() == [OWN, C, peer, B]
    assert endpoints.is_own(OWN.host, OWN.port) and not endpoints.is_own(C.host, C.port)
