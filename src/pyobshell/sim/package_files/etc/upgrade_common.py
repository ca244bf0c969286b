# -*- coding: utf-8 -*-
"""Shared runtime of the OceanBase upgrade scripts in this directory.

The four scripts (upgrade_checker.py, upgrade_pre.py, upgrade_health_checker.py,
upgrade_post.py) import this module from their own directory, which Python puts
first on sys.path. Standalone on purpose: Python 3 standard library plus
mysql.connector only, because the scripts run on database hosts, not inside the agent.

Exit status of every script: 0 success; 1 the upgrade step failed (a check, a
statement, a wait, the connection, an unknown module); 2 the command line itself is
wrong (unknown option, missing -h/-P/-u, a non-numeric port or timeout).
"""

from __future__ import annotations

import getopt
import logging
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Query timeout OceanBase applies when a session sets none (10 s).
DEFAULT_QUERY_TIMEOUT_S = 10
# Budget for one parameter to converge on every server when -t is not given.
DEFAULT_PARAMETER_SYNC_S = 60
# Poll intervals: start fast (a simulator converges in milliseconds), back off to
# spare a real cluster.
FIRST_POLL_INTERVAL_S = 0.2
MAX_POLL_INTERVAL_S = 2.0

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
_VERSION_BANNER = re.compile(r"OceanBase(?:[_ ]CE)?\s+\(?v?(\d+\.\d+\.\d+\.\d+)")


class ScriptError(Exception):
    """An expected failure: reported as one clear line, never as a traceback."""

    def final_line(self, script_name: str) -> str:
        return "{0} failed: {1}".format(script_name, self)


class UsageError(ScriptError):
    """The command line is wrong."""


@dataclass(frozen=True)
class ScriptSpec:
    """What distinguishes one script: its name, default log file and modules."""

    name: str
    description: str
    default_log_file: str
    modules: Tuple[str, ...] = ()
    has_zone: bool = False


@dataclass
class Options:
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    timeout: int = 0
    module: str = "all"
    log_file: str = ""
    zone: str = ""
    show_help: bool = False
    show_version: bool = False


# ---------------------------------------------------------------- command line

def help_text(spec: ScriptSpec) -> str:
    lines = [
        "Usage: python {0}.py -h HOST -P PORT -u USER [OPTIONS]".format(spec.name),
        "",
        spec.description,
        "",
        "  -I, --help            show this help and exit",
        "  -V, --version         print the version this script upgrades to and exit",
        "  -h, --host=IP         observer to connect to (required)",
        "  -P, --port=PORT       its SQL port (required)",
        "  -u, --user=USER       sys tenant user with SUPER privilege (required)",
        "  -p, --password=PWD    password (default: empty)",
        "  -t, --timeout=SEC     budget of every wait and the session query timeout;",
        "                        0 uses the built-in defaults (default: 0)",
        "  -m, --module=LIST     comma separated modules or 'all' (default: all)",
        "  -l, --log-file=PATH   log file (default: {0})".format(spec.default_log_file),
    ]
    if spec.has_zone:
        lines.append("  -z, --zone=ZONE       check only the servers of this zone (default: all)")
    if spec.modules:
        lines += ["", "Modules, run in this order: " + ", ".join(spec.modules)]
    lines += ["", "Exit status: 0 success, 1 the step failed, 2 wrong command line."]
    return "\n".join(lines)


# Option letter -> long name; -I/-V are switches, the others take a value.
_LONG_NAMES = {"I": "help", "V": "version", "h": "host", "P": "port", "u": "user", "p": "password",
               "t": "timeout", "m": "module", "l": "log-file", "z": "zone"}
_SWITCHES = {"I": "show_help", "V": "show_version"}


def parse_options(argv: Sequence[str], spec: ScriptSpec) -> Options:
    letters = [letter for letter in _LONG_NAMES if letter != "z" or spec.has_zone]
    short = "".join(letter if letter in _SWITCHES else letter + ":" for letter in letters)
    long = [_LONG_NAMES[letter] + ("" if letter in _SWITCHES else "=") for letter in letters]
    try:
        pairs, rest = getopt.getopt(list(argv), short, long)
    except getopt.GetoptError as exc:
        raise UsageError(str(exc))
    if rest:
        raise UsageError("unexpected argument: {0}".format(rest[0]))
    by_flag = {"-" + letter: letter for letter in letters}
    by_flag.update({"--" + _LONG_NAMES[letter]: letter for letter in letters})
    opts = Options(log_file=spec.default_log_file)
    for flag, value in pairs:
        letter = by_flag[flag]
        if letter in _SWITCHES:
            setattr(opts, _SWITCHES[letter], True)
        elif letter == "P":
            opts.port = _number(value, "port", minimum=1)
        elif letter == "t":
            opts.timeout = _number(value, "timeout", minimum=0)
        else:
            setattr(opts, _LONG_NAMES[letter].replace("-", "_"), value)
    if opts.show_help or opts.show_version:
        return opts
    missing = [flag for flag, value in (("-h", opts.host), ("-P", opts.port), ("-u", opts.user))
               if not value]
    if missing:
        raise UsageError("missing required option(s) {0}; run with --help for usage"
                         .format(", ".join(missing)))
    return opts


