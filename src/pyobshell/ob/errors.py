"""Error codes of the ob layer (obshell's names where obshell has one)."""

from __future__ import annotations

from pyobshell.errors import ErrorCode, ErrorKind

OB_CONFIG_INVALID = ErrorCode("Agent.OceanBase.Config.Invalid", ErrorKind.UNEXPECTED, "Invalid observer config: {}")
OB_NOT_CONNECTED = ErrorCode(
    "Agent.OceanBase.NotHold", ErrorKind.UNEXPECTED, "Cannot connect to OceanBase: {}"
)
OB_PROCESS_NOT_RUNNING = ErrorCode("OB.Observer.NotExist", ErrorKind.UNEXPECTED, "Observer process is not running: {}")
