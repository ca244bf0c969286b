"""How an agent is started: its settings from the command line and the environment, and the one
error that stops a start (a line for the operator)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD_ENV = "OB_ROOT_PASSWORD"


class AgentStartError(Exception):
    """The agent cannot start; the message is one line meant for the operator."""


@dataclass(frozen=True)
class AgentConfig:
    home: Path
    ip: str
    port: int
    ob_home: Path
    root_password: str = field(repr=False)
    ob_probe_interval_s: float = 2.0


def password_from_env(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    if PASSWORD_ENV not in env:
        raise AgentStartError(f"{PASSWORD_ENV} is not set: the agent needs the root@sys password of the observer")
    return env[PASSWORD_ENV]
