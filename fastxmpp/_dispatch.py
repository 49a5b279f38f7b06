"""Stanza dispatch: what a connection does with every stanza it reads, in plain Python.

This is the per-stanza hot path after the parser: the I/O thread's :func:`route` (IQ answers to
their futures, inline handlers at once, the rest to the callback thread) and the callback
thread's :func:`dispatch`, plus :class:`StanzaView`, the read-only Element API that
:class:`fastxmpp.Message` offers on the stanza it wraps. As with ``_xmlcore.py``, the build
compiles this very file with Cython (augmented by ``_dispatch_c.pxd``) into
``fastxmpp._dispatch_c``, and ``fastxmpp._impl`` picks that one when it is available: one source,
two implementations that cannot drift apart. Keep it plain Python.

Why compiled: a Python frame per stanza (a wrapper's ``__init__``, a delegating ``get``, the
routing loop's bytecode) cost about as much as parsing the stanza did.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union, overload

try:
    import cython  # type: ignore[import-untyped]
except ImportError:  # Cython is not installed: the pure package needs only the no-op decorators
    from fastxmpp import _cython_shim as cython  # type: ignore[no-redef]

log = logging.getLogger("fastxmpp.connection")

StrArg = str  # a str parameter that takes subclasses too, compiled or not (see _xmlcore.py)

# Interned, as the parsers' tag names are. A tag finds its kind with one dict hit (by identity,
# for those) in _KINDS, which maps each of these names to itself: the result is then compared
# by identity, where comparing unequal strings would walk them.
MESSAGE = sys.intern("{jabber:client}message")
PRESENCE = sys.intern("{jabber:client}presence")
IQ = sys.intern("{jabber:client}iq")
_KINDS = {MESSAGE: MESSAGE, PRESENCE: PRESENCE, IQ: IQ}

Handler = Callable[[Any], Any]


@cython.cclass
class Route:
    """The handlers for one stanza kind, arranged so that dispatching is a few dict hits."""

    __slots__ = ("plain", "by_type", "by_ns", "simple", "default_type")
    plain: list[Handler]  # no type, no namespace
    by_type: dict[str | None, list[Handler]]
    by_ns: dict[tuple[str | None, str], list[Handler]]
    simple: bool  # only plain handlers: select() is not needed
    default_type: str | None  # RFC 6121: no type is "normal" (message), "available" (presence)

    def __init__(self, default_type: str | None) -> None:
        self.plain = []
        self.by_type = {}
        self.by_ns = {}
        self.simple = True
        self.default_type = default_type

    def select(self, stanza: Any) -> list[Handler]:
        """The handlers for ``stanza``: plain ones, then by type, then by payload namespace."""
        type_ = stanza.get("type") or self.default_type
        found = self.plain + self.by_type.get(type_, [])
        if self.by_ns:
            seen: set[str] = set()
            for child in stanza:
                tag = child.tag
                ns = tag[1:].partition("}")[0] if tag[:1] == "{" else ""
                if ns not in seen:
                    seen.add(ns)
                    found += self.by_ns.get((None, ns), []) + self.by_ns.get((type_, ns), [])
        return found


@cython.cclass
class StanzaView:
    """The read-only Element API, delegated to the wrapped stanza (``stanza``), so that
    handlers written for a raw Element keep working on a wrapper such as
    :class:`fastxmpp.Message`. ``connection`` (may be None) is where the stanza came in."""

    __slots__ = ("stanza", "connection")
    stanza: Any
    connection: Any

    def __init__(self, stanza: Any, connection: Any = None) -> None:
        self.stanza = stanza
        self.connection = connection

    @property
    def tag(self) -> StrArg:
        return self.stanza.tag  # type: ignore[no-any-return]

    @property
    def attrib(self) -> dict[str, str]:
        return self.stanza.attrib  # type: ignore[no-any-return]

    @property
    def text(self) -> StrArg | None:
        return self.stanza.text  # type: ignore[no-any-return]

    def get(self, key: StrArg, default: Any = None) -> Any:
        return self.stanza.get(key, default)

    def keys(self) -> list[str]:
        return self.stanza.keys()  # type: ignore[no-any-return]

    def items(self) -> list[tuple[str, str]]:
        return self.stanza.items()  # type: ignore[no-any-return]

    def find(self, path: StrArg) -> Any:
        return self.stanza.find(path)

    def findall(self, path: StrArg) -> list[Any]:
        return self.stanza.findall(path)  # type: ignore[no-any-return]

    def findtext(self, path: StrArg, default: StrArg | None = None) -> StrArg | None:
        return self.stanza.findtext(path, default)  # type: ignore[no-any-return]

    def iter(self, tag: StrArg | None = None) -> Iterator[Any]:
        return self.stanza.iter(tag)  # type: ignore[no-any-return]

    def itertext(self) -> Iterator[str]:
        return self.stanza.itertext()  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.stanza)

    def __len__(self) -> int:
        return len(self.stanza)

    def __bool__(self) -> bool:  # like Element: always true, whatever len() says
        return True

    if TYPE_CHECKING:  # (not compiled: in a compiled class, the overloads would replace it)

        @overload
        def __getitem__(self, index: int) -> Any: ...
        @overload
        def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: Union[int, slice]) -> Any:
        return self.stanza[index]


def stanzas_only(items: list[Any], element: Any, stream_error: Any) -> bool:
    """True when every item is an ``element`` and none is the stream error (tag
    ``stream_error``): a ready stream then hands the parser's list on as it is."""
    for item in items:
        if not isinstance(item, element):
            return False
        stanza: Element = item  # type: ignore[name-defined]  # noqa: F821  (as in route())
        # (``stream_error`` is not declared str: compiled, == then checks the lengths first)
        if stanza.tag == stream_error:
            return False
    return True


