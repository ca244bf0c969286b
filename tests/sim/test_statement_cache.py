"""The simulator's statement cache: shapes and literals, templates that give exactly the results of
the full translation (compared statement by statement on SQLite), refusals, a session taking the
cached path, and a simulated observer answering repeated statements through it."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from pymysql.converters import escape_item
from sqlalchemy.dialects.mysql import pymysql as mysql_pymysql
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlglot import Dialect

from pyobshell.engine.schema import StoreKind, build_tables
from pyobshell.sim import cluster_state, sql_functions, sql_session, statement_cache as sc
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_session import ObserverInfo, SimSession, _result
from pyobshell.sim.sql_translate import Translated, translate
from tests.helpers.sim import connect, query, sim_cluster
from tests.helpers import nets

MYSQL = Dialect.get_or_raise("mysql")
S, D, N = "\x01", "\x02", "\x03"  # the shape markers: 'string', "string", number


# --- split ------------------------------------------------------------------------------------

def _shape(sql: str) -> sc.Shape:
    shape = sc.split(sql)
    assert shape is not None, sql
    return shape


def test_split_reads_mysql_string_escapes_and_doubled_quotes() -> None:
    shape = _shape(r"SELECT a FROM t WHERE x = 'b\bc\nd\re\tf\Zg\\h\'i\"j''k' AND y = " + '"q\\"r""s\'t"')
    assert shape.text == f"SELECT a FROM t WHERE x = {S} AND y = {D}"
    assert shape.values == ("b\x08c\nd\re\tf\x1ag\\h'i\"j'k", "q\"r\"s't")


def test_split_refuses_nul_in_strings() -> None:
    # The full path cannot put a NUL into SQL text (an error); the cache must answer the same.
    assert sc.split(r"SELECT a FROM t WHERE x = 'a\0b'") is None
    assert sc.split("SELECT a FROM t WHERE x = 'a\x00b'") is None


def test_split_keeps_doubled_quotes_of_the_other_kind() -> None:
    assert _shape("""SELECT a FROM t WHERE x = 'a""b' AND y = "c''d\"""").values == ('a""b', "c''d")


def test_split_numbers_but_not_digits_of_identifiers() -> None:
    shape = _shape("SELECT t1.col_2, `3x`, `a``7'b` FROM t1 WHERE col_2 = 42 AND v = 1.5e0 AND w = 0.25 AND z = 2E-3")
    assert shape.text == f"SELECT t1.col_2, `3x`, `a``7'b` FROM t1 WHERE col_2 = {N} AND v = {N} AND w = {N} AND z = {N}"
    assert shape.values == (42, 1.5, 0.25, 0.002)
    assert [type(v) for v in shape.values] == [int, float, float, float]
    assert shape.raw == ("42", "1.5e0", "0.25", "2E-3")


def test_split_leaves_the_sign_of_negative_numbers_in_the_shape() -> None:
    shape = _shape("UPDATE t SET a = -5, b = c-3, d = - 2.5 WHERE id = 7")
    assert shape.text == f"UPDATE t SET a = -{N}, b = c-{N}, d = - {N} WHERE id = {N}"
    assert shape.values == (5, 3, 2.5, 7)


def test_split_unicode_and_trailing_semicolon() -> None:
    shape = _shape("  insert INTO t (a, `名字`) VALUES ('节点-é😀', 1);  ")
    assert shape.text == f"  insert INTO t (a, `名字`) VALUES ({S}, {N});  "
    assert shape.values == ("节点-é😀", 1)


