"""The trail's two copies: the cluster store (on SQLite and on seekdb, a real OceanBase SQL
engine) and the JSON lines; a store that is down loses nothing and fails nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pyobshell.audit.journal import AuditJournal
from pyobshell.audit.query import AuditQuery
from pyobshell.audit.store import AuditStore, metadata
from pyobshell.audit.trail import AuditTrail, retention_days
from pyobshell.engine.store import make_engine
from pyobshell.errors import ObshellError
from pyobshell.wire.audit import AuditRecord

DAY_MS = 86_400_000
NOW_MS = 1_714_564_800_000


@pytest.fixture(params=["sqlite", pytest.param("seekdb", marks=pytest.mark.seekdb)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ocs.db'}")
    else:
        engine = make_engine(request.getfixturevalue("seekdb_url"))
        metadata.drop_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def record(time_ms: int, dag_id: str = "", status: int = 200, **fields) -> AuditRecord:
    return AuditRecord(time="", time_ms=time_ms, agent="10.0.0.1:2886", method="POST", route="/api/v1/ob/upgrade",
                       path="/api/v1/ob/upgrade", status=status, dag_id=dag_id, **fields)


def test_the_store_answers_newest_first_by_time_and_dag_and_prunes_old_rows(engine: Engine) -> None:
    store = AuditStore(lambda: engine)
    store.add([record(NOW_MS - 100 * DAY_MS, "11"), record(NOW_MS - 2000, "11", summary={"operator": "RETRY"}),
               record(NOW_MS - 1000, "", 401, credential="password", err_code="Security.Authentication.WrongPassword"),
               record(NOW_MS, "12", summary={"version": "4.2.1.1", "slo": {"max_p99_ms": 1800}})])
    AuditStore(lambda: engine).add([])  # a second agent: the table is there already
    every = store.read(None, "", 10)
    assert [r.time_ms for r in every] == [NOW_MS, NOW_MS - 1000, NOW_MS - 2000, NOW_MS - 100 * DAY_MS]
    assert every[0].summary == {"version": "4.2.1.1", "slo": {"max_p99_ms": 1800}}
    assert every[0].time == "2024-05-01T12:00:00.000Z" and every[0].id is not None
    assert every[1].err_code == "Security.Authentication.WrongPassword" and every[1].credential == "password"
    assert [r.time_ms for r in store.read(NOW_MS - 1500, "", 10)] == [NOW_MS, NOW_MS - 1000]
    assert [(r.dag_id, r.summary) for r in store.read(None, "11", 1)] == [("11", {"operator": "RETRY"})]
    assert store.prune(NOW_MS - 90 * DAY_MS) == 1
    assert len(store.read(None, "", 1000)) == 3


def test_records_reach_the_journal_and_the_store_from_the_worker(engine: Engine, tmp_path: Path) -> None:
    journal = AuditJournal.in_log_dir(tmp_path / "log")
    trail = AuditTrail(AuditStore(lambda: engine), journal, clock=lambda: NOW_MS / 1000)
    trail.submit(record(NOW_MS - 10, "11"))
    trail.submit(record(NOW_MS, "12"))
    assert trail.flush(10)
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [line["dag_id"] for line in lines] == ["11", "12"] and "id" not in lines[0]
    assert [r.dag_id for r in trail.read(AuditQuery(limit=5))] == ["12", "11"]
    trail.close()


def test_a_store_that_is_down_keeps_the_journal_warns_and_catches_up(tmp_path: Path, caplog) -> None:
    engine: list[Engine | None] = [None]
    journal = AuditJournal.in_log_dir(tmp_path / "log")
    trail = AuditTrail(AuditStore(lambda: engine[0]), journal, retry_every_s=0.05, clock=lambda: NOW_MS / 1000)
    with caplog.at_level(logging.WARNING, logger="pyobshell.audit.trail"):
        trail.submit(record(NOW_MS, "11"))
        assert not trail.flush(0.5)  # waiting for the store
    assert json.loads(journal.path.read_text())["dag_id"] == "11"
    assert any("journal only" in r.getMessage() and "not open" in r.getMessage() for r in caplog.records)
    with pytest.raises(ObshellError) as caught:
        trail.read(AuditQuery())
    assert (caught.value.status, caught.value.code) == (503, "Audit.Store.Unavailable")

    engine[0] = make_engine(f"sqlite:///{tmp_path / 'ocs.db'}")
    assert trail.flush(10)  # retried: now it is in the store too
    assert [r.dag_id for r in trail.read(AuditQuery())] == ["11"]
    trail.close()
    engine[0].dispose()


def test_an_unwritable_journal_still_lets_the_store_have_the_record(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "log").write_text("a file where the directory should be")
    trail = AuditTrail(AuditStore(lambda: engine), AuditJournal.in_log_dir(tmp_path / "log"), clock=lambda: NOW_MS / 1000)
    trail.submit(record(NOW_MS, "11"))
    assert trail.flush(10)
    assert [r.dag_id for r in trail.read(AuditQuery())] == ["11"]
    trail.close()


def test_the_journal_rolls_over_past_its_size(tmp_path: Path) -> None:
    journal = AuditJournal(tmp_path / "audit.jsonl", max_bytes=100)
    journal.append([record(NOW_MS, "1")])
    journal.append([record(NOW_MS, "2")])
    assert json.loads((tmp_path / "audit.jsonl.1").read_text())["dag_id"] == "1"
    assert json.loads((tmp_path / "audit.jsonl").read_text())["dag_id"] == "2"


def test_the_worker_prunes_past_the_retention(engine: Engine) -> None:
    store = AuditStore(lambda: engine)
    store.add([record(NOW_MS - 8 * DAY_MS, "old"), record(NOW_MS - 6 * DAY_MS, "kept")])
    trail = AuditTrail(store, None, retention_days=7, clock=lambda: NOW_MS / 1000)
    trail.submit(record(NOW_MS, "new"))
    assert trail.flush(10)
    trail.close()
    assert [r.dag_id for r in store.read(None, "", 10)] == ["new", "kept"]


@pytest.mark.parametrize("raw, days", [("", 90.0), ("7", 7.0), ("0.5", 0.5)])
def test_the_retention_comes_from_the_environment(raw: str, days: float) -> None:
    assert retention_days({"PYOBSHELL_AUDIT_RETENTION_DAYS": raw}) == days


@pytest.mark.parametrize("raw", ["0", "-1", "many", "nan", "1e9"])
def test_a_bad_retention_names_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="PYOBSHELL_AUDIT_RETENTION_DAYS"):
        retention_days({"PYOBSHELL_AUDIT_RETENTION_DAYS": raw})
