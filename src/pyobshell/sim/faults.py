"""Fault injection for tests and rehearsals: switch simulated failures on and off."""

from __future__ import annotations

from pathlib import Path

from pyobshell.sim import cluster_state, log_streams
from pyobshell.sim.server_health import FAULT_KINDS
from pyobshell.sim.sql_functions import now_us


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
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO __sim_fault (target, kind, value) VALUES (?, ?, ?)", (target, kind, value))
        log_streams.record(conn, now_us(), "fault_on", info=f"{kind} {target}")
        conn.execute("COMMIT")
    finally:
        conn.close()


def clear_fault(cluster_dir: Path, kind: str = "", target: str = "") -> list[str]:
    """Switch off fault ``kind`` of ``target`` or, with no kind, every fault of every target;
    returns what was switched off ('kind target')."""
    conn = cluster_state.connect(cluster_state.state_path(_state_dir(cluster_dir)))
    try:
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute("SELECT kind, target FROM __sim_fault").fetchall()
        chosen = [(k, t) for k, t in rows if not kind or (k, t) == (kind, target)] or ([(kind, target)] if kind else [])
        now = now_us()
        for fault_kind, fault_target in chosen:
            conn.execute("DELETE FROM __sim_fault WHERE kind = ? AND target = ?", (fault_kind, fault_target))
            # Held-back leader moves are due one switch delay after this (see log_streams).
            log_streams.record(conn, now, "fault_off", info=f"{fault_kind} {fault_target}")
        conn.execute("COMMIT")
        return [f"{k} {t}".strip() for k, t in chosen]
    finally:
        conn.close()
