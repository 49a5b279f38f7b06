"""message(), presence() and iq(): the stanza builders, against every Element implementation."""

from __future__ import annotations

import pytest
from helpers import CLOSE, header_for

from fastxmpp import JID
from fastxmpp.xml import StreamParserPy

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def reparse(xmlcore, element):
    """Serialize as a c2s stanza and read it back with the pure parser."""
    data = xmlcore.tostring(element, default_namespace="jabber:client")
    items = StreamParserPy().feed(header_for("jabber:client") + data + CLOSE)
    return data, items[1]


def test_message_defaults_to_chat_with_body(xmlcore):
    msg = xmlcore.message("romeo@montague.lit", "hello & <bye>", id="m1")
    assert msg.tag == "{jabber:client}message"
    assert msg.attrib == {"to": "romeo@montague.lit", "type": "chat", "id": "m1"}
    assert [c.tag for c in msg] == ["{jabber:client}body"]
    data, back = reparse(xmlcore, msg)
    assert data == (
        b'<message to="romeo@montague.lit" type="chat" id="m1">'
        b"<body>hello &amp; &lt;bye&gt;</body></message>"
    )
    assert back.findtext("{jabber:client}body") == "hello & <bye>"


def test_message_all_parts_in_order(xmlcore):
    msg = xmlcore.message(
        JID("Romeo@Montague.lit/Orchard"),
        "b",
        type="groupchat",
        id="x",
        from_="juliet@capulet.lit/balcony",
        subject="s",
        thread="t1",
        lang="en",
    )
    assert msg.attrib == {
        "to": "romeo@montague.lit/Orchard",
        "from": "juliet@capulet.lit/balcony",
        "type": "groupchat",
        "id": "x",
        XML_LANG: "en",
    }
    assert [(c.tag, c.text) for c in msg] == [
        ("{jabber:client}subject", "s"),
        ("{jabber:client}body", "b"),
        ("{jabber:client}thread", "t1"),
    ]
    data, back = reparse(xmlcore, msg)
    assert b'xml:lang="en"' in data
    assert back.get(XML_LANG) == "en"


def test_message_type_none_and_no_body(xmlcore):
    msg = xmlcore.message(type=None)
    assert msg.attrib == {} and len(msg) == 0
    assert xmlcore.tostring(msg, default_namespace="jabber:client") == b"<message/>"


def test_message_payload_can_be_appended(xmlcore):
    msg = xmlcore.message("a@b", "hi")
    msg.append(xmlcore.E("{http://jabber.org/protocol/chatstates}active"))
    data, back = reparse(xmlcore, msg)
    assert data.endswith(b'<active xmlns="http://jabber.org/protocol/chatstates"/></message>')
    assert back[1].tag == "{http://jabber.org/protocol/chatstates}active"


@pytest.mark.parametrize("bad", [5, b"a@b", ["a@b"]])
def test_addresses_must_be_str_or_jid(xmlcore, bad):
    with pytest.raises(TypeError, match="to must be a str or a JID"):
        xmlcore.message(bad, "x")
    with pytest.raises(TypeError, match="from_ must be a str or a JID"):
        xmlcore.presence(from_=bad)


def test_presence_parts(xmlcore):
    pres = xmlcore.presence(show="away", status="on the balcony", priority=-5, id="p1")
    assert pres.tag == "{jabber:client}presence"
    assert pres.attrib == {"id": "p1"}
    assert [(c.tag, c.text) for c in pres] == [
        ("{jabber:client}show", "away"),
        ("{jabber:client}status", "on the balcony"),
        ("{jabber:client}priority", "-5"),
    ]
    _, back = reparse(xmlcore, pres)
    assert back.findtext("{jabber:client}priority") == "-5"


def test_presence_directed_and_typed(xmlcore):
    pres = xmlcore.presence("room@muc.example/nick", type="unavailable")
    assert pres.attrib == {"to": "room@muc.example/nick", "type": "unavailable"}
    assert len(pres) == 0


