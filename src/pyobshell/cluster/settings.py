"""Timings of cluster mode, from the environment so tests can make them small."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pyobshell.env_seconds import seconds

LEASE_ENV = "PYOBSHELL_MAINTAINER_LEASE_S"
RENEW_ENV = "PYOBSHELL_MAINTAINER_RENEW_S"
SILENCE_ENV = "PYOBSHELL_EXECUTOR_SILENCE_S"


class SettingsError(ValueError):
    """A cluster timing from the environment is not usable."""


@dataclass(frozen=True)
class ClusterSettings:
    lease_s: float = 6.0  # a maintainer that has not renewed for this long (DB clock) is gone
    renew_s: float = 2.0  # renew (maintainer) / check (watchers) this often; well within the lease
    sync_s: float = 1.0  # the executor's sync loop for results and logs not yet written back
    tick_s: float = 1.0  # the cluster scheduler's safety-net tick
    rpc_timeout_s: float = 5.0
    join_retry_s: float = 1.0
    executor_silence_s: float = 60.0  # an executor without a heart-beat this long is taken for dead

    def __post_init__(self) -> None:
        if self.lease_s <= 0 or self.renew_s <= 0:
            raise SettingsError("lease and renew interval must be positive")
        if self.executor_silence_s < self.renew_s * 3:
            raise SettingsError(f"executor silence {self.executor_silence_s} s must be at least three "
                                f"heart-beats ({self.renew_s} s each)")
        if self.renew_s * 2 > self.lease_s:
            raise SettingsError(f"renew interval {self.renew_s} s must be at most half the lease {self.lease_s} s")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ClusterSettings":
        values = os.environ if env is None else env
        defaults = cls()
        lease = seconds(values, LEASE_ENV, defaults.lease_s, error=SettingsError)
        renew = seconds(values, RENEW_ENV, defaults.renew_s, error=SettingsError)
        silence = seconds(values, SILENCE_ENV, defaults.executor_silence_s, error=SettingsError)
        return cls(lease_s=lease, renew_s=renew, executor_silence_s=silence)
