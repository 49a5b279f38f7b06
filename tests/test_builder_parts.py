"""The stanza builders' unbuilt parts: message(), presence() and iq() keep what they were given
(``Element._lazy``, a ``_Parts``) and build the attribute dict and the children only when
something needs them, as the compiled parser does with its stanzas (see test_lazy.py).

Every test compares a fresh builder stanza with the same stanza made element by element with
E() (``REFERENCES``): any reader or change applied first to the unbuilt stanza must give what it
gives on the built one, for each implementation (``xmlcore``). tostring(), get() and findtext()
read the parts in place: ``unbuilt`` checks that they left them so.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from helpers import dump

from fastxmpp import JID

CS = "{http://jabber.org/protocol/chatstates}"
C = "{jabber:client}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _msg(x):
    return x.message("romeo@montague.lit", "hi & <bye>", id="m1", chat_state="active")


def _msg_ref(x):
    E = x.E
    return E(C + "message", E(C + "body", "hi & <bye>"), E(CS + "active"),
             to="romeo@montague.lit", type="chat", id="m1")  # fmt: skip


def _full(x):
    return x.message(
        JID("Romeo@Montague.lit/Orchard"),
        "b\u00e9",
        type="groupchat",
        id="x",
        from_="c@d",
        subject="s",
        thread="t",
        lang="en",
        chat_state="gone",
    )


def _full_ref(x):
    E = x.E
    attrib = {"to": "romeo@montague.lit/Orchard", "from": "c@d", "type": "groupchat", "id": "x"}
    attrib[LANG] = "en"
    return E(C + "message", E(C + "subject", "s"), E(C + "body", "b\u00e9"), E(C + "thread", "t"),
             E(CS + "gone"), attrib)  # fmt: skip


# (builder, reference): the same stanza, unbuilt and built
REFERENCES = {
    "chat message": (_msg, _msg_ref),
    "every part": (_full, _full_ref),
    "empty body": (
        lambda x: x.message("a@b", ""),
        lambda x: x.E(C + "message", x.E(C + "body", ""), to="a@b", type="chat"),
    ),
    "only a chat state": (
        lambda x: x.message("a@b", chat_state="composing", type=None),
        lambda x: x.E(C + "message", x.E(CS + "composing"), to="a@b"),
    ),
    "nothing": (lambda x: x.message(type=None), lambda x: x.E(C + "message")),
    "presence": (
        lambda x: x.presence(show="away", status="out", priority=-5, lang="fr"),
        lambda x: x.E(
            C + "presence",
            x.E(C + "show", "away"),
            x.E(C + "status", "out"),
            x.E(C + "priority", "-5"),
            {LANG: "fr"},
        ),  # fmt: skip
    ),
    "presence without children": (
        lambda x: x.presence("room@muc.example/nick", type="unavailable"),
        lambda x: x.E(C + "presence", to="room@muc.example/nick", type="unavailable"),
    ),
    "iq with payload": (
        lambda x: x.iq("get", x.E("{jabber:iq:roster}query"), to="capulet.lit", id="r1"),
        lambda x: x.E(
            C + "iq", x.E("{jabber:iq:roster}query"), to="capulet.lit", type="get", id="r1"
        ),  # fmt: skip
    ),
    "iq": (lambda x: x.iq("result", id="r2"), lambda x: x.E(C + "iq", type="result", id="r2")),
}


@pytest.fixture(params=list(REFERENCES))
def pair(request, xmlcore):
    """(a fresh builder stanza, the same built with E()) for each builder call."""
    build, reference = REFERENCES[request.param]
    return build(xmlcore), reference(xmlcore), xmlcore


def unbuilt(element) -> bool:
    """Whether the builder's parts are still all the element has (nothing built from them)."""
    return element._lazy is not None and element._attrib is None and element._children is None


def test_a_builder_stanza_starts_unbuilt(xmlcore):
    assert unbuilt(_msg(xmlcore)) and unbuilt(_full(xmlcore))
    assert not unbuilt(_msg_ref(xmlcore))


