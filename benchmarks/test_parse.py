"""Receive side: parse a c2s stream delivered in 4 KiB reads, and hand every stanza to a handler.

Input (``corpus.py``): an XML declaration + ``<stream:stream>`` header + 50,000 stanzas
(~16 MB: 40% chat messages, 40% presences with caps, 20% IQ results), cut into 4096-byte chunks
exactly as ``socket.recv(4096)`` would deliver them. One round = feed every chunk to a fresh
parser (created in the untimed setup). Throughput = ``extra_info["stanzas_per_round"]`` / mean,
also stored as ``extra_info["stanzas_per_second"]``.

The handler work is the same wherever the API allows it: for every stanza read ``from``; for
messages read the body text. Each benchmark then asserts that it saw all N stanzas, all
messages with a non-empty body, and the exact total length of every ``from`` and every body (so
an implementation that drops or mangles data fails instead of looking fast).

Implementations (group ``parse``):

* ``fastxmpp`` ``StreamParserC`` (compiled; skipped when None) and ``StreamParserPy`` (pure
  Python over pyexpat): ``parser.feed(chunk)`` returns the stanzas as Elements; the handler calls
  ``el.get("from")`` and ``el.findtext("{jabber:client}body")``. A third row runs the compiled
  parser with no handler at all (the Elements are built and counted), to show the split.
* ``pyexpat`` baseline: ``ParserCreate(namespace_separator='}')`` with a Python
  ``StartElementHandler`` that only counts start tags - no tree, no handler work. This is the
  floor for anything that gets one Python callback per element from expat.
* ``ElementTree.XMLPullParser``: start/end events, depth tracked to pick the first-level
  elements, same handler as fastxmpp, root cleared after every stanza (as slixmpp does).
* ``slixmpp`` (two variants, see the tests for details): its real receive path
  ``XMLStream.data_received`` - ElementTree pull parser, stanza objects, handler matching and
  dispatch - with synchronous callbacks reading ``stanza['from']`` (a slixmpp ``JID``) and
  ``msg['body']``.
* ``aioxmpp``: its real parsing stack (``xml.make_parser()`` SAX/expat reader +
  ``XMPPXMLProcessor`` + ``xso.XSOParser`` building ``Message``/``Presence``/``IQ`` XSOs,
  including JID parsing/stringprep), fed synchronously; callbacks read ``from_`` and ``body``.

Run::

    python -m pytest benchmarks --benchmark-only --benchmark-columns=mean,ops,rounds \
        --benchmark-group-by=group

(``-k parse`` for this file only; ``python benchmarks/report.py`` for a markdown table.)
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from xml.parsers import expat as pyexpat

import pytest
from corpus import Tally, check_stanzas

MESSAGE = "{jabber:client}message"
BODY = "{jabber:client}body"

pytestmark = pytest.mark.benchmark(group="parse")


def make_element_handler(tally: Tally):
    """The handler given each first-level Element (fastxmpp and ElementTree)."""

    def handle(el) -> None:
        tally.stanzas += 1
        tally.from_chars += len(el.get("from"))
        if el.tag == MESSAGE:
            body = el.findtext(BODY)
            if body:
                tally.messages += 1
                tally.body_chars += len(body)

    return handle


# --------------------------------------------------------------------------------- fastxmpp


def _fastxmpp_xml():
    return pytest.importorskip("fastxmpp.xml", reason="fastxmpp.xml not importable yet")


def _fastxmpp_target(chunks, element):
    def target(state):
        parser, tally = state
        handle = make_element_handler(tally)
        for chunk in chunks:
            for item in parser.feed(chunk):
                # the connection's test: an exact type matches at once, while a test that
                # fails (isinstance(item, (StreamOpen, StreamClose))) looks up __class__ too
                if isinstance(item, element):
                    handle(item)
                else:  # StreamOpen (once), StreamClose
                    tally.other += 1
        return tally

    return target


def _bench_fastxmpp(run_parse, corpus, parser_cls, label):
    fx = _fastxmpp_xml()
    tally = run_parse(
        label,
        lambda: (parser_cls(), Tally()),
        _fastxmpp_target(corpus.chunks, fx.Element),
    )
    check_stanzas(tally, corpus)
    assert tally.other == 1, tally  # the StreamOpen


def test_fastxmpp_compiled(run_parse, corpus):
    fx = _fastxmpp_xml()
    if fx.StreamParserC is None:
        pytest.skip("fastxmpp.xml.StreamParserC is None (extension not built or disabled)")
    _bench_fastxmpp(run_parse, corpus, fx.StreamParserC, "fastxmpp StreamParserC (compiled)")


def test_fastxmpp_compiled_no_handler(run_parse, corpus):
    """The compiled parser alone: every Element is built, then only counted (no handler call),
    to show how the time splits between parsing and the handler's Python work."""
    fx = _fastxmpp_xml()
    if fx.StreamParserC is None:
        pytest.skip("fastxmpp.xml.StreamParserC is None (extension not built or disabled)")
    chunks = corpus.chunks

    def target(state):
        parser, tally = state
        feed = parser.feed
        for chunk in chunks:
            tally.other += len(feed(chunk))
        return tally

    label = "fastxmpp StreamParserC, elements only counted"
    tally = run_parse(label, lambda: (fx.StreamParserC(), Tally()), target)
    assert tally.other == corpus.n_stanzas + 1, tally  # the stanzas and the StreamOpen