@pytest.mark.parametrize("priority", [128, -129])
def test_presence_priority_range_is_checked(xmlcore, priority):
    with pytest.raises(ValueError, match="priority must be an int from -128 to 127"):
        xmlcore.presence(priority=priority)


@pytest.mark.parametrize("priority", [True, "5", 1.0])
def test_presence_priority_must_be_an_int(xmlcore, priority):
    # the compiled build may word it its own way; the exception type is the contract
    with pytest.raises(TypeError):
        xmlcore.presence(priority=priority)


def test_iq_with_payload(xmlcore):
    query = xmlcore.E("{jabber:iq:roster}query")
    req = xmlcore.iq("get", query, to="capulet.lit", id="r1")
    assert req.tag == "{jabber:client}iq"
    assert req.attrib == {"to": "capulet.lit", "type": "get", "id": "r1"}
    assert req[0] is query
    data, back = reparse(xmlcore, req)
    assert data == b'<iq to="capulet.lit" type="get" id="r1"><query xmlns="jabber:iq:roster"/></iq>'
    assert back[0].tag == "{jabber:iq:roster}query"


def test_iq_without_payload(xmlcore):
    assert xmlcore.iq("result", id="7").attrib == {"type": "result", "id": "7"}


@pytest.mark.parametrize("bad_type", ["GET", "", "query"])
def test_iq_type_is_checked(xmlcore, bad_type):
    with pytest.raises(ValueError, match="iq type must be get, set, result or error"):
        xmlcore.iq(bad_type)


@pytest.mark.parametrize("bad", [None, 1])
def test_iq_type_must_be_a_str(xmlcore, bad):
    with pytest.raises(TypeError):
        xmlcore.iq(bad)


def test_iq_payload_must_be_an_element(xmlcore):
    with pytest.raises(TypeError):
        xmlcore.iq("set", "<query/>")


# The builders keep a stanza's attributes as a tuple until a dict is asked for (Element._pairs):
# whatever is done first to such a stanza must give what it gives on an element made with the
# same attribute dict.

_FIRST_TOUCH = {
    "get": lambda el: (el.get("type"), el.get("id"), el.get("missing"), el.get("missing", 7)),
    "get_equal_key": lambda el: el.get("".join(["t", "o"])),  # equal, not the same object
    "get_unhashable": lambda el: el.get(["to"]),
    "get_subclass_key": lambda el: el.get(type("Key", (str,), {})("to")),
    "attrib": lambda el: (el.attrib, el.attrib is el.attrib),
    "keys_items": lambda el: (el.keys(), el.items()),
    "set_then_attrib": lambda el: (el.set("id", "new"), el.set("x", "y"), el.attrib),
    "attrib_replaced": lambda el: (setattr(el, "attrib", {"a": "b"}), el.get("to"), el.attrib),
    "attrib_none": lambda el: (setattr(el, "attrib", None), el.get("to"), el.attrib),
    "clear": lambda el: (el.clear(), el.get("to"), el.attrib, len(el)),
    "copy": lambda el: (el.copy().attrib, el.attrib),
    "tostring": lambda el: el,  # written, see below
}


_BUILDERS = [
    lambda x: x.message("romeo@montague.lit", "hi", id="m1"),  # the one-tuple case
    lambda x: x.message(
        JID("a@b/c"), "b", type="groupchat", id="x", from_="c@d", subject="s", lang="en"
    ),
    lambda x: x.message(type=None),  # no attributes at all
    lambda x: x.presence("room@muc.example/nick", type="unavailable"),
    lambda x: x.presence(show="away"),
    lambda x: x.iq("get", to="capulet.lit", id="r1"),
    lambda x: x.iq("result"),
]


def _touch(xmlcore, what, el):
    try:
        got = _FIRST_TOUCH[what](el)
    except Exception as exc:  # the error, compared by type and text
        return type(exc), str(exc)
    if what == "tostring":
        return xmlcore.tostring(el, default_namespace="jabber:client")
    return got


