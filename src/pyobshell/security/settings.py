"""Request-security settings an operator may change, read from the environment at agent start.

``PYOBSHELL_CLOCK_SKEW_S`` (default 300): how far a client's clock may be from the agent's, in
either direction, on top of the 1800 s lifetime obshell's web UI gives its headers (a browser
whose clock runs 90 s fast sends ``Ts`` = now + 1890 by the agent's clock).
``PYOBSHELL_SESSION_TIMEOUT_S`` (default 1800): a web session's idle lifetime (it slides on use).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pyobshell.env_seconds import seconds
from pyobshell.security.request_verifier import VerifierSettings
from pyobshell.security.session_store import DEFAULT_TIMEOUT_S

CLOCK_SKEW_ENV = "PYOBSHELL_CLOCK_SKEW_S"
SESSION_TIMEOUT_ENV = "PYOBSHELL_SESSION_TIMEOUT_S"
MAX_CLOCK_SKEW_S = 3600.0  # beyond this the replay window stops meaning anything


class SecuritySettingsError(ValueError):
    """A setting from the environment is not usable; the message names it."""


@dataclass(frozen=True)
class SecuritySettings:
    verifier: VerifierSettings = VerifierSettings()
    session_timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SecuritySettings":
        values = os.environ if env is None else env
        skew = seconds(values, CLOCK_SKEW_ENV, VerifierSettings().clock_skew, maximum=MAX_CLOCK_SKEW_S,
                       error=SecuritySettingsError)
        timeout = seconds(values, SESSION_TIMEOUT_ENV, DEFAULT_TIMEOUT_S, minimum=1.0, maximum=7 * 24 * 3600.0,
                          error=SecuritySettingsError)
        return cls(verifier=VerifierSettings(clock_skew=skew), session_timeout_s=timeout)
