"""Package routes in process through ObshellClient: upload, list, download, delete, and every
refusal (a 4xx envelope, nothing stored, no temporary file left)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pyobshell.client import AsyncObshellClient, ObshellApiError, ObshellClient
from pyobshell.client import wire
from pyobshell.client.credentials import Credentials
from pyobshell.sim.rpm_writer import RpmFileEntry
from pyobshell.upgrade.packages.store import PackageStore

from tests.upgrade.rpm_factory import ROUTE_YAML

from tests.api.auth import obshell_wire

from tests.api.upgrade import packages
from tests.api.upgrade.conftest import BASE, MAX_UPLOAD_BYTES, ROOT_PASSWORD, assert_nothing_stored

GO_FIELDS = {"PkgId", "Name", "Version", "ReleaseDistribution", "Distribution", "Release", "Architecture", "Size",
             "PayloadSize", "ChunkCount", "Md5", "UpgradeDepYaml", "GmtModify", "Sha256", "FileSize"}


def refusal(agent: ObshellClient, path: Path, route: str = "/api/v1/package") -> ObshellApiError:
    with pytest.raises(ObshellApiError) as caught:
        agent.upload(route, path)
    assert 400 <= caught.value.status < 500, caught.value
    # The refusal names the file the client sent, never the agent's temporary copy of it.
    message = caught.value.message
    assert ".upload-" not in message and ".part" not in message, message
    return caught.value


# --- the happy path ---------------------------------------------------------------------------


def test_upload_list_download_delete(agent: ObshellClient, store: PackageStore, tmp_path: Path, upload_dir: Path):
    ce, libs = packages.build_pair(tmp_path / "rpms")
    stored_ce = agent.upload_package(ce)
    stored_libs = agent.upload_package(libs)
    assert (stored_ce.name, stored_ce.version, stored_ce.release_distribution) == ("oceanbase-ce", "4.2.1.1", packages.RELEASE)
    assert (stored_ce.release, stored_ce.distribution, stored_ce.architecture) == ("101000062023110109", "el7", "x86_64")
    assert stored_ce.sha256 == hashlib.sha256(ce.read_bytes()).hexdigest() and stored_ce.file_size == ce.stat().st_size
    assert stored_ce.chunk_count > 1 and stored_ce.upgrade_dep_yaml == ""
    assert [p.pkg_id for p in agent.list_packages()] == [stored_libs.pkg_id, stored_ce.pkg_id]  # newest first

    copy = agent.download_package(stored_ce.pkg_id, tmp_path / "back" / "ce.rpm")
    assert copy.read_bytes() == ce.read_bytes()
    assert list(copy.parent.iterdir()) == [copy]  # no partial file beside it

    agent.delete_package(stored_ce.pkg_id)
    assert [p.pkg_id for p in agent.list_packages()] == [stored_libs.pkg_id]
    for call in (lambda: agent.delete_package(stored_ce.pkg_id),
                 lambda: agent.download_package(stored_ce.pkg_id, tmp_path / "gone.rpm")):
        with pytest.raises(ObshellApiError) as caught:
            call()
        assert (caught.value.status, caught.value.err_code) == (404, "OB.Package.NotExist")
    assert not (tmp_path / "gone.rpm").exists()
    assert list(upload_dir.iterdir()) == []  # uploads and downloads leave nothing in the home


def test_old_upload_route_answers_obshells_go_field_names(agent: ObshellClient, tmp_path: Path):
    data = agent.upload("/api/v1/upgrade/package", packages.build(tmp_path))
    assert set(data) == GO_FIELDS
    assert data["Name"] == "oceanbase-ce" and data["UpgradeDepYaml"] == ROUTE_YAML
    assert data["GmtModify"].endswith("Z")


def test_async_client_round_trip(app: FastAPI, tmp_path: Path):
    ce = packages.build(tmp_path / "rpms")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            agent = AsyncObshellClient(BASE, password=ROOT_PASSWORD, http_client=http)
            stored = await agent.upload_package(ce)
            assert [p.pkg_id for p in await agent.list_packages()] == [stored.pkg_id]
            copy = await agent.download_package(stored.pkg_id, tmp_path / "async.rpm")
            assert copy.read_bytes() == ce.read_bytes()
            await agent.delete_package(stored.pkg_id)
            assert await agent.list_packages() == []

    asyncio.run(scenario())


def test_openapi_documents_the_package_routes(http: TestClient):
    paths = http.get("/openapi.json").json()["paths"]
    upload = paths["/api/v1/package"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert any(p["name"] == "X-OCS-File-SHA256" for p in upload["parameters"])
    assert "application/x-rpm" in paths["/api/v1/upgrade/package/{pkg_id}/download"]["get"]["responses"]["200"]["content"]
    assert {"/api/v1/upgrade/package", "/api/v1/upgrade/package/info", "/api/v1/upgrade/package/{pkg_id}"} <= set(paths)


# --- refused packages: each through the API, nothing stored ---------------------------------------


def test_refuses_a_file_that_is_not_an_rpm(agent, store, tmp_path, upload_dir):
    path = tmp_path / "notes.rpm"
    path.write_text("release notes, not a package\n" * 20)
    error = refusal(agent, path)
    assert error.err_code == "Package.NotRpm" and error.message.startswith("package 'notes.rpm': ")
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_truncated_rpm(agent, store, tmp_path, upload_dir):
    good = packages.build(tmp_path / "rpms").read_bytes()
    path = tmp_path / "cut.rpm"
    path.write_bytes(good[: len(good) // 2])
    assert refusal(agent, path).err_code == "OB.Package.Corrupted"
    assert_nothing_stored(store, upload_dir)


def test_refuses_an_rpm_whose_checksum_does_not_match(agent, store, tmp_path, upload_dir):
    data = bytearray(packages.build(tmp_path / "rpms").read_bytes())
    data[-100] ^= 0xFF  # inside the payload: the signature MD5 no longer matches
    path = tmp_path / "flipped.rpm"
    path.write_bytes(bytes(data))
    error = refusal(agent, path)
    assert error.err_code == "OB.Package.Corrupted" and "MD5" in error.message
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_package_that_is_not_oceanbase(agent, store, tmp_path, upload_dir):
    error = refusal(agent, packages.build(tmp_path, name="nginx"), route="/api/v1/upgrade/package")
    assert error.err_code == "OB.Package.Name.NotSupport" and "'nginx'" in error.message
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_package_with_an_entry_escaping_its_root(agent, store, tmp_path, upload_dir):
    files = packages.ce_files() + [RpmFileEntry.file("./home/admin/oceanbase/../../../etc/cron.d/evil", b"x")]
    error = refusal(agent, packages.build(tmp_path, files=files))
    assert error.err_code == "Package.Entry.Unsafe" and "climbs out" in error.message
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_duplicate_and_keeps_the_first(agent, store, tmp_path, upload_dir):
    path = packages.build(tmp_path)
    first = agent.upload_package(path)
    error = refusal(agent, path)
    assert error.err_code == "Package.Duplicate" and str(first.pkg_id) in error.message
    assert [p.pkg_id for p in store.list()] == [first.pkg_id]
    assert list(upload_dir.iterdir()) == []


def test_refuses_a_file_larger_than_the_limit(agent, store, tmp_path, upload_dir):
    path = tmp_path / "huge.rpm"
    path.write_bytes(b"\xed\xab\xee\xdb" + b"\0" * MAX_UPLOAD_BYTES)
    error = refusal(agent, path)
    assert error.err_code == "Request.File.TooLarge" and str(MAX_UPLOAD_BYTES) in error.message
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_file_sha256_header_for_other_bytes(agent, http, store, tmp_path, upload_dir):
    path = packages.build(tmp_path)
    url = wire.target_url(BASE, "/api/v1/package", None)
    headers = wire.upload_headers(agent.builder(), Credentials.choose(ROOT_PASSWORD, None, None), url, "0" * 64)
    response = http.post(str(url), headers=headers, files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 401
    assert response.json()["error"]["errCode"] == "Security.Authentication.File.Sha256Mismatch"
    assert_nothing_stored(store, upload_dir)


def test_refuses_an_upload_without_credentials(http, store, tmp_path, upload_dir):
    path = packages.build(tmp_path)
    response = http.post("/api/v1/upgrade/package", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 400 and response.json()["error"]["errCode"] == "Request.Header.NotFound"
    assert_nothing_stored(store, upload_dir)


@pytest.mark.parametrize("field", ["rpm", "files"])
def test_refuses_an_upload_without_the_file_field(agent, store, tmp_path, upload_dir, field):
    with pytest.raises(ObshellApiError) as caught:
        agent.upload("/api/v1/package", packages.build(tmp_path), field=field)
    assert (caught.value.status, caught.value.err_code) == (400, "Request.File.Missing")
    assert "'file'" in caught.value.message
    assert_nothing_stored(store, upload_dir)


def test_refuses_a_body_that_is_not_multipart(agent, store, upload_dir):
    with pytest.raises(ObshellApiError) as caught:
        agent.request("POST", "/api/v1/package", {"file": "not multipart"})
    assert (caught.value.status, caught.value.err_code) == (400, "Request.File.Missing")
    assert_nothing_stored(store, upload_dir)


# --- ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pkg_id", "code"), [("abc", "Request.Query.Param.Illegal"), ("0", "Request.Path.Param.Empty"),
                                              ("-3", "Request.Path.Param.Empty"), ("1.5", "Request.Query.Param.Illegal")])
def test_malformed_ids_are_bad_requests(agent, pkg_id, code):
    for method, path in (("DELETE", f"/api/v1/upgrade/package/{pkg_id}"),
                         ("GET", f"/api/v1/upgrade/package/{pkg_id}/download")):
        response = agent.raw_request(method, path)
        assert response.status_code == 400 and response.json()["error"]["errCode"] == code


# --- obshell's Python SDK: the whole multipart body AES-encrypted, no file digest header ------


def sdk_upload(http: TestClient, key_pair, path: Path, route: str = "/api/v1/upgrade/package", *,
               encrypt: bool = True, cut: int = 0):
    """What ``ClientV1.upload_pkg`` sends: requests' multipart body for field ``file``, then the
    v2 auth encrypts the bytes with the header's Keys (base64 of AES-CBC), no X-OCS-File-SHA256."""
    boundary = "8c3f1b2a9d4e4f60a7b5c6d7e8f90123"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n\r\n"
            .encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode())
    if encrypt:
        headers, raw = obshell_wire.sdk_v2_raw(key_pair.public_key, time.time(), route, ROOT_PASSWORD, body)
    else:
        headers, raw = obshell_wire.sdk_v2(key_pair.public_key, time.time(), route, ROOT_PASSWORD)[0], body
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return http.post(route, headers=headers, content=raw[:len(raw) - cut] if cut else raw)