@pytest.mark.parametrize("sql", [
    "SELECT a FROM t /* c */ WHERE id = 1",
    "SELECT a FROM t WHERE id = 1 -- c",
    "SELECT a FROM t WHERE id = 1 # c",
    "/* lead */ SELECT a FROM t",
    "SELECT a FROM t; SELECT b FROM t",
    "SELECT @x := 1 FROM t",
    "SELECT a FROM t WHERE b = @@autocommit",
    "SELECT a FROM t WHERE b = _binary'x'",
    "SELECT a FROM t WHERE b = _binary 'x'",
    "SELECT a FROM t WHERE b = _utf8mb4'x'",
    "SELECT a FROM t WHERE b = X'4142'",
    "SELECT a FROM t WHERE b = x'4142'",
    "SELECT a FROM t WHERE b = b'01'",
    "SELECT a FROM t WHERE b = N'x'",
    "SELECT a FROM t WHERE b = 0x4142",
    "SELECT a FROM t WHERE b = 0b01",
    "SELECT a FROM t WHERE b = 1abc",
    "SELECT a FROM t WHERE b = 1٣",
    "SELECT a FROM t WHERE b = 1.",
    "SELECT a FROM t WHERE b = .5",
    "SELECT a FROM t WHERE b = 1e400",
    "SELECT a FROM t WHERE b = 99999999999999999999",
    "SELECT a FROM t WHERE b = " + "9" * 5000,
    r"SELECT a FROM t WHERE b LIKE 'a\%'",
    r"SELECT a FROM t WHERE b LIKE 'a\_'",
    r"SELECT a FROM t WHERE b = 'a\x'",
    "SELECT a FROM t WHERE b = 'a' 'b'",
    "SELECT a FROM t WHERE b = 'unterminated",
    "SELECT a FROM t WHERE b = DATABASE()",
    "SELECT a FROM t WHERE b = schema ()",
    "SELECT a FROM t WHERE b = VERSION()",
    "SELECT a FROM t WHERE b = USER()",
    "SELECT a FROM t WHERE b = CURRENT_USER",
    "SELECT a FROM t WHERE b = CONNECTION_ID()",
    "SELECT a FROM t WHERE b = CURRENT_SCHEMA",
    "SELECT a\x01 FROM t",
    "SELECT `a\x02` FROM t WHERE b = 1",
    "SHOW TABLES",
    "CREATE TABLE t (a INT)",
    "REPLACE INTO t VALUES (1)",
    "WITH c AS (SELECT 1) SELECT * FROM c",
    "selected_thing",
])
def test_split_refuses(sql: str) -> None:
    assert sc.split(sql) is None


def test_split_accepts_names_that_only_look_like_refused_functions() -> None:
    assert _shape("SELECT user, `database` FROM users WHERE schema_name = 'DATABASE()'").values == ("DATABASE()",)


# --- learning and the differential check -------------------------------------------------------

TABLES = build_tables(StoreKind.CLUSTER)
DIALECT = mysql_pymysql.dialect()


def _pymysql_text(statement: Any) -> str:
    """The SQL text PyMySQL sends for a SQLAlchemy Core statement (parameters interpolated)."""
    compiled = statement.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True})
    values = tuple(escape_item(compiled.params[name], "utf8mb4") for name in compiled.positiontup)
    return compiled.string % values


def _database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    sql_functions.register(conn, "4.2.1.0")
    conn.execute("ATTACH DATABASE ':memory:' AS ocs")
    for table in TABLES.metadata.sorted_tables:
        for ddl in (CreateTable(table), *(CreateIndex(index) for index in table.indexes)):
            translated = translate(MYSQL.parse(str(ddl.compile(dialect=DIALECT)))[0], "ocs")
            for statement in (translated.sql, *translated.follow_up):
                conn.execute(statement)
    for i in range(1, 6):
        _slow(conn, _pymysql_text(TABLES.subtask.insert().values(
            node_id=i % 2, name=f"task {i}", struct_name="S", context='{"k": "v"}', state=i % 3, operator=0,
            execute_times=i, gmt_create=datetime(2024, 1, i, 10, 0, 0, 123456))))
        _slow(conn, _pymysql_text(TABLES.dag.insert().values(
            name=f"dag {i}", stage=1, max_stage=3, state=1, operator=0, is_maintenance=i == 2,
            gmt_create=datetime(2024, 1, i))))
        _slow(conn, _pymysql_text(TABLES.log.insert().values(sub_task_id=i, execute_times=1, log_content=f"l{i}")))
    return conn


