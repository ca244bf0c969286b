"""Slow and lying clients against a started agent, over raw sockets: a connection that sends
nothing, a request head that never ends, a body that stalls, a ``Content-Length`` of 3 GiB with
2 KB behind it. Each is answered or dropped within the agent's read deadlines (2 s here), and an
upload that stalls leaves nothing on disk."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from tests.helpers import nets
from tests.helpers.sim import sim_cluster, wait_for

pytestmark = pytest.mark.multiprocess

PASSWORD = "slow-pw"
DEADLINE_S = 2.0
GIB = 1 << 30
UPLOAD_DIR = "upload"  # api.state.UPLOAD_DIR_NAME, in the agent home


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory):
    env = {"PYOBSHELL_HTTP_HEADER_TIMEOUT_S": str(DEADLINE_S), "PYOBSHELL_HTTP_BODY_TIMEOUT_S": str(DEADLINE_S)}
    with sim_cluster(tmp_path_factory.mktemp("slow"), net=nets.SLOW_CLIENTS, zones=1, password=PASSWORD,
                     agents=True, env=env) as cluster:
        agent = cluster["agents"][0]
        with httpx.Client(base_url=f"http://{agent['ip']}:{agent['port']}", timeout=30) as client:
            agent["public_key"] = client.get("/api/v1/secret").json()["data"]["public_key"]
        yield agent


def open_connection(agent: dict) -> socket.socket:
    return socket.create_connection((agent["ip"], agent["port"]), timeout=30)


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the agent sends until it closes, and how long that took."""
    started, received = time.monotonic(), b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def read_one_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and its Content-Length of body) from a kept-alive connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def signed(agent: dict, method: str, target: str, body: bytes | None, extra: dict[str, str]) -> tuple[bytes, bytes]:
    """The request head as an obshell client signs it, and the body encrypted under its keys
    (its true length is the Content-Length unless ``extra`` announces another)."""
    built = RequestBuilder(agent["public_key"], ClientStyle.SDK_V2).build(target, body, password=PASSWORD)
    length = {"Content-Length": str(len(built.body))} if body is not None else {}
    headers = {"Host": f"{agent['ip']}:{agent['port']}", **built.headers, **length, **extra}
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1"), built.body


def signed_head(agent: dict, method: str, target: str, body: bytes | None, extra: dict[str, str]) -> bytes:
    return signed(agent, method, target, body, extra)[0]


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def error_of(answer: bytes) -> dict:
    return json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


def upload_leftovers(agent: dict) -> list[str]:
    directory = Path(agent["home"]) / UPLOAD_DIR
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_connection_that_sends_nothing_is_closed(agent: dict) -> None:
    with open_connection(agent) as sock:
        answer, waited = read_until_closed(sock)
    assert status_of(answer) == 408 and b"headers did not arrive" in answer
    assert waited < DEADLINE_S + 10  # it does not stay open: uvicorn alone would wait for ever


def test_a_request_head_that_never_ends_is_answered_408(agent: dict) -> None:
    with open_connection(agent) as sock:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: agent\r\nX-Slow: ")
        answer, waited = read_until_closed(sock)
    assert status_of(answer) == 408 and waited < DEADLINE_S + 10


def test_a_kept_alive_connection_whose_next_head_stalls_is_closed(agent: dict) -> None:
    with open_connection(agent) as sock:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: agent\r\n\r\n")
        first = read_one_answer(sock)
        assert status_of(first) == 200 and b"connection: close" not in first.lower()  # kept alive
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: ag")
        answer, _ = read_until_closed(sock)
    assert status_of(answer) == 408


def test_a_json_body_announced_as_3_gib_is_refused_at_once(agent: dict) -> None:
    with open_connection(agent) as sock:
        sock.sendall(signed_head(agent, "POST", "/api/v1/ob/upgrade", b"{}", {
            "Content-Type": "application/json", "Content-Length": str(3 * GIB)}) + b"x" * 2048)
        answer, waited = read_until_closed(sock)
    assert 400 <= status_of(answer) < 500 and "larger than" in error_of(answer)["message"]
    assert waited < DEADLINE_S  # refused from the header alone: the body is never waited for


def test_a_json_body_that_stalls_times_out(agent: dict) -> None:
    with open_connection(agent) as sock:
        sock.sendall(signed_head(agent, "POST", "/api/v1/ob/upgrade", b"{}", {
            "Content-Type": "application/json", "Content-Length": "4096"}) + b"x" * 2048)
        answer, waited = read_until_closed(sock)
    assert status_of(answer) == 408 and error_of(answer)["errCode"] == "Request.Body.Timeout"
    assert waited < DEADLINE_S + 10


def test_an_upload_announced_larger_than_the_limit_is_refused_at_once(agent: dict) -> None:
    boundary = "slowboundary"
    with open_connection(agent) as sock:
        sock.sendall(signed_head(agent, "POST", "/api/v1/package", None, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(5 * GIB)})
            + b"x" * 2048)
        answer, waited = read_until_closed(sock)
    assert 400 <= status_of(answer) < 500 and error_of(answer)["errCode"] == "Request.File.TooLarge"
    assert waited < DEADLINE_S and upload_leftovers(agent) == []


def test_an_upload_announced_as_3_gib_that_stalls_is_dropped_and_leaves_nothing(agent: dict) -> None:
    """3 GiB is within the package limit (4 GiB): the agent starts receiving, and drops the
    upload when the client stops sending, temporary file and all."""
    boundary = "slowboundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ob.rpm\"\r\n"
            f"Content-Type: application/x-rpm\r\n\r\n").encode() + b"\xed\xab\xee\xdb" + b"\0" * (3 << 20)
    with open_connection(agent) as sock:
        sock.sendall(signed_head(agent, "POST", "/api/v1/package", None, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(3 * GIB)}) + part)
        # The agent has the first part on disk by now; then the client stalls.
        wait_for(lambda: upload_leftovers(agent) != [], 10, "the upload's temporary file")
        answer, waited = read_until_closed(sock)
    assert status_of(answer) == 408 and error_of(answer)["errCode"] == "Request.Body.Timeout"
    assert waited < DEADLINE_S + 10
    assert upload_leftovers(agent) == []


def test_a_client_that_keeps_sending_is_not_cut_off(agent: dict) -> None:
    """The body deadline is between pieces, not for the whole body: a slow, steady client
    (a piece every half deadline, three deadlines long) gets its answer."""
    body = json.dumps({"version": "4.2.1.1", "release": "101000062023110109.el7", "upgradeDir": None}).encode()
    head, encrypted = signed(agent, "POST", "/api/v1/ob/upgrade/check", body, {"Content-Type": "application/json"})
    step = max(1, len(encrypted) // 6)
    with open_connection(agent) as sock:
        sock.sendall(head)
        for piece in (encrypted[i:i + step] for i in range(0, len(encrypted), step)):
            sock.sendall(piece)
            time.sleep(DEADLINE_S / 2)
        sock.settimeout(60)
        answer = sock.recv(65536)
    assert status_of(answer) not in (0, 408) and status_of(answer) < 500, answer[:300]
