"""Stanza dispatch on its own (fastxmpp._dispatch and its compiled twin _dispatch_c): what
route() does with one read's items on the I/O thread and dispatch() with a batch on the callback
thread, against a stand-in connection. Both implementations run every test; the connection
tests then run the active one for real."""

from __future__ import annotations

import importlib
import logging
import types

import pytest
from conftest import missing_extension, no_extensions

from fastxmpp.xml import StreamClose

MESSAGE = "{jabber:client}message"
PRESENCE = "{jabber:client}presence"
IQ = "{jabber:client}iq"


@pytest.fixture(params=["py", "c"])
def impl(request):
    """The dispatch module with the Element class it is paired with."""
    if request.param == "py":
        return types.SimpleNamespace(
            dispatch=importlib.import_module("fastxmpp._dispatch"),
            Element=importlib.import_module("fastxmpp._xmlcore").Element,
        )
    if no_extensions():
        missing_extension("fastxmpp._dispatch_c", "FASTXMPP_NO_EXTENSIONS=1")
    try:
        dispatch = importlib.import_module("fastxmpp._dispatch_c")
        core = importlib.import_module("fastxmpp._xmlcore_c")
    except ImportError as exc:
        missing_extension("fastxmpp._dispatch_c", f"ImportError: {exc}")
    return types.SimpleNamespace(dispatch=dispatch, Element=core.Element)


class Wrapped:
    """Stands in for Message: records what it wraps."""

    def __init__(self, stanza, conn) -> None:
        self.stanza = stanza
        self.conn = conn


class FakeConnection:
    """What route() and dispatch() read from a connection, and what they call back."""

    def __init__(self, impl, *, inline=None, routes=None, queues=()) -> None:
        self.impl = impl
        self._handlers = {}
        self._inline_routes = self.build(inline or {})
        self._routes = self.build(routes or {})
        self._message_queues = list(queues)
        self.calls: list[tuple] = []

    def build(self, table):
        routes = {}
        for tag, fns in table.items():
            route = self.impl.dispatch.Route("normal" if tag == MESSAGE else "available")
            route.plain += fns
            routes[tag] = route
        return routes

    def _iq_answer(self, item, kind_type):
        self.calls.append(("answer", item.get("id"), kind_type))

    def _iq_request(self, item, kind_type, handlers):
        assert handlers is self._handlers
        self.calls.append(("request", item.get("id"), kind_type))

    def _submit_batch(self, batch):
        self.calls.append(("batch", [el.get("id") for el in batch]))


def stanza(impl, tag, id, type=None, tag_copy=True):
    """An Element as user code would build it: with tag_copy, the tag is a fresh string object
    (not the interned name the parsers and the dispatch use)."""
    if tag_copy:
        tag = "".join(list(tag))
    attrib = {"id": id}
    if type:
        attrib["type"] = type
    return impl.Element(tag, attrib)


def test_routes_each_kind_in_order(impl):
    seen = []
    conn = FakeConnection(
        impl,
        inline={MESSAGE: [lambda m: seen.append(("m", m.stanza.get("id")))]},
        routes={PRESENCE: [print]},
    )
    items = [
        stanza(impl, MESSAGE, "m1"),
        stanza(impl, PRESENCE, "p1"),
        stanza(impl, IQ, "r1", "result"),
        stanza(impl, IQ, "e1", "error"),
        stanza(impl, PRESENCE, "p2"),
        stanza(impl, IQ, "q1", "get"),  # a request: what came before it goes first
        stanza(impl, PRESENCE, "p3"),
        stanza(impl, "{jabber:client}other", "o1"),  # no kind, no route: dropped
        StreamClose(),  # not an Element: left to the caller
    ]
    impl.dispatch.route(conn, items, impl.Element, Wrapped)
    assert seen == [("m", "m1")]
    assert conn.calls == [
        ("answer", "r1", "result"),
        ("answer", "e1", "error"),
        ("batch", ["p1", "p2"]),
        ("request", "q1", "get"),
        ("batch", ["p3"]),
    ]


def test_interned_and_fresh_tags_route_alike(impl):
    seen = []
    conn = FakeConnection(impl, inline={MESSAGE: [seen.append], PRESENCE: [seen.append]})
    items = [
        stanza(impl, MESSAGE, "a", tag_copy=False),
        stanza(impl, MESSAGE, "b"),
        stanza(impl, PRESENCE, "c"),
    ]
    assert items[1].tag is not MESSAGE
    impl.dispatch.route(conn, items, impl.Element, Wrapped)
    assert [type(x).__name__ for x in seen] == ["Wrapped", "Wrapped", "Element"]
    assert [x.stanza if isinstance(x, Wrapped) else x for x in seen] == items
    assert seen[0].conn is conn
    assert conn.calls == []  # nothing for the callback thread