def _outcome(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> tuple:
    cursor = conn.execute(sql, params)
    rows, columns = _result(cursor)
    return rows, [(c.name, c.type) for c in columns], cursor.rowcount, cursor.lastrowid


def _slow(conn: sqlite3.Connection, sql: str) -> tuple:
    return _outcome(conn, translate(MYSQL.parse(sql)[0], "ocs").sql, {})


def _contents(conn: sqlite3.Connection) -> dict[str, list]:
    return {t.name: conn.execute(f'SELECT * FROM ocs."{t.name}" ORDER BY rowid').fetchall()
            for t in TABLES.metadata.sorted_tables}


def _learn(sql: str) -> sc.Entry:
    return sc.learn(_shape(sql), translate(MYSQL.parse(sql)[0], "ocs"), "ocs", MYSQL.parse)


def _pairs() -> list[tuple[str, str]]:
    """Two instances of each realistic shape, with other literal values."""
    d, n, t, lg = TABLES.dag, TABLES.node, TABLES.subtask, TABLES.log
    tricky = 'line 1\n{"msg": "it\'s \\"quoted\\" C:\\\\dir\\\\", "tab": "\t", "sub": "\x1a"} 节点 😀'
    pairs = [
        (sa.select(t).where(t.c.id == 2), sa.select(t).where(t.c.id == 4)),
        (sa.select(d).where(d.c.id == 1).with_for_update(), sa.select(d).where(d.c.id == 3).with_for_update()),
        (t.update().where(t.c.id == 3, t.c.execute_times == 3, t.c.state == 0)
         .values(state=2, gmt_modify=datetime(2024, 5, 1, 1, 2, 3, 456789)),
         t.update().where(t.c.id == 2, t.c.execute_times == 2, t.c.state == 2)
         .values(state=3, gmt_modify=datetime(2025, 6, 2, 3, 4, 5, 1))),
        (lg.insert().values(sub_task_id=1, execute_times=1, log_content="plain", create_time=datetime(2024, 1, 1)),
         lg.insert().values(sub_task_id=9, execute_times=2, log_content=tricky,
                            create_time=datetime(2024, 2, 29, 23, 59, 59, 999999))),
        (sa.delete(lg).where(lg.c.sub_task_id == 1, lg.c.log_content == "plain"),
         sa.delete(lg).where(lg.c.sub_task_id == 9, lg.c.log_content == tricky)),
        (sa.select(t).where(t.c.state.in_([0, 1]), t.c.node_id != 0).order_by(t.c.id),
         sa.select(t).where(t.c.state.in_([2, 3]), t.c.node_id != 1).order_by(t.c.id)),
        (sa.select(d).where(d.c.is_maintenance.is_(True)).order_by(d.c.id.desc()).limit(1),
         sa.select(d).where(d.c.is_maintenance.is_(True)).order_by(d.c.id.desc()).limit(3)),
        (sa.select(lg.c.sub_task_id, lg.c.log_content).where(lg.c.sub_task_id.in_([1, 2, 3])).order_by(lg.c.id),
         sa.select(lg.c.sub_task_id, lg.c.log_content).where(lg.c.sub_task_id.in_([2, 4, 9])).order_by(lg.c.id)),
        (d.update().where(d.c.id == 1, d.c.state.in_([1, 2])).values(stage=2, context="a'b"),
         d.update().where(d.c.id == 2, d.c.state.in_([3, 1])).values(stage=3, context='c"d\\e')),
        (sa.select(d.c.id, d.c.name).where(d.c.gmt_create < sa.func.now(6), d.c.name != "x"),
         sa.select(d.c.id, d.c.name).where(d.c.gmt_create < sa.func.now(6), d.c.name != "dag 2")),
        (sa.select(d).where(d.c.name == "dag 1"), sa.select(d).where(d.c.name == "节点-é😀")),
        (sa.select(t.c.id).where(t.c.node_id == 1).order_by(t.c.id).limit(2).offset(1),
         sa.select(t.c.id).where(t.c.node_id == 0).order_by(t.c.id).limit(5).offset(0)),
        (n.insert().values(name="n", dag_id=1, dag_stage=1, struct_name="s", type="t", state=0, max_stage=1,
                           operator=0, context=None),
         n.insert().values(name="m'", dag_id=2, dag_stage=2, struct_name="s\\", type="t\n", state=1, max_stage=2,
                           operator=1, context=None)),
    ]
    texts = [(_pymysql_text(a), _pymysql_text(b)) for a, b in pairs]
    texts += [
        ("SELECT id, state * 2 + 1 AS x FROM subtask_instance WHERE state BETWEEN 0 AND 1 AND id > -1 LIMIT 10",
         "SELECT id, state * 2 + 1 AS x FROM subtask_instance WHERE state BETWEEN 1 AND 2 AND id > -3 LIMIT 2"),
        ("UPDATE subtask_instance SET execute_times = execute_times + 1.5e0 WHERE id = 1 AND name LIKE 'task%'",
         "UPDATE subtask_instance SET execute_times = execute_times + 2.748192514004045e-3 WHERE id = 2"
         " AND name LIKE 'ta_k%'"),
        ("SELECT id, 'const' AS label, IFNULL(context, 'none') AS c FROM subtask_instance WHERE id IN (1, 2)",
         "SELECT id, 'other' AS label, IFNULL(context, 'n''a') AS c FROM subtask_instance WHERE id IN (3, 4)"),
        ('SELECT id FROM dag_instance WHERE name = "dag 1" AND (id, stage) IN ((1, 1), (2, 1))',
         'SELECT id FROM dag_instance WHERE name = "dag \\"2\\"" AND (id, stage) IN ((2, 1), (3, 1))'),
    ]
    return texts


@pytest.mark.parametrize("first, second", _pairs())
def test_cached_template_gives_the_results_of_the_full_translation(first: str, second: str) -> None:
    entry = _learn(first)
    assert entry.translated is not None, first
    assert _shape(second).text == _shape(first).text
    slow, cached = _database(), _database()
    for sql in (first, second):
        shape = _shape(sql)
        assert _outcome(cached, entry.translated.sql, sc.parameters(shape)) == _slow(slow, sql), sql
        assert _contents(cached) == _contents(slow)


def test_template_keeps_the_translation_facts() -> None:
    sql = _pymysql_text(sa.select(TABLES.dag).where(TABLES.dag.c.id == 1).with_for_update())
    real = translate(MYSQL.parse(sql)[0], "ocs")
    cached = _learn(sql).translated
    assert isinstance(cached, Translated) and ":p0" in cached.sql
    assert (cached.scope, cached.databases, cached.is_write, cached.locking, cached.follow_up) == (
        real.scope, real.databases, real.is_write, real.locking, [])


def test_decimals_are_read_as_sqlite_reads_them() -> None:
    # SQLite's own literal reader is not always correctly rounded; the slow path uses it.
    texts = ["2.965730246259784e-297", "2.748192514004045e+247", "0.1", "1.5e0", "123.456"]
    shape = _shape("SELECT a FROM t WHERE " + " AND ".join(f"x = {text}" for text in texts))
    params = sc.parameters(shape)
    expected = sqlite3.connect(":memory:").execute("SELECT " + ", ".join(texts)).fetchone()
    assert [params[f"p{i}"] for i in range(len(texts))] == list(expected)


@pytest.mark.parametrize("sql", [
    "SELECT id FROM dag_instance WHERE gmt_create > DATE_ADD(gmt_modify, INTERVAL 5 SECOND)",
    "SELECT id FROM dag_instance WHERE gmt_create > DATE_ADD(gmt_modify, INTERVAL '5' DAY)",
    "SELECT CAST(stage AS DECIMAL(10,2)) AS s FROM dag_instance WHERE id = 1",
    "SELECT DATE_FORMAT(gmt_create, '%Y-%m-%d %H:%i') AS d FROM dag_instance",
    "SELECT id FROM dag_instance WHERE gmt_create > STR_TO_DATE('2024-01-01', '%Y-%m-%d')",
    "SELECT id, name FROM dag_instance ORDER BY 2",
    "SELECT state, COUNT(*) AS n FROM dag_instance GROUP BY 1",
    "SELECT 'label', id FROM dag_instance",
    "SELECT id + 1 FROM dag_instance",
    "SELECT id FROM dag_instance WHERE id = 10 / 4",
    "SELECT id FROM dag_instance WHERE gmt_create > DATE '2024-01-01'",
    "SELECT id FROM dag_instance WHERE context->'$.a' = 1",
])
def test_literals_the_translation_interprets_are_not_cached(sql: str) -> None:
    assert _learn(sql).translated is None


def test_statements_outside_user_databases_are_not_learned() -> None:
    sql = "SELECT SVR_IP FROM oceanbase.DBA_OB_SERVERS WHERE SVR_PORT = 2882"
    assert sc.learn(_shape(sql), translate(MYSQL.parse(sql)[0], None), None, MYSQL.parse).translated is None


def test_a_different_real_translation_is_refused() -> None:
    # e.g. a function the session's middleware replaced by its value before translation
    sql = "SELECT id FROM dag_instance WHERE name = 'a'"
    other = translate(MYSQL.parse("SELECT id FROM dag_instance WHERE name = 'b'")[0], "ocs")
    assert sc.learn(_shape(sql), other, "ocs", MYSQL.parse).translated is None


def test_cache_is_bounded_and_keyed_by_database() -> None:
    cache = sc.StatementCache(size=2)
    entry = sc.Entry(None)
    cache.store("a", "s1", entry)
    cache.store("b", "s1", entry)
    assert cache.lookup("a", "s1") is entry and cache.lookup("c", "s1") is None
    cache.store("a", "s2", entry)  # evicts ("b", "s1"), the least recently used
    assert cache.lookup("b", "s1") is None and cache.lookup("a", "s1") is entry


# --- the session hook, in process ----------------------------------------------------------------

def test_session_answers_repeated_shapes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = cluster_state.ClusterSpec("4.2.1.0", "100000012023101010.el7",
                                     [cluster_state.ServerSpec("127.0.0.1", 2882, 2881, "zone1")], SimSettings.fast())
    cluster_state.bootstrap(tmp_path, spec)
    info = ObserverInfo("127.0.0.1", 2882, 2881, spec.version, spec.release, tmp_path)
    monkeypatch.setattr(sc, "CACHE", sc.StatementCache())
    translations: list[str] = []
    real_translate = sql_session.translate
    monkeypatch.setattr(sql_session, "translate", lambda e, db: translations.append(e.sql()) or real_translate(e, db))

    async def scenario() -> list:
        session = SimSession(info, spec.settings)
        try:
            answers = []
            for sql in ("CREATE DATABASE ocs", "USE ocs",
                        "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT, v VARCHAR(32), PRIMARY KEY (id))"):
                await session.handle_query(sql, {})
            for i in range(3):
                answers.append((await session.handle_query(f"INSERT INTO t (v) VALUES ('it''s {i}')", {}), session.last_ok))
                answers.append(await session.handle_query(f"SELECT id, v FROM t WHERE id = {i + 1}", {}))
                answers.append((await session.handle_query(f"UPDATE t SET v = 'x{i}' WHERE id = {i + 1} AND v = 'it''s {i}'",
                                                           {}), session.last_ok))
            answers.append(await session.handle_query("SELECT id, v FROM t WHERE id > 0 ORDER BY id", {}))
            await session.close()
            return answers
        finally:
            session._worker.shutdown(wait=True)

    answers = asyncio.run(scenario())
    dml = [t for t in translations if not t.upper().startswith(("CREATE", "USE"))]
    assert len(dml) == 4  # the first of each shape; the repeats came from the cache
    assert [a[1] for a in answers[0:9:3]] == [(1, 1), (1, 2), (1, 3)]  # affected rows, insert id
    assert [a[1][0] for a in answers[2:9:3]] == [1, 1, 1]  # affected rows
    assert [a[0] for a in answers[1:9:3]] == [[[1, "it's 0"]], [[2, "it's 1"]], [[3, "it's 2"]]]
    assert answers[-1][0] == [[1, "x0"], [2, "x1"], [3, "x2"]]


# --- a simulated observer ----------------------------------------------------------------------

PASSWORD = "cachepw"


@pytest.fixture(scope="module")
def observer(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("cache") / "c"
    with sim_cluster(directory, net=nets.STATEMENT_CACHE, zones=1, password=PASSWORD) as document:
        observer = document["observers"][0]
        with connect(observer, PASSWORD, database=None) as conn:
            query(conn, "CREATE DATABASE IF NOT EXISTS ocs")
        yield observer


def _values(i: int) -> tuple:
    texts = ["plain", "it's", 'say "hi"', "back\\slash", "new\nline\ttab", "节点-é😀", "sub\x1a", "'; --", "%s"]
    return (texts[i % len(texts)] + f" #{i}", None if i % 4 == 0 else i * 1.25, datetime(2024, 1, 1 + i % 28, i % 24, 0, i % 60, i * 1000))


@pytest.mark.multiprocess
def test_repeated_shapes_answer_like_the_full_path(observer: dict) -> None:
    with connect(observer, PASSWORD, database="ocs") as conn:
        query(conn, "CREATE TABLE cache_rows (id BIGINT NOT NULL AUTO_INCREMENT, label VARCHAR(128), score DOUBLE,"
                    " at DATETIME(6), n INT NOT NULL DEFAULT 0, PRIMARY KEY (id))")
        expected: dict[int, tuple] = {}
        for i in range(60):
            label, score, at = _values(i)
            with conn.cursor() as cursor:
                assert cursor.execute("INSERT INTO cache_rows (label, score, at, n) VALUES (%s, %s, %s, %s)",
                                      (label, score, at, i)) == 1
                row_id = cursor.lastrowid
            expected[row_id] = (row_id, label, score, at, i)
            assert query(conn, "SELECT id, label, score, at, n FROM cache_rows WHERE id = %s", (row_id,)) == [expected[row_id]]
            assert query(conn, "SELECT id FROM cache_rows WHERE label = %s AND n = %s", (label, i)) == [(row_id,)]
        for i, row_id in enumerate(sorted(expected)):
            if i % 3:
                continue
            with conn.cursor() as cursor:
                changed = cursor.execute("UPDATE cache_rows SET n = %s, label = %s WHERE id = %s AND n = %s",
                                         (i + 1000, f"u'{i}\\", row_id, i))
                missed = cursor.execute("UPDATE cache_rows SET n = %s, label = %s WHERE id = %s AND n = %s",
                                        (0, "never", row_id, i))
            assert (changed, missed) == (1, 0)
            expected[row_id] = (row_id, f"u'{i}\\", expected[row_id][2], expected[row_id][3], i + 1000)
        rows = query(conn, "SELECT id, label, score, at, n FROM cache_rows ORDER BY id")
        assert rows == [expected[key] for key in sorted(expected)]
        assert query(conn, "SELECT COUNT(*) AS c FROM cache_rows WHERE n >= %s", (1000,)) == [(20,)]

    engine = sa.create_engine(f"mysql+pymysql://root%40sys:{PASSWORD}@{observer['ip']}:{observer['sql_port']}/ocs")
    try:
        table = sa.Table("cache_rows", sa.MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            for i in range(30):
                label, score, at = _values(i + 7)
                key = conn.execute(table.insert().values(label=label, score=score, at=at, n=-i)).inserted_primary_key[0]
                row = conn.execute(sa.select(table).where(table.c.id == key)).one()
                assert tuple(row) == (key, label, score, at, -i)
                assert conn.execute(table.update().where(table.c.id == key, table.c.n == -i)
                                    .values(n=-i - 100)).rowcount == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.n <= -100)).scalar() == 30
    finally:
        engine.dispose()


def _conflict(observer: dict, marker: str) -> int:
    """A transaction that read a row another one changed and committed since: its own write of
    that row must fail like OceanBase's lock conflict. ``marker`` is a comment that keeps a run on
    the full path (comments are never cached)."""
    with connect(observer, PASSWORD, database="ocs") as setup:
        query(setup, f"{marker}DELETE FROM conflict_row WHERE id = %s", (1,))
        query(setup, f"{marker}INSERT INTO conflict_row (id, state) VALUES (%s, %s)", (1, 1))
    reader = connect(observer, PASSWORD, database="ocs", autocommit=False)
    writer = connect(observer, PASSWORD, database="ocs")
    try:
        assert query(reader, f"{marker}SELECT state FROM conflict_row WHERE id = %s", (1,)) == [(1,)]
        with writer.cursor() as cursor:
            assert cursor.execute(f"{marker}UPDATE conflict_row SET state = %s WHERE id = %s AND state = %s", (5, 1, 1)) == 1
        with pytest.raises(pymysql.MySQLError) as lost:
            with reader.cursor() as cursor:
                cursor.execute(f"{marker}UPDATE conflict_row SET state = %s WHERE id = %s AND state = %s", (6, 1, 1))
        reader.rollback()
        assert query(writer, f"{marker}SELECT state FROM conflict_row WHERE id = %s", (1,)) == [(5,)]
        return lost.value.args[0]
    finally:
        reader.close()
        writer.close()


@pytest.mark.multiprocess
def test_conflicts_answer_as_on_the_full_path(observer: dict) -> None:
    with connect(observer, PASSWORD, database="ocs") as conn:
        query(conn, "CREATE TABLE conflict_row (id INT NOT NULL, state INT NOT NULL, PRIMARY KEY (id))")
    full = _conflict(observer, "/* full */ ")
    learned = [_conflict(observer, "") for _ in range(3)]  # the first run teaches the shapes
    assert full in (1205, 1213)
    assert learned == [full] * 3
