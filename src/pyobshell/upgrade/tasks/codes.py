"""Error codes of the upgrade tasks (obshell's names where obshell has one)."""

from __future__ import annotations

from pyobshell.errors import ErrorCode, ErrorKind

X = ErrorKind.UNEXPECTED

CONTEXT_INVALID = ErrorCode("Task.Context.Invalid", X, "Invalid upgrade task context: {}")
WITHOUT_PYTHON = ErrorCode("Environment.WithoutPython", X, "{}")
WITHOUT_MODULE = ErrorCode("Environment.WithoutModule", X, "{}")
DIR_NOT_EMPTY = ErrorCode("Common.DirNotEmpty", X, "{}")
DIR_FAILED = ErrorCode("Common.IO.Failed", X, "{}")
DISK_SPACE_NOT_ENOUGH = ErrorCode("Environment.DiskSpaceNotEnough", X, "{}")
PACKAGE_NOT_FOUND = ErrorCode("OB.Package.NotExist", X, "{}")
PACKAGE_MISMATCH = ErrorCode("OB.Package.Mismatch", X, "{}")
PACKAGE_SMOKE_TEST_FAILED = ErrorCode("OB.Package.SmokeTestFailed", X, "{}")
SCRIPT_FAILED = ErrorCode("OB.Upgrade.ScriptFailed", X, "{}")
ASYNC_OPERATION_TIMEOUT = ErrorCode("OB.Cluster.AsyncOperationTimeout", X, "{}")
MINOR_FREEZE_TIMEOUT = ErrorCode("OB.Cluster.MinorFreezeTimeout", X, "{}")
PARAMETER_SCOPE_INVALID = ErrorCode("OB.Parameter.Scope.Invalid", X, "{}")
OBSERVER_KILL_TIMEOUT = ErrorCode("OB.Observer.KillTimeout", X, "{}")
OBSERVER_START_FAILED = ErrorCode("OB.Observer.StartFailed", X, "{}")
OBSERVER_NOT_AVAILABLE = ErrorCode("OB.Observer.WaitAvailableTimeout", X, "{}")
VERSION_MISMATCH = ErrorCode("OB.Upgrade.VersionMismatch", X, "{}")
LEADERS_NOT_DRAINED = ErrorCode("OB.Zone.LeadersNotDrained", X, "{}")
VIEW_UNEXPECTED = ErrorCode("OB.View.UnexpectedRows", X, "{}")
