"""The store: table creation and migration, stored encodings, creation errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from tests.engine.engine_helpers import StoreTarget
from tests.engine.engine_helpers import AGENTS, OWNER, Step, make_registry
from sqlalchemy import create_engine, inspect, select, text

from pyobshell.engine import Maintainer, MaintenanceType, Node, Task, TaskContext, TaskStore, TemplateBuilder
from pyobshell.engine.creation import create_dag
from pyobshell.engine.rows import DagRow
from pyobshell.engine.schema import StoreKind
from pyobshell.errors import ObshellError


def _create(store: TaskStore, builder: TemplateBuilder, ctx: TaskContext | None = None) -> DagRow:
    return create_dag(store, builder.build(), ctx, make_registry())


def test_tables_follow_the_obshell_layout(store_target: StoreTarget) -> None:
    store = TaskStore(store_target.url, store_target.kind, owner=OWNER)
    names = set(inspect(store.engine).get_table_names())
    assert {"dag_instance", "node_instance", "subtask_instance", "sub_task_log"} <= names
    dag_columns = {c["name"] for c in inspect(store.engine).get_columns("dag_instance")}
    if store_target.kind == StoreKind.CLUSTER:
        assert {"cluster_status", "partial_maintenance", "task_maintainer"} <= names
        assert {"maintenance_type", "maintenance_key"} <= dag_columns
    else:
        assert {"ocs_info", "task_mapping"} <= names
        assert "maintenance_type" not in dag_columns
    TaskStore(store_target.url, store_target.kind, owner=OWNER).close()  # a second start is harmless
    store.close()


def test_missing_columns_are_added_and_old_rows_read_as_global(sqlite_url: str) -> None:
    old = create_engine(sqlite_url)
    with old.begin() as conn:  # a cluster dag table from before maintenance_type existed
        conn.execute(text("CREATE TABLE dag_instance (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(128) "
                          "NOT NULL, type VARCHAR(128) NOT NULL DEFAULT '', stage INT NOT NULL, max_stage INT NOT "
                          "NULL, state INT NOT NULL, is_maintenance BOOLEAN NOT NULL DEFAULT 0, "
                          "is_finished BOOLEAN "
                          "NOT NULL DEFAULT 0, context TEXT, operator INT NOT NULL, start_time DATETIME, end_time "
                          "DATETIME)"))
        conn.execute(text("INSERT INTO dag_instance (name, stage, max_stage, state, is_maintenance, operator) "
                          "VALUES ('old', 1, 1, 4, 1, 1)"))
    old.dispose()
    store = TaskStore(sqlite_url, StoreKind.CLUSTER, owner=OWNER)
    with store.transaction() as conn:
        dag = store.get_dag(conn, 1)
    assert dag.maintainer == Maintainer(MaintenanceType.GLOBAL_MAINTENANCE)
    assert dag.context == TaskContext() and dag.start_time is None
    store.close()


def test_contexts_are_stored_as_base64_at_creation_and_read_back(sqlite_url: str) -> None:
    store = TaskStore(sqlite_url, StoreKind.LOCAL, owner=OWNER)
    dag = _create(store, TemplateBuilder("enc").add_task(Step(name="a")), TaskContext(params={"k": "v"}))
    with store.transaction() as conn:
        raw = conn.execute(select(store.tables.dag.c.context)).scalar_one()
        assert json.loads(base64.b64decode(raw))["Params"] == {"k": "v"}
        conn.execute(store.tables.subtask.update().values(context=json.dumps({"Params": {"plain": 1}})))
        task = store.subtasks_of_node(conn, store.node_at_stage(conn, dag.id, 1).id)[0]
    assert dag.context.params == {"k": "v"} and task.context.params == {"plain": 1}
    store.close()


class _Unregistered(Task):
    def execute(self) -> None:
        pass


@pytest.mark.parametrize(("builder", "ctx", "code"), [
    (TemplateBuilder("empty"), None, "Task.Template.Empty"),
    (TemplateBuilder("par").add_task(Step(name="p"), parallel=True), None, "Task.Template.Invalid"),
    (TemplateBuilder("two").add_node(Node(Step(name="n"), context=TaskContext(
        params={"execute_agents": [a.to_dict() for a in AGENTS[:2]]}))), None, "Task.Template.Invalid"),
    (TemplateBuilder("unknown").add_task(_Unregistered()), None, "Task.Type.NotRegistered"),
    (TemplateBuilder("agents").add_task(Step(name="p"), parallel=True),
     TaskContext(params={"execute_agents": "nope"}), "Task.Context.Invalid"),
])
def test_bad_templates_are_refused_with_a_code(sqlite_url: str, builder: TemplateBuilder,
                                              ctx: TaskContext | None, code: str) -> None:
    store = TaskStore(sqlite_url, StoreKind.LOCAL, owner=OWNER)
    with pytest.raises(ObshellError) as caught:
        _create(store, builder, ctx)
    assert caught.value.code == code
    assert f"Create task '{builder.build().name}' failed" in caught.value.message
    with store.transaction() as conn:
        assert store.dags(conn) == []
    store.close()


def test_an_unreachable_database_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ObshellError) as caught:
        TaskStore(f"sqlite:///{tmp_path}/missing-dir/x.db", StoreKind.LOCAL)
    assert caught.value.code == "Task.Engine.Unavailable"