def _number(text: str, what: str, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise UsageError("invalid {0}: {1!r} is not a number".format(what, text))
    if not minimum <= number <= 2 ** 31:
        raise UsageError("invalid {0}: {1}".format(what, number))
    return number


def select_modules(spec: ScriptSpec, value: str) -> List[str]:
    """The requested modules in the script's fixed order; 'all' means every one."""
    wanted = set()
    for name in (part.strip() for part in value.split(",")):
        if name == "all":
            wanted.update(spec.modules)
        elif name in spec.modules:
            wanted.add(name)
        else:
            raise ScriptError("invalid module: {0}".format(name or "''"))
    return [name for name in spec.modules if name in wanted]


# -------------------------------------------------------------- target version

def target_version(script_dir: str = SCRIPT_DIR) -> str:
    """The version of the package this script ships in, from `../bin/observer -V`."""
    home = os.path.normpath(os.path.join(script_dir, os.pardir))
    observer = os.path.join(home, "bin", "observer")
    env = dict(os.environ)
    lib = os.path.join(home, "lib")
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    try:
        proc = subprocess.run([observer, "-V"], cwd=home, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ScriptError("cannot determine the target version: cannot run '{0} -V': {1}"
                          .format(observer, exc))
    output = proc.stdout.decode("utf-8", errors="replace")
    match = _VERSION_BANNER.search(output)
    if match is None:
        first = output.strip().splitlines()[0] if output.strip() else "<no output>"
        raise ScriptError("cannot determine the target version: '{0} -V' (exit {1}) printed no "
                          "'OceanBase_CE A.B.C.D' banner, first line: {2}"
                          .format(observer, proc.returncode, first))
    return match.group(1)


def version_tuple(version: str) -> Tuple[int, int, int, int]:
    parts = str(version).strip().split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ScriptError("invalid version: {0!r}".format(version))
    major, minor, patch, bp = (int(p) for p in parts)
    if major > 0xFFFFFFFF or minor > 0xFFFF or patch > 0xFF or bp > 0xFF:
        raise ScriptError("invalid version: {0!r}".format(version))
    return major, minor, patch, bp


def data_version_code(version: str) -> int:
    """OceanBase's integer encoding of a data version, as stored in the core table."""
    major, minor, patch, bp = version_tuple(version)
    return (major << 32) | (minor << 16) | (patch << 8) | bp


# --------------------------------------------------------------------- logging

_LOG_FORMAT = "[%(asctime)s] %(levelname)s %(filename)s:%(lineno)d %(message)s"
_PASSWORD_FIELD = re.compile(r'password="(?:[^"\\]|\\.)*"')


class _MaskingFormatter(logging.Formatter):
    """Never lets the password reach a log line."""

    def __init__(self, secret: str) -> None:
        super().__init__(_LOG_FORMAT, "%Y-%m-%d %H:%M:%S")
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self._secret:
            text = text.replace(self._secret, "******")
        return _PASSWORD_FIELD.sub('password="******"', text)


def _is_final(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "final", False))


def configure_logging(log_file: str, secret: str) -> None:
    """INFO to stdout and the log file; the final failure line to stderr and the file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    # The driver logs its plugin loading at INFO; only our statements belong in the log.
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)
    formatter = _MaskingFormatter(secret)
    stdout = logging.StreamHandler(sys.stdout)
    stdout.addFilter(lambda record: not _is_final(record))
    stderr = logging.StreamHandler(sys.stderr)
    stderr.addFilter(_is_final)
    stderr.setFormatter(logging.Formatter("%(message)s"))
    handlers = [stdout, stderr]
    try:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    except OSError as exc:
        raise ScriptError("cannot open log file {0}: {1}".format(log_file, exc.strerror))
    for handler in handlers:
        if handler is not stderr:
            handler.setFormatter(formatter)
        root.addHandler(handler)


# --------------------------------------------------------------------- session

class Session:
    """One connection; logs every statement and turns driver errors into ScriptError."""

    def __init__(self, connection: Any, query_timeout_s: int) -> None:
        self._connection = connection
        self._cursor = connection.cursor(buffered=True)
        self.query_timeout_s = query_timeout_s
        self.succeeded_writes: List[str] = []

    def query(self, sql: str) -> List[tuple]:
        logging.info("execute sql: %s", sql)
        try:
            self._cursor.execute(sql)
            rows = self._cursor.fetchall()
        except Exception as exc:  # driver errors and dropped connections alike
            raise ScriptError("fail to execute sql: {0}: {1}".format(sql, _driver_message(exc)))
        logging.info("rowcount = %d", len(rows))
        return rows

    def scalar(self, sql: str) -> Any:
        rows = self.query(sql)
        if len(rows) != 1 or len(rows[0]) != 1:
            raise ScriptError("unmatched row/column count, sql: {0}, rows: {1}".format(sql, rows))
        return rows[0][0]

    def execute(self, sql: str) -> None:
        logging.info("execute sql: %s", sql)
        try:
            self._cursor.execute(sql)
            if self._cursor.with_rows:
                self._cursor.fetchall()
        except Exception as exc:
            raise ScriptError("fail to execute sql: {0}: {1}".format(sql, _driver_message(exc)))
        if not sql.lower().startswith("set @@session"):
            self.succeeded_writes.append(sql)

    def set_query_timeout(self, seconds: int) -> None:
        self.execute("set @@session.ob_query_timeout = {0}".format(seconds * 1000 * 1000))

    def close(self) -> None:
        for closer in (self._cursor.close, self._connection.close):
            try:
                closer()
            except Exception:  # closing a broken connection must not mask the real error
                pass


def _driver_message(exc: Exception) -> str:
    errno = getattr(exc, "errno", None)
    msg = getattr(exc, "msg", None) or str(exc)
    sqlstate = getattr(exc, "sqlstate", None)
    if errno is not None and errno != -1:
        return "ERROR {0} ({1}): {2}".format(errno, sqlstate or "HY000", msg)
    return "{0}: {1}".format(type(exc).__name__, msg)


def connect(opts: Options) -> Session:
    try:
        import mysql.connector  # imported late so --help works without the driver
    except ImportError:
        raise ScriptError("python module mysql.connector is not installed")
    logging.info('connect to %s:%s as user="%s" database=oceanbase', opts.host, opts.port, opts.user)
    try:
        connection = mysql.connector.connect(
            host=opts.host, port=opts.port, user=opts.user, password=opts.password,
            database="oceanbase", raise_on_warnings=True, connection_timeout=30)
        connection.autocommit = True
    except Exception as exc:
        raise ScriptError("cannot connect to {0}:{1} as {2}: {3}"
                          .format(opts.host, opts.port, opts.user, _driver_message(exc)))
    session = Session(connection, opts.timeout if opts.timeout > 0 else DEFAULT_QUERY_TIMEOUT_S)
    if opts.timeout > 0:
        session.set_query_timeout(opts.timeout)
    return session


# ----------------------------------------------------------------------- waits

@dataclass
class Poller:
    """Polls with a growing interval until a deadline."""

    timeout_s: float
    interval_s: float = FIRST_POLL_INTERVAL_S
    started: float = field(default_factory=time.monotonic)

    def expired(self) -> bool:
        return time.monotonic() - self.started >= self.timeout_s

    def sleep(self) -> None:
        remaining = self.timeout_s - (time.monotonic() - self.started)
        time.sleep(max(0.0, min(self.interval_s, remaining)))
        self.interval_s = min(self.interval_s * 2, MAX_POLL_INTERVAL_S)


def wait_for_value(session: Session, sql: str, expected: Any, timeout_s: float) -> None:
    """Re-run a one-value query until it returns `expected`."""
    poller = Poller(timeout_s)
    while True:
        value = session.scalar(sql)
        if value == expected:
            logging.info("check value is %s success", expected)
            return
        logging.info("value is %s, expected value is %s, not matched", value, expected)
        if poller.expired():
            raise ScriptError("result not expected, sql: {0}, expected: {1}, last value: {2}, "
                              "waited {3:g}s".format(sql, expected, value, timeout_s))
        poller.sleep()


def timeout_by_tenant(session: Session, opt_timeout: int, per_tenant_s: int, minimum_s: int) -> int:
    """-t if given, else max(minimum, tenants x per_tenant), as the reference scripts do."""
    if opt_timeout > 0:
        return opt_timeout
    tenants = session.query("select distinct tenant_id from oceanbase.__all_tenant order by tenant_id desc")
    return max(minimum_s, len(tenants) * per_tenant_s)


# ------------------------------------------------------------------ parameters

def _parameter_table(tenant_scope: bool) -> str:
    return "__all_virtual_tenant_parameter_info" if tenant_scope else "GV$OB_PARAMETERS"


def parameter_has_value(session: Session, name: str, value: str, tenant_scope: bool = False) -> bool:
    """True if at least one server already reports `name = value`."""
    rows = session.query("select * from oceanbase.{0} where name = '{1}' and value = '{2}'"
                         .format(_parameter_table(tenant_scope), name, value))
    return len(rows) > 0


def _unsynced_sql(name: str, value: str, tenant_scope: bool) -> str:
    return ("select count(*) as cnt from oceanbase.{0} where name = '{1}' and value != '{2}'"
            .format(_parameter_table(tenant_scope), name, value))


def wait_parameter_sync(session: Session, name: str, value: str, timeout: int,
                        tenant_scope: bool = False) -> None:
    budget = timeout if timeout > 0 else DEFAULT_PARAMETER_SYNC_S
    wait_for_value(session, _unsynced_sql(name, value, tenant_scope), 0, budget)


def parameter_synced(session: Session, name: str, value: str, tenant_scope: bool = False) -> bool:
    return session.scalar(_unsynced_sql(name, value, tenant_scope)) == 0


def ensure_parameter(session: Session, name: str, value: str, timeout: int) -> None:
    """ALTER a cluster parameter only if some server still differs, then wait for it."""
    if parameter_synced(session, name, value):
        logging.info("%s is already %s everywhere, skip", name, value)
        return
    session.execute("alter system set {0} = '{1}'".format(name, value))
    wait_parameter_sync(session, name, value, timeout)


def ensure_tenant_parameter(session: Session, name: str, value: str, timeout: int) -> None:
    if parameter_synced(session, name, value, tenant_scope=True):
        logging.info("%s is already %s for every tenant, skip", name, value)
        return
    for group in tenant_groups(session):
        session.execute("alter system set {0} = '{1}' tenant = '{2}'".format(name, value, group))
    wait_parameter_sync(session, name, value, timeout, tenant_scope=True)


def min_cluster_version(session: Session) -> str:
    rows = session.query("select distinct value from oceanbase.GV$OB_PARAMETERS where name='min_observer_version'")
    if len(rows) != 1:
        raise ScriptError("min_observer_version is not sync: {0}".format([r[0] for r in rows]))
    return str(rows[0][0])


def tenant_groups(session: Session) -> List[str]:
    """Tenant targets of ALTER SYSTEM ... TENANT: 'all' before 4.2.1.0, three groups after."""
    if version_tuple(min_cluster_version(session)) < (4, 2, 1, 0):
        return ["all"]
    return ["sys", "all_user", "all_meta"]


def check_build_version_uniform(session: Session) -> None:
    rows = session.query("select distinct(substring_index(build_version, '_', 1)) from __all_server")
    if len(rows) != 1:
        raise ScriptError("servers build_version not match: {0}".format(sorted(str(r[0]) for r in rows)))
    logging.info("check server version success, version = %s", rows[0][0])


# ---------------------------------------------------------------------- driver

ScriptBody = Callable[[Session, Options, List[str]], None]


def run_script(spec: ScriptSpec, argv: Sequence[str], body: ScriptBody) -> int:
    """Parse options, connect, run `body`, report; returns the exit status."""
    try:
        opts = parse_options(argv, spec)
    except UsageError as exc:
        sys.stderr.write("{0}: {1}\n".format(spec.name, exc))
        return EXIT_USAGE
    if opts.show_help:
        print(help_text(spec))
        return EXIT_OK
    if opts.show_version:
        try:
            print(target_version())
        except ScriptError as exc:
            sys.stderr.write("{0}\n".format(exc.final_line(spec.name)))
            return EXIT_FAILED
        return EXIT_OK
    try:
        configure_logging(opts.log_file, opts.password)
    except ScriptError as exc:
        sys.stderr.write("{0}\n".format(exc.final_line(spec.name)))
        return EXIT_FAILED
    logging.info('parameters from cmd: host="%s", port=%s, user="%s", password="%s", timeout=%s, '
                 'module="%s", log-file="%s"%s', opts.host, opts.port, opts.user,
                 opts.password.replace('"', '\\"'), opts.timeout, opts.module, opts.log_file,
                 ', zone="{0}"'.format(opts.zone) if spec.has_zone else "")
    session: Optional[Session] = None
    failure = ""
    try:
        modules = select_modules(spec, opts.module)
        session = connect(opts)
        body(session, opts, modules)
    except ScriptError as exc:
        failure = exc.final_line(spec.name)
    except Exception as exc:  # a bug, not an expected failure: keep the traceback in the log
        logging.exception("unexpected error")
        failure = "{0} failed: unexpected error: {1}: {2}".format(spec.name, type(exc).__name__, exc)
    if session is not None:
        _print_statistics(session)
        session.close()
    if failure:
        _report_failure(failure)  # last, so it is the last line of the log and of stderr
        return EXIT_FAILED
    logging.info("%s succeeded", spec.name)
    return EXIT_OK


def _report_failure(line: str) -> None:
    logging.error(line, extra={"final": True})


def _print_statistics(session: Session) -> None:
    logging.info("============================== STATISTICS ==============================")
    logging.info("succeeded write sql:\n%s", "\n".join(s + ";" for s in session.succeeded_writes) or "(none)")
