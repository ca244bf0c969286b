"""obState: how usable the observer is (obshell's 0..3 scale) and the probe that measures it."""

from __future__ import annotations

from enum import IntEnum

from pyobshell.errors import ObshellError
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.ob.process import observer_running

# obshell's probes: a statement that needs the full SQL engine, then one that needs only a session.
AVAILABLE_PROBE_SQL = "SHOW DATABASES"
RESTRICTED_PROBE_SQL = "SELECT 1"
DEFAULT_PROBE_TIMEOUT_S = 2.0


class ObState(IntEnum):
    NOT_RUNNING = 0  # observer process not running
    RUNNING = 1  # process running, no SQL connection
    RESTRICTED = 2  # a session works, but not the full SQL engine
    AVAILABLE = 3  # SQL connection available

    @property
    def short_name(self) -> str:
        return self.name.replace("_", " ")


def probe_ob_state(pool: ObConnectionPool, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> ObState:
    """Measure the observer's state now (blocking: call it from a worker thread)."""
    if not observer_running(pool.target.ob_home):
        return ObState.NOT_RUNNING
    try:
        pool.query(AVAILABLE_PROBE_SQL, read_timeout_s=timeout_s)
        return ObState.AVAILABLE
    except ObshellError as exc:
        if exc.error_code is OB_NOT_CONNECTED:
            return ObState.RUNNING  # no session at all: no point in the weaker probe
    try:
        pool.query(RESTRICTED_PROBE_SQL, read_timeout_s=timeout_s)
        return ObState.RESTRICTED
    except ObshellError:
        return ObState.RUNNING
