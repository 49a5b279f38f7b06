"""The I/O loop and the callback runner on their own (fastxmpp._loop), without a connection."""

from __future__ import annotations

import logging
import threading

import pytest
from helpers import wait_for

from fastxmpp._loop import CallbackRunner, IOLoop


@pytest.fixture
def loop():
    loop = IOLoop(name="fastxmpp-io test")
    loop.start()
    yield loop
    loop.stop()


def on_loop(loop: IOLoop, fn):
    """Run ``fn()`` on the loop thread and return its result."""
    done = threading.Event()
    out = []
    loop.call_soon(lambda: (out.append(fn()), done.set()))
    assert done.wait(5)
    return out[0]


def test_call_soon_from_another_thread_runs_on_the_loop_thread_in_order(loop):
    seen = []
    for i in range(100):
        loop.call_soon(lambda i=i: seen.append((i, loop.in_loop_thread())))
    assert wait_for(lambda: len(seen) == 100)
    assert seen == [(i, True) for i in range(100)]


def test_call_soon_on_the_loop_thread_needs_no_wake_up(loop, monkeypatch):
    wakes = []
    real_send = loop._wake_w.send
    monkeypatch.setattr(loop, "_wake_w", type("W", (), {"send": lambda self, b: wakes.append(b)})())
    ran = []

    def first():
        loop.call_soon(lambda: ran.append("second"))  # from the loop thread itself
        ran.append("first")

    loop._tasks.append((first, ()))  # queued from here, then a real wake-up byte
    real_send(b"\0")
    assert wait_for(lambda: ran == ["first", "second"])
    assert wakes == []  # the inner call_soon ran in the same turn without writing a byte


def test_call_later_runs_timers_in_time_order_and_cancel_works(loop):
    seen = []
    timers = on_loop(
        loop,
        lambda: [
            loop.call_later(0.06, lambda: seen.append("late")),
            loop.call_later(0.02, lambda: seen.append("early")),
            loop.call_later(0.04, lambda: seen.append("cancelled")),
        ],
    )
    timers[2].cancel()
    assert wait_for(lambda: len(seen) == 2)
    assert seen == ["early", "late"]


def test_a_failing_task_is_logged_and_the_loop_goes_on(loop, caplog):
    seen = []
    with caplog.at_level(logging.ERROR, logger="fastxmpp"):
        loop.call_soon(lambda: 1 / 0)
        loop.call_soon(lambda: seen.append("after"))
        assert wait_for(lambda: seen == ["after"])
    assert any("I/O task failed" in r.getMessage() for r in caplog.records)


def test_runner_keeps_order_logs_failures_and_reports_drain(caplog):
    runner = CallbackRunner(name="fastxmpp-callbacks test", high_water=4, low_water=1)
    gate = threading.Event()
    seen = []
    drained = threading.Event()
    runner.add_drain_listener(drained.set)
    try:
        runner.submit(gate.wait, 5)
        for i in range(4):
            runner.submit(seen.append, i)
        assert runner.overloaded and runner.backlog == 5
        with caplog.at_level(logging.ERROR, logger="fastxmpp"):
            runner.submit(lambda: 1 / 0)
            runner.submit(seen.append, "after the failure")
            gate.set()
            assert drained.wait(5)
            assert wait_for(lambda: runner.backlog == 0)
        assert seen == [0, 1, 2, 3, "after the failure"]
        assert not runner.overloaded
        assert any("failed" in r.getMessage() for r in caplog.records)
    finally:
        gate.set()
        runner.stop()
    with pytest.raises(RuntimeError):
        runner.submit(seen.append, "too late")
