"""Signed packages through the package routes and the plan, in process: with
``PYOBSHELL_PACKAGE_KEYRING`` set, only packages signed by a trusted key are stored; the listing
and the plan show each package's SHA-256 and signer either way."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI

from pyobshell.agent.config import AgentStartError
from pyobshell.agent.wiring import check_package_settings
from pyobshell.api import dependencies
from pyobshell.api.dependencies import UploadSettings
from pyobshell.audit.journal import AuditJournal
from pyobshell.audit.query import AuditQuery
from pyobshell.audit.store import AuditStore
from pyobshell.audit.trail import AuditTrail
from pyobshell.engine.store import make_engine
from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.sim.rpm_writer import RpmFileEntry
from pyobshell.upgrade.packages.keyring import KEYRING_ENV
from pyobshell.upgrade.packages.store import PackageStore
from tests.api.upgrade import packages
from tests.api.upgrade.conftest import MAX_UPLOAD_BYTES, assert_nothing_stored
from tests.helpers.pgp_keys import TestKey
from tests.upgrade import rpm_factory

PLAN = "/api/v1/ob/upgrade/plan"
PLAN_BODY = {"version": "4.2.1.1", "release": packages.RELEASE, "mode": "rolling", "upgradeDir": ""}


@pytest.fixture
def keyring_file(tmp_path: Path, signing_key: TestKey, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The trusted keyring, named by the environment as an operator would."""
    path = tmp_path / "trusted.asc"
    shutil.copy(signing_key.public_file, path)
    monkeypatch.setenv(KEYRING_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def env_keyring(app: FastAPI, upload_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads take the keyring from the environment, as the agent does (none unless a test sets one)."""
    monkeypatch.delenv(KEYRING_ENV, raising=False)
    app.dependency_overrides[dependencies.upload_settings] = lambda: UploadSettings(
        upload_dir, MAX_UPLOAD_BYTES, dependencies.package_keyring)


def refusal(agent: ObshellClient, path: Path, status: int = 400) -> ObshellApiError:
    with pytest.raises(ObshellApiError) as caught:
        agent.upload("/api/v1/package", path)
    assert caught.value.status == status, caught.value
    return caught.value


def planned_packages(agent: ObshellClient) -> dict[str, dict]:
    (hop,) = agent.request("POST", PLAN, PLAN_BODY)["route"]
    return {p["name"]: p for p in hop["packages"]}


# --- accepted ---------------------------------------------------------------------------------


def test_a_signed_package_is_accepted_and_its_signer_is_listed_and_planned(agent, tmp_path, signing_key, keyring_file):
    ce, libs = packages.build_pair(tmp_path / "rpms", sign_key=signing_key.secret_file)
    stored = agent.upload_package(ce)
    assert stored.signature.state == "verified" and stored.signature.key_id == signing_key.signing_key_id
    agent.upload_package(libs)
    verified = f'key {signing_key.signing_key_id} "{signing_key.user_id}" (verified)'
    listed = {p.name: p for p in agent.list_packages()}
    assert {name: p.signer for name, p in listed.items()} == {"oceanbase-ce": verified, "oceanbase-ce-libs": verified}
    assert listed["oceanbase-ce"].signature.fingerprint == signing_key.fingerprint
    assert listed["oceanbase-ce"].signature.user_id == signing_key.user_id
    planned = planned_packages(agent)
    for name, path in (("oceanbase-ce", ce), ("oceanbase-ce-libs", libs)):
        assert planned[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert planned[name]["signer"] == verified
        assert planned[name]["signature"] == {"state": "verified", "key_id": signing_key.signing_key_id,
                                              "fingerprint": signing_key.fingerprint, "user_id": signing_key.user_id}


def test_the_audit_records_each_uploaded_package_with_its_sha256_and_signer(app, agent, tmp_path, signing_key,
                                                                            keyring_file):
    engine = make_engine(f"sqlite:///{tmp_path / 'ocs.db'}")
    trail = AuditTrail(AuditStore(lambda: engine), AuditJournal.in_log_dir(tmp_path / "log"))
    app.state.agent.audit = trail
    try:
        ce, _ = packages.build_pair(tmp_path / "rpms", sign_key=signing_key.secret_file)
        agent.upload_package(ce)
        unsigned, _ = packages.build_pair(tmp_path / "plain")
        refusal(agent, unsigned)
        assert trail.flush(10)
        uploads = [r for r in trail.read(AuditQuery()) if r.route == "/api/v1/package"]
    finally:
        trail.close()
        engine.dispose()
    refused, accepted = uploads  # newest first
    assert accepted.status == 200 and accepted.summary["sha256"] == hashlib.sha256(ce.read_bytes()).hexdigest()
    assert accepted.summary["signer"] == f'key {signing_key.signing_key_id} "{signing_key.user_id}" (verified)'
    assert refused.status == 400 and refused.err_code and "signer" not in refused.summary
    assert refused.summary["sha256"] == hashlib.sha256(unsigned.read_bytes()).hexdigest()


def test_without_a_keyring_unsigned_packages_are_accepted_and_the_plan_says_unsigned(agent, tmp_path):
    for path in packages.build_pair(tmp_path / "rpms"):
        agent.upload_package(path)
    planned = planned_packages(agent)
    assert {name: p["signer"] for name, p in planned.items()} == {"oceanbase-ce": "unsigned",
                                                                 "oceanbase-ce-libs": "unsigned"}
    assert planned["oceanbase-ce"]["signature"]["state"] == "unsigned" and planned["oceanbase-ce"]["sha256"]


def test_without_a_keyring_a_signed_package_shows_its_key_as_not_verified(agent, tmp_path, signing_key):
    stored = agent.upload_package(packages.build(tmp_path / "rpms", sign_key=signing_key.secret_file))
    assert stored.signer == f"key {signing_key.signing_key_id} (not verified)"
    assert planned_packages(agent)["oceanbase-ce"]["signer"] == stored.signer


# --- refused ----------------------------------------------------------------------------------


def test_a_package_signed_by_a_key_not_in_the_keyring_is_refused_naming_it(agent, store: PackageStore, tmp_path,
                                                                          upload_dir, other_key, keyring_file):
    error = refusal(agent, packages.build(tmp_path / "rpms", sign_key=other_key.secret_file))
    assert error.err_code == "Package.Signature.UnknownKey"
    assert other_key.signing_key_id in error.message and "not in the trusted keyring" in error.message
    assert "oceanbase-ce-4.2.1.1" in error.message  # the file the client sent
    assert_nothing_stored(store, upload_dir)


def test_an_unsigned_package_is_refused_when_a_keyring_is_set(agent, store, tmp_path, upload_dir, keyring_file):
    error = refusal(agent, packages.build(tmp_path / "rpms"))
    assert error.err_code == "Package.Signature.Missing" and "not signed" in error.message
    assert_nothing_stored(store, upload_dir)


def test_a_tampered_payload_is_refused(agent, store, tmp_path, upload_dir, signing_key, keyring_file):
    spec = rpm_factory.spec(files=packages.ce_files())
    evil = packages.ce_files()
    evil[4] = RpmFileEntry.file(f"{rpm_factory.HOME}/bin/observer", b"#!/bin/sh\nrm -rf /\n", 0o755)
    path = rpm_factory.signed_rpm(tmp_path, spec, signing_key.secret_file, files_after_signing=evil)
    error = refusal(agent, path)
    assert error.err_code == "Package.Signature.Invalid" and "payload" in error.message and "tampered" in error.message
    assert signing_key.signing_key_id in error.message
    assert_nothing_stored(store, upload_dir)


def test_a_tampered_header_is_refused(agent, store, tmp_path, upload_dir, signing_key, keyring_file):
    spec = rpm_factory.spec(files=packages.ce_files())
    path = rpm_factory.signed_rpm(tmp_path, spec, signing_key.secret_file,
                                  header_edit=lambda header: header.replace(b"localhost", b"evil-host"))
    error = refusal(agent, path)
    assert error.err_code == "Package.Signature.Invalid" and "tampered" in error.message
    assert signing_key.signing_key_id in error.message
    assert_nothing_stored(store, upload_dir)


def test_a_keyring_broken_after_start_refuses_uploads_before_reading_them(agent, store, tmp_path, upload_dir,
                                                                          signing_key, keyring_file):
    keyring_file.write_text("no longer a keyring\n")
    os.utime(keyring_file, ns=(0, 2))
    error = refusal(agent, packages.build(tmp_path / "rpms", sign_key=signing_key.secret_file), status=503)
    assert error.err_code == "Package.Keyring.Invalid"
    assert str(keyring_file) in error.message and "not a file of OpenPGP public keys" in error.message
    assert_nothing_stored(store, upload_dir)


# --- agent start ------------------------------------------------------------------------------


def test_a_malformed_keyring_stops_the_agent_at_start_with_its_reason(tmp_path, monkeypatch):
    bad = tmp_path / "keyring.asc"
    bad.write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n")
    monkeypatch.setenv(KEYRING_ENV, str(bad))
    with pytest.raises(AgentStartError) as caught:
        check_package_settings()
    message = str(caught.value)
    assert message.startswith(f"{KEYRING_ENV}: keyring '{bad}' is not a file of OpenPGP public keys")
    assert "\n" not in message  # one line, no backtrace
    monkeypatch.setenv(KEYRING_ENV, str(tmp_path / "missing.asc"))
    with pytest.raises(AgentStartError, match="cannot be read"):
        check_package_settings()


def test_a_good_keyring_lets_the_agent_start(keyring_file):
    check_package_settings()
