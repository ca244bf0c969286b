from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.observer_config import write_config
from pyobshell.ob.target import ObserverConfigError, load_observer_target


def test_reads_sql_port_zone_and_address(tmp_path: Path) -> None:
    write_config(tmp_path, {"mysql_port": "2881", "rpc_port": "2882", "zone": "zone2", "local_ip": "127.0.2.1"})
    target = load_observer_target(tmp_path, "127.0.0.9", "pw")
    assert (target.host, target.sql_port, target.rpc_port, target.zone) == ("127.0.2.1", 2881, 2882, "zone2")
    assert target.user == "root@sys" and target.password == "pw"
    assert "pw" not in repr(target)


def test_falls_back_to_agent_ip_without_local_ip(tmp_path: Path) -> None:
    write_config(tmp_path, {"mysql_port": "2881"})
    assert load_observer_target(tmp_path, "127.0.0.9", "").host == "127.0.0.9"


def test_missing_config_or_port_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ObserverConfigError):
        load_observer_target(tmp_path, "127.0.0.1", "")
    write_config(tmp_path, {"zone": "zone1"})
    with pytest.raises(ObserverConfigError, match="mysql_port"):
        load_observer_target(tmp_path, "127.0.0.1", "")
