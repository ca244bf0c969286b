"""Engine error codes that are not in the shared ``pyobshell.errors`` module."""

from __future__ import annotations

from pyobshell.errors import ErrorCode, ErrorKind

B, N, X = ErrorKind.BAD_REQUEST, ErrorKind.NOT_FOUND, ErrorKind.UNEXPECTED

TASK_PARAM_NOT_SET = ErrorCode("Task.Param.NotSet", X, "Param {} is not set")
TASK_DATA_NOT_SET = ErrorCode("Task.Data.NotSet", X, "Data {} is not set")
TASK_AGENT_DATA_NOT_SET = ErrorCode("Task.AgentData.NotSet", X, "Agent data {} is not set")
TASK_TYPE_NOT_REGISTERED = ErrorCode("Task.Type.NotRegistered", X, "task type {} not register")
TASK_TYPE_NOT_MATCH = ErrorCode("Task.Type.NotMatch", X, "task type not match: {}")
TASK_TEMPLATE_INVALID = ErrorCode("Task.Template.Invalid", X, "Invalid task template: {}")
TASK_CONTEXT_INVALID = ErrorCode("Task.Context.Invalid", X, "Invalid task context: {}")
TASK_OTHER_AGENT = ErrorCode("Task.GenericID.OtherAgent", B, "Task {} belongs to agent {}")
TASK_ENGINE_UNAVAILABLE = ErrorCode("Task.Engine.Unavailable", ErrorKind.UNAVAILABLE, "Task engine unavailable: {}")
TENANT_UNDER_MAINTENANCE = ErrorCode("OB.Tenant.UnderMaintenance", X, "Tenant {} is under maintenance")
MAINTAINER_NOT_INITED = ErrorCode("Task.Maintainer.NotInited", X, "status maintainer is not inited")
