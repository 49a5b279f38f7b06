"""fastxmpp.Message: the view of a received message, and build_message(); no server needed."""

from __future__ import annotations

import logging
import types

import pytest
from helpers import CLOSE, header_for

from fastxmpp import JID, Message, StanzaError, XMPPError
from fastxmpp.message import build_message
from fastxmpp.xml import StreamParser, tostring

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BODY = "{jabber:client}body"


def parse(text: str):
    """One stanza, read by the stream parser as it would come from a server."""
    items = StreamParser().feed(header_for("jabber:client") + text.encode() + CLOSE)
    return items[1]


def msg(text: str, lang: str | None = "en") -> Message:
    return Message(parse(text), types.SimpleNamespace(lang=lang))


class FakeConnection:
    lang = "en"

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, stanza) -> None:
        self.sent.append(stanza)


# -- construction and the Element API ----------------------------------------------------------


def test_construction_parses_nothing():
    """Even an invalid address costs nothing until it is asked for."""
    m = Message(parse("<message from='not a jid@@' type='chat'><body>x</body></message>"))
    assert m.stanza.tag == "{jabber:client}message"
    assert m.connection is None


def test_the_element_api_is_delegated():
    text = (
        "<message from='a@example.com/r' to='b@example.com' id='i1'>"
        "<body>hi</body><x xmlns='urn:example'><y/></x></message>"
    )
    m = Message(parse(text))
    el = m.stanza
    assert m.tag == el.tag and m.attrib == el.attrib
    assert m.get("id") == "i1" and m.get("nothing", 5) == 5
    assert m.findtext(BODY) == "hi"
    assert m.find("{urn:example}x") is el[1]
    assert m.findall(BODY) == [el[0]]
    assert [c.tag for c in m] == [BODY, "{urn:example}x"]
    assert len(m) == 2 and m[0] is el[0] and m[:1] == [el[0]]
    assert [e.tag for e in m.iter("{urn:example}y")] == ["{urn:example}y"]
    assert m.keys() == el.keys() and m.items() == el.items()
    assert bool(Message(parse("<message/>")))  # always true, like Element


def test_addresses_type_and_id():
    m = msg("<message from='Juliet@Example.com/Balcony' to='romeo@example.net' id='x'/>")
    assert m.sender == JID("juliet@example.com/Balcony")
    assert m.to == JID("romeo@example.net")
    assert m.id == "x"
    assert m.type == "normal"  # RFC 6121 5.2.2: absent means normal
    assert msg("<message type='headline'/>").type == "headline"
    empty = msg("<message/>")
    assert empty.sender is None and empty.to is None and empty.id is None
    assert empty.body is None and empty.subject is None and empty.thread is None
    assert empty.bodies == {} and empty.error is None


def test_an_invalid_sender_is_logged_and_none(caplog):
    m = msg("<message from='a@b@c'><body>x</body></message>")
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        assert m.sender is None
    assert "invalid" in caplog.text
    assert m.body == "x"  # the rest is still readable


# -- languages ----------------------------------------------------------------------------------


def test_bodies_by_language():
    m = msg(
        "<message><body>plain</body><body xml:lang='de'>Hallo</body>"
        "<body xml:lang='fr'>Salut</body><body xml:lang='de'>second de</body></message>"
    )
    assert m.bodies == {"": "plain", "de": "Hallo", "fr": "Salut"}  # the first per language
    assert m.body == "plain"  # no English one: the one without xml:lang
    assert Message(m.stanza, types.SimpleNamespace(lang="de")).body == "Hallo"
    assert Message(m.stanza, types.SimpleNamespace(lang="DE-at")).body == "Hallo"
    assert Message(m.stanza).body == "plain"  # no connection: no preference


def test_a_body_without_lang_inherits_the_stanzas():
    m = msg("<message xml:lang='de'><body xml:lang='en'>Hello</body><body>Hallo</body></message>")
    assert m.bodies == {"en": "Hello", "de": "Hallo"}
    assert m.lang == "de"
    assert m.body == "Hello"  # the connection's language first
    assert Message(m.stanza, types.SimpleNamespace(lang="fr")).body == "Hallo"  # then no-lang


def test_without_a_match_or_a_default_the_first_wins():
    m = msg("<message><body xml:lang='fr'>Salut</body><body xml:lang='de'>Hallo</body></message>")
    assert m.body == "Salut"


def test_one_body_is_read_without_building_the_dict():
    assert msg("<message><body xml:lang='de'>Hallo</body></message>").body == "Hallo"
    assert msg("<message><body/></message>").body == ""


def test_subjects_thread_and_parent():
    m = msg(
        "<message><subject>S</subject><subject xml:lang='de'>Betreff</subject>"
        "<thread parent='p1'>t1</thread></message>"
    )
    assert m.subjects == {"": "S", "de": "Betreff"}
    assert m.subject == "S"
    assert m.thread == "t1" and m.parent_thread == "p1"
    assert msg("<message><thread>t</thread></message>").parent_thread is None


def test_error():
    m = msg(
        "<message type='error' from='x@example.com'><body>orig</body>"
        "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>nobody here</text></error></message>"
    )
    assert isinstance(m.error, StanzaError)
    assert (m.error.condition, m.error.type, m.error.text) == (
        "service-unavailable",
        "cancel",
        "nobody here",
    )
    broken = msg("<message type='error'/>")  # no <error/>: still an error, never a crash
    assert broken.error is not None and broken.error.condition == "undefined-condition"


