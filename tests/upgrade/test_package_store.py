"""The package store on SQLite, on a simulated cluster's ``ocs`` database, and on ``ocs`` in
seekdb (a real OceanBase SQL engine)."""

from __future__ import annotations

import hashlib
import math
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, func, select, update

from pyobshell.engine.store import make_engine
from pyobshell.errors import ObshellError
from pyobshell.sim.package_builder import build_packages
from pyobshell.sim.rpm_writer import RpmFileEntry
from pyobshell.upgrade.packages import store as package_store
from pyobshell.upgrade.packages.inspector import inspect_rpm
from pyobshell.upgrade.packages.schema import build_package_tables
from pyobshell.upgrade.packages.store import PackageStore
from tests.helpers.sim import sim_cluster

from tests.upgrade import rpm_factory as factory
from tests.upgrade.rpm_factory import HOME
from tests.helpers import nets

RELEASE = "101000062023110109.el7"
SMALL_CHUNK = 4096  # several chunks even for the small simulated packages
SIM_PASSWORD = "pkgstorepw"


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `ocs` database of a one-observer simulated cluster."""
    with sim_cluster(tmp_path_factory.mktemp("pkg-sim") / "c", net=nets.PACKAGE_STORE, zones=1, password=SIM_PASSWORD) as doc:
        ip = doc["observers"][0]["ip"]
        admin = create_engine(f"mysql+pymysql://root%40sys:{SIM_PASSWORD}@{ip}:2881/oceanbase")
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS ocs")
        admin.dispose()
        yield f"mysql+pymysql://root%40sys:{SIM_PASSWORD}@{ip}:2881/ocs"


MYSQL_BACKENDS = {"sim-cluster": "cluster_url", "seekdb": "seekdb_url"}


@pytest.fixture(params=["sqlite", pytest.param("sim-cluster", marks=pytest.mark.multiprocess),
                        pytest.param("seekdb", marks=pytest.mark.seekdb)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'packages.db'}"
        return
    url = request.getfixturevalue(MYSQL_BACKENDS[request.param])
    _drop_tables(url)
    yield url


def _drop_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        build_package_tables().metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[PackageStore]:
    engine = make_engine(store_url)
    yield PackageStore(engine, chunk_size=SMALL_CHUNK)
    engine.dispose()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """oceanbase-ce and oceanbase-ce-libs 4.2.1.1, as the simulator builds them."""
    return build_packages("4.2.1.1", RELEASE, tmp_path_factory.mktemp("pkgs"))


def chunk_rows(store: PackageStore) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(store.tables.chunk)).scalar_one()


def assert_nothing_stored(store: PackageStore) -> None:
    assert store.list() == []
    assert chunk_rows(store) == 0


def refusal(store: PackageStore, path: Path, **kwargs) -> ObshellError:
    with pytest.raises(ObshellError) as caught:
        store.add(path, **kwargs)
    return caught.value


# --- storing, listing, downloading, deleting --------------------------------------------


def test_upload_list_download_and_delete(store, packages, tmp_path):
    ce_path, libs_path = packages
    ce, libs = store.add(ce_path), store.add(libs_path)
    inspected = inspect_rpm(ce_path)
    data = ce_path.read_bytes()
    assert (ce.name, ce.version, ce.release, ce.distribution, ce.release_distribution, ce.architecture) == (
        "oceanbase-ce", "4.2.1.1", "101000062023110109", "el7", RELEASE, "x86_64")
    assert (ce.size, ce.payload_size, ce.md5) == (inspected.size, inspected.payload_size, inspected.md5)
    assert (ce.file_size, ce.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert ce.chunk_count == math.ceil(len(data) / SMALL_CHUNK) > 1
    assert ce.gmt_modify is not None and str(ce.build_version) == "4.2.1.1-101000062023110109"
    assert chunk_rows(store) == ce.chunk_count + libs.chunk_count

    assert [p.pkg_id for p in store.list()] == [libs.pkg_id, ce.pkg_id]  # newest first
    assert store.get(ce.pkg_id) == ce
    assert store.check_chunks(ce.pkg_id) == ce

    target = store.download(ce.pkg_id, tmp_path / "rpm-1" / "x86_64" / "4.2.1.1" / "oceanbase-ce.rpm")
    assert target.read_bytes() == data
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind

    store.delete(ce.pkg_id)
    assert store.list() == [libs]
    assert chunk_rows(store) == libs.chunk_count
    with pytest.raises(ObshellError) as caught:
        store.get(ce.pkg_id)
    assert (caught.value.code, caught.value.status) == ("OB.Package.NotExist", 404)


def test_chunk_count_comes_from_the_file_size(store_url, packages, tmp_path):
    # With the chunk size equal to the signature's payload size, obshell would store one
    # chunk and drop the file's lead and signature.
    payload_size = inspect_rpm(packages[1]).payload_size
    engine = make_engine(store_url)
    try:
        store = PackageStore(engine, chunk_size=payload_size)
        stored = store.add(packages[1])
        assert stored.chunk_count == 2
        assert store.download(stored.pkg_id, tmp_path / "libs.rpm").read_bytes() == packages[1].read_bytes()
    finally:
        engine.dispose()


def test_route_file_text(store, packages):
    ce, libs = store.add(packages[0]), store.add(packages[1])
    assert store.route_file_text(ce.pkg_id) == inspect_rpm(packages[0]).upgrade_dep_yaml
    assert "can_be_upgraded_to" in store.route_file_text(ce.pkg_id)
    assert store.route_file_text(libs.pkg_id) is None


def test_find_by_release_build_or_newest_build(store, tmp_path):
    older = store.add(build_packages("4.2.1.1", "101000062023110109.el7", tmp_path / "a")[1])
    newer = store.add(build_packages("4.2.1.1", "102000032024010203.el7", tmp_path / "b")[1])
    other_dist = store.add(build_packages("4.2.1.1", "103000012024020304.el8", tmp_path / "c")[1])
    name, arch = "oceanbase-ce-libs", "x86_64"
    assert store.find(name, "4.2.1.1", None, arch) == other_dist
    assert store.find(name, "4.2.1.1", None, arch, distribution="el7") == newer
    assert store.find(name, "4.2.1.1", "101000062023110109.el7", arch) == older
    assert store.find(name, "4.2.1.1", "102000032024010203", arch) == newer
    assert store.find(name, "4.2.1.1", "101000062023110109.el8", arch) is None
    assert store.find(name, "4.2.1.1", None, "aarch64") is None
    assert store.find("oceanbase-ce", "4.2.1.1", None, arch) is None
    assert store.find(name, "4.2.1.2", None, arch) is None


def test_unknown_ids(store):
    for call in (store.get, store.delete, store.route_file_text, store.check_chunks):
        with pytest.raises(ObshellError) as caught:
            call(42)
        assert caught.value.status == 404
    with pytest.raises(ObshellError) as caught:
        store.get(0)
    assert caught.value.status == 400


def test_an_unusable_database_is_a_typed_error(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'packages.db'}")
    with pytest.raises(ObshellError) as caught:
        PackageStore(engine).list()
    assert (caught.value.code, caught.value.status) == ("Package.Store.Failed", 500)
    assert "unable to open database" in caught.value.message


def test_download_to_an_unwritable_place_is_a_typed_error(store, packages, tmp_path):
    stored = store.add(packages[1])
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(ObshellError) as caught:
        store.download(stored.pkg_id, tmp_path / "file" / "libs.rpm")
    assert (caught.value.code, caught.value.status) == ("Package.IO.Failed", 500)


# --- refusals: each leaves the store empty ----------------------------------------------


def test_refuses_a_file_that_is_not_an_rpm(store, tmp_path):
    path = tmp_path / "notes.rpm"
    path.write_text("release notes, not a package\n" * 20)
    error = refusal(store, path)
    assert (error.code, error.status) == ("Package.NotRpm", 400)
    assert_nothing_stored(store)


def test_refuses_a_truncated_package(store, packages, tmp_path):
    data = packages[0].read_bytes()
    path = tmp_path / "truncated.rpm"
    path.write_bytes(data[: len(data) * 2 // 3])
    error = refusal(store, path)
    assert (error.code, error.status) == ("OB.Package.Corrupted", 400)
    assert_nothing_stored(store)


def test_refuses_a_corrupted_package(store, packages, tmp_path):
    data = bytearray(packages[0].read_bytes())
    data[-200] ^= 0xFF
    path = tmp_path / "corrupted.rpm"
    path.write_bytes(bytes(data))
    error = refusal(store, path)
    assert (error.code, error.status) == ("OB.Package.Corrupted", 400)
    assert_nothing_stored(store)


def test_refuses_a_checksum_mismatch(store, packages):
    error = refusal(store, packages[0], expected_sha256=hashlib.sha256(b"another file").hexdigest())
    assert (error.code, error.status) == ("Package.Checksum.Mismatch", 400)
    assert_nothing_stored(store)


def test_accepts_the_expected_checksum(store, packages):
    digest = hashlib.sha256(packages[0].read_bytes()).hexdigest()
    assert store.add(packages[0], expected_sha256=digest).sha256 == digest


def test_refuses_a_package_that_is_not_oceanbase(store, tmp_path):
    error = refusal(store, factory.write(tmp_path, factory.spec(name="nginx")))
    assert (error.code, error.status) == ("OB.Package.Name.NotSupport", 400)
    assert "nginx" in error.message
    assert_nothing_stored(store)


def test_refuses_a_package_of_another_edition(store, packages):
    error = refusal(store, packages[0], allowed_names=("obshell", "oceanbase"))
    assert (error.code, error.status) == ("OB.Package.Name.NotSupport", 400)
    assert_nothing_stored(store)


def test_refuses_a_package_with_an_unsafe_entry(store, tmp_path):
    files = factory.observer_files() + [
        RpmFileEntry.file(f"{HOME}/bin/obshell", b"#!/bin/sh\n", 0o755),
        RpmFileEntry.file("./home/admin/../../../etc/cron.d/evil", b"* * * * * root sh\n"),
    ]
    error = refusal(store, factory.write(tmp_path, factory.spec(files)))
    assert (error.code, error.status) == ("Package.Entry.Unsafe", 400)
    assert_nothing_stored(store)


def test_refuses_a_version_below_4_2(store, tmp_path):
    path = build_packages("4.1.0.2", "101000062023110109.el7", tmp_path)[0]
    error = refusal(store, path)
    assert (error.code, error.status) == ("Agent.OBVersionNotSupported", 400)
    assert "4.1.0.2" in error.message and "4.2.0.0" in error.message
    assert_nothing_stored(store)


def test_refuses_a_package_missing_a_required_file(store, tmp_path):
    # observer_files() has bin/observer but no bin/obshell, which oceanbase-ce needs.
    error = refusal(store, factory.write(tmp_path, factory.spec()))
    assert (error.code, error.status) == ("OB.Package.MissingFile", 400)
    assert "/home/admin/oceanbase/bin/obshell" in error.message
    assert_nothing_stored(store)


def test_refuses_a_duplicate(store, packages):
    first = store.add(packages[0])
    error = refusal(store, packages[0])
    assert (error.code, error.status) == ("Package.Duplicate", 400)
    assert str(first.pkg_id) in error.message
    assert store.list() == [first]
    assert chunk_rows(store) == first.chunk_count


def test_the_unique_index_refuses_a_concurrent_duplicate(store, packages, monkeypatch):
    first = store.add(packages[0])
    check = PackageStore._refuse_duplicate
    calls = []

    def misses_the_other_upload_once(self, conn, info):
        calls.append(info.name)
        if len(calls) > 1:
            check(self, conn, info)

    monkeypatch.setattr(PackageStore, "_refuse_duplicate", misses_the_other_upload_once)
    error = refusal(store, packages[0])
    assert (error.code, error.status, len(calls)) == ("Package.Duplicate", 400, 2)
    assert store.list() == [first]
    assert chunk_rows(store) == first.chunk_count


def test_a_package_changed_while_stored_is_rolled_back(store, packages, monkeypatch):
    # The inspection saw the libs package, but the bytes stored are another file's.
    libs_info = inspect_rpm(packages[1])
    monkeypatch.setattr(package_store, "inspect_rpm", lambda *args, **kwargs: libs_info)
    error = refusal(store, packages[0])
    assert (error.code, error.status) == ("Package.Checksum.Mismatch", 400)
    assert_nothing_stored(store)


# --- damaged storage ---------------------------------------------------------------------


def test_download_of_a_damaged_chunk_fails_and_leaves_no_file(store, packages, tmp_path):
    stored = store.add(packages[0])
    chunk = store.tables.chunk
    with store.engine.begin() as conn:
        conn.execute(update(chunk).where(chunk.c.pkg_id == stored.pkg_id, chunk.c.chunk_id == 1)
                     .values(chunk=b"\0" * SMALL_CHUNK))
    target = tmp_path / "out" / "oceanbase-ce.rpm"
    with pytest.raises(ObshellError) as caught:
        store.download(stored.pkg_id, target)
    assert caught.value.code == "OB.Package.Corrupted" and "SHA-256" in caught.value.message
    assert list(target.parent.iterdir()) == []


def test_download_of_a_missing_chunk_fails(store, packages, tmp_path):
    stored = store.add(packages[0])
    chunk = store.tables.chunk
    with store.engine.begin() as conn:
        conn.execute(chunk.delete().where(chunk.c.pkg_id == stored.pkg_id, chunk.c.chunk_id == 2))
    with pytest.raises(ObshellError) as caught:
        store.check_chunks(stored.pkg_id)
    assert "actual chunk count" in caught.value.message
    with pytest.raises(ObshellError) as caught:
        store.download(stored.pkg_id, tmp_path / "out" / "ce.rpm")
    assert caught.value.code == "OB.Package.Corrupted" and "chunk 2" in caught.value.message
    assert list((tmp_path / "out").iterdir()) == []


# --- signers -----------------------------------------------------------------------------


def test_the_signer_is_stored_and_listed(store, signing_key, tmp_path):
    from pyobshell.upgrade.packages.keyring import Keyring

    ce, libs = build_packages("4.2.1.1", RELEASE, tmp_path / "signed", sign_key=signing_key.secret_file)
    verified = store.add(ce, keyring=Keyring.load(signing_key.public_file))
    not_verified = store.add(libs)
    unsigned = store.add(build_packages("4.2.1.2", RELEASE, tmp_path / "unsigned")[0])
    by_id = {p.pkg_id: p.info() for p in store.list()}
    signature = by_id[verified.pkg_id].signature
    assert (signature.state, signature.key_id, signature.fingerprint, signature.user_id) == (
        "verified", signing_key.signing_key_id, signing_key.fingerprint, signing_key.user_id)
    assert by_id[not_verified.pkg_id].signer == f"key {signing_key.signing_key_id} (not verified)"
    assert by_id[unsigned.pkg_id].signer == "unsigned" and by_id[unsigned.pkg_id].signature.key_id == ""
    assert store.get(verified.pkg_id).signature == verified.signature


def test_a_table_without_the_signer_columns_gets_them(store_url, packages):
    """Tables of an older pyobshell have sha256 and file_size but no signer columns."""
    engine = make_engine(store_url)
    try:
        older = build_package_tables()
        for name in ("signature_state", "signer_key_id", "signer_fingerprint", "signer_user_id"):
            older.info._columns.remove(older.info.c[name])
        older.metadata.create_all(engine)
        store = PackageStore(engine, chunk_size=SMALL_CHUNK)
        stored = store.add(packages[0])
        assert store.get(stored.pkg_id).info().signer == "unsigned"
    finally:
        engine.dispose()


# --- tables made by obshell ----------------------------------------------------------------


def _legacy_info_table() -> Table:
    """obshell's upgrade_pkg_info: no sha256, no file_size, no unique index."""
    return Table(
        "upgrade_pkg_info", MetaData(),
        Column("pkg_id", Integer, primary_key=True, autoincrement=True),
        *(Column(n, String(128), nullable=False) for n in (
            "name", "version", "release_distribution", "distribution", "release", "architecture", "md5")),
        *(Column(n, Integer, nullable=False) for n in ("size", "payload_size", "chunk_count")),
        Column("upgrade_dep_yaml", Text),
    )


