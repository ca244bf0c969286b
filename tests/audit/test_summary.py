"""The audit summary keeps what a request asked for and never a secret."""

from __future__ import annotations

import hashlib
import json

from pyobshell.audit.summary import MAX_TEXT, summarize

SECRETS = ("r00t-S3cret!", "f" * 64, "6e0c6e6e-8f1b-4c55-9a61-3b2f1e1a2b3c", "QUVTS0VZQUVTS0VZQUVTS0VZQUVTS0VZ")


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def assert_no_secret(summary: dict) -> None:
    text = json.dumps(summary)
    for secret in SECRETS:
        assert secret not in text, (secret, summary)


def test_an_upgrade_keeps_its_version_release_mode_dir_and_gates_only() -> None:
    sent = body(version="4.2.1.1", release="101000062023110109.el7", mode="rolling", upgradeDir="/data/up",
                pause_after_zones=["zone1"], hold_before_finalize=True, soak_s=30,
                slo={"max_p99_ms": 1800, "window_s": 20, "password": SECRETS[0]},
                password=SECRETS[0], session_id=SECRETS[1], Token=SECRETS[2], Keys=SECRETS[3])
    summary = summarize("/api/v1/ob/upgrade", sent)
    assert summary == {"version": "4.2.1.1", "release": "101000062023110109.el7", "mode": "rolling",
                       "upgradeDir": "/data/up", "pause_after_zones": ["zone1"], "soak_s": 30,
                       "hold_before_finalize": True, "slo": {"max_p99_ms": 1800, "window_s": 20}}
    assert_no_secret(summary)


def test_an_upgrade_check_has_no_mode_and_an_operator_only_its_operator_and_id() -> None:
    assert summarize("/api/v1/ob/upgrade/check", body(version="4.2.1.1", release="1.el7", mode="x")) == \
        {"version": "4.2.1.1", "release": "1.el7"}
    operated = summarize("/api/v1/task/dag/{gid}", body(operator="RETRY", name="n", auth=SECRETS[0]), {"gid": "11"})
    assert operated == {"gid": "11", "operator": "RETRY"}


def test_a_logout_names_the_session_by_its_hash_and_login_keeps_nothing() -> None:
    summary = summarize("/api/v1/logout", body(session_id=SECRETS[1]))
    assert summary == {"session_hash": hashlib.sha256(SECRETS[1].encode()).hexdigest()}
    assert_no_secret(summary)
    assert summarize("/api/v1/login", body(password=SECRETS[0])) == {}


def test_an_upload_keeps_the_notes_of_its_file_and_a_delete_its_id() -> None:
    notes = {"filename": "oceanbase-ce.rpm", "size": 12, "sha256": "ab" * 32, "signer": "unsigned",
             "keys": SECRETS[3]}
    assert summarize("/api/v1/package", None, notes=notes) == {"filename": "oceanbase-ce.rpm", "size": 12,
                                                              "sha256": "ab" * 32, "signer": "unsigned"}
    assert summarize("/api/v1/upgrade/package/{pkg_id}", None, {"pkg_id": "3"}) == {"pkg_id": "3"}


def test_unknown_routes_bad_bodies_and_long_values_are_safe() -> None:
    assert summarize("/api/v1/authtest/counter", body(password=SECRETS[0], by=1)) == {}
    assert summarize("/api/v1/ob/upgrade", b"not json") == {}
    assert summarize("/api/v1/ob/upgrade", b"[1, 2]") == {}
    assert summarize("/api/v1/ob/upgrade", "\udcff".encode("utf-8", "surrogatepass")) == {}
    long = summarize("/api/v1/ob/upgrade", body(version="9" * 1000, mode={"nested": SECRETS[0]}))
    assert len(long["version"]) == MAX_TEXT + 1 and long["mode"] == "dict"
    assert_no_secret(long)
    nan = summarize("/api/v1/ob/upgrade", b'{"soak_s": NaN}')
    assert nan == {"soak_s": "nan"} and json.dumps(nan, allow_nan=False)