# -- replies ------------------------------------------------------------------------------------


def test_make_reply():
    conn = FakeConnection()
    m = Message(
        parse("<message from='a@example.com/r' type='chat' id='1'><thread>t</thread></message>"),
        conn,
    )
    reply = m.make_reply("pong")
    assert isinstance(reply, Message) and reply.connection is conn
    assert reply.to == JID("a@example.com/r")
    assert reply.type == "chat" and reply.thread == "t" and reply.body == "pong"
    assert reply.id and reply.id != "1"
    assert conn.sent == []  # not sent
    other = m.make_reply("x", thread="t2", type="normal", subject="s", id="given")
    assert (other.thread, other.type, other.subject, other.id) == ("t2", "normal", "s", "given")
    multi = m.make_reply(bodies={"de": "Hallo", "": "hi"})
    assert multi.bodies == {"de": "Hallo", "": "hi"}


def test_reply_sends_on_the_connection():
    conn = FakeConnection()
    m = Message(parse("<message from='a@example.com/r'><body>ping</body></message>"), conn)
    reply_id = m.reply("pong")
    [sent] = conn.sent
    assert isinstance(sent, Message) and sent.id == reply_id and sent.body == "pong"
    assert sent.stanza.get("type") is None  # a normal message is answered as normal


def test_groupchat_replies_go_to_the_room():
    m = msg("<message from='room@muc.example.com/nick' type='groupchat'><body>x</body></message>")
    assert m.make_reply("y").to == JID("room@muc.example.com")


def test_replies_that_make_no_sense_are_refused():
    with pytest.raises(XMPPError, match="sender"):
        msg("<message><body>x</body></message>").make_reply("y")
    with pytest.raises(XMPPError, match="error"):
        msg("<message from='a@example.com' type='error'/>").make_reply("y")
    with pytest.raises(XMPPError, match="connection"):
        Message(parse("<message from='a@example.com'/>")).reply("y")


# -- building -----------------------------------------------------------------------------------


def test_build_message_with_languages():
    el = build_message(
        "b@example.com",
        "hi",
        id="m1",
        lang="en",
        subject="S",
        bodies={"de": "Hallo", "": "neutral"},
        subjects={"de": "Betreff"},
        thread="t",
        parent_thread="p",
    )
    assert tostring(el, default_namespace="jabber:client") == (
        b'<message to="b@example.com" type="chat" id="m1" xml:lang="en">'
        b'<subject>S</subject><subject xml:lang="de">Betreff</subject>'
        b'<body>hi</body><body xml:lang="de">Hallo</body><body>neutral</body>'
        b'<thread parent="p">t</thread></message>'
    )
    back = Message(parse(tostring(el, default_namespace="jabber:client").decode()))
    assert back.bodies == {"en": "hi", "de": "Hallo"}  # "neutral" also has lang en: first wins
    assert back.subjects == {"en": "S", "de": "Betreff"}


def test_build_message_plain_is_the_builders():
    el = build_message("b@example.com", "hi", id="m1", type=None)
    assert tostring(el) == b'<message xmlns="jabber:client" to="b@example.com" id="m1">' + (
        b"<body>hi</body></message>"
    )


def test_build_message_bad_input():
    with pytest.raises(ValueError, match="thread"):
        build_message("b@example.com", "x", parent_thread="p")
    with pytest.raises(TypeError):
        build_message("b@example.com", None, bodies={"de": 5})  # type: ignore[dict-item]


CHATSTATES = "http://jabber.org/protocol/chatstates"


def test_chat_state():
    assert msg(f"<message><body>x</body><active xmlns='{CHATSTATES}'/></message>").chat_state == (
        "active"
    )
    assert msg(f"<message><composing xmlns='{CHATSTATES}'/></message>").chat_state == "composing"
    assert msg("<message><body>x</body></message>").chat_state is None
    # an element of the namespace that is no state, or a state in another namespace: none
    assert msg(f"<message><typing xmlns='{CHATSTATES}'/></message>").chat_state is None
    assert msg("<message><active xmlns='urn:other'/></message>").chat_state is None


@pytest.mark.parametrize("thread", [None, "t"])  # (with a thread: not message()'s plain case)
def test_build_message_with_a_chat_state(thread):
    el = build_message("b@example.com", "hi", id="m1", chat_state="active", bodies={"de": "Hallo"})
    assert Message(el).chat_state == "active" and len(el) == 3
    el = build_message("b@example.com", None, id="m1", thread=thread, chat_state="gone")
    assert Message(el).chat_state == "gone"
    assert tostring(el, default_namespace="jabber:client").endswith(
        b'<gone xmlns="http://jabber.org/protocol/chatstates"/></message>'
    )
    with pytest.raises(ValueError, match="chat_state"):
        build_message("b@example.com", "x", chat_state="typing", bodies={"de": "y"})


def test_make_reply_with_a_chat_state():
    m = msg("<message from='a@example.com/r' type='chat'><body>ping</body></message>")
    assert m.make_reply("pong", chat_state="active").chat_state == "active"


def test_repr():
    text = repr(msg("<message from='a@example.com' type='chat' id='7'/>"))
    assert text == "<Message chat from='a@example.com' id='7'>"
