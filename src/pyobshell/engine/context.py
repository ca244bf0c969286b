"""TaskContext: the params, outputs and per-agent outputs that flow along a DAG.

Stored as JSON with obshell's capitalised keys. Merge rules (obshell ``context.go``): params
are only filled in when absent, data is deep-merged with the newer value winning, and each
agent's data map is taken whole from the side that updated it more often.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from pyobshell.engine import codes
from pyobshell.engine.model import (
    APPROVAL_GATE_KEY,
    DEFAULT_TIMEOUT_SECONDS,
    EXECUTE_AGENTS_KEY,
    FAILURE_EXIT_MAINTENANCE_KEY,
    TIMEOUT_KEY,
    AgentInfo,
)

# A node's own keys, never passed on to the next node (a gate's key would make it a gate too).
RESERVED_KEYS = frozenset({EXECUTE_AGENTS_KEY, FAILURE_EXIT_MAINTENANCE_KEY, APPROVAL_GATE_KEY})


def _deep_merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclass
class TaskContext:
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    agent_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    agent_data_update_count: dict[str, int] = field(default_factory=dict)

    # -- params -------------------------------------------------------------------------
    def set_param(self, key: str, value: Any) -> "TaskContext":
        self.params[key] = value
        return self

    def has_param(self, key: str) -> bool:
        return key in self.params

    def get_param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def require_param(self, key: str) -> Any:
        """The param, or ``Task.Param.NotSet`` (obshell's ``GetParamWithValue``)."""
        if key not in self.params:
            raise codes.TASK_PARAM_NOT_SET(key)
        return self.params[key]

    def timeout_seconds(self) -> float:
        """The per-sub-task timeout: the ``timeout`` param in seconds, else 3600."""
        value = self.params.get(TIMEOUT_KEY)
        try:
            seconds = float(value) if value is not None else DEFAULT_TIMEOUT_SECONDS
        except (TypeError, ValueError):
            return DEFAULT_TIMEOUT_SECONDS
        return seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS

    def execute_agents(self) -> list[AgentInfo]:
        raw = self.params.get(EXECUTE_AGENTS_KEY) or []
        if not isinstance(raw, list):
            raise codes.TASK_CONTEXT_INVALID(f"{EXECUTE_AGENTS_KEY} must be a list")
        try:
            return [AgentInfo.from_any(item) for item in raw]
        except (ValueError, TypeError) as exc:
            raise codes.TASK_CONTEXT_INVALID(str(exc)) from exc

    # -- data ---------------------------------------------------------------------------
    def set_data(self, key: str, value: Any) -> "TaskContext":
        self.data[key] = value
        return self

    def get_data(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def require_data(self, key: str) -> Any:
        if key not in self.data:
            raise codes.TASK_DATA_NOT_SET(key)
        return self.data[key]

    def set_agent_data(self, agent: AgentInfo | str, key: str, value: Any) -> "TaskContext":
        agent_key = str(agent)
        self.agent_data.setdefault(agent_key, {})[key] = value
        self.agent_data_update_count[agent_key] = self.agent_data_update_count.get(agent_key, 0) + 1
        return self

    def get_agent_data(self, agent: AgentInfo | str, key: str, default: Any = None) -> Any:
        return self.agent_data.get(str(agent), {}).get(key, default)

    def require_agent_data(self, agent: AgentInfo | str, key: str) -> Any:
        values = self.agent_data.get(str(agent), {})
        if key not in values:
            raise codes.TASK_AGENT_DATA_NOT_SET(f"{agent} {key}")
        return values[key]

    # -- merging ------------------------------------------------------------------------
    def merge(self, other: "TaskContext", *, skip_params: frozenset[str] = frozenset()) -> "TaskContext":
        """Merge ``other`` into this context (in place) and return self."""
        for key, value in other.params.items():
            if key not in skip_params and key not in self.params:
                self.params[key] = copy.deepcopy(value)
        _deep_merge(self.data, other.data)
        for agent_key, count in other.agent_data_update_count.items():
            if count > self.agent_data_update_count.get(agent_key, 0):
                self.agent_data[agent_key] = copy.deepcopy(other.agent_data.get(agent_key, {}))
                self.agent_data_update_count[agent_key] = count
        for agent_key, values in other.agent_data.items():
            # Data written without a counter (hand-built contexts) still flows through.
            if agent_key not in self.agent_data:
                self.agent_data[agent_key] = copy.deepcopy(values)
        return self

    def merge_without_exec_agents(self, other: "TaskContext") -> "TaskContext":
        return self.merge(other, skip_params=frozenset({EXECUTE_AGENTS_KEY}))

    def merge_without_keywords(self, other: "TaskContext") -> "TaskContext":
        return self.merge(other, skip_params=RESERVED_KEYS)

    def clone(self) -> "TaskContext":
        return copy.deepcopy(self)

    # -- encoding -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "Params": self.params,
            "Data": self.data,
            "AgentData": self.agent_data,
            "AgentDataUpdateCount": self.agent_data_update_count,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_json_default, separators=(",", ":"))

    def to_base64_json(self) -> str:
        return base64.b64encode(self.to_json().encode()).decode()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TaskContext":
        return cls(
            params=dict(raw.get("Params") or {}),
            data=dict(raw.get("Data") or {}),
            agent_data={k: dict(v or {}) for k, v in (raw.get("AgentData") or {}).items()},
            agent_data_update_count={k: int(v) for k, v in (raw.get("AgentDataUpdateCount") or {}).items()},
        )

    @classmethod
    def decode(cls, text: str | None) -> "TaskContext":
        """Read a stored context: base64-of-JSON first, plain JSON as the fallback."""
        if not text:
            return cls()
        raw: Any = None
        try:
            raw = json.loads(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            try:
                raw = json.loads(text)
            except ValueError as exc:
                raise codes.TASK_CONTEXT_INVALID(str(exc)) from exc
        if not isinstance(raw, dict):
            raise codes.TASK_CONTEXT_INVALID("context is not a JSON object")
        return cls.from_dict(raw)


def _json_default(value: Any) -> Any:
    if isinstance(value, AgentInfo):
        return value.to_dict()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "total_seconds"):
        return int(value.total_seconds())
    raise TypeError(f"context value of type {type(value).__name__} is not JSON serialisable")
