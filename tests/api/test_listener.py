"""The agent's listening socket: connections it accepts send small responses without delay."""

from __future__ import annotations

import asyncio
import socket

from pyobshell.agent.process import bind_listener


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_accepted_connections_have_tcp_nodelay() -> None:
    # Without TCP_NODELAY a response written in two parts (head, body) waits for the client's
    # delayed ACK: ~40 ms per keep-alive request.
    async def scenario() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = bind_listener("127.0.0.1", free_port())
        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            flag = await asyncio.wait_for(seen, 5)
            writer.close()
        return flag

    assert asyncio.run(scenario()) != 0