def route(conn: Any, items: list[Any], element: Any, wrap: Callable[..., Any]) -> None:
    """I/O thread: hand on what one read produced, in order. IQ answers go to their futures
    (``conn._iq_answer``), IQ requests to ``conn._iq_request``; messages and presences to the
    inline handlers at once (a message wrapped as ``wrap(stanza, conn)``), then, when anything
    on the callback thread wants them, in batches to :func:`dispatch` (``conn._submit_batch``).
    Items that are not ``element`` instances (the end of the stream) are left to the caller."""
    # (the annotations let the compiled build use the dict and list C API directly)
    batch: list[Any] = []
    handlers: dict[Any, Any] = conn._handlers
    routes: dict[str, Route] = conn._routes
    inline: dict[str, Route] = conn._inline_routes
    queues: list[Any] = conn._message_queues
    kinds: dict[str, str] = _KINDS
    for item in items:
        if not isinstance(item, element):
            continue
        # Compiled, Element is the C type that _dispatch_c.pxd cimports (a field read instead of
        # an attribute lookup); in pure Python this annotation is never evaluated.
        stanza: Element = item  # type: ignore[name-defined]  # noqa: F821
        tag = stanza.tag
        kind = kinds.get(tag)  # MESSAGE, PRESENCE, IQ or None
        if kind is IQ:
            kind_type = item.get("type")
            if kind_type == "result" or kind_type == "error":
                conn._iq_answer(item, kind_type)
            else:
                if batch:  # what came before the request is handled before it
                    conn._submit_batch(batch)
                    batch = []
                conn._iq_request(item, kind_type, handlers)
            continue
        if inline:
            found = inline.get(tag)
            if found is not None:
                handler_route: Route = found
                callbacks = (
                    handler_route.plain if handler_route.simple else handler_route.select(item)
                )
                if callbacks:
                    arg = wrap(item, conn) if kind is MESSAGE else item
                    for fn in callbacks:
                        try:
                            fn(arg)
                        except Exception:
                            log.exception("inline handler %r failed", fn)
        if tag in routes or (queues and kind is MESSAGE):
            batch.append(item)
    if batch:
        conn._submit_batch(batch)


def dispatch(conn: Any, batch: list[Any], wrap: Callable[..., Any]) -> None:
    """Callback thread: run the handlers for each stanza of ``batch``, in order; a message
    (as ``wrap(stanza, conn)``) then goes to the ``messages()`` iterators, so that an iterator
    sees it after everything before it was handled."""
    routes: dict[str, Route] = conn._routes
    for stanza in batch:
        is_message = stanza.tag == MESSAGE
        arg = wrap(stanza, conn) if is_message else stanza
        found = routes.get(stanza.tag)
        if found is not None:
            handler_route: Route = found
            for fn in handler_route.plain if handler_route.simple else handler_route.select(stanza):
                try:
                    fn(arg)
                except Exception:
                    log.exception("handler %r failed", fn)
        if is_message:
            for box in conn._message_queues:
                box.put(arg)
