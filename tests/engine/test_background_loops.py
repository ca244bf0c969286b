"""Background loops (scheduler, task sync, coordinator) wait for a wake-up with a timeout and
must end when cancelled, even when the cancel arrives while they are being woken: on Python
3.11 ``asyncio.wait_for`` swallows such a cancel and the loop would run on forever."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pyobshell.aio import cancel_and_wait, set_event_threadsafe, wait_event


async def woken_loop(event: asyncio.Event, woken: list[bool]) -> None:
    while True:
        event.clear()
        woken.append(await wait_event(event, 10.0))


@pytest.mark.anyio
async def test_a_loop_cancelled_while_being_woken_ends() -> None:
    for _ in range(200):
        event, woken = asyncio.Event(), []
        task = asyncio.create_task(woken_loop(event, woken))
        await asyncio.sleep(0)  # the loop waits now
        event.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert done == {task} and task.cancelled()


@pytest.mark.anyio
async def test_wait_event_tells_a_wake_up_from_a_timeout() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5.0) is True


@pytest.mark.anyio
async def test_cancel_and_wait_ends_a_woken_loop() -> None:
    event, woken = asyncio.Event(), []
    task = asyncio.create_task(woken_loop(event, woken))
    await asyncio.sleep(0)
    event.set()
    await asyncio.wait_for(cancel_and_wait(task), timeout=1.0)
    assert task.done()


@pytest.mark.anyio
async def test_an_event_set_from_another_thread_wakes_its_loop() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(target=set_event_threadsafe, args=(loop, event)).start()
    assert await wait_event(event, 5.0) is True


def test_setting_an_event_of_no_loop_or_a_closed_one_does_nothing() -> None:
    loop = asyncio.new_event_loop()
    event = asyncio.Event()
    loop.close()
    set_event_threadsafe(None, event)
    set_event_threadsafe(loop, event)
    set_event_threadsafe(loop, None)
    assert not event.is_set()