def test_the_sdks_encrypted_upload_is_stored_and_answered_with_the_route_file(http, key_pair, store, tmp_path):
    ce, libs = packages.build_pair(tmp_path / "rpms")
    response = sdk_upload(http, key_pair, ce)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == GO_FIELDS  # obshell's storage struct, Go field names
    assert data["UpgradeDepYaml"] == ROUTE_YAML and data["Sha256"] == hashlib.sha256(ce.read_bytes()).hexdigest()
    libs_data = sdk_upload(http, key_pair, libs).json()["data"]
    assert libs_data["Name"] == "oceanbase-ce-libs" and libs_data["UpgradeDepYaml"] == ""
    assert [p.name for p in store.list()] == ["oceanbase-ce-libs", "oceanbase-ce"]
    assert store.get(data["PkgId"]).sha256 == data["Sha256"]


def test_a_plain_multipart_body_with_keys_in_the_header_is_read_as_it_is(http, key_pair, store, tmp_path):
    """The web UI sends form data unencrypted; a header with Keys does not make it ciphertext."""
    ce = packages.build(tmp_path / "rpms")
    assert sdk_upload(http, key_pair, ce, encrypt=False).status_code == 200
    assert [p.name for p in store.list()] == ["oceanbase-ce"]


def test_a_truncated_encrypted_upload_is_refused_and_leaves_nothing(http, key_pair, store, tmp_path, upload_dir):
    ce = packages.build(tmp_path / "rpms")
    response = sdk_upload(http, key_pair, ce, cut=100)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["errCode"] in ("Request.Body.Decrypt.Failed", "Request.Multipart.Invalid")
    assert_nothing_stored(store, upload_dir)


def test_the_new_upload_route_keeps_a_plain_multipart_body(http, key_pair, store, tmp_path, upload_dir):
    ce = packages.build(tmp_path / "rpms")
    response = sdk_upload(http, key_pair, ce, route="/api/v1/package")
    assert response.status_code == 400  # ciphertext is no multipart body there, as in obshell
    assert_nothing_stored(store, upload_dir)
