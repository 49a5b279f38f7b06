"""XMPP extensions (XEPs): one module per XEP family, attached to a :class:`~fastxmpp.Connection`.

An extension is an :class:`Extension` subclass. ``conn.extension(Cls)`` attaches it on first use
and returns the same instance afterwards; the ones every client needs are attached when the
connection is created and have typed properties (``conn.disco``: :mod:`fastxmpp.xep.disco`,
XEP-0030; ``conn.version``: :mod:`fastxmpp.xep.version`, XEP-0092). What the attached extensions
bring is announced in disco#info (:attr:`Extension.features`, collected by
:attr:`Connection.supported_features <fastxmpp.Connection.supported_features>`).

Recipe for a new XEP module (``disco.py`` and ``version.py`` are the worked examples):

1. One module per XEP family, named for what it does (``disco.py``, ``version.py``, ``ping.py``),
   with the namespaces as module constants.
2. Results are small immutable records (frozen dataclasses) built by module-level ``parse_*``
   functions that take the answer stanza. A malformed answer raises
   :class:`~fastxmpp.errors.ProtocolError` when nothing usable is left (no payload), and an
   unusable part (an item without a valid JID) is skipped with one warning per answer: a peer
   can never make a parser crash with a ``KeyError`` or flood the log.
3. The extension: a subclass of :class:`Extension` with ``name`` (short, lowercase: the
   property name if it gets one) and ``features`` (the disco features it implements). Its
   ``__init__(connection)`` calls ``super().__init__(connection)``, then registers what it
   answers: IQ requests with :meth:`Extension.serve_iq` (a default that the user's own
   ``conn.on("iq", ...)`` handler for the same type and namespace overrides), other stanzas
   with ``connection.on(...)``. Handlers run on the callback thread.
4. Queries: a blocking method built on :meth:`Extension.request` (``query(jid, timeout=None)``)
   and an ``*_async`` twin built on :meth:`Extension.request_async` that returns a Future, for
   callers that fire many requests at once. Both parse the answer with the ``parse_*``
   function; an error answer raises :class:`~fastxmpp.IQError` as ``Connection.request`` does.
5. State that users change while handlers read it (features, identities, names) lives in
   immutable values that are replaced whole, under a lock where a change reads the old value:
   a handler never sees half an update.
6. Import ``fastxmpp.connection`` only under ``TYPE_CHECKING``: the connection imports the
   extensions it attaches by default.
7. Tests: ``tests/test_<module>.py``, against the throwaway Prosody (``fastxmpp.testing``) and
   with parser unit tests on hand-built malformed answers.

A widely used extension gets a typed property on :class:`~fastxmpp.Connection` (``disco``,
``version``); any other is reached with ``conn.extension(Cls)``, which is typed as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, ClassVar, TypeVar

from fastxmpp.errors import ProtocolError
from fastxmpp.xml import Element

if TYPE_CHECKING:
    from fastxmpp.connection import Connection

__all__ = ["Extension", "ProtocolError"]

log = logging.getLogger("fastxmpp.xep")

T = TypeVar("T")


class Extension:
    """Base class of the XEP implementations attached to a connection (see the module doc).

    Subclasses set ``name`` and ``features`` and register their handlers in ``__init__``.
    Do not create instances directly: ``conn.extension(Cls)`` does, once per connection.
    """

    #: A short lowercase name (``"disco"``, ``"version"``), for logs and lookups.
    name: ClassVar[str] = ""
    #: The disco#info features this extension implements (announced while it is attached).
    features: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.name, str) or not cls.name:
            raise TypeError(f"{cls.__qualname__} needs a class attribute name, e.g. 'disco'")
        if not isinstance(cls.features, frozenset):
            cls.features = frozenset(cls.features)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.name!r} on {self.connection!r}>"

    def serve_iq(
        self, type: str, namespace: str, handler: Callable[[Element], Element | None]
    ) -> None:
        """Answer IQ requests of ``type`` (``"get"``/``"set"``) whose payload is in ``namespace``.

        ``handler(stanza)`` runs on the callback thread and returns the answer payload (or None
        for an empty result), or raises :class:`~fastxmpp.StanzaError` for an error answer, as
        a ``conn.on("iq", ...)`` handler does. A handler the user registers with ``conn.on``
        for the same type and namespace takes precedence over this one.
        """
        self.connection._serve_iq(type, namespace, handler)

    def request(
        self, stanza: Element, parse: Callable[[Element], T], timeout: float | None = None
    ) -> T:
        """Send an IQ request, wait for the answer (default timeout: the connection's) and
        return ``parse(result)``; raises as :meth:`Connection.request` does, and
        :class:`ProtocolError` when ``parse`` finds the answer malformed."""
        return parse(self.connection.request(stanza, timeout))

    def request_async(
        self, stanza: Element, parse: Callable[[Element], T], timeout: float | None = None
    ) -> Future[T]:
        """Send an IQ request; the Future gets ``parse(result)`` or the error.

        Unlike :meth:`Connection.request_async`, the timeout defaults to the connection's, so
        a request never waits forever. Callbacks added to the Future run on the callback
        thread; ``result()`` may be waited for from any other thread.
        """
        # the one private corner of the package: a Future whose callbacks run on the callback
        # thread, the same kind Connection.request_async returns
        from fastxmpp.connection import _Future

        conn = self.connection
        outcome: Future[T] = _Future(conn._runner)
        wait = conn.timeout if timeout is None else timeout
        source = conn.request_async(stanza, timeout=wait)

        def done(answer: Future) -> None:  # on the I/O thread (or here, if already done)
            try:
                if answer.cancelled():
                    outcome.cancel()
                    return
                error = answer.exception()
                if error is not None:
                    outcome.set_exception(error)
                    return
                try:
                    value = parse(answer.result())
                except Exception as exc:  # ProtocolError, or a bug: the caller learns of it
                    outcome.set_exception(exc)
                else:
                    outcome.set_result(value)
            except InvalidStateError:  # the caller cancelled the outcome meanwhile
                pass

        # Future's own add_done_callback, not _Future's: parse where the answer arrives (the
        # I/O thread; cheap, and our code, not the user's) instead of queueing it behind user
        # callbacks, so that a callback may wait for outcome.result() without deadlocking.
        Future.add_done_callback(source, done)
        return outcome


def _sender_of(stanza: Element) -> str:
    """A stanza's sender for messages: its ``from``, or "the server" when it has none."""
    return stanza.get("from") or "the server"
