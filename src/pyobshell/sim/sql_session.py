"""One MySQL client session on a simulated observer (a mysql-mimic ``Session``).

System statements (the ``oceanbase`` views, ``ALTER SYSTEM``) run outside any transaction on
the shared state, as OceanBase's virtual tables do. Statements on user databases run on SQLite
files with MySQL's transaction rules: autocommit, BEGIN/COMMIT/ROLLBACK, implicit commit on
DDL, ``SELECT … FOR UPDATE`` taking the write lock. All SQLite work happens on the session's
own worker thread, so a statement waiting for a lock never blocks the observer's event loop.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

from mysql_mimic import ResultColumn, Session
from mysql_mimic.charset import CharacterSet
from mysql_mimic.results import infer_type
from mysql_mimic.types import ColumnType
from mysql_mimic.errors import MysqlError
from mysql_mimic.variable_processor import VariableProcessor
from mysql_mimic.variables import GlobalVariables, SYSTEM_VARIABLES, SessionVariables
from sqlglot import Dialect, exp
from sqlglot.errors import ParseError

from pyobshell.sim.observer_info import ObserverInfo
from pyobshell.sim import alter_system, binary_literals, cluster_state, sql_errors as err, sql_functions
from pyobshell.sim import sql_labels, statement_cache
from pyobshell.sim.server_health import refresh_live_table
from pyobshell.sim.session_faults import SessionFaults
from pyobshell.sim.show_create import show_create_table
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import parse_datetime_text
from pyobshell.sim.sql_translate import SYSTEM_DB, Translated, translate, validate_database_name
from pyobshell.sim.system_catalog import system_catalog

T = TypeVar("T")
_LEADING_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*|#[^\n]*\n\s*)*", re.DOTALL)
_DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$")
_TRANSACTION_START = re.compile(r"^\s*(BEGIN(\s+WORK)?|START\s+TRANSACTION\b.*)\s*;?\s*$", re.IGNORECASE)
_SERVER_STATUS_IN_TRANS = 0x0001
_SERVER_STATUS_AUTOCOMMIT = 0x0002


def global_variables(info: ObserverInfo) -> GlobalVariables:
    schema = dict(SYSTEM_VARIABLES)
    schema.update({
        "version": (str, info.server_version, False),
        "version_comment": (str, f"OceanBase_CE {info.version} (r{info.release}) (Built Nov  1 2023 10:00:00)", False),
        "ob_query_timeout": (int, 10_000_000, True),
        "ob_trx_timeout": (int, 86_400_000_000, True),
        "ob_trx_idle_timeout": (int, 86_400_000_000, True),
        "tx_isolation": (str, "READ-COMMITTED", True),
        "sql_mode": (str, "STRICT_ALL_TABLES,NO_ZERO_IN_DATE", True),
        "wait_timeout": (int, 28800, True),
        "system_time_zone": (str, "+00:00", False),
    })
    return GlobalVariables(schema)


class SimSession(Session):
    def __init__(self, info: ObserverInfo, settings: SimSettings):
        super().__init__(SessionVariables(global_variables(info)))
        self.info = info
        self.settings = settings
        self.middlewares = [
            self._functions_middleware if m == self._set_var_middleware else m
            for m in self.middlewares
            if m not in (self._begin_middleware, self._commit_middleware, self._rollback_middleware,
                         self._static_query_middleware)
        ]
        self.middlewares.insert(0, self._show_create_middleware)
        self.middlewares.insert(0, self._labels_middleware)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-session")
        self._system: sqlite3.Connection | None = None
        self._user: sqlite3.Connection | None = None
        self._attached: set[str] = set()
        self._explicit_txn = False
        self.last_ok: tuple[int, int] = (0, 0)  # affected rows, last insert id
        self.blobs: dict[str, bytes | str] = {}  # literals cut out of the current query (binary_literals)
        self._shape: statement_cache.Shape | None = None  # the current query's shape, to learn from
        self._labels: sql_labels.Labels | None = None  # the current statement's typed result labels
        self._catalog: dict[str, dict[str, str]] | None = None  # the oceanbase database's tables
        self._faults = SessionFaults(info, settings)

    # --- mysql-mimic hooks ----------------------------------------------------------------

    async def init(self, connection: Any) -> None:
        await super().init(connection)
        self._set_status()

    async def close(self) -> None:
        try:
            await self._run(self._close_connections)
        finally:
            self._worker.shutdown(wait=False)
            await super().close()

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Any:
        self.last_ok = (0, 0)
        body = _LEADING_COMMENTS.sub("", sql)
        try:
            delay = await self._run(self._statement_delay_s)
            if delay:
                await asyncio.sleep(delay)  # the slow_sql fault
            if alter_system.ALTER_SYSTEM.match(body):
                await self._run(self._alter_system, body)
                return [], []
            if _TRANSACTION_START.match(body):
                await self._run(self._begin)
                return [], []
            # The whole text, not ``body``: a statement with comments is never cached.
            self._shape = None if self.blobs else statement_cache.split(sql)
            if self._shape is not None:
                entry = statement_cache.CACHE.lookup(self.database, self._shape.text)
                if entry is not None and entry.translated is not None:
                    params = statement_cache.parameters(self._shape)
                    return await self._run(self._run_user, entry.translated, params)
            return await super().handle_query(sql, attrs)
        except ParseError as error:
            raise MysqlError(err.syntax_error(_first_line(str(error))).message, code=1064) from None
        except err.SqlError as error:
            raise MysqlError(error.message, code=error.code) from None
        except sqlite3.Error as error:
            mapped = err.from_sqlite(error)
            raise MysqlError(mapped.message, code=mapped.code) from None
        finally:
            self._shape = None
            self._set_status()

    async def use(self, database: str) -> None:
        name = database.lower()
        if name not in (SYSTEM_DB, "information_schema") and not await self._run(self._database_exists, name):
            raise MysqlError(err.unknown_database(database).message, code=1049)
        self.database = name

    async def schema(self) -> dict:
        return await self._run(self._schema)

    async def query(self, expression: exp.Expression, sql: str, attrs: dict[str, str]) -> Any:
        if isinstance(expression, exp.Commit):
            return await self._run(self._finish, "COMMIT")
        if isinstance(expression, exp.Rollback):
            return await self._run(self._finish, "ROLLBACK")
        if isinstance(expression, exp.Transaction):
            return await self._run(self._begin)
        if isinstance(expression, (exp.Create, exp.Drop)) and expression.kind in ("DATABASE", "SCHEMA"):
            return await self._run(self._database_ddl, expression)
        if isinstance(expression, exp.Command):
            raise err.not_supported(f"statement '{_first_line(sql)[:60]}'")
        sql_labels.apply_labels(expression, self._labels)
        translated = translate(expression, self.database)
        if translated.scope == "user":
            self._learn(expression, translated)
            return await self._run(self._run_user, translated)
        if translated.is_write:
            raise err.not_supported("changing oceanbase system tables directly")
        return await self._run(self._run_system, translated)

    def _learn(self, expression: exp.Expression, translated: Translated) -> None:
        """Teach the statement cache this query's shape, the first time it is seen."""
        shape = self._shape
        if shape is None or self.blobs or type(expression) not in statement_cache.CACHEABLE:
            return
        if statement_cache.CACHE.lookup(self.database, shape.text) is not None:
            return
        labels = self._labels
        if sql_labels.labels_depend_on_literals(expression, labels):
            statement_cache.CACHE.store(self.database, shape.text, statement_cache.Entry(None))
            return
        parse = Dialect.get_or_raise(self.dialect).parse

        def parse_labelled(text: str) -> list:  # the template must carry the same labels
            return [sql_labels.apply_labels(e, labels) if e is not None else None for e in parse(text)]

        entry = statement_cache.learn(shape, translated, self.database, parse_labelled)
        statement_cache.CACHE.store(self.database, shape.text, entry)

    # --- result labels: taken from the statement before any middleware rewrites it --------

    async def _labels_middleware(self, q: Any) -> Any:
        self._labels = sql_labels.typed_labels(q.expression, q.sql)
        try:
            return await q.next()
        finally:
            self._labels = None

    # --- function replacement: like mysql-mimic's, but NOW() stays a function ------------

    async def _functions_middleware(self, q: Any) -> Any:
        if isinstance(q.expression, exp.Create):
            return await q.next()
        functions = {
            "VERSION": lambda: self.variables.get("version"),
            "CURRENT_VERSION": lambda: self.variables.get("version"),
            "DATABASE": lambda: self.database,
            "SCHEMA": lambda: self.database,
            "CURRENT_SCHEMA": lambda: self.database,
            "USER": lambda: self.variables.get("external_user"),
            "CURRENT_USER": lambda: self.username,
            "CONNECTION_ID": lambda: self.connection.connection_id,
        }
        with VariableProcessor(functions, self.variables, q.expression).set_variables():
            return await q.next()

    async def _show_create_middleware(self, q: Any) -> Any:
        expression = q.expression
        if not (isinstance(expression, exp.Show) and expression.name.upper() == "CREATE TABLE"):
            return await q.next()
        target = expression.args.get("target")
        table = target.name if isinstance(target, exp.Expression) else str(target or "")
        db = (expression.text("db") or self.database or "").lower()
        if db in ("", SYSTEM_DB):
            raise err.not_supported("SHOW CREATE TABLE on system views")
        ddl = await self._run(self._show_create, db, table)
        return [(table, ddl)], ["Table", "Create Table"]

    # --- worker-thread side ---------------------------------------------------------------

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, func, *args)

    def _system_conn(self) -> sqlite3.Connection:
        if self._system is None:
            self._system = cluster_state.open_system(self.info.state_dir, self.info.version)
        return self._system

    def _refresh(self) -> list:
        return refresh_live_table(self._system_conn(), self.info.state_dir, self.settings)

    def _statement_delay_s(self) -> float:
        return self._faults.statement_delay_s(self._system_conn())

    def _alter_system(self, statement: str) -> None:
        conn = self._system_conn()
        ctx = alter_system.SystemContext(conn, self.settings, self._refresh, int(self.variables.get("ob_query_timeout")))
        alter_system.execute(ctx, statement)

    def _run_system(self, translated: Translated) -> tuple[list, list]:
        self._refresh()
        cursor = self._system_conn().execute(translated.sql)
        return _result(cursor)

    def _user_conn(self) -> sqlite3.Connection:
        if self._user is None:
            conn = cluster_state.connect(Path(":memory:"))
            sql_functions.register(conn, self.info.version)
            self._user = conn
        return self._user

    def _database_exists(self, name: str) -> bool:
        row = self._system_conn().execute("SELECT 1 FROM __sim_database WHERE name = ?", (name,)).fetchone()
        return row is not None

    def _attach(self, databases: set[str]) -> None:
        conn = self._user_conn()
        for name in sorted(databases - self._attached):
            if not self._database_exists(name):
                raise err.unknown_database(name)
            if conn.in_transaction:
                raise err.SqlError(1105, f"database '{name}' cannot be opened inside a running transaction")
            conn.execute("ATTACH DATABASE ? AS " + _quote(name), (str(cluster_state.user_db_path(self.info.state_dir, name)),))
            self._attached.add(name)

    def _in_transaction(self) -> bool:
        return self._explicit_txn or not bool(self.variables.get("autocommit"))

    def _run_user(self, translated: Translated, params: dict[str, Any] | None = None) -> tuple[list, list]:
        """Run a user-database statement; ``params`` are ready parameters of a cached template
        (else the blobs cut out of the query are bound)."""
        if translated.is_write or translated.locking:  # reads are answered by a follower meanwhile
            self._faults.check_leader(self._system_conn(), self._refresh)
        self._attach(translated.databases)
        conn = self._user_conn()
        ddl = translated.sql.lstrip().upper().startswith(("CREATE", "DROP", "ALTER"))
        if ddl and conn.in_transaction:
            conn.execute("COMMIT")  # MySQL commits implicitly before DDL
            self._explicit_txn = False
        if not ddl and self._in_transaction() and not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE" if translated.is_write or translated.locking else "BEGIN")
        elif translated.locking and conn.in_transaction:
            _take_write_lock(conn, next(iter(translated.databases)))
        try:
            if ddl:
                conn.execute("BEGIN IMMEDIATE")
                for statement in (translated.sql, *translated.follow_up):
                    conn.execute(statement)
                conn.execute("COMMIT")
                return [], []
            if params is None:
                sql, bound = binary_literals.bind(translated.sql, self.blobs)
            else:
                sql, bound = translated.sql, params
            cursor = conn.execute(sql, bound)
            result = _result(cursor)
        except sqlite3.OperationalError as error:
            if "locked" in str(error) and conn.in_transaction:
                conn.execute("ROLLBACK")  # as MySQL does on a deadlock: the client restarts
                self._explicit_txn = False
                raise err.deadlock() from None
            if ddl and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if translated.is_write:
            self.last_ok = (max(cursor.rowcount, 0), cursor.lastrowid or 0)
        return result

    def _begin(self) -> tuple[list, list]:
        conn = self._user_conn()
        if conn.in_transaction:
            conn.execute("COMMIT")  # a BEGIN inside a transaction commits it first
        self._explicit_txn = True
        return [], []

    def _finish(self, verb: str) -> tuple[list, list]:
        conn = self._user
        if conn is not None and conn.in_transaction:
            conn.execute(verb)
        self._explicit_txn = False
        return [], []

    def _database_ddl(self, expression: exp.Expression) -> tuple[list, list]:
        name = validate_database_name(expression.this.name)
        exists = self._database_exists(name) or name in (SYSTEM_DB, "information_schema")
        if isinstance(expression, exp.Create):
            if exists:
                if expression.args.get("exists"):
                    return [], []
                raise err.database_exists(name)
            path = cluster_state.user_db_path(self.info.state_dir, name)
            created = cluster_state.connect(path)
            created.execute("PRAGMA journal_mode = WAL")
            created.close()
            self._system_conn().execute("INSERT OR IGNORE INTO __sim_database (name, create_us) VALUES (?, ?)",
                                        (name, int(datetime.now().timestamp() * 1_000_000)))
            self.last_ok = (1, 0)
            return [], []
        if not exists:
            if expression.args.get("exists"):
                return [], []
            raise err.SqlError(1008, f"Can't drop database '{name}'; database doesn't exist")
        if name in (SYSTEM_DB, "information_schema"):
            raise err.op_not_allowed(f"drop database {name}")
        if name in self._attached:
            self._finish("COMMIT")
            self._user_conn().execute("DETACH DATABASE " + _quote(name))
            self._attached.discard(name)
        self._system_conn().execute("DELETE FROM __sim_database WHERE name = ?", (name,))
        for suffix in ("", "-wal", "-shm"):
            Path(str(cluster_state.user_db_path(self.info.state_dir, name)) + suffix).unlink(missing_ok=True)
        if self.database == name:
            self.database = None
        return [], []

    def _schema(self) -> dict:
        names = [row[0] for row in self._system_conn().execute("SELECT name FROM __sim_database ORDER BY name")]
        if self._catalog is None:
            self._catalog = system_catalog(self._system_conn())
        self._attach(set(names))
        conn = self._user_conn()
        schema: dict[str, dict] = {SYSTEM_DB: self._catalog}
        for name in names:
            tables = conn.execute(f"SELECT name FROM {_quote(name)}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_\\_sim%' ESCAPE '\\'")
            schema[name] = {
                table: {col[1]: (col[2] or "TEXT") for col in conn.execute(f"PRAGMA {_quote(name)}.table_info({_quote(table)})")}
                for (table,) in tables.fetchall()
            }
        return schema

    def _show_create(self, db: str, table: str) -> str:
        self._attach({db})
        ddl = show_create_table(self._user_conn(), db, table)
        if ddl is None:
            raise err.no_such_table(db, table)
        return ddl

    def _close_connections(self) -> None:
        for conn in (self._user, self._system):
            if conn is not None:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.close()
        self._user = self._system = None

    def _set_status(self) -> None:
        try:
            connection = self.connection
        except AttributeError:
            return
        flags = _SERVER_STATUS_AUTOCOMMIT if self.variables.get("autocommit") else 0
        if self._user is not None and self._user.in_transaction or self._explicit_txn:
            flags |= _SERVER_STATUS_IN_TRANS
        connection.status_flags = type(connection.status_flags)(flags)


