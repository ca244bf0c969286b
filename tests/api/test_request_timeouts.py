"""BodyTimeoutMiddleware and the read-deadline settings, driven as raw ASGI (no sockets)."""

from __future__ import annotations

import anyio
import pytest

from pyobshell.api.request_timeouts import BodyTimeoutMiddleware, RequestTimeouts
from pyobshell.errors import ObshellError


def scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "method": "POST", "path": "/x", "headers": headers}


async def run(middleware_app, request_scope: dict, messages: list[tuple[float, dict]]) -> list[dict]:
    """Feed ``messages`` (each after its delay) to the wrapped app; return what it sent."""
    sent: list[dict] = []
    pending = list(messages)

    async def receive() -> dict:
        if not pending:
            await anyio.sleep_forever()
        delay, message = pending.pop(0)
        await anyio.sleep(delay)
        return message

    async def send(message: dict) -> None:
        sent.append(message)

    await middleware_app(request_scope, receive, send)
    return sent


async def reading_app(scope, receive, send) -> None:
    """Reads the whole body, then answers 200 with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def test_a_body_that_pauses_longer_than_the_deadline_fails_408() -> None:
    app = BodyTimeoutMiddleware(reading_app, body_idle_s=0.2)
    request = scope([(b"content-length", b"10")])
    with pytest.raises(ObshellError) as caught:
        anyio.run(run, app, request, [(0, {"type": "http.request", "body": b"12345", "more_body": True}),
                                      (5, {"type": "http.request", "body": b"67890"})])
    assert (caught.value.status, caught.value.code) == (408, "Request.Body.Timeout")
    assert "0.2 s" in caught.value.message


def test_a_steady_body_is_read_whatever_its_total_time() -> None:
    app = BodyTimeoutMiddleware(reading_app, body_idle_s=0.3)
    pieces = [(0.1, {"type": "http.request", "body": b"ab", "more_body": True}) for _ in range(6)]
    sent = anyio.run(run, app, scope([(b"content-length", b"14")]),
                     [*pieces, (0.1, {"type": "http.request", "body": b"cd"})])
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"14"
    assert (b"connection", b"close") not in sent[0]["headers"]  # read through: kept alive


def test_waiting_for_a_disconnect_after_the_body_is_not_timed() -> None:
    async def streaming_app(scope, receive, send) -> None:
        await receive()  # the (empty) body
        with anyio.move_on_after(0.5):
            await receive()  # as Starlette's StreamingResponse listens for a disconnect
        await send({"type": "http.response.start", "status": 200, "headers": []})

    app = BodyTimeoutMiddleware(streaming_app, body_idle_s=0.1)
    sent = anyio.run(run, app, scope([]), [(0, {"type": "http.request", "body": b""})])
    assert sent[0]["status"] == 200


def test_an_answer_before_the_body_is_read_closes_the_connection() -> None:
    async def refusing_app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 400, "headers": [(b"connection", b"keep-alive")]})

    app = BodyTimeoutMiddleware(refusing_app, body_idle_s=1)
    sent = anyio.run(run, app, scope([(b"content-length", str(3 << 30).encode())]), [])
    assert sent[0]["headers"] == [(b"connection", b"close")]
    bodiless = anyio.run(run, app, scope([]), [])
    assert bodiless[0]["headers"] == [(b"connection", b"keep-alive")]  # nothing unread: left alone


@pytest.mark.parametrize("env", [{"PYOBSHELL_HTTP_HEADER_TIMEOUT_S": "soon"}, {"PYOBSHELL_HTTP_BODY_TIMEOUT_S": "0"},
                                 {"PYOBSHELL_HTTP_HEADER_TIMEOUT_S": "-1"}, {"PYOBSHELL_HTTP_BODY_TIMEOUT_S": "nan"}])
def test_bad_settings_are_refused_with_their_names(env: dict[str, str]) -> None:
    ((name, raw),) = env.items()
    with pytest.raises(ValueError, match=f"{name}='{raw}' "):
        RequestTimeouts.from_env(env)


def test_settings_from_the_environment() -> None:
    assert RequestTimeouts.from_env({}) == RequestTimeouts(10.0, 15.0)
    assert RequestTimeouts.from_env({"PYOBSHELL_HTTP_BODY_TIMEOUT_S": "2.5"}).body_idle_s == 2.5