def test_tables_created_by_obshell_are_migrated_and_verified_by_md5(store_url, packages, tmp_path):
    path, data = packages[1], packages[1].read_bytes()
    inspected = inspect_rpm(path)
    legacy = _legacy_info_table()
    engine = make_engine(store_url)
    try:
        legacy.create(engine)
        row = dict(name=inspected.name, version=inspected.version, release_distribution=inspected.release,
                   distribution="el7", release=inspected.build_number, architecture=inspected.arch,
                   md5=inspected.md5, size=inspected.size, payload_size=inspected.payload_size,
                   chunk_count=1, upgrade_dep_yaml="")
        with engine.begin() as conn:  # obshell keeps re-uploads as new rows
            conn.execute(legacy.insert(), [row, row])
        store = PackageStore(engine)
        assert len(store.list()) == 1  # migrates: adds the missing columns and the chunk table
        with engine.begin() as conn:
            conn.execute(store.tables.chunk.insert(),
                         [{"pkg_id": pkg_id, "chunk_id": 0, "chunk_count": 1, "chunk": data} for pkg_id in (1, 2)])
        listed = store.list()
        assert [p.pkg_id for p in listed] == [2]  # the newest upload wins
        assert (listed[0].sha256, listed[0].file_size) == ("", 0)
        assert listed[0].info().signer == "not checked"  # stored before signatures were read
        assert store.download(2, tmp_path / "ok.rpm").read_bytes() == data
        with engine.begin() as conn:
            conn.execute(update(store.tables.chunk).where(store.tables.chunk.c.pkg_id == 2)
                         .values(chunk=data[:-1] + bytes([data[-1] ^ 1])))
        with pytest.raises(ObshellError) as caught:
            store.download(2, tmp_path / "bad.rpm")
        assert caught.value.code == "OB.Package.Corrupted" and "MD5" in caught.value.message
        assert not (tmp_path / "bad.rpm").exists()
    finally:
        engine.dispose()


# --- memory ------------------------------------------------------------------------------


def test_storing_and_downloading_stream_in_chunks(store_url, tmp_path):
    big = os.urandom(40 << 20)  # incompressible: the package is about as big
    files = [RpmFileEntry.directory(f"{HOME}/lib"), RpmFileEntry.file(f"{HOME}/lib/libbig.so", big)]
    path = factory.write(tmp_path, factory.spec(files, name="oceanbase-ce-libs", compressor="gzip"), "big.rpm")
    del big, files
    size = path.stat().st_size
    assert size > 40 << 20
    engine = make_engine(store_url)
    try:
        store = PackageStore(engine, chunk_size=1 << 20)
        store.list()  # create the tables outside the measurement
        tracemalloc.start()
        try:
            stored = store.add(path)
            _, add_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            target = store.download(stored.pkg_id, tmp_path / "copy.rpm")
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert stored.chunk_count == math.ceil(size / (1 << 20))
        assert target.stat().st_size == size
        # A quarter of the package: PyMySQL escapes each chunk into a few copies.
        assert add_peak < size // 4, f"peak Python allocation while storing: {add_peak} bytes"
        assert download_peak < size // 4, f"peak Python allocation while downloading: {download_peak} bytes"
    finally:
        engine.dispose()
