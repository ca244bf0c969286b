"""Timing and identity settings of one simulated cluster, kept in its shared state."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, fields


@dataclass
class SimSettings:
    """Delays are seconds. Small in tests, realistic in the demo and the benchmarks."""

    cluster_name: str = "obcluster"
    cluster_id: int = 1
    root_password: str = ""
    lease: float = 3.0  # a silent observer turns INACTIVE after this
    startup_delay: float = 1.0  # process start → START_SERVICE_TIME set
    catchup_delay: float = 1.0  # in service → log streams in sync
    param_delay: float = 0.3  # ALTER SYSTEM SET → visible on every server
    job_delay: float = 2.0  # RUN UPGRADE JOB → SUCCESS
    freeze_delay: float = 1.0  # MINOR FREEZE → checkpoint_scn raised
    rpc_timeout: float = 2.0  # END ROLLING UPGRADE waits this long before 4012
    heartbeat_interval: float = 0.25
    leader_switch_delay: float = 1.0  # STOP ZONE / SWITCH REPLICA LEADER → the leader has moved

    @classmethod
    def fast(cls, **overrides: object) -> "SimSettings":
        """Short delays for tests."""
        base = dict(lease=1.5, startup_delay=0.3, catchup_delay=0.3, param_delay=0.1,
                    job_delay=0.5, freeze_delay=0.3, rpc_timeout=1.0, heartbeat_interval=0.15,
                    leader_switch_delay=0.3)
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    @classmethod
    def realistic(cls, **overrides: object) -> "SimSettings":
        """Delays that look like a small real cluster, for the demo and benchmarks."""
        base = dict(lease=3.0, startup_delay=2.0, catchup_delay=1.5, param_delay=0.5,
                    job_delay=3.0, freeze_delay=1.5, rpc_timeout=3.0, heartbeat_interval=0.25,
                    leader_switch_delay=1.0)
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def save(self, conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO __sim_setting (name, value) VALUES (?, ?)",
            [(name, str(value)) for name, value in asdict(self).items()],
        )

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> "SimSettings":
        stored = dict(conn.execute("SELECT name, value FROM __sim_setting").fetchall())
        values: dict[str, object] = {}
        for field in fields(cls):
            if field.name in stored:
                kind = type(getattr(cls(), field.name))
                values[field.name] = kind(stored[field.name])
        return cls(**values)  # type: ignore[arg-type]
