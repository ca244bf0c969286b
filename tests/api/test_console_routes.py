"""The web console's static files: served at ``/`` and ``/console/...`` without a credential,
with a strict Content-Security-Policy, left out of the OpenAPI document, while the API behind
them stays authenticated."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from pyobshell.console import STATIC_DIR


def test_the_page_and_its_modules_are_served_without_a_credential(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    scripts = re.findall(r'src="([^"]+)"', page.text)
    assert scripts == ["/console/js/app.js"]
    for path in sorted(STATIC_DIR.rglob("*.js")):
        served = client.get(f"/console/{path.relative_to(STATIC_DIR).as_posix()}")
        assert served.status_code == 200, path
        assert "javascript" in served.headers["content-type"], served.headers["content-type"]
        assert served.headers["content-security-policy"] == csp
        assert served.content == path.read_bytes()
    assert client.get("/console/style.css").headers["content-type"].startswith("text/css")


def test_no_inline_script_and_no_outside_address_in_the_console() -> None:
    """Everything the page runs is its own files: no CDN, nothing fetched from elsewhere."""
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path
    assert "<script>" not in (STATIC_DIR / "index.html").read_text()


def test_unknown_console_files_are_404_and_traversal_is_refused(client: TestClient) -> None:
    assert client.get("/console/js/nothing.js").status_code == 404
    assert client.get("/console/../__init__.py").status_code == 404


def test_the_api_stays_protected_and_enveloped(client: TestClient) -> None:
    refused = client.get("/api/v1/ob/info")
    assert refused.status_code == 400 and refused.json()["error"]["errCode"] == "Request.Header.NotFound"
    missing = client.get("/api/v1/no-such-route")
    assert missing.status_code == 404 and missing.json()["error"]["errCode"] == "Common.NotFound"


def test_the_static_routes_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/console") for p in paths)
