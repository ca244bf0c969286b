from pyobshell.security.replay_cache import ReplayCache

from tests.helpers.clock import FakeClock


def test_same_ciphertext_refused_until_it_expires():
    clock = FakeClock(1000)
    cache = ReplayCache(clock=clock)
    assert cache.add_if_new(b"h1", expires_at=1010)
    assert not cache.add_if_new(b"h1", expires_at=1010)
    assert cache.add_if_new(b"h2", expires_at=1010)
    clock.advance(10)
    assert len(cache) == 0
    assert cache.add_if_new(b"h1", expires_at=1020)  # the time check refuses it by now anyway


def test_memory_is_bounded_and_soonest_expiring_dropped_first():
    clock = FakeClock(0)
    cache = ReplayCache(max_entries=3, clock=clock)
    for i, expiry in enumerate([50, 10, 40]):
        assert cache.add_if_new(f"h{i}".encode(), expiry)
    assert cache.add_if_new(b"h3", 30)
    assert len(cache) == 3
    assert not any(cache.add_if_new(h, 99) for h in (b"h0", b"h2", b"h3"))
    assert cache.add_if_new(b"h1", 60)  # h1 (expiry 10) was the one dropped


def test_already_expired_entry_not_stored():
    clock = FakeClock(100)
    cache = ReplayCache(clock=clock)
    assert cache.add_if_new(b"old", 50)
    assert len(cache) == 0
