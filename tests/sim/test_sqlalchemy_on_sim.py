"""The agent keeps its cluster tables in the simulated cluster through SQLAlchemy Core, as it
would in a real OceanBase: DDL, reflection, auto-increment keys, CAS updates, duplicate keys."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from tests.helpers.sim import sim_cluster
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess
PASSWORD = "sapw"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("sa") / "c"
    with sim_cluster(directory, net=nets.SQLALCHEMY_ON_SIM, zones=1, password=PASSWORD) as document:
        ip = document["observers"][0]["ip"]
        admin = sa.create_engine(f"mysql+pymysql://root%40sys:{PASSWORD}@{ip}:2881/oceanbase")
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS ocs")
        admin.dispose()
        engine = sa.create_engine(f"mysql+pymysql://root%40sys:{PASSWORD}@{ip}:2881/ocs", pool_pre_ping=True)
        yield engine
        engine.dispose()


def _tables() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        "dag_instance", metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.Integer, nullable=False, default=1),
        sa.Column("is_finished", sa.Boolean, nullable=False, default=False),
        sa.Column("start_time", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP(6)")),
        sa.UniqueConstraint("name", name="uk_name"),
        sa.Index("idx_state", "state"),
    )
    return metadata, table


def test_create_reflect_and_write(engine: sa.Engine) -> None:
    metadata, dag = _tables()
    metadata.create_all(engine)
    metadata.create_all(engine)  # checkfirst: the second call sees the table
    inspector = sa.inspect(engine)
    assert "dag_instance" in inspector.get_table_names()
    assert [c["name"] for c in inspector.get_columns("dag_instance")] == ["id", "name", "state", "is_finished", "start_time"]
    assert {i["name"] for i in inspector.get_indexes("dag_instance")} >= {"idx_state"}
    with engine.begin() as conn:
        first = conn.execute(dag.insert().values(name="one")).inserted_primary_key[0]
        second = conn.execute(dag.insert().values(name="two", start_time=datetime(2026, 1, 2, 3, 4, 5, 678901)))
        assert second.inserted_primary_key[0] == first + 1
        row = conn.execute(sa.select(dag).where(dag.c.name == "two")).one()
        assert row.start_time == datetime(2026, 1, 2, 3, 4, 5, 678901) and row.is_finished is False
        assert isinstance(conn.execute(sa.select(sa.func.now(6))).scalar(), datetime)
    with engine.begin() as conn:
        won = conn.execute(dag.update().where(dag.c.id == first, dag.c.state == 1).values(state=3)).rowcount
        lost = conn.execute(dag.update().where(dag.c.id == first, dag.c.state == 1).values(state=4)).rowcount
        assert (won, lost) == (1, 0)
    with pytest.raises(sa.exc.IntegrityError) as duplicate, engine.begin() as conn:
        conn.execute(dag.insert().values(name="one"))
    assert duplicate.value.orig.args[0] == 1062


def test_rolled_back_transaction_changes_nothing(engine: sa.Engine) -> None:
    metadata, dag = _tables()
    metadata.create_all(engine)
    with engine.connect() as conn:
        with conn.begin() as tx:
            conn.execute(dag.insert().values(name="ghost"))
            tx.rollback()
        assert conn.execute(sa.select(sa.func.count()).where(dag.c.name == "ghost")).scalar() == 0
