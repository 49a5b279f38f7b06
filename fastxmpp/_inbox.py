"""Blocking iteration for plain code over what the callback thread hands over.

``Connection.messages()`` and ``IMConnection.events()`` both return a :class:`QueueIterator`
(or a subclass). The connection holds only the queue; the user holds the iterator, so an
iterator that is dropped unread stops collecting (``__del__``) instead of filling its queue
until the callback thread blocks on it.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastxmpp.errors import Timeout

T = TypeVar("T")

#: What the connection puts in a queue when it closes: the iterator ends there.
END = None


class QueueIterator(Generic[T]):
    """``next()`` gives the next item, waiting up to ``timeout`` seconds.

    A :class:`~fastxmpp.Timeout` does not end it: catch it and read on, nothing is lost
    meanwhile. It ends (``StopIteration``) when the connection closes, or after
    :meth:`close`; a context manager that closes it, too.
    """

    def __init__(
        self,
        source: queue.Queue[Any],
        timeout: float | None,
        detach: Callable[[], None],
        what: str = "item",
    ) -> None:
        self.timeout = timeout
        self._source = source
        self._detach: Callable[[], None] | None = detach
        self._what = what

    def __iter__(self) -> QueueIterator[T]:
        return self

    def __next__(self) -> T:
        if self._detach is None:
            raise StopIteration
        try:
            item = self._source.get(timeout=self.timeout)
        except queue.Empty:
            raise Timeout(f"no {self._what} within {self.timeout} s") from None
        if item is END:
            self.close()
            raise StopIteration
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop collecting: what the connection receives from now on is not queued here."""
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()

    def __enter__(self) -> QueueIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