def _take_write_lock(conn: sqlite3.Connection, database: str) -> None:
    """Upgrade a read transaction to a writer, as SELECT … FOR UPDATE needs."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {_quote(database)}.__sim_lock (n INTEGER)")
    conn.execute(f"DELETE FROM {_quote(database)}.__sim_lock")


def _result(cursor: sqlite3.Cursor) -> tuple[list, list]:
    """Rows and typed columns. Column types are inferred from the first non-NULL value (as
    mysql-mimic does, but per position, so duplicate names work); bytes are binary BLOBs and
    datetime-looking text columns are DATETIME."""
    if cursor.description is None:
        return [], []
    names = [column[0] for column in cursor.description]
    rows = [list(row) for row in cursor.fetchall()]
    columns = []
    for index, name in enumerate(names):
        values = [row[index] for row in rows if row[index] is not None]
        if values and all(isinstance(v, str) and _DATETIME_TEXT.match(v) for v in values):
            for row in rows:
                row[index] = parse_datetime_text(row[index]) if row[index] is not None else None
            values = [parse_datetime_text(values[0])]
        if not values:
            columns.append(ResultColumn(name=name, type=ColumnType.NULL))
        elif isinstance(values[0], bytes):
            columns.append(ResultColumn(name=name, type=ColumnType.LONG_BLOB, character_set=CharacterSet.binary))
        else:
            columns.append(ResultColumn(name=name, type=infer_type(values[0])))
    return rows, columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