READERS = {
    "len": len,
    "list": list,
    "index 0": lambda e: e[0],
    "index -1": lambda e: e[-1],
    "slice": lambda e: e[1:],
    "find body": lambda e: e.find(C + "body"),
    "find missing": lambda e: e.find(C + "nope"),
    "find wildcard": lambda e: e.find("{*}active"),
    "findall star": lambda e: e.findall("*"),
    "findall descendants": lambda e: e.findall(".//*"),
    "iter": lambda e: list(e.iter()),
    "itertext": lambda e: list(e.itertext()),
    "copy": lambda e: e.copy(),
    "copy.copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda e: pickle.loads(pickle.dumps(e)),
    "attrib": lambda e: (e.attrib, e.attrib is e.attrib),
    "keys items": lambda e: (e.keys(), e.items()),
    "text tail": lambda e: (e.text, e.tail, e.tag),
}


def _comparable(value):
    if hasattr(value, "tag") and hasattr(value, "attrib"):
        return dump(value)
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    return value


def _outcome(fn, *args):
    """What ``fn(*args)`` gives, or its error (type and text), comparably."""
    try:
        return _comparable(fn(*args))
    except Exception as exc:
        return type(exc), str(exc)


@pytest.mark.parametrize("reader", list(READERS))
def test_reading(pair, reader):
    element, reference, _ = pair
    read = READERS[reader]
    assert _outcome(read, element) == _outcome(read, reference)
    assert dump(element) == dump(reference)  # and it reads the same afterwards


IN_PLACE = {
    "tostring": lambda x, e: x.tostring(e),
    "tostring in a stream": lambda x, e: x.tostring(e, default_namespace="jabber:client"),
    "get": lambda x, e: [e.get(k) for k in ("to", "from", "type", "id", LANG, "x", "")],
    "get default": lambda x, e: [e.get(k, 7) for k in ("to", "from", "type", "id", LANG, "x")],
    "get equal keys": lambda x, e: [e.get("".join(k)) for k in ("to", "from", "type")],
    "findtext": lambda x, e: [
        e.findtext(C + t, "-") for t in ("subject", "body", "thread", "show", "status", "x")
    ],
    "findtext chat state": lambda x, e: [
        e.findtext(CS + s) for s in ("active", "composing", "gone", "paused")
    ],
    "findtext equal key": lambda x, e: e.findtext("".join([C, "bo", "dy"])),
}


@pytest.mark.parametrize("reader", list(IN_PLACE))
def test_reading_in_place_leaves_it_unbuilt(pair, reader):
    element, reference, x = pair
    fresh = unbuilt(element)
    read = IN_PLACE[reader]
    assert _outcome(read, x, element) == _outcome(read, x, reference)
    assert unbuilt(element) == fresh
    assert dump(element) == dump(reference)


def test_get_with_a_key_that_is_no_str(pair):
    element, reference, _ = pair
    with pytest.raises(TypeError):
        reference.get(["to"])
    with pytest.raises(TypeError):
        element.get(["to"])
    key = type("Key", (str,), {})("to")  # a subclass: answered as the dict answers it
    assert element.get(key) == reference.get(key)


def _new(x):
    return x.Element("{urn:new}n", {"k": "v"})


