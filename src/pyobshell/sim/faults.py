"""Fault injection for tests and rehearsals: switch simulated failures on and off."""

from __future__ import annotations

from pathlib import Path

from pyobshell.sim import cluster_state
from pyobshell.sim.server_health import FAULT_KINDS


def _state_dir(cluster_dir: Path) -> Path:
    state = cluster_dir / "state"
    if not cluster_state.state_path(state).exists():
        raise ValueError(f"{cluster_dir} holds no simulated cluster")
    return state


def set_fault(cluster_dir: Path, kind: str, target: str = "", value: str = "1") -> None:
    """Switch a fault on, for one server ('ip:rpc_port') or the whole cluster (target '')."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    conn = cluster_state.connect(cluster_state.state_path(_state_dir(cluster_dir)))
    try:
        conn.execute("INSERT OR REPLACE INTO __sim_fault (target, kind, value) VALUES (?, ?, ?)", (target, kind, value))
    finally:
        conn.close()


def clear_fault(cluster_dir: Path, kind: str, target: str = "") -> None:
    conn = cluster_state.connect(cluster_state.state_path(_state_dir(cluster_dir)))
    try:
        conn.execute("DELETE FROM __sim_fault WHERE kind = ? AND target = ?", (kind, target))
    finally:
        conn.close()
