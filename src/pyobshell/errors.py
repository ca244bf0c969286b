"""obshell-style errors, shared by every layer.

An error has a dotted code (``Task.NotFound``), a kind that decides the HTTP status, and an
English message. Lower layers raise :class:`ObshellError`; the API turns it into the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ErrorKind(IntEnum):
    """The HTTP status an error maps to (obshell's error kinds)."""

    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    NOT_FOUND = 404
    REQUEST_TIMEOUT = 408  # the client stalled while sending its request
    CONFLICT = 409
    TOO_MANY_REQUESTS = 429
    UNEXPECTED = 500
    UNAVAILABLE = 503  # a dependency (the cluster's database) cannot be reached now: try again


@dataclass(frozen=True)
class ErrorCode:
    """A dotted error code, its kind and its message format (``str.format`` style).

    ``old_code`` is obshell's numeric code from before 4.3.1.0 (``code`` in the envelope), which
    clients still branch on (the SDK refreshes its cached key on 1); 0 means none."""

    code: str
    kind: ErrorKind
    template: str
    old_code: int = 0

    def __call__(self, *args: object) -> "ObshellError":
        """Build the error with its message filled in: ``TASK_NOT_FOUND("dag 12")``."""
        message = self.template.format(*args) if args else self.template.replace("{}", "").strip(": ")
        return ObshellError(self, message)


class ObshellError(Exception):
    """An error with an obshell code; ``status`` is the HTTP status it is answered with."""

    def __init__(self, error_code: ErrorCode, message: str, sub_errors: list[object] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.sub_errors = sub_errors or []
        self.headers = headers or {}  # extra HTTP headers of the answer (Retry-After)

    @property
    def code(self) -> str:
        return self.error_code.code

    @property
    def status(self) -> int:
        return int(self.error_code.kind)

    @property
    def old_code(self) -> int:
        return self.error_code.old_code

    def wrap(self, outer: str) -> "ObshellError":
        """Prefix the message with context, keeping the code (obshell's ``Wrap``)."""
        return ObshellError(self.error_code, f"{outer}: {self.message}", self.sub_errors, self.headers)


def _code(code: str, kind: ErrorKind, template: str) -> ErrorCode:
    return ErrorCode(code, kind, template)


B, U, N, X = ErrorKind.BAD_REQUEST, ErrorKind.UNAUTHORIZED, ErrorKind.NOT_FOUND, ErrorKind.UNEXPECTED
S = ErrorKind.UNAVAILABLE

# Common
COMMON_BAD_REQUEST = _code("Common.BadRequest", B, "Bad request: {}")
COMMON_ILLEGAL_ARGUMENT = _code("Common.IllegalArgument", B, "Illegal argument: {}")
COMMON_BIND_JSON_FAILED = _code("Common.BindJsonFailed", B, "Bind JSON failed: {}")
COMMON_NOT_FOUND = _code("Common.NotFound", N, "Element not found: {}")
COMMON_UNAUTHORIZED = _code("Common.Unauthorized", U, "Unauthorized: {}")
COMMON_UNEXPECTED = _code("Common.Unexpected", X, "Unexpected error: {}")
MYSQL_ERROR = _code("MySQL.Error", B, "{}")
DATABASE_UNAVAILABLE = _code("Common.DatabaseUnavailable", S, "The database cannot serve the request now: {}")

# Metrics: ``/metrics`` with PYOBSHELL_METRICS_TOKEN set and no (or a wrong) bearer token. The
# other credential refusals are ``security.auth_error.AuthFailure``: they come from obshell's header.
METRICS_TOKEN_INCORRECT = _code("Security.Authentication.Metrics.IncorrectToken", U, "Unauthorized: {}")

# Task engine
TASK_NOT_FOUND = _code("Task.NotFound", N, "Task not found: {}")
TASK_GENERIC_ID_INVALID = _code("Task.GenericID.Invalid", B, "Invalid ID: {}")
TASK_CREATE_FAILED = _code("Task.CreateFailed", X, "Failed to create task: {}")
TASK_EXPIRED = _code("Task.Expired", X, "Task expired: {}")
TASK_TEMPLATE_EMPTY = _code("Task.Template.Empty", X, "Task template is empty: {}")
NO_ROW_AFFECTED = _code("Gorm.NoRowAffected", X, "{}: no row affected")
DAG_OPERATOR_NOT_SUPPORT = _code("Task.Dag.Operator.NotSupport", B, "Failed to operate DAG: operator {} not supported")
DAG_RETRY_NOT_FAILED = _code("Task.Dag.Operator.RetryNotFailedDag", B, "Failed to retry DAG: DAG {} is not failed")
DAG_RETRY_NOT_ALLOWED = _code("Task.Dag.Operator.RetryNotAllowed", B, "Failed to retry DAG: {}")
DAG_ROLLBACK_NOT_FAILED = _code("Task.Dag.Operator.RollbackNotFailedDag", B, "Failed to rollback DAG: DAG {} is not failed")
DAG_ROLLBACK_NOT_ALLOWED = _code("Task.Dag.Operator.RollbackNotAllowed", B, "Failed to rollback DAG: {}")
DAG_CANCEL_FINISHED = _code("Task.Dag.Operator.CancelFinishedDag", B, "Failed to cancel DAG: DAG is finished")
DAG_CANCEL_NOT_ALLOWED = _code("Task.Dag.Operator.CancelNotAllowed", B, "Failed to cancel DAG: {}")
DAG_PASS_NOT_FAILED = _code("Task.Dag.Operator.PassNotFailedDag", B, "Failed to pass DAG: DAG {} is not failed")
DAG_PASS_NOT_ALLOWED = _code("Task.Dag.Operator.PassNotAllowed", B, "Failed to pass DAG: {}")
DAG_PAUSE_NOT_RUNNING = _code("Task.Dag.Operator.PauseNotRunningDag", B,
                              "Failed to pause DAG: DAG {} is {}; only a ready or running DAG can be paused")
DAG_PAUSE_ALREADY_PAUSED = _code("Task.Dag.Operator.PauseAlreadyPaused", B,
                                 "Failed to pause DAG: DAG {} is already paused ({})")
DAG_RESUME_NOT_PAUSED = _code("Task.Dag.Operator.ResumeNotPausedDag", B,
                              "Failed to resume DAG: DAG {} is not paused (it is {})")
DAG_BEING_CREATED = _code("Task.Dag.Operator.DagBeingCreated", ErrorKind.CONFLICT,
                          "Failed to operate DAG: DAG {} is being created (its start is still checking the "
                          "cluster); try again in a moment")
NODE_OPERATOR_NOT_SUPPORT = _code("Task.Node.Operator.NotSupport", B, "Failed to operate node: operator {} not supported")
NODE_PASS_NOT_FAILED_DAG = _code("Task.Node.Operator.PassNotFailedDag", B, "Failed to pass node: DAG {} is not failed")
NODE_PASS_NOT_FAILED_NODE = _code("Task.Node.Operator.PassNotFailedNode", B, "Failed to pass node: node {} is not failed")
NODE_PASS_NOT_ALLOWED = _code("Task.Node.Operator.PassNotAllowed", B, "Failed to pass node: {}")

# Maintenance
# obshell answers these 500 ("known"); they are a conflict with a task already running: 409.
C = ErrorKind.CONFLICT
CLUSTER_UNDER_MAINTENANCE_WITH_DAG = _code(
    "OB.Cluster.UnderMaintenanceWithDag",
    C,
    "OceanBase cluster is under maintenance by DAG: {}, please try again later",
)
CLUSTER_UNDER_MAINTENANCE = _code("OB.Cluster.UnderMaintenance", C, "OceanBase cluster is under maintenance")
AGENT_UNDER_MAINTENANCE = _code("Agent.UnderMaintenance", X, "{} is under maintenance")
