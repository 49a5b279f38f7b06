"""The two kinds of thread a connection uses: the I/O loop and the callback runner.

:class:`IOLoop` is one thread with a selector. It owns every socket registered with it (one
connection, or all the accounts of a :class:`fastxmpp.Client`), runs functions handed to it with
:meth:`IOLoop.call_soon` from any thread, and timers. It never runs user code.

:class:`CallbackRunner` is one thread that runs user callbacks in the order they were queued. The
I/O loop queues work on it and reads its :attr:`CallbackRunner.backlog`: when the backlog passes
a high-water mark, connections stop reading their sockets (TCP pushes back on the server) until
the runner has caught up, so a slow callback costs time, never memory or data.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fastxmpp.connection")

__all__ = ["CallbackRunner", "IOLoop", "Timer"]


class Timer:
    """A function scheduled on the I/O loop; :meth:`cancel` keeps it from running."""

    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], Any]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class IOLoop:
    """One I/O thread: a selector over many sockets, a thread-safe task queue, and timers."""

    def __init__(self, name: str = "fastxmpp-io") -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._tasks: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._woken = False
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ident: int | None = None  # the I/O thread's, once it runs
        self._started = False
        self._lock = threading.Lock()

    # -- any thread --------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O thread, soon; safe from any thread."""
        self._tasks.append((fn, args))
        if self._ident == threading.get_ident():
            return  # the loop runs its tasks before it waits again: no wake-up needed
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):  # the pipe is full (awake anyway) or closed
                pass

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after the tasks already queued; close the selector."""
        if self.in_loop_thread():
            self._stopping = True
            return
        if self._started:
            self.call_soon(self._set_stopping)
            self._thread.join(timeout)
        self._close()

    # -- the I/O thread only -------------------------------------------------------------

    def register(self, sock: Any, events: int, handler: Any) -> None:
        self._selector.register(sock, events, handler)

    def modify(self, sock: Any, events: int, handler: Any) -> None:
        self._selector.modify(sock, events, handler)

    def unregister(self, sock: Any) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Timer:
        timer = Timer(time.monotonic() + delay, fn)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    def _set_stopping(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        self._ident = threading.get_ident()
        select = self._selector.select
        tasks = self._tasks
        while not self._stopping:
            timeout = None
            if tasks:
                timeout = 0.0
            elif self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                ready = select(timeout)
            except OSError:  # a socket closed under us; the owner notices on its next call
                log.exception("selector failed")
                ready = []
            for key, mask in ready:
                handler = key.data
                if handler is None:
                    self._drain_wake()
                    continue
                try:
                    handler.on_ready(mask)
                except Exception:  # a bug in a connection must not kill every connection
                    log.exception("I/O handler failed")
            while tasks:
                fn, args = tasks.popleft()
                try:
                    fn(*args)
                except Exception:
                    log.exception("I/O task failed")
            if self._timers:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    timer = heapq.heappop(self._timers)[2]
                    if not timer.cancelled:
                        try:
                            timer.fn()
                        except Exception:
                            log.exception("I/O timer failed")
        self._close()

    def _drain_wake(self) -> None:
        # Read first, then clear the flag: clearing first let a call_soon() in between send a
        # byte that this read swallowed, leaving the flag set with nothing to wake the next
        # select(), so every later task waited forever. Tasks queued before the flag is
        # cleared run in this same turn (the task queue is read after this).
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        self._woken = False

    def _close(self) -> None:
        with self._lock:
            if self._selector is None:  # type: ignore[comparison-overlap]
                return
            try:
                self._selector.close()
            finally:
                self._wake_r.close()
                self._wake_w.close()
                self._selector = None  # type: ignore[assignment]


class CallbackRunner:
    """One thread running queued callables in order; exceptions are logged, never fatal.

    ``on_drained`` is called (on this thread) each time the backlog falls to ``low_water``
    after having reached ``high_water``: the I/O loop resumes reading then.

    The hand-off is a :class:`queue.SimpleQueue` (its ``put`` and blocking ``get`` are C code)
    and two counters: ``submit`` counts what it queues under a small lock, the runner counts what
    it finished without one (it is the only writer), and the backlog is their difference.
    """

    def __init__(
        self,
        name: str = "fastxmpp-callbacks",
        *,
        high_water: int = 10_000,
        low_water: int | None = None,
    ) -> None:
        self.high_water = high_water
        self.low_water = high_water // 4 if low_water is None else low_water
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], int] | None]
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._submitted = 0  # units queued so far (written under _lock)
        self._done = 0  # units handled so far (written by the runner thread only)
        self._over = False
        self._drain_listeners: list[Callable[[], Any]] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Stanzas (or other units) queued and not yet handled."""
        return self._submitted - self._done

    def in_runner_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def add_drain_listener(self, fn: Callable[[], Any]) -> None:
        self._drain_listeners.append(fn)

    def remove_drain_listener(self, fn: Callable[[], Any]) -> None:
        try:
            self._drain_listeners.remove(fn)
        except ValueError:
            pass

    @property
    def overloaded(self) -> bool:
        """True once the backlog reached ``high_water``, until it fell to ``low_water``."""
        return self._over

    def submit(self, fn: Callable[..., Any], *args: Any, weight: int = 1) -> None:
        """Queue ``fn(*args)``; ``weight`` is how many units it counts for in the backlog."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the callback runner is stopped")
            self._submitted += weight
            if self._submitted - self._done >= self.high_water:
                self._over = True
            self._queue.put((fn, args, weight))

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then end the thread (unless called from it)."""
        with self._lock:
            if not self._stopping:
                self._stopping = True
                self._queue.put(None)  # after everything queued before
        if not self.in_runner_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            fn, args, weight = item
            try:
                fn(*args)
            except Exception:
                log.exception("callback %r failed", getattr(fn, "__qualname__", fn))
            self._done += weight
            if self._over:  # only submit() sets it, and always queues an item after doing so
                with self._lock:
                    drained = self._over and self._submitted - self._done <= self.low_water
                    if drained:
                        self._over = False
                if drained:
                    for listener in list(self._drain_listeners):
                        try:
                            listener()
                        except Exception:
                            log.exception("drain listener failed")