MUTATIONS = {
    "append": lambda x, e: e.append(_new(x)),
    "extend": lambda x, e: e.extend([_new(x), _new(x)]),
    "insert": lambda x, e: e.insert(0, _new(x)),
    "setitem": lambda x, e: e.__setitem__(slice(0, 1), [_new(x)]),
    "delitem": lambda x, e: e.__delitem__(slice(0, 1)),
    "remove first": lambda x, e: e.remove(e[0]) if len(e) else None,
    "clear": lambda x, e: e.clear(),
    "set": lambda x, e: (e.set("id", "new"), e.set("x", "y")),
    "attrib replaced": lambda x, e: setattr(e, "attrib", {"a": "b"}),
    "attrib none": lambda x, e: setattr(e, "attrib", None),
    "attrib changed": lambda x, e: e.attrib.pop("type", None),
    "text": lambda x, e: setattr(e, "text", "before & the children"),
    "tail": lambda x, e: setattr(e, "tail", "after"),
    "tag": lambda x, e: setattr(e, "tag", "{urn:other}message"),
    "tag without namespace": lambda x, e: setattr(e, "tag", "message"),
    "child text": lambda x, e: setattr(e[0], "text", "changed") if len(e) else None,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_mutations(pair, mutation):
    element, reference, x = pair
    assert _outcome(MUTATIONS[mutation], x, element) == _outcome(MUTATIONS[mutation], x, reference)
    assert dump(element) == dump(reference)
    for ns in (None, "jabber:client", "urn:other"):
        assert x.tostring(element, default_namespace=ns) == x.tostring(
            reference, default_namespace=ns
        )
    element.append(_new(x))  # and it keeps behaving like any element
    reference.append(_new(x))
    assert dump(element) == dump(reference)
    assert x.tostring(element) == x.tostring(reference)


def test_children_are_built_once(xmlcore):
    msg = _msg(xmlcore)
    body = msg[0]
    assert msg[0] is body and msg.find(C + "body") is body and list(msg)[0] is body
    assert msg._lazy is not None  # the attributes are still unbuilt
    assert msg.attrib is msg.attrib
    assert msg._lazy is None  # both built: an ordinary element from here on


def test_the_attributes_first_then_the_children(xmlcore):
    msg = _msg(xmlcore)
    msg.attrib["extra"] = "1"
    assert msg._lazy is not None and msg._children is None
    out = xmlcore.tostring(msg, default_namespace="jabber:client")
    assert out == (
        b'<message to="romeo@montague.lit" type="chat" id="m1" extra="1">'
        b'<body>hi &amp; &lt;bye&gt;</body><active xmlns="http://jabber.org/protocol/chatstates"/>'
        b"</message>"
    )


def test_characters_xml_cannot_carry_are_refused_when_written(xmlcore):
    """The builders take any str; what XML cannot carry is refused when written, with the
    error the built tree gives."""
    for build in (
        lambda: xmlcore.message("a@b", "bad \x00", id="1"),
        lambda: xmlcore.message("a@b", "x", id="bad \x00"),
        lambda: xmlcore.message("a\x01@b", "x"),
        lambda: xmlcore.presence(status="\ufffe"),
        lambda: xmlcore.message("a@b", "x", lang="\ud800"),
    ):
        unbuilt_error = _outcome(xmlcore.tostring, build())
        stanza = build()
        list(stanza), stanza.attrib  # built first
        assert unbuilt_error == _outcome(xmlcore.tostring, stanza)
        assert unbuilt_error[0] is ValueError


WRONG_TYPES = {
    "body": lambda x: x.message("a@b", 5),
    "subject": lambda x: x.message("a@b", subject=b"s"),
    "thread": lambda x: x.message("a@b", thread=1.0),
    "type": lambda x: x.message("a@b", "x", type=5),
    "id": lambda x: x.message("a@b", "x", id=7),
    "lang": lambda x: x.presence(lang=["en"]),
    "show": lambda x: x.presence(show=object()),
    "status": lambda x: x.presence(status=3),
}


@pytest.mark.parametrize("what", list(WRONG_TYPES))
def test_a_part_that_is_no_str_is_refused_when_built(xmlcore, what):
    with pytest.raises(TypeError, match=f"^{what} must be a str, not "):
        WRONG_TYPES[what](xmlcore)


def test_str_subclasses_are_kept_as_plain_str(xmlcore):
    """A StrEnum member (or any str subclass) is taken as its value, as a plain str."""
    import enum

    class Kind(str, enum.Enum):
        CHAT = "chat"

    class Text(str):
        pass

    msg = xmlcore.message(Text("a@b"), Text("hi"), type=Kind.CHAT, id=Text("1"), lang=Text("en"))
    values = [msg.get("to"), msg.get("type"), msg.get("id"), msg.findtext(C + "body")]
    assert values == ["a@b", "chat", "1", "hi"]
    assert all(type(v) is str for v in values)
    assert xmlcore.tostring(msg) == xmlcore.tostring(
        xmlcore.message("a@b", "hi", id="1", lang="en")
    )


def test_many_stanzas_dropped_and_made_again(xmlcore):
    """The parts are freed with their stanza (and reused when the type keeps a free list)."""
    for _ in range(3):
        made = [_full(xmlcore) for _ in range(300)]
        outs = {xmlcore.tostring(m) for m in made}
        assert len(outs) == 1
        del made
