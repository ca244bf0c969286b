"""TaskContext merge rules and stored encodings."""

from __future__ import annotations

import base64
import json

import pytest

from pyobshell.engine import AgentInfo, TaskContext
from pyobshell.errors import ObshellError


def test_params_are_only_filled_in_when_absent() -> None:
    mine = TaskContext(params={"a": 1})
    mine.merge(TaskContext(params={"a": 2, "b": 3}))
    assert mine.params == {"a": 1, "b": 3}


def test_data_is_deep_merged_with_the_newer_value_winning() -> None:
    mine = TaskContext(data={"x": {"keep": 1, "over": 1}, "y": 1})
    mine.merge(TaskContext(data={"x": {"over": 2, "new": 3}, "z": 4}))
    assert mine.data == {"x": {"keep": 1, "over": 2, "new": 3}, "y": 1, "z": 4}


def test_agent_data_is_taken_whole_from_the_side_updated_more_often() -> None:
    a, b = AgentInfo("10.0.0.1", 2886), AgentInfo("10.0.0.2", 2886)
    mine = TaskContext().set_agent_data(a, "k", "old").set_agent_data(a, "other", 1)
    theirs = TaskContext().set_agent_data(a, "k", "x").set_agent_data(a, "k", "y").set_agent_data(a, "k", "new")
    theirs.set_agent_data(b, "k", "b")
    mine.merge(theirs)
    assert mine.agent_data[str(a)] == {"k": "new"}
    assert mine.get_agent_data(b, "k") == "b"
    stale = TaskContext().set_agent_data(a, "k", "stale")
    mine.merge(stale)
    assert mine.get_agent_data(a, "k") == "new"


def test_merge_without_keywords_skips_reserved_params() -> None:
    mine = TaskContext()
    reserved = {"execute_agents": [], "failure_exit_maintenance": True}
    mine.merge_without_keywords(TaskContext(params={**reserved, "v": 1}))
    assert mine.params == {"v": 1}
    other = TaskContext()
    other.merge_without_exec_agents(TaskContext(params={"execute_agents": [], "failure_exit_maintenance": True}))
    assert other.params == {"failure_exit_maintenance": True}


def test_plain_and_base64_json_both_decode_with_capitalised_keys() -> None:
    ctx = TaskContext(params={"timeout": 5}, data={"d": [1]})
    raw = json.loads(ctx.to_json())
    assert set(raw) == {"Params", "Data", "AgentData", "AgentDataUpdateCount"}
    assert TaskContext.decode(ctx.to_json()) == ctx
    assert TaskContext.decode(ctx.to_base64_json()) == ctx
    assert TaskContext.decode(base64.b64encode(b'{"Params":{"a":1}}').decode()).params == {"a": 1}
    assert TaskContext.decode(None) == TaskContext()


@pytest.mark.parametrize("text", ["not json", "[1,2]", base64.b64encode(b"[]").decode()])
def test_broken_contexts_give_a_typed_error(text: str) -> None:
    with pytest.raises(ObshellError) as caught:
        TaskContext.decode(text)
    assert caught.value.code == "Task.Context.Invalid"


def test_timeout_param_defaults_to_an_hour() -> None:
    assert TaskContext().timeout_seconds() == 3600
    assert TaskContext(params={"timeout": 2}).timeout_seconds() == 2
    assert TaskContext(params={"timeout": "bad"}).timeout_seconds() == 3600


def test_missing_values_give_the_not_set_codes() -> None:
    ctx = TaskContext()
    for call, code in ((lambda: ctx.require_param("p"), "Task.Param.NotSet"),
                       (lambda: ctx.require_data("d"), "Task.Data.NotSet"),
                       (lambda: ctx.require_agent_data("1.1.1.1:1", "k"), "Task.AgentData.NotSet")):
        with pytest.raises(ObshellError) as caught:
            call()
        assert caught.value.code == code