@pytest.mark.parametrize("what", sorted(_FIRST_TOUCH))
@pytest.mark.parametrize("build", range(len(_BUILDERS)))
def test_builder_attributes_behave_as_a_dict_whatever_comes_first(xmlcore, build, what):
    made = _BUILDERS[build](xmlcore)
    reference = xmlcore.Element(made.tag, dict(made.attrib))
    for child in made:
        reference.append(child)
    fresh = _BUILDERS[build](xmlcore)  # nothing read yet
    assert _touch(xmlcore, what, fresh) == _touch(xmlcore, what, reference)


def test_builder_attributes_survive_pickling_and_deepcopy(xmlcore):
    import copy
    import pickle

    msg = xmlcore.message("romeo@montague.lit", "hi", id="m1")
    for twin in (pickle.loads(pickle.dumps(msg)), copy.deepcopy(msg)):
        assert twin.attrib == {"to": "romeo@montague.lit", "type": "chat", "id": "m1"}
        assert xmlcore.tostring(twin) == xmlcore.tostring(msg)


CHATSTATES = "{http://jabber.org/protocol/chatstates}"


def test_message_chat_state_comes_last(xmlcore):
    msg = xmlcore.message("a@b", "hi", id="1", thread="t", chat_state="active")
    assert [c.tag for c in msg] == [
        "{jabber:client}body",
        "{jabber:client}thread",
        CHATSTATES + "active",
    ]
    data, back = reparse(xmlcore, msg)
    assert data.endswith(b'<active xmlns="http://jabber.org/protocol/chatstates"/></message>')
    assert back[2].tag == CHATSTATES + "active" and len(back[2]) == 0


@pytest.mark.parametrize("subject", [None, "s"])
@pytest.mark.parametrize("body", [None, "b", ""])
@pytest.mark.parametrize("thread", [None, "t"])
@pytest.mark.parametrize("state", [None, "active", "gone"])
def test_message_children_in_every_combination(xmlcore, subject, body, thread, state):
    msg = xmlcore.message("a@b", body, subject=subject, thread=thread, chat_state=state)
    want = [
        (tag, text)
        for tag, text in (
            ("{jabber:client}subject", subject),
            ("{jabber:client}body", body),
            ("{jabber:client}thread", thread),
        )
        if text is not None
    ]
    if state is not None:
        want.append((CHATSTATES + state, None))
    assert [(c.tag, c.text) for c in msg] == want
    assert len(msg) == len(want)


def test_a_chat_state_equal_to_a_literal_but_another_object(xmlcore):
    state = "".join(["act", "ive"])  # equal to "active", not the same (interned) object
    assert xmlcore.message("a@b", "hi", chat_state=state)[1].tag == CHATSTATES + "active"


@pytest.mark.parametrize("state", ["active", "composing", "paused", "inactive", "gone"])
def test_a_standalone_chat_state_notification(xmlcore, state):
    msg = xmlcore.message("a@b", chat_state=state)
    assert (
        xmlcore.tostring(msg, default_namespace="jabber:client")
        == (
            f'<message to="a@b" type="chat"><{state} xmlns="http://jabber.org/protocol/chatstates"/>'
            "</message>"
        ).encode()
    )


def test_a_chat_state_may_be_a_str_subclass(xmlcore):
    import enum

    class State(str, enum.Enum):
        COMPOSING = "composing"

    msg = xmlcore.message("a@b", chat_state=State.COMPOSING)
    assert msg[0].tag == CHATSTATES + "composing"


@pytest.mark.parametrize(
    ("state", "error"),
    [("typing", ValueError), ("", ValueError), ("Active", ValueError), (1, TypeError)],
)
def test_an_unknown_chat_state_is_refused(xmlcore, state, error):
    with pytest.raises(error, match="chat_state must be"):
        xmlcore.message("a@b", "hi", chat_state=state)
