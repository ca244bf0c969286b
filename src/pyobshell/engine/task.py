"""Task types: the base class concrete tasks extend, and the registry that names them.

A task type is a subclass of :class:`Task` registered under a name (obshell's struct name).
Its ``execute()`` / ``rollback()`` / ``cancel()`` hooks run in an executor worker thread, so
blocking work is fine there. Capability flags are class attributes. Cancellation and timeouts
are cooperative, as in obshell: the task is stopped at its next log call (or ``sleep``), where
:class:`TaskInterrupted` is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pyobshell.engine import codes
from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import AgentInfo, Operator
from pyobshell.errors import ObshellError


class TaskInterrupted(BaseException):
    """Raised inside a task that was cancelled or timed out.

    A BaseException so that task code catching ``Exception`` cannot swallow it (obshell
    ends the goroutine with ``runtime.Goexit``).
    """


class WaitOperator(Exception):
    """Raise to fail on purpose while waiting for an operator (obshell's ERR_WAIT_OPERATOR).

    It is logged at info level, without the ``ERROR:`` prefix.
    """

    def __init__(self, message: str = "wait for operator"):
        super().__init__(message)


LogSink = Callable[[str], None]


class Task:
    """Base of every task type. Subclasses implement :meth:`execute`.

    Task types must be constructible without arguments: everything a run needs comes from
    the context (obshell builds a zero value of the struct and fills it in).
    """

    name: ClassVar[str] = ""
    can_cancel: ClassVar[bool] = False
    can_continue: ClassVar[bool] = False
    can_retry: ClassVar[bool] = False
    can_rollback: ClassVar[bool] = False
    can_pass: ClassVar[bool] = False

    def __init__(self, name: str | None = None, context: TaskContext | None = None):
        self.task_name = name or self.name or type(self).__name__
        self.context = context or TaskContext()
        self.id = 0
        self.operator = Operator.RUN
        self.execute_times = 0
        self.executer_agent = AgentInfo("127.0.0.1", 0)
        self.is_continue = False
        self._interrupt = threading.Event()
        self._log_sink: LogSink | None = None

    # -- hooks ----------------------------------------------------------------------------
    def execute(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        """Undo :meth:`execute`. The default succeeds only when rolling back on purpose."""
        if self.operator != Operator.ROLLBACK:
            raise RuntimeError("task does not support rollback")

    def cancel(self) -> None:
        """Called after a cancel so the task can stop blocking work (default: nothing)."""

    def get_additional_data(self) -> dict[str, Any] | None:
        """Data shown in DTOs (``additional_data``); usually read from the context."""
        return None

    # -- runtime --------------------------------------------------------------------------
    def bind(self, *, task_id: int, operator: Operator, execute_times: int, agent: AgentInfo,
             context: TaskContext, name: str | None = None, is_continue: bool = False,
             log_sink: LogSink | None = None) -> None:
        """Attach a stored sub-task's runtime state (called by the executor and the DTOs)."""
        self.id = task_id
        self.task_name = name or self.task_name
        self.operator = operator
        self.execute_times = execute_times
        self.executer_agent = agent
        self.context = context
        self.is_continue = is_continue
        self._log_sink = log_sink

    def interrupt(self) -> None:
        """Ask the task to stop at its next log call or sleep (cancel, timeout, shutdown)."""
        self._interrupt.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupt.is_set()

    def check_interrupted(self) -> None:
        if self._interrupt.is_set():
            raise TaskInterrupted(f"task {self.id} interrupted")

    def sleep(self, seconds: float) -> None:
        """Sleep, but return early by raising :class:`TaskInterrupted` when interrupted."""
        if self._interrupt.wait(max(seconds, 0.0)):
            raise TaskInterrupted(f"task {self.id} interrupted")

    # -- logging --------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self.check_interrupted()
        if self._log_sink is not None:
            self._log_sink(message)

    def log_info(self, message: str) -> None:
        self.log(message)

    def log_warn(self, message: str) -> None:
        self.log(f"WARN: {message}")

    def log_error(self, message: str, error: BaseException | None = None) -> None:
        self.log(f"ERROR: {message}{': ' + describe_error(error) if error else ''}")

    # -- context helpers ------------------------------------------------------------------
    def get_local_data(self, key: str, default: Any = None) -> Any:
        return self.context.get_agent_data(self.executer_agent, key, default)

    def set_local_data(self, key: str, value: Any) -> None:
        self.context.set_agent_data(self.executer_agent, key, value)


def describe_error(error: BaseException) -> str:
    """``[Code]: message`` for coded errors, the plain text otherwise (as obshell logs)."""
    if isinstance(error, ObshellError):
        return f"[{error.code}]: {error.message}"
    return str(error) or type(error).__name__


T = TypeVar("T", bound=type[Task])


class TaskRegistry:
    """Task types by name; DAG rows name their type so it can be rebuilt after a restart."""

    def __init__(self) -> None:
        self._types: dict[str, type[Task]] = {}
        self._lock = threading.Lock()

    def register(self, task_type: type[Task], name: str | None = None) -> type[Task]:
        if not (isinstance(task_type, type) and issubclass(task_type, Task)):
            raise TypeError(f"{task_type!r} is not a Task subclass")
        key = name or task_type.__name__
        with self._lock:
            existing = self._types.get(key)
            if existing is not None and existing is not task_type:
                raise ValueError(f"task type name {key!r} is already registered")
            self._types[key] = task_type
        return task_type

    def name_of(self, task_type: type[Task]) -> str:
        for key, value in self._types.items():
            if value is task_type:
                return key
        raise codes.TASK_TYPE_NOT_REGISTERED(task_type.__name__)

    def get(self, name: str) -> type[Task]:
        try:
            return self._types[name]
        except KeyError:
            raise codes.TASK_TYPE_NOT_REGISTERED(name) from None

    def create(self, name: str) -> Task:
        return self.get(name)()

    def __contains__(self, name: object) -> bool:
        return name in self._types


DEFAULT_REGISTRY = TaskRegistry()


def register_task_type(task_type: T) -> T:
    """Class decorator registering a task type in the default registry."""
    DEFAULT_REGISTRY.register(task_type)
    return task_type
