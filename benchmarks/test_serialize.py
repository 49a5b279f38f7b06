"""Send side: build a chat message and serialize it to the UTF-8 bytes written to the socket.

The message: ``<message to=... type='chat' id=...><body>...</body>`` +
``<active xmlns='http://jabber.org/protocol/chatstates'/></message>``, as it goes on a c2s stream
whose default namespace is ``jabber:client`` (so no ``xmlns`` on ``<message>``). One round builds
and serializes 10,000 such messages from ``corpus.message_specs()`` (realistic recipient JIDs,
ids, bodies with non-ASCII text and characters that need escaping); messages/s =
``extra_info["messages_per_round"]`` / mean, also stored as ``extra_info["messages_per_second"]``.
Each benchmark checks afterwards that every output parses to the expected message (tag,
attributes, body text, chat state), so an implementation cannot look fast by producing wrong or
empty output.

Implementations (group ``serialize``):

* ``fastxmpp`` compiled (the public ``fastxmpp.xml.ElementMaker``/``tostring`` with
  ``fastxmpp.EXTENSIONS`` true, i.e. ``_xmlcore_c`` elements + the compiled writer; skipped
  when not built) and pure Python (``fastxmpp._xmlcore``): ``ElementMaker`` +
  ``tostring(msg, default_namespace="jabber:client")``.
* ``fastxmpp`` compiled with the stanza builder: ``fastxmpp.xml.message(to, body, id=...,
  chat_state="active")``; the same with the chat state appended as any payload is
  (``append(E(...))``); the same without the chat state (a plain chat message: the one row
  that writes other bytes); and ``message_bytes``, what ``Connection.send_message(...,
  chat_state="active")`` writes, the same bytes without building the tree.
* ``xml.etree.ElementTree``: ``Element``/``SubElement`` + ``ET.tostring(msg, encoding="utf-8")``;
  the stanza is built in no namespace with a literal ``xmlns`` attribute on the chat-state element
  (the usual trick: ET would otherwise write ``ns0:`` prefixes), which gives the same bytes.
* ``slixmpp``: ``ClientXMPP.make_message(mto, mbody, mtype="chat")``, ``msg["id"] = ...``,
  ``msg["chat_state"] = "active"`` (XEP-0085 plugin loaded), then ``str(msg).encode()`` - what
  ``XMLStream.send()`` does before ``transport.write()`` (its ``tostring`` with the stream's
  default namespace).

Run::

    python -m pytest benchmarks --benchmark-only --benchmark-columns=mean,ops,rounds \
        --benchmark-group-by=group

(``-k serialize`` for this file only; ``python benchmarks/report.py`` for a markdown table.)
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
from corpus import NS_CHATSTATES, OWN_JID, message_specs

N_MESSAGES = int(os.environ.get("FASTXMPP_BENCH_MESSAGES", "10000"))

pytestmark = pytest.mark.benchmark(group="serialize")


@pytest.fixture(scope="module")
def specs():
    return message_specs(N_MESSAGES)


def check_outputs(outputs, specs, chat_state: bool = True) -> None:
    """Every output is ``<message to type id><body/><active xmlns=chatstates/></message>``
    (without the chat state when ``chat_state`` is false)."""
    assert len(outputs) == len(specs)
    for out, spec in zip(outputs, specs, strict=True):
        assert isinstance(out, bytes), type(out)
        # parse it as it appears on the stream: inside an element whose default ns is jabber:client
        wrapper = ET.fromstring(b"<stream xmlns='jabber:client'>" + out + b"</stream>")
        (msg,) = list(wrapper)
        assert msg.tag == "{jabber:client}message", out
        assert msg.get("to") == spec.to, out
        assert msg.get("type") == "chat", out
        assert msg.get("id") == spec.id, out
        assert msg.findtext("{jabber:client}body") == spec.body, out
        if chat_state:
            assert msg.find(f"{{{NS_CHATSTATES}}}active") is not None, out
        assert len(msg) == (2 if chat_state else 1), out


def _compiled_xml():
    """fastxmpp.xml, for the rows that need the compiled extension (skipped without it)."""
    fastxmpp = pytest.importorskip("fastxmpp")
    fx = pytest.importorskip("fastxmpp.xml")
    if not fastxmpp.EXTENSIONS:
        pytest.skip("fastxmpp compiled extension not built or disabled")
    return fx


def _bench_fastxmpp(run_serialize, specs, ElementMaker, tostring, label):
    C = ElementMaker("jabber:client")
    CS = ElementMaker(NS_CHATSTATES)

    def build_and_serialize():
        out = []
        append = out.append
        for s in specs:
            msg = C.message(C.body(s.body), CS.active(), to=s.to, type="chat", id=s.id)
            append(tostring(msg, default_namespace="jabber:client"))
        return out

    outputs = run_serialize(label, build_and_serialize, len(specs))
    check_outputs(outputs, specs)


def test_fastxmpp_compiled(run_serialize, specs, benchmark):
    """The public API with the extension active: fastxmpp.xml.ElementMaker/tostring."""
    fx = _compiled_xml()
    benchmark.extra_info["modules"] = (
        f"{fx.ElementMaker.__module__}.ElementMaker + {fx.tostring.__module__}.tostring"
    )
    _bench_fastxmpp(
        run_serialize,
        specs,
        fx.ElementMaker,
        fx.tostring,
        "fastxmpp compiled (_xmlcore_c + _writer_c)",
    )


def chat_state_keyword_round(fx, specs):
    """One round of ``fx.message(..., chat_state="active")``, serialized: the builder makes
    the chat state itself (``fx`` is fastxmpp.xml)."""
    message, tostring = fx.message, fx.tostring

    def build_and_serialize():
        return [
            tostring(
                message(s.to, s.body, id=s.id, chat_state="active"),
                default_namespace="jabber:client",
            )
            for s in specs
        ]

    return build_and_serialize


def test_fastxmpp_compiled_chat_state_keyword(run_serialize, specs):
    """The stanza builder with its chat_state keyword: message(..., chat_state="active")."""
    fx = _compiled_xml()
    label = "fastxmpp compiled, message(chat_state=)"
    outputs = run_serialize(label, chat_state_keyword_round(fx, specs), len(specs))
    check_outputs(outputs, specs)


def stanza_builder_round(fx, specs):
    """One round of the stanza builder with the chat state appended as any payload is:
    ``fx.message()`` + ``append(E(...))``, serialized (``fx`` is fastxmpp.xml)."""
    message, E, tostring = fx.message, fx.E, fx.tostring
    active = f"{{{NS_CHATSTATES}}}active"

    def build_and_serialize():
        out = []
        append = out.append
        for s in specs:
            msg = message(s.to, s.body, id=s.id)
            msg.append(E(active))
            append(tostring(msg, default_namespace="jabber:client"))
        return out

    return build_and_serialize


def test_fastxmpp_compiled_stanza_builder(run_serialize, specs):
    """The stanza builder, the chat state appended as any payload: message() + append(E())."""
    fx = _compiled_xml()
    build_and_serialize = stanza_builder_round(fx, specs)
    label = "fastxmpp compiled, message() + append(E(chat state))"
    outputs = run_serialize(label, build_and_serialize, len(specs))
    check_outputs(outputs, specs)


def test_fastxmpp_compiled_plain_message(run_serialize, specs):
    """message() + tostring() for a plain chat message (to, type, id, body; no chat state)."""
    fx = _compiled_xml()
    message, tostring = fx.message, fx.tostring

    def build_and_serialize():
        return [
            tostring(message(s.to, s.body, id=s.id), default_namespace="jabber:client")
            for s in specs
        ]

    label = "fastxmpp compiled, message() builder, no chat state"
    outputs = run_serialize(label, build_and_serialize, len(specs))
    check_outputs(outputs, specs, chat_state=False)


def message_bytes_round(specs):
    """One round of send_message()'s writer (the active one) for
    ``send_message(to, body, id=..., chat_state="active")``."""
    from fastxmpp._impl import message_bytes

    def build_and_serialize():
        return [message_bytes(s.to, s.body, "chat", s.id, "active") for s in specs]

    return build_and_serialize


def test_fastxmpp_compiled_message_bytes(run_serialize, specs):
    """What send_message(..., chat_state="active") writes: the compiled message_bytes(), the
    same bytes as message(..., chat_state="active") + tostring without building the tree."""
    _compiled_xml()
    label = "fastxmpp compiled, send_message's writer (message_bytes)"
    outputs = run_serialize(label, message_bytes_round(specs), len(specs))
    check_outputs(outputs, specs)


def test_fastxmpp_pure(run_serialize, specs):
    """The pure-Python module fastxmpp._xmlcore, whatever the extension state."""
    core = pytest.importorskip("fastxmpp._xmlcore")
    _bench_fastxmpp(
        run_serialize, specs, core.ElementMaker, core.tostring, "fastxmpp _xmlcore (pure Python)"
    )


def etree_round(specs):
    """One round with xml.etree.ElementTree (see the module's docstring)."""
    Element = ET.Element
    SubElement = ET.SubElement
    tostring = ET.tostring

    def build_and_serialize():
        out = []
        append = out.append
        for s in specs:
            msg = Element("message", to=s.to, type="chat", id=s.id)
            SubElement(msg, "body").text = s.body
            SubElement(msg, "active", xmlns=NS_CHATSTATES)
            append(tostring(msg, encoding="utf-8"))
        return out

    return build_and_serialize


def test_etree(run_serialize, specs):
    outputs = run_serialize("xml.etree.ElementTree", etree_round(specs), len(specs))
    check_outputs(outputs, specs)


def slixmpp_round(slixmpp, specs, loop):
    """One round with slixmpp's Message stanza (see the module's docstring)."""
    client = slixmpp.ClientXMPP(OWN_JID, "secret", loop=loop)
    client.register_plugin("xep_0085")  # chat states: msg["chat_state"]
    make_message = client.make_message

    def build_and_serialize():
        out = []
        append = out.append
        for s in specs:
            msg = make_message(mto=s.to, mbody=s.body, mtype="chat")
            msg["id"] = s.id
            msg["chat_state"] = "active"
            append(str(msg).encode("utf-8"))
        return out

    return build_and_serialize


def test_slixmpp(run_serialize, specs):
    slixmpp = pytest.importorskip("slixmpp")
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        build_and_serialize = slixmpp_round(slixmpp, specs, loop)
        outputs = run_serialize("slixmpp Message stanza + str()", build_and_serialize, len(specs))
    finally:
        loop.close()
    check_outputs(outputs, specs)