def test_messages_go_to_the_callback_thread_when_an_iterator_waits(impl):
    conn = FakeConnection(impl, queues=[object()])
    items = [stanza(impl, MESSAGE, "m1"), stanza(impl, PRESENCE, "p1")]
    impl.dispatch.route(conn, items, impl.Element, Wrapped)
    assert conn.calls == [("batch", ["m1"])]


def test_a_failing_inline_handler_is_logged_and_the_next_still_runs(impl, caplog):
    seen = []

    def broken(msg):
        raise RuntimeError("boom")

    conn = FakeConnection(impl, inline={MESSAGE: [broken, seen.append]})
    with caplog.at_level(logging.ERROR, logger="fastxmpp.connection"):
        impl.dispatch.route(conn, [stanza(impl, MESSAGE, "m1")], impl.Element, Wrapped)
    assert len(seen) == 1
    assert any("inline handler" in r.getMessage() for r in caplog.records)


def test_select_by_type_and_namespace(impl):
    route = impl.dispatch.Route("normal")
    route.plain.append("plain")
    route.by_type["chat"] = ["chat"]
    route.by_type["normal"] = ["normal"]
    route.by_ns[(None, "urn:x")] = ["x"]
    route.by_ns[("chat", "urn:y")] = ["chat-y"]
    route.simple = False
    chat = stanza(impl, MESSAGE, "1", "chat")
    chat.append(impl.Element("{urn:x}a"))
    chat.append(impl.Element("{urn:x}b"))  # a namespace counts once
    chat.append(impl.Element("{urn:y}c"))
    assert route.select(chat) == ["plain", "chat", "x", "chat-y"]
    assert route.select(stanza(impl, MESSAGE, "2")) == ["plain", "normal"]  # the default type


def test_dispatch_runs_handlers_then_feeds_the_iterators(impl, caplog):
    order = []

    class Box:
        def put(self, msg):
            order.append(("box", msg.stanza.get("id")))

    def broken(el):
        raise ValueError("boom")

    conn = FakeConnection(
        impl,
        routes={
            MESSAGE: [lambda m: order.append(("handler", m.stanza.get("id")))],
            PRESENCE: [broken, lambda p: order.append(("presence", p.get("id")))],
        },
        queues=[Box()],
    )
    batch = [stanza(impl, PRESENCE, "p1"), stanza(impl, MESSAGE, "m1")]
    with caplog.at_level(logging.ERROR, logger="fastxmpp.connection"):
        impl.dispatch.dispatch(conn, batch, Wrapped)
    assert order == [("presence", "p1"), ("handler", "m1"), ("box", "m1")]
    assert any("handler" in r.getMessage() for r in caplog.records)


def test_stanza_view_delegates_the_read_only_element_api(impl):
    el = stanza(impl, MESSAGE, "i1")
    body = impl.Element("{jabber:client}body")
    body.text = "hi"
    el.append(body)
    view = impl.dispatch.StanzaView(el, "conn")
    assert view.connection == "conn" and view.stanza is el
    assert view.tag == el.tag and view.attrib == el.attrib and view.text is None
    assert view.get("id") == "i1" and view.get("x", 5) == 5
    assert view.keys() == ["id"] and view.items() == [("id", "i1")]
    assert view.findtext("{jabber:client}body") == "hi"
    assert view.find("{jabber:client}body") is body
    assert view.findall("{jabber:client}body") == [body]
    assert list(view) == [body] and len(view) == 1 and bool(impl.dispatch.StanzaView(el))
    assert view[0] is body and view[:1] == [body]
    assert [e.tag for e in view.iter()] == [el.tag, body.tag] and list(view.itertext()) == ["hi"]


def test_a_python_subclass_of_the_view_keeps_indexing(impl):
    """A compiled class must not leave typing.overload's placeholder where a Python subclass
    looks up __getitem__ (Message subclasses StanzaView)."""

    class Sub(impl.dispatch.StanzaView):
        __slots__ = ()

    el = stanza(impl, MESSAGE, "i1")
    el.append(impl.Element("a"))
    assert Sub(el)[0].tag == "a" and Sub(el)[:1] == [el[0]]