def test_fastxmpp_pure(run_parse, corpus):
    fx = _fastxmpp_xml()
    _bench_fastxmpp(run_parse, corpus, fx.StreamParserPy, "fastxmpp StreamParserPy (pure Python)")


# --------------------------------------------------------------------------------- stdlib


def pyexpat_round(chunks):
    """(setup, target) of the baseline: expat with one Python callback per start tag that only
    counts it."""

    def setup():
        tally = Tally()
        parser = pyexpat.ParserCreate(namespace_separator="}")

        def start(name, attrs):
            tally.elements += 1

        parser.StartElementHandler = start
        return parser, tally

    def target(state):
        parser, tally = state
        parse = parser.Parse
        for chunk in chunks:
            parse(chunk, False)
        return tally

    return setup, target


def test_pyexpat_callbacks(run_parse, corpus):
    """Baseline: expat with one Python callback per start tag that only counts it."""
    setup, target = pyexpat_round(corpus.chunks)
    tally = run_parse("pyexpat, start-tag counting callback (baseline)", setup, target)
    assert tally.elements == corpus.n_elements, tally


def test_etree_pullparser(run_parse, corpus):
    """xml.etree.ElementTree.XMLPullParser: start/end events, stanzas picked at depth 1."""
    chunks = corpus.chunks

    def setup():
        return ET.XMLPullParser(events=("start", "end")), Tally()

    def target(state):
        parser, tally = state
        handle = make_element_handler(tally)
        depth = 0
        root = None
        for chunk in chunks:
            parser.feed(chunk)
            for event, el in parser.read_events():
                if event == "start":
                    if depth == 0:
                        root = el
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        handle(el)
                        root.clear()  # keep memory flat, as slixmpp does
        return tally

    tally = run_parse("xml.etree.ElementTree.XMLPullParser", setup, target)
    check_stanzas(tally, corpus)


# --------------------------------------------------------------------------------- slixmpp


