from __future__ import annotations

import pytest

from tests.helpers import nets


def test_every_fixed_net_is_unique_and_outside_the_worker_range():
    fixed = nets.fixed_nets()
    assert len(set(fixed.values())) == len(fixed), "two modules share a simulated net"
    assert all(0 <= net <= 255 for net in fixed.values())
    assert not any(nets._WORKER_FIRST <= net <= nets._WORKER_LAST for net in fixed.values())


@pytest.mark.parametrize("index", [0, 1, 3, 15, 78])
def test_worker_nets_are_valid_for_many_workers(monkeypatch, index):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
    assert nets.worker_net() == 120 + index <= 255


def test_too_many_workers_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw200")
    with pytest.raises(RuntimeError, match="no simulated net left"):
        nets.worker_net()
