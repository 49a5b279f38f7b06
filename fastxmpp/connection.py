"""The threaded client connection: from a JID and a password to a ready session, synchronously.

:func:`connect` (or :class:`Connection` and :meth:`Connection.connect`) finds the server (DNS
SRV), secures the stream (STARTTLS or direct TLS, the certificate checked against the JID's
domain), authenticates (SASL), binds a resource, and returns once stanzas can flow. The
negotiation runs in the caller's thread, blocking, with one deadline for all of it. Then the
socket goes to the I/O thread (:class:`fastxmpp._loop.IOLoop`), which reads, parses, answers
pings and IQ results and writes; user callbacks run on the callback thread
(:class:`fastxmpp._loop.CallbackRunner`), in order.

Sent and received XML is logged at DEBUG level on the ``fastxmpp.xml`` logger.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from OpenSSL import SSL

from fastxmpp import _impl, transport
from fastxmpp._inbox import QueueIterator
from fastxmpp._loop import CallbackRunner, IOLoop, Timer
from fastxmpp.errors import (
    ConnectionFailed,
    Disconnected,
    IQError,
    StanzaError,
    StreamError,
    Timeout,
    XMPPError,
)
from fastxmpp.jid import JID
from fastxmpp.message import Message, build_message
from fastxmpp.presence import build_presence
from fastxmpp.sasl import Credentials
from fastxmpp.stream import (
    Authenticated,
    ClientStream,
    SessionReady,
    StartTLS,
    StreamClosed,
    TLSMode,
    parse_stanza_error,
)
from fastxmpp.xep import Extension
from fastxmpp.xep.disco import Disco
from fastxmpp.xep.version import Version
from fastxmpp.xml import Element, iq, tostring

__all__ = ["Connection", "connect", "TLSPolicy"]

if TYPE_CHECKING:
    from fastxmpp import _dispatch
    from fastxmpp._dispatch import Route
else:
    _dispatch = _impl.dispatch  # compiled when the extensions are built
    Route = _dispatch.Route
_message_bytes = _impl.message_bytes
new_id = _impl.new_id  # compiled when the extensions are built

log = logging.getLogger("fastxmpp.connection")
xml_log = logging.getLogger("fastxmpp.xml")

CLIENT_NS = "jabber:client"
PING_NS = "urn:xmpp:ping"
STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
# the dispatch's interned names: the handler tables are keyed by them, and a parsed tag (interned
# too) then finds its entry by identity
MESSAGE = _dispatch.MESSAGE
PRESENCE = _dispatch.PRESENCE
IQ = _dispatch.IQ
_TAGS = {"message": MESSAGE, "presence": PRESENCE, "iq": IQ}
EVENTS = frozenset({"connected", "authenticated", "session_ready", "disconnected", "stream_error"})
#: The disco#info features Connection implements itself (it answers pings on the I/O thread).
_OWN_FEATURES = frozenset({PING_NS})

#: ``"required"``: TLS always, direct TLS where DNS (XEP-0368) or ``port=5223``-style options
#: say so, STARTTLS otherwise; ``"direct"``: direct TLS only; ``"starttls"``: STARTTLS only;
#: ``"disabled"``: plain text, readable and changeable by anyone on the path (tests only).
TLSPolicy = Literal["required", "direct", "starttls", "disabled"]

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_MAX_REDIRECTS = 3
#: Bytes per read: enough stanzas per parser call and per hand-off to the callback thread
#: (about 70 typical stanzas), yet few enough objects that they are freed before the cyclic
#: GC's first generation fills (700 container objects, about 5 per stanza): with 64 KB reads,
#: every batch outlived collections and was promoted, and full collections followed.
_READ_SIZE = 16384


_E = TypeVar("_E", bound=Extension)


class _Future(Future):
    """A Future whose done-callbacks run on the callback thread, never on the I/O thread."""

    def __init__(self, runner: CallbackRunner) -> None:
        super().__init__()
        self._runner = runner

    def add_done_callback(self, fn: Callable[[Future], object]) -> None:
        runner = self._runner
        super().add_done_callback(lambda f: runner.submit(fn, f))


#: What on() registers: (kind or event, type, namespace) -> callbacks in registration order.
_Key = tuple[str, str | None, str | None]


_DEFAULT_TYPE = {"message": "normal", "presence": "available", "iq": None}


def _build_routes(handlers: dict[_Key, list[Callable[..., Any]]]) -> dict[str, Route]:
    """Stanza tag -> its :class:`~fastxmpp._dispatch.Route` (the dispatch reads these)."""
    routes: dict[str, Route] = {}
    for (kind, type_, ns), registered in handlers.items():
        tag = _TAGS.get(kind)
        if tag is None:  # an event, not a stanza kind
            continue
        route = routes.get(tag)
        if route is None:
            route = routes[tag] = _dispatch.Route(_DEFAULT_TYPE[kind])
        fns = list(registered)
        if type_ is None and ns is None:
            route.plain += fns
        elif ns is None:
            route.by_type.setdefault(type_, []).extend(fns)
            route.simple = False
        else:
            route.by_ns.setdefault((type_, ns), []).extend(fns)
            route.simple = False
    return routes


class Connection:
    """One account's client connection (RFC 6120), with a synchronous API.

    Create it, register handlers, then :meth:`connect` (or use :func:`connect`, which does both
    first and last). Everything is keyword-only after the JID and the password:

    - ``host``/``port``: connect there instead of asking DNS (``port`` alone keeps the domain);
    - ``tls``: see :data:`TLSPolicy`; ``verify=False`` turns certificate checks off (logged as
      a warning: anyone on the path could then read and change everything); ``ca_file``: trust
      this CA (PEM) instead of the system's; ``certfile``/``keyfile``: a client certificate
      (SASL EXTERNAL);
    - ``resource``: the resource to ask for (the server may choose another; see :attr:`jid`);
    - ``mechanisms``: restrict SASL to these mechanism names; ``tls_max_version="1.2"``: cap
      TLS at 1.2 (servers such as Prosody 0.12 offer SCRAM ``-PLUS`` only there);
    - ``resolver``: a ``dns.resolver.Resolver`` for the SRV lookups (default: the system's);
    - ``timeout``: seconds for all of :meth:`connect` (DNS, TCP, TLS, SASL, bind), and the
      default for :meth:`request`;
    - ``keepalive``: send a whitespace keepalive after this many idle seconds of sending;
      ``ping_interval``/``ping_timeout``: send an XEP-0199 ping after this many seconds without
      receiving anything, and give the link up when the answer takes longer than
      ``ping_timeout``;
    - ``max_backlog``: stanzas waiting for callbacks before reading pauses.
    """

    #: The events :meth:`on` accepts; subclasses (:class:`fastxmpp.IMConnection`) add theirs.
    EVENTS: frozenset[str] = EVENTS

    def __init__(
        self,
        jid: str | JID,
        password: str | None,
        *,
        host: str | None = None,
        port: int | None = None,
        tls: TLSPolicy = "required",
        verify: bool = True,
        ca_file: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        resource: str | None = None,
        mechanisms: list[str] | None = None,
        tls_max_version: str | None = None,
        resolver: Any = None,
        timeout: float = 30.0,
        keepalive: float | None = 60.0,
        ping_interval: float | None = 120.0,
        ping_timeout: float = 30.0,
        max_backlog: int = 10_000,
        lang: str | None = "en",
        _loop: IOLoop | None = None,
        _runner: CallbackRunner | None = None,
    ) -> None:
        if tls not in ("required", "direct", "starttls", "disabled"):
            raise ValueError(
                f"tls must be 'required', 'direct', 'starttls' or 'disabled', not {tls!r}"
            )
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise ValueError(f"port must be an int from 1 to 65535, not {port!r}")
        if timeout is None or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        account = jid if isinstance(jid, JID) else JID(jid)
        if resource is not None:
            account = JID(local=account.local, domain=account.domain, resource=resource)
        self.account = account
        self._credentials = Credentials(username=account.local, password=password)
        self.host, self.port, self.tls = host, port, tls
        self.verify, self.ca_file = verify, ca_file
        self.certfile, self.keyfile = certfile, keyfile
        self.mechanisms = mechanisms
        self.timeout = timeout
        self.keepalive, self.ping_interval, self.ping_timeout = (
            keepalive,
            ping_interval,
            ping_timeout,
        )
        self.lang = lang
        self.tls_max_version = tls_max_version
        self._resolver = resolver
        #: The bound full JID once connected (the server may have changed the resource).
        self.jid: JID | None = None
        #: The stream features the server offered after authentication.
        self.features: Element | None = None
        #: The reason the connection ended (an exception), or None (clean close / still up).
        self.disconnect_reason: BaseException | None = None

        self._own_loop = _loop is None
        self._loop = _loop or IOLoop(name=f"fastxmpp-io {account}")
        self._own_runner = _runner is None
        self._runner = _runner or CallbackRunner(
            name=f"fastxmpp-callbacks {account}", high_water=max_backlog
        )
        self._runner.add_drain_listener(self._on_drained)
        self._handlers: dict[_Key, list[Callable[..., Any]]] = {}
        self._routes: dict[str, Route] = {}  # stanza tag -> its handlers, rebuilt by on()/off()
        # the same for inline handlers (run on the I/O thread): on(..., inline=True)
        self._inline_handlers: dict[_Key, list[Callable[..., Any]]] = {}
        self._inline_routes: dict[str, Route] = {}
        self._handlers_lock = threading.Lock()  # on()/off() from several threads at once
        self._iq_pending: dict[str, tuple[Future, frozenset[Any]]] = {}
        self._message_queues: list[queue.Queue[Any]] = []
        self._state = "new"  # new -> connecting -> ready -> closing -> closed
        self._state_lock = threading.Lock()
        self._closed_event = threading.Event()
        # set by the I/O thread:
        self._sock: socket.socket | None = None
        self._tsock: Any = None
        self._stream: ClientStream | None = None
        self._out: list[bytes] = []
        self._out_lock = threading.Lock()
        self._flush_pending = False
        self._wbuf = b""
        self._want_write = False
        self._paused = False
        self._last_read = self._last_write = time.monotonic()
        self._timers: list[Timer] = []
        self._ping_id: str | None = None
        # extensions (fastxmpp.xep): the instances, and the IQ requests they answer
        self._extensions: dict[type[Extension], Extension] = {}
        self._extensions_lock = threading.RLock()  # an extension may attach the ones it needs
        self._iq_served: dict[tuple[str, str], Callable[[Element], Any]] = {}
        self.extension(Disco)  # answer disco#info and version queries from the first stanza on
        self.extension(Version)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Connection:
        if self._state == "new":
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Connection {self.jid or self.account} {self._state}>"

    @property
    def connected(self) -> bool:
        """True while the session is up (after :meth:`connect`, before closing or a failure)."""
        return self._state == "ready"

    def connect(self) -> Connection:
        """Connect, secure, authenticate and bind; return when stanzas can flow.

        Raises :class:`~fastxmpp.ConnectionFailed`, :class:`~fastxmpp.TLSError` (and
        :class:`~fastxmpp.CertificateError`), :class:`~fastxmpp.AuthenticationError`,
        :class:`~fastxmpp.StreamError`, :class:`~fastxmpp.Timeout`; on failure nothing is left
        running.
        """
        with self._state_lock:
            if self._state != "new":
                raise XMPPError(f"connect() was already called on this connection ({self._state})")
            self._state = "connecting"
        try:
            sock, tsock, stream, early = self._negotiate(time.monotonic() + self.timeout)
        except BaseException:
            self._state = "closed"
            self._closed_event.set()
            self._shutdown_threads()
            raise
        self._sock, self._tsock, self._stream = sock, tsock, stream
        self.jid = stream.bound_jid
        self.features = stream.features
        sock.setblocking(False)
        self._state = "ready"
        self._loop.start()
        ready = threading.Event()
        self._loop.call_soon(self._attach, early, ready)
        ready.wait()
        self._emit("session_ready", self.jid)
        return self

    def close(self, timeout: float = 5.0) -> None:
        """End the stream politely, wait up to ``timeout`` for the server's close, stop threads.

        Callbacks already queued still run. Safe to call more than once and from callbacks.
        """
        with self._state_lock:
            state = self._state
            if state in ("new", "closed"):
                self._state = "closed"
                self._closed_event.set()
                self._shutdown_threads()
                return
            if state == "ready":
                self._state = "closing"
        if state in ("ready", "closing") and self._loop.running:
            self._loop.call_soon(self._start_close)
            if not self._runner.in_runner_thread() and not self._loop.in_loop_thread():
                self._closed_event.wait(timeout)
            if not self._closed_event.is_set():
                self._loop.call_soon(self._teardown, None)
                if not self._runner.in_runner_thread() and not self._loop.in_loop_thread():
                    self._closed_event.wait(1.0)
        self._shutdown_threads()

    def _shutdown_threads(self) -> None:
        self._runner.remove_drain_listener(self._on_drained)
        if self._own_loop:
            self._loop.stop()
        if self._own_runner:
            self._runner.stop()

    # -- handlers ------------------------------------------------------------------------------

    def on(
        self,
        name: str,
        callback: Callable[..., Any] | None = None,
        *,
        type: str | None = None,
        namespace: str | None = None,
        inline: bool = False,
    ) -> Any:
        """Register ``callback`` for stanzas of kind ``name`` or for an event; also a decorator.

        Stanza kinds: ``"message"``, ``"presence"``, ``"iq"`` (``callback(stanza)``; a message
        comes as a :class:`fastxmpp.Message`, which also has the Element's reading methods),
        narrowed by ``type`` and by ``namespace`` (a payload child's namespace). Events (see
        :attr:`EVENTS`; ``callback(*args)``): ``"connected"``
        (the endpoint), ``"authenticated"`` (the mechanism name), ``"session_ready"`` (the
        bound JID), ``"disconnected"`` (the reason: an exception, or None after a clean close),
        ``"stream_error"`` (the :class:`~fastxmpp.StreamError`).

        For one stanza, handlers without filters run first, then those for its type, then
        those for its payload namespaces, each group in the order of registration. A message
        without ``type`` counts as ``"normal"``, a presence without one as ``"available"``.

        An ``iq`` handler (``type="get"`` or ``"set"``, and a namespace) answers the request:
        return the payload (an Element) or None for an empty result, or raise
        :class:`~fastxmpp.StanzaError` for an error reply. Such a handler takes precedence over
        an extension answering the same requests (``disco``, ``version``: see
        :mod:`fastxmpp.xep`). Requests nobody handles are answered ``service-unavailable``.

        ``inline=True`` (message and presence handlers only) runs the handler on the I/O
        thread as the stanza is read, ahead of whatever waits for the callback thread: no
        hand-over between threads, which is most of what a stanza costs in a relay or a
        counter. Such a handler must be quick and must not wait: ``request()``,
        ``messages()`` and ``events()`` raise there (``send()`` and ``request_async()`` are
        fine), and while it runs nothing is read or written, for this connection and for
        every other one sharing its I/O thread (a :class:`~fastxmpp.Client`'s accounts).
        """
        if callback is None:
            return lambda fn: self.on(name, fn, type=type, namespace=namespace, inline=inline)
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if name in self.EVENTS:
            if type is not None or namespace is not None:
                raise ValueError(f"event {name!r} takes no type or namespace")
        elif name not in ("message", "presence", "iq"):
            raise ValueError(
                f"unknown stanza kind or event {name!r}: use message, presence, iq"
                f" or one of {', '.join(sorted(self.EVENTS))}"
            )
        if name == "iq" and (type not in ("get", "set") or namespace is None):
            raise ValueError(
                "an iq handler answers requests: give type='get' or 'set' and the payload"
                " namespace (results come back from request())"
            )
        if inline and name not in ("message", "presence"):
            raise ValueError("inline=True is for message and presence handlers only")
        key = (name, type, namespace)
        with self._handlers_lock:  # copy, then swap: the I/O thread reads them without a lock
            if inline:
                handlers = self._inline_handlers
                self._inline_handlers = {**handlers, key: [*handlers.get(key, ()), callback]}
                self._inline_routes = _build_routes(self._inline_handlers)
            else:
                self._handlers = {**self._handlers, key: [*self._handlers.get(key, ()), callback]}
                self._routes = _build_routes(self._handlers)
        return callback

    def off(
        self,
        name: str,
        callback: Callable[..., Any],
        *,
        type: str | None = None,
        namespace: str | None = None,
        inline: bool = False,
    ) -> None:
        """Remove a callback registered with :meth:`on` (same name, type, namespace, inline)."""
        key = (name, type, namespace)
        with self._handlers_lock:
            registered = self._inline_handlers if inline else self._handlers
            handlers = [fn for fn in registered.get(key, ()) if fn is not callback]
            if len(handlers) == len(registered.get(key, ())):
                where = " inline" if inline else ""
                raise ValueError(f"{callback!r} is not registered{where} for {key}")
            new = dict(registered)
            if handlers:
                new[key] = handlers
            else:
                del new[key]
            if inline:
                self._inline_handlers = new
                self._inline_routes = _build_routes(new)
            else:
                self._handlers = new
                self._routes = _build_routes(new)

    # -- extensions ----------------------------------------------------------------------------

    def extension(self, cls: type[_E]) -> _E:
        """The instance of the extension ``cls`` (see :mod:`fastxmpp.xep`) on this connection:
        attached on the first call, the same one afterwards. Thread-safe."""
        ext = self._extensions.get(cls)
        if ext is None:
            if not (isinstance(cls, type) and issubclass(cls, Extension)):
                raise TypeError(f"extension() takes an Extension subclass, not {cls!r}")
            with self._extensions_lock:
                ext = self._extensions.get(cls)
                if ext is None:
                    ext = cls(self)
                    self._extensions = {**self._extensions, cls: ext}
        return ext  # type: ignore[return-value]

    @property
    def extensions(self) -> list[Extension]:
        """The attached extensions, in the order they were attached."""
        return list(self._extensions.values())

    @property
    def supported_features(self) -> frozenset[str]:
        """The disco#info features this connection implements: its own (XEP-0199 ping, which
        it answers itself) and those of the attached extensions. ``conn.disco`` announces
        them, with its own additions and removals."""
        features = set(_OWN_FEATURES)
        for cls in self._extensions:
            features |= cls.features
        return frozenset(features)

    @property
    def disco(self) -> Disco:
        """XEP-0030 service discovery (:class:`fastxmpp.xep.disco.Disco`): ``info()``,
        ``items()``, and what we answer (identity, features, items, nodes)."""
        return self.extension(Disco)

    @property
    def version(self) -> Version:
        """XEP-0092 software version (:class:`fastxmpp.xep.version.Version`): ``query()``, and
        what we answer (name "fastxmpp", its version, no operating system by default)."""
        return self.extension(Version)

    def _serve_iq(self, type: str, namespace: str, handler: Callable[[Element], Any]) -> None:
        """Let an extension answer IQ requests (see :meth:`Extension.serve_iq`)."""
        if type not in ("get", "set") or not namespace:
            raise ValueError("an extension serves IQ 'get' or 'set' requests in a namespace")
        self._iq_served = {**self._iq_served, (type, namespace): handler}

    # -- sending -------------------------------------------------------------------------------

    def send(self, stanza: Element | Message) -> None:
        """Send a stanza or a :class:`~fastxmpp.Message` (thread-safe; writes from many
        threads are coalesced)."""
        element = stanza.stanza if isinstance(stanza, Message) else stanza
        self._enqueue(tostring(element, default_namespace=CLIENT_NS))

    def send_message(
        self,
        to: str | JID,
        body: str | None,
        *,
        type: str | None = "chat",
        subject: str | None = None,
        thread: str | None = None,
        id: str | None = None,
        lang: str | None = None,
        bodies: Mapping[str, str] | None = None,
        subjects: Mapping[str, str] | None = None,
        chat_state: str | None = None,
    ) -> str:
        """Send a message; returns its id (generated unless given).

        ``lang`` is the stanza's ``xml:lang`` (the language of ``body`` and ``subject``);
        ``bodies``/``subjects`` add one text per language (``{lang: text}``, RFC 6121 5.2.3).
        ``chat_state`` adds an XEP-0085 chat state (``"active"`` with a body; ``"composing"``
        and the others, with ``body=None``, make a standalone notification).
        """
        if id is None:
            id = new_id()
        if subject is None and thread is None and lang is None and bodies is None and not subjects:
            # the common case, written without building the tree when compiled (same bytes)
            if to.__class__ is JID:
                to = to._str  # type: ignore[union-attr]  # str(to) without a Python call
            self._enqueue(_message_bytes(to, body, type, id, chat_state))
            return id
        stanza = build_message(  # (message() itself when there is one text per kind)
            to,
            body,
            type=type,
            id=id,
            subject=subject,
            thread=thread,
            lang=lang,
            bodies=bodies,
            subjects=subjects,
            chat_state=chat_state,
        )
        self._enqueue(tostring(stanza, default_namespace=CLIENT_NS))
        return id

    def send_presence(
        self,
        to: str | JID | None = None,
        *,
        type: str | None = None,
        show: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        id: str | None = None,
        lang: str | None = None,
        statuses: Mapping[str, str] | None = None,
    ) -> None:
        """Send a presence, directed when ``to`` is given (RFC 6121 4.6); ``statuses`` adds
        one status per language (``{lang: text}``)."""
        self.send(
            build_presence(
                to,
                type=type,
                show=show,
                status=status,
                priority=priority,
                id=id,
                lang=lang,
                statuses=statuses,
            )
        )

    def _enqueue(self, data: bytes) -> None:
        if self._state != "ready":
            raise Disconnected(
                f"cannot send: the connection is {self._state}", self.disconnect_reason
            )
        with self._out_lock:
            self._out.append(data)
            if self._flush_pending:
                return
            self._flush_pending = True
        self._loop.call_soon(self._flush)

    # -- IQ ------------------------------------------------------------------------------------

    def request_async(self, stanza: Element, *, timeout: float | None = None) -> Future:
        """Send an IQ get/set; the Future gets the result stanza or an :class:`IQError`.

        The answer is matched by id and by its sender (the address the request went to; for
        requests to our own account: no sender, our bare or full JID, or our server). With
        ``timeout``, the Future fails with :class:`~fastxmpp.Timeout` after that long.
        """
        if stanza.tag != IQ or stanza.get("type") not in ("get", "set"):
            raise ValueError("request() takes an <iq type='get'/> or <iq type='set'/>")
        iq_id = stanza.get("id")
        if not iq_id:
            iq_id = new_id()
            stanza.set("id", iq_id)
        future: Future = _Future(self._runner)
        self._iq_pending[iq_id] = (future, self._senders_for(stanza.get("to")))
        try:
            self.send(stanza)
        except BaseException:
            self._iq_pending.pop(iq_id, None)
            raise
        if timeout is not None:
            self._loop.call_soon(self._arm_iq_timeout, iq_id, future, timeout)
        return future

    def request(self, stanza: Element, timeout: float | None = None) -> Element:
        """Send an IQ get/set and wait for the answer; return the result stanza.

        Raises :class:`~fastxmpp.IQError` (with ``.condition``) for an error answer,
        :class:`~fastxmpp.Timeout` after ``timeout`` seconds (default: the connection's),
        :class:`~fastxmpp.Disconnected` if the connection ends first.
        """
        self._refuse_to_wait("request()")
        wait = self.timeout if timeout is None else timeout
        future = self.request_async(stanza)
        try:
            return future.result(wait)
        except FutureTimeout:
            self._iq_pending.pop(stanza.get("id") or "", None)
            future.cancel()
            raise Timeout(f"no answer to IQ {stanza.get('id')} within {wait} s") from None

    def _refuse_to_wait(self, what: str, *, callbacks: bool = False) -> None:
        """Raise where ``what`` would wait for the thread it runs on: the I/O thread (an
        inline handler) and, with ``callbacks``, the callback thread."""
        if self._loop.in_loop_thread():
            raise XMPPError(
                f"{what} cannot wait in an inline handler: the I/O thread would wait for itself"
            )
        if callbacks and self._runner.in_runner_thread():
            raise XMPPError(f"{what} cannot be iterated inside a callback: it would deadlock")

    def _senders_for(self, to: str | None) -> frozenset[Any]:
        """Who may answer a request sent to ``to`` (RFC 6120 sections 8.1.2.1, 10.3.3)."""
        own = self.jid
        assert own is not None
        if to is None:
            return frozenset((None, own.bare, own, JID(own.domain)))
        target = JID(to)
        if target == own.bare:
            return frozenset((None, own.bare, own))
        return frozenset((target,))

    def _arm_iq_timeout(self, iq_id: str, future: Future, timeout: float) -> None:
        def expire() -> None:
            entry = self._iq_pending.get(iq_id)
            if entry is not None and entry[0] is future:
                del self._iq_pending[iq_id]
                future.set_exception(Timeout(f"no answer to IQ {iq_id} within {timeout} s"))

        self._timers.append(self._loop.call_later(timeout, expire))

    # -- receiving with blocking code ------------------------------------------------------

    def messages(self, timeout: float | None = None) -> QueueIterator[Message]:
        """Iterate over incoming messages (:class:`~fastxmpp.Message`), from the moment of
        this call.

        Ends when the connection closes; ``next()`` raises :class:`~fastxmpp.Timeout` when no
        message came for ``timeout`` seconds, and may be called again (nothing is lost). Close
        it (or use it as a context manager) when done. Not for use inside a callback (it
        would wait for itself).
        """
        self._refuse_to_wait("messages()", callbacks=True)
        box: queue.Queue[Any] = queue.Queue(maxsize=self._runner.high_water)
        self._message_queues = [*self._message_queues, box]
        if self._state == "closed":
            box.put(None)

        def detach() -> None:
            self._message_queues = [q for q in self._message_queues if q is not box]

        return QueueIterator(box, timeout, detach, "message")

    # -- the negotiation, in the caller's thread -----------------------------------------------

    def _negotiate(self, deadline: float) -> tuple[socket.socket, Any, ClientStream, list[Any]]:
        domain = self.account.domain
        direct = {"direct": True, "starttls": False}.get(self.tls)
        endpoints = transport.resolve(
            domain,
            host=self.host,
            port=self.port,
            direct_tls=direct,
            resolver=self._resolver,
            timeout=max(0.1, deadline - time.monotonic()),
        )
        attempts: list[tuple[str, int, BaseException]] = []
        redirects = 0
        while True:
            redirect: StreamError | None = None
            for endpoint in endpoints:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout(f"connecting to {domain} took longer than {self.timeout} s")
                try:
                    sock, endpoint = transport.open_tcp([endpoint], timeout=remaining)
                except ConnectionFailed as exc:
                    attempts.extend(exc.attempts)
                    continue
                try:
                    return self._negotiate_on(sock, endpoint, deadline)
                except StreamError as exc:
                    sock.close()
                    if exc.by_peer and exc.condition == "see-other-host" and exc.other_host:
                        redirect = exc
                        break
                    raise
                except BaseException:
                    sock.close()
                    raise
            if redirect is None:
                problems = [f"{h}:{p}: {e}" for h, p, e in attempts]
                problems += [f"DNS: {e}" for e in getattr(endpoints, "dns_errors", ())]
                raise ConnectionFailed(
                    f"could not connect to {domain}: " + "; ".join(problems), attempts
                )
            redirects += 1
            if redirects > _MAX_REDIRECTS:
                raise ConnectionFailed(f"{domain} redirected us more than {_MAX_REDIRECTS} times")
            endpoints = [_redirect_endpoint(redirect.other_host or "", endpoint)]
            log.info("%s: redirected to %s", domain, redirect.other_host)

    def _negotiate_on(
        self, sock: socket.socket, endpoint: Any, deadline: float
    ) -> tuple[socket.socket, Any, ClientStream, list[Any]]:
        domain = self.account.domain
        self._emit("connected", endpoint)
        tsock: Any = _PlainSocket(sock)
        binding = None
        if endpoint.direct_tls and self.tls != "disabled":
            ssl_conn = self._tls(sock, deadline, alpn=True)
            tsock = _TLSSocket(ssl_conn, sock)
            binding = _binding_for(ssl_conn)
        mode: TLSMode = (
            "direct"
            if endpoint.direct_tls
            else ("disabled" if self.tls == "disabled" else "starttls")
        )
        stream = ClientStream(
            self.account,
            self._credentials,
            tls=mode,
            channel_binding=binding,
            mechanisms=self.mechanisms,
            lang=self.lang,
        )
        early: list[Any] = []
        while True:
            out = stream.data_to_send()
            if out:
                _log_xml("SEND", self.account, out)
                tsock.sendall(out, deadline)
            data = tsock.recv_blocking(deadline, domain)
            _log_xml("RECV", self.account, data)
            try:
                items = stream.receive_data(data)
            except XMPPError:
                _best_effort_send(tsock, stream.data_to_send(), deadline)
                raise
            for item in items:
                if isinstance(item, StartTLS):
                    ssl_conn = self._tls(sock, deadline, alpn=False)
                    tsock = _TLSSocket(ssl_conn, sock)
                    stream.tls_established(_binding_for(ssl_conn))
                elif isinstance(item, Authenticated):
                    self._emit("authenticated", item.mechanism)
                elif isinstance(item, SessionReady):
                    early.extend(items[items.index(item) + 1 :])
                    out = stream.data_to_send()
                    if out:
                        tsock.sendall(out, deadline)
                    return sock, tsock, stream, early
                elif isinstance(item, StreamClosed):
                    raise Disconnected(f"{domain} closed the stream during negotiation")
                else:
                    early.append(item)

    def _tls(self, sock: socket.socket, deadline: float, *, alpn: bool) -> SSL.Connection:
        ctx = transport.shared_tls_context(
            verify=self.verify,
            ca_file=self.ca_file,
            certfile=self.certfile,
            keyfile=self.keyfile,
            alpn=alpn,
            max_version=self.tls_max_version,
        )
        remaining = max(0.001, deadline - time.monotonic())
        # tls_handshake checks the chain and the name (DNS-ID or SRV-ID) when verifying
        return transport.tls_handshake(sock, ctx, self.account.domain, timeout=remaining)

    # -- the I/O thread ----------------------------------------------------------------------

    def _attach(self, early: list[Any], ready: threading.Event) -> None:
        assert self._sock is not None
        self._loop.register(self._sock, _READ, self)
        self._schedule_liveness()
        ready.set()
        if early:
            self._route(early)
        self._on_readable()  # TLS may hold decrypted bytes the selector cannot see

    def on_ready(self, mask: int) -> None:
        """Called by the I/O loop when the socket is readable or writable."""
        if mask & _WRITE:
            self._write()
        if mask & _READ and not self._paused:
            self._on_readable()

    def _on_readable(self) -> None:
        stream = self._stream
        if stream is None or self._tsock is None:
            return
        for _ in range(16):  # then give other connections a turn
            try:
                data = self._tsock.recv(_READ_SIZE)
            except OSError as exc:
                self._teardown(ConnectionError(f"connection lost: {exc}"))
                return
            if data is None:
                return
            if not data:
                self._teardown(
                    None if self._state == "closing" else ConnectionError("the server hung up")
                )
                return
            self._last_read = time.monotonic()
            if xml_log.isEnabledFor(logging.DEBUG):
                _log_xml("RECV", self.jid, data)
            try:
                items = stream.receive_data(data)
            except StreamError as exc:
                self._route(exc.events)
                self._flush_stream()
                self._emit("stream_error", exc)
                self._teardown(exc)
                return
            except XMPPError as exc:
                self._teardown(exc)
                return
            if items:
                self._route(items)
            if stream.closed:
                self._flush_stream()
                self._teardown(
                    None if self._state == "closing" else Disconnected("closed by server")
                )
                return
            if self._runner.overloaded:
                self._pause()
                return
            if len(data) < _READ_SIZE or self._tsock is None:
                # A short read took all there was: TLS decrypts one record per read and hands
                # it over whole when it fits, so nothing decrypted waits in OpenSSL. (Asking
                # SSL_pending instead is a C call that releases the GIL: a thread switch.)
                return

    def _route(self, items: list[Any]) -> None:
        """Hand stanzas on: IQ answers to their futures, messages and presences to the inline
        handlers at once, then (when anything waits for them there) to the callback thread.
        (:func:`fastxmpp._dispatch.route`: compiled, the per-stanza hot path.)"""
        _dispatch.route(self, items, Element, Message)

    def _submit_batch(self, batch: list[Element]) -> None:
        self._runner.submit(self._dispatch, batch, weight=len(batch))

    def _iq_answer(self, stanza: Element, kind_type: str) -> None:
        iq_id = stanza.get("id")
        entry = self._iq_pending.get(iq_id) if iq_id else None
        if entry is None:
            if iq_id == self._ping_id:
                self._ping_id = None
            elif log.isEnabledFor(logging.DEBUG):  # one Python call, not two, per stray answer
                log.debug("%s: an IQ %s nobody waits for (id %r)", self.jid, kind_type, iq_id)
            return
        future, senders = entry
        sender = stanza.get("from")
        try:
            sender_jid = None if sender is None else JID(sender)
        except ValueError:
            sender_jid = sender
        if sender_jid not in senders:
            log.warning("%s: ignored an IQ answer for %s from %s", self.jid, iq_id, sender)
            return
        del self._iq_pending[iq_id]  # type: ignore[arg-type]
        if future.cancelled():
            return
        if kind_type == "result":
            future.set_result(stanza)
        else:
            future.set_exception(parse_stanza_error(stanza, IQError))

    def _iq_request(self, stanza: Element, kind_type: str | None, handlers: dict[Any, Any]) -> None:
        payload = next(iter(stanza), None)
        if kind_type not in ("get", "set") or payload is None:
            self._reply_error(stanza, "bad-request", "modify")
            return
        namespace = payload.tag[1:].partition("}")[0] if payload.tag[0] == "{" else ""
        found = handlers.get(("iq", kind_type, namespace)) or handlers.get(("iq", None, namespace))
        if found:
            self._runner.submit(self._answer_iq, found[0], stanza)
        elif (served := self._iq_served.get((kind_type, namespace))) is not None:
            self._runner.submit(self._answer_iq, served, stanza)
        elif namespace == PING_NS and kind_type == "get":
            self._reply(stanza, None)
        else:
            self._reply_error(stanza, "service-unavailable", "cancel")

    def _answer_iq(self, fn: Callable[[Element], Any], stanza: Element) -> None:
        """On the callback thread: run an IQ handler and send its answer."""
        try:
            answer = fn(stanza)
        except StanzaError as exc:
            self._reply_error(stanza, exc.condition, exc.type, exc.text)
            return
        except Exception:
            log.exception("IQ handler %r failed", fn)
            self._reply_error(stanza, "internal-server-error", "wait")
            return
        self._reply(stanza, answer)

    def _reply(self, request: Element, payload: Element | None) -> None:
        if payload is not None and payload.tag == IQ:
            answer = payload
        else:
            answer = iq("result", payload, to=request.get("from"), id=request.get("id"))
        try:
            self.send(answer)
        except Disconnected:
            pass

    def _reply_error(
        self, request: Element, condition: str, type: str, text: str | None = None
    ) -> None:
        error = Element(f"{{{CLIENT_NS}}}error", {"type": type})
        error.append(Element(f"{{{STANZA_ERRORS_NS}}}{condition}"))
        if text:
            text_el = Element(f"{{{STANZA_ERRORS_NS}}}text")
            text_el.text = text
            error.append(text_el)
        answer = iq("error", to=request.get("from"), id=request.get("id"))
        for child in request:  # RFC 6120 8.3.1: the payload may be included
            answer.append(child)
            break
        answer.append(error)
        try:
            self.send(answer)
        except Disconnected:
            pass

    def _dispatch(self, batch: list[Element]) -> None:
        """On the callback thread: run the handlers for each stanza, in order; a message then
        goes to the messages() iterators (so an iterator sees it after everything before it
        was handled). (:func:`fastxmpp._dispatch.dispatch`.)"""
        _dispatch.dispatch(self, batch, Message)

    def _emit(self, event: str, *args: Any) -> None:
        for handler in self._handlers.get((event, None, None), ()):
            self._runner.submit(handler, *args)

    def _flush(self) -> None:
        with self._out_lock:
            chunks = self._out
            self._out = []
            self._flush_pending = False
        if chunks:
            self._send_now(b"".join(chunks))

    def _flush_stream(self) -> None:
        """Send what the protocol core queued (our close, a stream error)."""
        if self._stream is not None:
            self._send_now(self._stream.data_to_send())

    def _send_now(self, data: bytes) -> None:
        """I/O thread: log ``data``, put it behind what waits to be written, and write."""
        if not data or self._tsock is None:
            return
        if xml_log.isEnabledFor(logging.DEBUG):
            _log_xml("SEND", self.jid, data)
        self._wbuf = self._wbuf + data if self._wbuf else data
        self._write()

    def _write(self) -> None:
        tsock = self._tsock
        while self._wbuf and tsock is not None:
            try:
                sent = tsock.send(self._wbuf)
            except OSError as exc:
                self._teardown(ConnectionError(f"connection lost while sending: {exc}"))
                return
            if sent is None:  # would block
                if not self._want_write:
                    self._want_write = True
                    self._update_interest()
                return
            self._wbuf = self._wbuf[sent:]
            self._last_write = time.monotonic()
        if self._want_write:
            self._want_write = False
            self._update_interest()

    def _update_interest(self) -> None:
        if self._sock is None:
            return
        events = (0 if self._paused else _READ) | (_WRITE if self._want_write else 0)
        try:
            if events:
                self._loop.modify(self._sock, events, self)
            else:
                self._loop.unregister(self._sock)
        except (KeyError, ValueError):
            if events:
                self._loop.register(self._sock, events, self)

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            log.debug("%s: callbacks are behind, reading paused", self.jid)
            self._update_interest()

    def _on_drained(self) -> None:  # callback thread
        if self._paused and self._loop.running:
            self._loop.call_soon(self._resume)

    def _resume(self) -> None:
        if self._paused and self._sock is not None:
            self._paused = False
            self._update_interest()
            self._on_readable()

    def _schedule_liveness(self) -> None:
        intervals = [x for x in (self.keepalive, self.ping_interval) if x]
        if not intervals:
            return
        period = max(0.05, min(intervals) / 4)
        self._timers.append(self._loop.call_later(period, self._liveness))

    def _liveness(self) -> None:
        if self._state != "ready":
            return
        now = time.monotonic()
        if (
            self.ping_interval
            and self._ping_id is None
            and now - self._last_read >= self.ping_interval
        ):
            self._ping_id = new_id()
            ping = iq("get", Element(f"{{{PING_NS}}}ping"), id=self._ping_id)
            self._send_now(tostring(ping, default_namespace=CLIENT_NS))
            ping_id = self._ping_id

            def dead() -> None:
                if self._ping_id == ping_id and self._state == "ready":
                    self._teardown(Timeout(f"no answer to a ping within {self.ping_timeout} s"))

            self._timers.append(self._loop.call_later(self.ping_timeout, dead))
        elif self.keepalive and now - self._last_write >= self.keepalive and not self._wbuf:
            self._send_now(b" ")
        self._schedule_liveness()

    def _start_close(self) -> None:
        if self._stream is None or self._stream.closed:
            self._teardown(None)
            return
        self._stream.close()
        self._flush()
        self._flush_stream()

    def _teardown(self, reason: BaseException | None) -> None:
        """End the connection (I/O thread): fail what waits, tell the user, free the socket."""
        if self._state == "closed":
            return
        self._state = "closed"
        self.disconnect_reason = reason
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._sock is not None:
            self._loop.unregister(self._sock)
            if self._tsock is not None:
                self._tsock.close()
            self._sock.close()
        self._sock = self._tsock = None
        error = Disconnected("the connection closed" if reason is None else f"{reason}", reason)
        pending, self._iq_pending = self._iq_pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(error)
        for box in self._message_queues:
            self._runner.submit(box.put, None)
        self._emit("disconnected", reason)
        self._closed_event.set()
        if reason is not None:
            log.info("%s: disconnected: %s", self.jid, reason)


class _PlainSocket:
    """A TCP socket with the interface :class:`_TLSSocket` has (no encryption)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv(self, n: int) -> bytes | None:
        try:
            return self.sock.recv(n)
        except (BlockingIOError, InterruptedError):
            return None

    def send(self, data: bytes) -> int | None:
        try:
            return self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return None

    def close(self) -> None:
        pass

    def recv_blocking(self, deadline: float, domain: str) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout(f"{domain} did not answer in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise Timeout(f"{domain} did not answer in time") from None
        if not data:
            raise Disconnected(f"{domain} hung up during negotiation")
        return data

    def sendall(self, data: bytes, deadline: float) -> None:
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        self.sock.sendall(data)


class _TLSSocket:
    """A pyOpenSSL connection: non-blocking reads and writes mapped to bytes or None."""

    def __init__(self, conn: SSL.Connection, sock: socket.socket) -> None:
        self.conn = conn
        self.sock = sock

    def recv(self, n: int) -> bytes | None:
        try:
            return self.conn.recv(n)
        except (SSL.WantReadError, SSL.WantWriteError):
            return None
        except SSL.ZeroReturnError:
            return b""
        except SSL.SysCallError as exc:
            if exc.args and exc.args[0] == -1:  # EOF without close_notify
                return b""
            raise OSError(str(exc)) from None
        except SSL.Error as exc:
            raise OSError(f"TLS error: {exc}") from None

    def send(self, data: bytes) -> int | None:
        try:
            return self.conn.send(data)
        except (SSL.WantReadError, SSL.WantWriteError):
            return None
        except SSL.Error as exc:
            raise OSError(f"TLS error: {exc}") from None

    def close(self) -> None:
        try:
            self.conn.shutdown()
        except (SSL.Error, OSError):
            pass

    def recv_blocking(self, deadline: float, domain: str) -> bytes:
        data = self._blocking(self.recv, 65536, deadline=deadline, domain=domain)
        if data == b"":
            raise Disconnected(f"{domain} hung up during negotiation")
        return data

    def sendall(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            sent = self._blocking(self.send, view[:16384].tobytes(), deadline=deadline)
            view = view[sent:]

    def _blocking(
        self, fn: Callable[..., Any], arg: Any, *, deadline: float, domain: str = ""
    ) -> Any:
        sock = self.sock
        events = selectors.EVENT_WRITE if fn == self.send else selectors.EVENT_READ
        while True:
            result = fn(arg)
            if result is not None:
                return result
            if not transport.wait_socket(sock, events, min(deadline, time.monotonic() + 1.0)):
                if time.monotonic() >= deadline:
                    raise Timeout(f"{domain or 'the server'} did not answer in time")


def _binding_for(conn: SSL.Connection) -> Callable[[str], bytes | None]:
    return lambda cb_type: transport.channel_binding(conn, cb_type)


def _best_effort_send(tsock: Any, data: bytes, deadline: float) -> None:
    if data:
        try:
            tsock.sendall(data, min(deadline, time.monotonic() + 1.0))
        except (OSError, XMPPError):
            pass


def _redirect_endpoint(other: str, previous: Any) -> Any:
    """The endpoint a ``see-other-host`` names (``host``, ``host:port``, ``[v6]:port``)."""
    host, port = other, 5222
    if other.startswith("["):
        host, _, rest = other[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif other.count(":") == 1:
        host, _, p = other.partition(":")
        if p.isdigit():
            port = int(p)
    return transport.Endpoint(host, port, previous.direct_tls)


def _log_xml(direction: str, jid: Any, data: bytes) -> None:
    if xml_log.isEnabledFor(logging.DEBUG):
        xml_log.debug("%s %s: %s", direction, jid, data.decode("utf-8", "replace"))


def connect(jid: str | JID, password: str | None, **options: Any) -> Connection:
    """Connect and return a ready :class:`Connection` (keywords: see :class:`Connection`).

    ``with fastxmpp.connect("alice@example.org", "secret") as conn: ...`` closes at the end.
    """
    return Connection(jid, password, **options).connect()