class _FakeTransport:
    """Just enough of an asyncio transport for slixmpp's connection_made()/send_raw()."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_extra_info(self, name, default=None):
        return default  # no socket, no TLS

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _slixmpp_callbacks(tally: Tally):
    # Read through the stanza interface: stanza['from'] builds (or fetches from slixmpp's
    # lru_cache) a JID object; .full is its string form. msg['body'] is the body text.
    def on_message(msg) -> None:
        tally.stanzas += 1
        tally.from_chars += len(msg["from"].full)
        body = msg["body"]
        if body:
            tally.messages += 1
            tally.body_chars += len(body)

    def on_other(stanza) -> None:
        tally.stanzas += 1
        tally.from_chars += len(stanza["from"].full)

    return on_message, on_other


def _slixmpp_target(chunks):
    def target(state):
        stream, tally, _loop = state
        data_received = stream.data_received
        for chunk in chunks:
            data_received(chunk)
        return tally

    return target


@pytest.fixture
def event_loop_for_slixmpp():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def _check_slixmpp(tally, corpus, stream, loop):
    check_stanzas(tally, corpus)
    # Every callback ran inside data_received(), i.e. inside the timed region: nothing was
    # deferred to the event loop (which we never run) and the stream is still open.
    assert not asyncio.all_tasks(loop), asyncio.all_tasks(loop)
    assert stream.transport is not None


def slixmpp_xmlstream_round(chunks, loop, streams: list):
    """(setup, target) of slixmpp's XMLStream with three Callback handlers (see the test
    below); ``streams`` keeps the latest stream, for the final checks."""
    from slixmpp.stanza import Iq, Message, Presence
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath
    from slixmpp.xmlstream.xmlstream import XMLStream

    def setup():
        tally = Tally()
        on_message, on_other = _slixmpp_callbacks(tally)
        stream = XMLStream(loop=loop)
        stream.default_ns = "jabber:client"
        stream.stream_header = (
            "<stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='capulet.lit' version='1.0'>"
        )
        for stanza_class in (Message, Presence, Iq):
            stream.register_stanza(stanza_class)
        stream.register_handler(Callback("bench message", MatchXPath(MESSAGE), on_message))
        stream.register_handler(
            Callback("bench presence", MatchXPath("{jabber:client}presence"), on_other)
        )
        stream.register_handler(Callback("bench iq", MatchXPath("{jabber:client}iq"), on_other))
        stream.connection_made(_FakeTransport())
        streams[:] = [stream]
        return stream, tally, loop

    return setup, _slixmpp_target(chunks)


def test_slixmpp_xmlstream(run_parse, corpus, event_loop_for_slixmpp):
    """slixmpp's generic receive path, with only our handlers registered.

    Measured: ``XMLStream.data_received(chunk)`` for every 4 KiB chunk, which feeds
    ``ElementTree.XMLPullParser``, tracks the depth, and for each first-level element builds the
    registered stanza class (``Message``/``Presence``/``Iq``, via ``_build_stanza``), runs the
    incoming filters, matches it against the registered handlers (three ``Callback`` handlers
    with ``MatchXPath('{jabber:client}message')`` / ``presence`` / ``iq``) and calls the
    matching callback synchronously (``Callback.run``); the callback reads ``stanza['from']``
    (a ``JID``) and, for messages, ``msg['body']``. Not measured: creating the stream and
    ``connection_made`` (untimed setup, a fake transport that records writes), any network I/O.
    slixmpp runs non-coroutine handlers inline, so nothing is left on the event loop.
    """
    streams = []
    setup, target = slixmpp_xmlstream_round(corpus.chunks, event_loop_for_slixmpp, streams)
    tally = run_parse("slixmpp XMLStream + Callback handlers", setup, target, rounds=3)
    _check_slixmpp(tally, corpus, streams[-1], event_loop_for_slixmpp)


def test_slixmpp_clientxmpp(run_parse, corpus, event_loop_for_slixmpp):
    """slixmpp as an application uses it: ClientXMPP + ``add_event_handler``.

    Measured: ``ClientXMPP.data_received(chunk)`` for every chunk: everything of
    test_slixmpp_xmlstream plus ClientXMPP's own handlers - BaseXMPP's 'IM' handler fires the
    ``message`` event, its 'Presence' handler updates the roster presence state and fires
    ``presence`` and ``presence_<type>`` (BaseXMPP's own ``presence_available`` /
    ``presence_unavailable`` handlers update the roster items) - and our handlers: a ``message``
    event handler, a ``presence`` event handler and a ``Callback`` for ``iq`` (an IQ result is
    normally consumed by the future of ``Iq.send()``; no event exists for it). The handlers read
    ``['from']`` and ``['body']``. Only the default plugins of ClientXMPP are loaded (stream
    features), no XEP plugins. Not measured: creating the ClientXMPP and ``connection_made``.
    """
    import corpus as corpus_mod
    from slixmpp import ClientXMPP
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    loop = event_loop_for_slixmpp
    streams = []

    def setup():
        tally = Tally()
        on_message, on_other = _slixmpp_callbacks(tally)
        client = ClientXMPP(corpus_mod.OWN_JID, "secret", loop=loop)
        client.add_event_handler("message", on_message)
        client.add_event_handler("presence", on_other)
        client.register_handler(Callback("bench iq", MatchXPath("{jabber:client}iq"), on_other))
        client.connection_made(_FakeTransport())
        streams[:] = [client]  # keep only the latest, for the final checks
        return client, tally, loop

    tally = run_parse(
        "slixmpp ClientXMPP + event handlers", setup, _slixmpp_target(corpus.chunks), rounds=3
    )
    _check_slixmpp(tally, corpus, streams[-1], loop)


# --------------------------------------------------------------------------------- aioxmpp


def test_aioxmpp(run_parse, corpus):
    """aioxmpp's parsing stack, driven synchronously.

    Measured: ``parser.feed(chunk)`` for every chunk, where ``parser`` is what
    ``aioxmpp.protocol.XMLStream.reset()`` builds: ``aioxmpp.xml.make_parser()`` (the stdlib
    SAX expat reader with namespaces and aioxmpp's lexical handler) with an
    ``XMPPXMLProcessor`` content handler whose ``stanza_parser`` is an ``xso.XSOParser`` with
    ``Message``, ``Presence`` and ``IQ`` registered - i.e. the full XSO object construction
    (attribute type conversion, including JID parsing with aioxmpp's pure-Python stringprep
    for ``from``/``to``, and the XEP payloads whose XSO modules are imported below: chat
    states, receipts, caps, avatar hash, disco#info, roster). The XSOParser callbacks read
    ``stanza.from_`` (``str(JID)``) and ``msg.body.any()``. ``XMLStream.data_received`` does
    exactly ``self._parser.feed(blob)`` plus a debug log call and a dead-time monitor update.
    Not measured: aioxmpp's ``StanzaStream`` (the asyncio queue/task that routes XSOs to
    dispatchers), which needs a running event loop and a negotiated stream.
    """
    pytest.importorskip("aioxmpp", reason="aioxmpp not importable")
    import aioxmpp.avatar.xso  # (registers XEP-0153 on Presence)
    import aioxmpp.chatstates.xso  # (registers XEP-0085 on Message)
    import aioxmpp.disco.xso  # (registers disco#info as IQ payload)
    import aioxmpp.entitycaps.xso  # (registers XEP-0115 on Presence)
    import aioxmpp.mdr.xso  # (registers XEP-0184 on Message)
    import aioxmpp.misc  # (registers XEP-0359 origin-id on Message)
    import aioxmpp.roster.xso  # (registers the roster query as IQ payload)
    import aioxmpp.stanza
    import aioxmpp.xml
    import aioxmpp.xso

    chunks = corpus.chunks

    def setup():
        tally = Tally()

        def on_message(msg) -> None:
            tally.stanzas += 1
            tally.from_chars += len(str(msg.from_))
            body = msg.body.any() if msg.body else None
            if body:
                tally.messages += 1
                tally.body_chars += len(body)

        def on_other(stanza) -> None:
            tally.stanzas += 1
            tally.from_chars += len(str(stanza.from_))

        stanza_parser = aioxmpp.xso.XSOParser()
        stanza_parser.add_class(aioxmpp.stanza.Message, on_message)
        stanza_parser.add_class(aioxmpp.stanza.Presence, on_other)
        stanza_parser.add_class(aioxmpp.stanza.IQ, on_other)
        processor = aioxmpp.xml.XMPPXMLProcessor()
        processor.stanza_parser = stanza_parser
        processor.on_exception = tally.errors.append  # a stanza that failed to parse
        parser = aioxmpp.xml.make_parser()
        parser.setContentHandler(processor)
        return parser, tally

    def target(state):
        parser, tally = state
        feed = parser.feed
        for chunk in chunks:
            feed(chunk)
        return tally

    tally = run_parse("aioxmpp XMPPXMLProcessor + XSOParser", setup, target, rounds=2, warmup=0)
    check_stanzas(tally, corpus)
