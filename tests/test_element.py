"""Element, builder (E, ElementMaker) and serializer (tostring, StreamWriter), for both
``fastxmpp._xmlcore`` and the compiled ``fastxmpp._xmlcore_c``.

Element behaviour is compared with ``xml.etree.ElementTree`` on the same trees; serializer
output is checked by parsing it back with the stream parsers (both implementations).
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest
from helpers import CLOSE, STREAM_NS, XML_LANG, XML_NS, XMLNS_NS, dump, header_for
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import fastxmpp.xml
from fastxmpp.xml import StreamClose, StreamOpen

CLIENT = "jabber:client"

# -- helpers ---------------------------------------------------------------------------------------


def roundtrip(parser_cls, data: bytes, default_namespace=None, **limits):
    """Parse serialized stanza bytes inside a stream whose default namespace is given."""
    items = parser_cls(**limits).feed(header_for(default_namespace) + data + CLOSE)
    assert len(items) == 3, items
    assert isinstance(items[0], StreamOpen) and isinstance(items[2], StreamClose)
    return items[1]


# A tree spec: (tag, attrib items, text, tail, children)
SPEC = (
    "{jabber:client}message",
    [("to", "b@x"), ("type", "chat"), (XML_LANG, "en")],
    "t0",
    None,
    [
        ("{jabber:client}body", [], "hello", "t1", []),
        (
            "{urn:x}x",
            [("{urn:x}a", "1"), ("b", "2")],
            None,
            None,
            [
                ("{urn:x}y", [], "y1", "after-y1", []),
                ("y", [], "y2", None, [("{urn:x}y", [], "deep", None, [])]),
                ("{urn:z}y", [], None, "zt", []),
            ],
        ),
        ("{jabber:client}body", [("xml:lang", "fr")], "salut", None, []),
        ("{jabber:client}thread", [], None, "end", []),
    ],
)


def build(factory, spec):
    tag, attrib, text, tail, children = spec
    element = factory(tag, dict(attrib))
    element.text = text
    element.tail = tail
    for child in children:
        element.append(build(factory, child))
    return element


PATHS = [
    "{jabber:client}body",
    "body",
    "{*}body",
    "{urn:x}x",
    "*",
    "{urn:x}x/{urn:x}y",
    "{urn:x}x/y",
    "{urn:x}x/*",
    "{*}x/{*}y",
    "*/{urn:x}y",
    ".//{urn:x}y",
    ".//y",
    ".//{*}y",
    ".//*",
    ".//{jabber:client}body",
    "nothing",
    ".//nothing",
    "{urn:x}x/nothing",
]


def tags(elements):
    return [e.tag for e in elements]


# -- Element: ElementTree-like ---------------------------------------------------------------------


def test_construction(xmlcore):
    Element = xmlcore.Element
    e = Element("{jabber:client}message")
    assert e.tag == "{jabber:client}message"
    assert e.attrib == {}
    assert e.text is None and e.tail is None
    assert len(e) == 0 and list(e) == []
    e = Element("a", {"x": "1"}, y="2")
    assert e.attrib == {"x": "1", "y": "2"}
    assert Element("a", y="2").attrib == {"y": "2"}
    assert Element("a", None).attrib == {}


def test_constructor_copies_attrib(xmlcore):
    attrib = {"x": "1"}
    e = xmlcore.Element("a", attrib)
    attrib["y"] = "2"
    assert e.attrib == {"x": "1"}, "ElementTree copies the attrib mapping"
    e.set("z", "3")
    assert attrib == {"x": "1", "y": "2"}


def test_attrib_is_one_dict_that_can_be_replaced(xmlcore):
    e = xmlcore.Element("a", {"x": "1"})
    attrib = e.attrib
    assert e.attrib is attrib
    e.attrib = {"y": "2", "z": "3"}
    assert e.get("x") is None and e.get("y") == "2" and e.keys() == ["y", "z"]
    assert xmlcore.tostring(e) == b'<a y="2" z="3"/>'
    e.attrib = None  # taken as no attributes
    assert e.attrib == {} and e.attrib is e.attrib and e.get("y") is None
    assert xmlcore.tostring(e) == b"<a/>"
    e.set("w", "4")
    assert e.items() == [("w", "4")]


def test_attribute_methods(xmlcore):
    e = xmlcore.Element("a", {"z": "1", "a": "2"})
    assert e.get("z") == "1"
    assert e.get("nope") is None
    assert e.get("nope", "d") == "d"
    e.set("m", "3")
    e.set("z", "4")
    assert e.get("z") == "4"
    assert list(e.keys()) == ["z", "a", "m"]
    assert list(e.items()) == [("z", "4"), ("a", "2"), ("m", "3")]
    e.set(XML_LANG, "en")
    assert e.get(XML_LANG) == "en"
    e.attrib["direct"] = "5"
    assert e.get("direct") == "5"
    ref = ET.Element("a", {"z": "1", "a": "2"})
    ref.set("m", "3")
    ref.set("z", "4")
    assert list(ref.items()) == [("z", "4"), ("a", "2"), ("m", "3")]


def test_bool_is_always_true(xmlcore):
    e = xmlcore.Element("a")
    assert bool(e) is True
    assert e  # unlike ElementTree, an element without children is true
    e.append(xmlcore.Element("b"))
    assert bool(e) is True


def test_no_value_equality(xmlcore):
    a, b = xmlcore.Element("a"), xmlcore.Element("a")
    assert a != b
    assert a == a
    assert not (a == b)


def test_children_like_elementtree(xmlcore):
    ours = xmlcore.Element("r")
    ref = ET.Element("r")
    log = []
    for tree, factory in ((ours, xmlcore.Element), (ref, ET.Element)):
        made = {t: factory(t) for t in "abcdefg"}
        tree.append(made["a"])
        tree.extend([made["b"], made["c"]])
        tree.extend(iter([made["d"]]))
        tree.insert(0, made["e"])
        tree.insert(2, made["f"])
        tree.insert(-1, made["g"])
        tree.insert(100, factory("h"))
        tree.remove(made["c"])
        log.append(
            (
                tags(tree),
                len(tree),
                tree[0].tag,
                tree[-1].tag,
                tags(tree[1:3]),
                tags(tree[::2]),
                tags(tree[-2:]),
                tags(list(iter(tree))),
            )
        )
    assert log[0] == log[1]
    assert isinstance(ours[1:3], list)


def test_children_errors(xmlcore):
    Element = xmlcore.Element
    e = Element("r")
    child = Element("c")
    e.append(child)
    with pytest.raises(ValueError):
        e.remove(Element("c"))  # an equal-looking element is not the child
    e.remove(child)
    with pytest.raises(ValueError):
        e.remove(child)
    with pytest.raises(IndexError):
        e[0]
    with pytest.raises(TypeError):
        e.append("not an element")
    with pytest.raises(TypeError):
        e.append(None)
    with pytest.raises(TypeError):
        e.extend([Element("ok"), "not an element"])
    with pytest.raises(TypeError):
        e.insert(0, {"a": "b"})
    with pytest.raises(TypeError):
        e.append(ET.Element("foreign"))


def test_find_findall_like_elementtree(xmlcore):
    ours = build(xmlcore.Element, SPEC)
    ref = build(ET.Element, SPEC)
    for path in PATHS:
        assert [dump(e) for e in ours.findall(path)] == [dump(e) for e in ref.findall(path)], path
        found, expected = ours.find(path), ref.find(path)
        if expected is None:
            assert found is None, path
        else:
            assert dump(found) == dump(expected), path
        assert isinstance(ours.findall(path), list)


def test_find_returns_the_same_objects(xmlcore):
    ours = build(xmlcore.Element, SPEC)
    assert ours.find("{jabber:client}body") is ours[0]
    assert ours.findall("{jabber:client}body")[1] is ours[2]
    assert ours.find(".//{urn:x}y") is ours[1][0]
    assert ours.find("{urn:x}x/y") is ours[1][1]


def test_findtext_like_elementtree(xmlcore):
    ours = build(xmlcore.Element, SPEC)
    ref = build(ET.Element, SPEC)
    for path in PATHS:
        assert ours.findtext(path) == ref.findtext(path), path
        assert ours.findtext(path, "dflt") == ref.findtext(path, "dflt"), path
    assert ours.findtext("{jabber:client}thread") == ""  # found, no text
    assert ours.findtext("nothing") is None
    assert ours.findtext("nothing", default="x") == "x"


def test_plain_path_kept_for_the_next_call(xmlcore):
    """find() and its kin remember the last path they found plain (_plain_path): the same
    object again, and paths that are not plain between and after it, each answer as in
    ElementTree."""
    ours = build(xmlcore.Element, SPEC)
    ref = build(ET.Element, SPEC)
    body = "{jabber:client}body"
    for path in [body, body, "*", "*", body, "{urn:x}x/y", "{urn:x}x/y", ".", ".", body, "y"]:
        assert ours.findtext(path, "d") == ref.findtext(path, "d"), path
        assert [dump(e) for e in ours.findall(path)] == [dump(e) for e in ref.findall(path)], path
        found, expected = ours.find(path), ref.find(path)
        assert (found is None) == (expected is None), path
        if found is not None:
            assert dump(found) == dump(expected), path


PARSED_STANZA = (
    b"<message from='a@b/c' type='chat'><body>hi</body><thread/>"
    b"<x xmlns='urn:x'><y>in x</y><y xmlns=''>plain</y></x>"
    b"<body xml:lang='fr'>salut</body><n xmlns=''>no namespace</n><n xmlns=''/></message>"
)
PARSED_PATHS = [*PATHS, "{jabber:client}thread", "n", "{urn:x}y", "{jabber:client}n", "", "."]


@pytest.mark.parametrize("path", PARSED_PATHS)
def test_find_and_findtext_on_parsed_stanzas(parser_pair, path):
    """find/findtext/findall with plain tags (the direct loop) and with paths, on stanzas built
    by each parser, for queries that are the same str objects as the parsed tags and for equal
    ones built at run time; the pure-Python stanza is the reference."""
    stanzas = [roundtrip(cls, PARSED_STANZA, CLIENT) for cls in parser_pair]
    ref = stanzas[0]
    for stanza in stanzas:
        for query in (path, "".join(list(path))):  # a literal, and an equal new str
            found, expected = stanza.find(query), ref.find(query)
            assert (found is None) == (expected is None), query
            if found is not None:
                assert dump(found) == dump(expected), query
                assert any(found is e for e in stanza.iter()), query
            assert [dump(e) for e in stanza.findall(query)] == [
                dump(e) for e in ref.findall(query)
            ], query
            assert stanza.findtext(query) == ref.findtext(query), query
            assert stanza.findtext(query, "dflt") == ref.findtext(query, "dflt"), query
    if path == "{jabber:client}body":
        assert stanzas[1].findtext(path) == "hi" and stanzas[1].find(path) is stanzas[1][0]
    if path == "n":
        assert stanzas[1].findtext(path) == "no namespace"
    if path == "{jabber:client}thread":
        assert stanzas[1].findtext(path) == "" and stanzas[1].findtext(path, "d") == ""
    if path == "{jabber:client}n":
        assert stanzas[1].find(path) is None and stanzas[1].findtext(path, "d") == "d"


DISCO = "http://jabber.org/protocol/disco#info"
URL_PATHS = [
    f"{{{DISCO}}}query",
    f"{{{DISCO}}}query/{{{DISCO}}}identity",
    f"{{{DISCO}}}query/{{{DISCO}}}feature",
    f".//{{{DISCO}}}feature",
    f"./{{{DISCO}}}query",
    f"{{{DISCO}}}query/*",
    "{http://a/b/}x/{http://c//d}y",
    "{http://a/b/}x",
    f"{{{DISCO}}}nothing",
    "{http://a/b/}x/{http://c//d}nothing",
]


@pytest.mark.parametrize("path", URL_PATHS)
def test_find_with_slashes_inside_namespaces(xmlcore, path):
    """Namespaces are URLs: the slashes inside ``{...}`` are not path separators."""

    def tree(element_class):
        root = element_class("{jabber:client}iq")
        query = element_class(f"{{{DISCO}}}query")
        root.append(query)
        for tag in ("identity", "feature", "feature"):
            child = element_class(f"{{{DISCO}}}{tag}")
            child.text = tag
            query.append(child)
        x = element_class("{http://a/b/}x")
        y = element_class("{http://c//d}y")
        y.text = "deep"
        x.append(y)
        root.append(x)
        return root

    ours, ref = tree(xmlcore.Element), tree(ET.Element)
    assert [dump(e) for e in ours.findall(path)] == [dump(e) for e in ref.findall(path)]
    found, expected = ours.find(path), ref.find(path)
    assert (found is None) == (expected is None)
    if found is not None:
        assert dump(found) == dump(expected)
    assert ours.findtext(path) == ref.findtext(path)
    assert ours.findtext(path, "d") == ref.findtext(path, "d")


def test_find_plain_tags_on_a_built_tree(xmlcore):
    """The direct loop compares tags by value: equal tags that are other str objects match."""
    Element = xmlcore.Element
    root = Element("r")
    for tag in ("{urn:a}t", "t", "{urn:a}t"):
        child = Element("".join(["", tag]))
        child.text = tag + "!"
        root.append(child)
    assert root.find("{urn:a}t") is root[0]
    assert root.findtext("".join(["{urn:a}", "t"])) == "{urn:a}t!"
    assert root.find("t") is root[1] and root.findtext("t") == "t!"
    assert root.find("{urn:b}t") is None and root.findtext("{urn:b}t") is None
    assert root.findtext("{urn:b}t", "d") == "d"
    assert root.findtext(".") == "" and root.find(".") is root
    assert Element("empty").findtext("t", "d") == "d"


def test_iter_like_elementtree(xmlcore):
    ours = build(xmlcore.Element, SPEC)
    ref = build(ET.Element, SPEC)
    for tag in (None, "{urn:x}y", "y", "{jabber:client}body", "{jabber:client}message", "zz"):
        assert [dump(e) for e in ours.iter(tag)] == [dump(e) for e in ref.iter(tag)], tag
    assert [dump(e) for e in ours.iter()] == [dump(e) for e in ref.iter()]
    assert next(iter(ours.iter())) is ours
    assert list(ours[1].itertext()) == list(ref[1].itertext())
    assert list(ours.itertext()) == list(ref.itertext())
    assert "".join(ours.itertext()) == "".join(ref.itertext())


def test_iter_is_lazy_and_deep_trees_work(xmlcore):
    Element = xmlcore.Element
    root = Element("a")
    e = root
    for _ in range(10_000):
        child = Element("a")
        e.append(child)
        e = child
    e.text = "bottom"
    assert sum(1 for _ in root.iter()) == 10_001
    assert list(root.itertext()) == ["bottom"]
    assert root.find(".//a") is root[0]
    it = root.iter("a")
    assert next(it) is root


# -- builder ---------------------------------------------------------------------------------------


def test_E_builder(xmlcore):
    E = xmlcore.E
    m = E(
        "{jabber:client}message",
        E("{jabber:client}body", "hi"),
        {"type": "chat", "{urn:x}a": "1"},
        to="b@x",
        from_="a@x",
        class_="c",
        id=None,
    )
    assert isinstance(m, xmlcore.Element)
    assert m.tag == "{jabber:client}message"
    assert m.attrib == {"type": "chat", "{urn:x}a": "1", "to": "b@x", "from": "a@x", "class": "c"}
    assert "id" not in m.attrib
    assert len(m) == 1 and m[0].tag == "{jabber:client}body" and m[0].text == "hi"
    assert m.text is None
    assert E("a", "text").text == "text"
    assert E("a").attrib == {} and len(E("a")) == 0


def test_E_children_order(xmlcore):
    E = xmlcore.E
    b, c = E("b"), E("c")
    a = E("a", "t", b, c)
    assert a.text == "t"
    assert list(a) == [b, c]


def test_E_bad_arguments(xmlcore):
    E = xmlcore.E
    with pytest.raises(TypeError) as info:
        E("a", 5)
    assert str(info.value)
    with pytest.raises(TypeError):
        E("a", b"bytes")
    with pytest.raises(TypeError):
        E(5)
    with pytest.raises(TypeError):
        E(None)


def test_ElementMaker(xmlcore):
    C = xmlcore.ElementMaker("jabber:client")
    m = C.message(C.body("hi"), to="b@x", type="chat")
    assert m.tag == "{jabber:client}message"
    assert m.attrib == {"to": "b@x", "type": "chat"}
    assert m[0].tag == "{jabber:client}body" and m[0].text == "hi"
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    assert b"xmlns" not in out
    assert out.startswith(b"<message")
    X = xmlcore.ElementMaker("urn:xmpp:receipts")
    r = X.request()
    assert r.tag == "{urn:xmpp:receipts}request"
    i = C.iq(X.ping(), {"id": "1"}, from_="a@b", to=None)
    assert i.attrib == {"id": "1", "from": "a@b"}


# -- serializer: structure -------------------------------------------------------------------------


def _no_prefixed_element_names(out: bytes) -> bool:
    return re.search(rb"</?[^\s/>!?:]+:", out) is None


def test_tostring_basics(xmlcore, parser_cls):
    C = xmlcore.ElementMaker(CLIENT)
    m = C.message(C.body("héllo 😀"), to="b@x")
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    assert isinstance(out, bytes)
    assert out.startswith(b"<message")
    assert not out.startswith(b"<?xml")
    assert b"xmlns" not in out
    assert "héllo 😀".encode() in out  # UTF-8, not character references
    assert dump(roundtrip(parser_cls, out, CLIENT), top_tail=False) == dump(m, top_tail=False)


def test_tostring_without_default_namespace_declares_it(xmlcore, parser_cls):
    C = xmlcore.ElementMaker(CLIENT)
    m = C.message(C.body("hi"), C.subject("s"), to="b@x")
    out = xmlcore.tostring(m)
    assert b"ns0" not in out and _no_prefixed_element_names(out)
    assert out.count(CLIENT.encode()) == 1  # declared once, inherited by the children
    assert dump(roundtrip(parser_cls, out, None), top_tail=False) == dump(m, top_tail=False)


def test_child_in_other_namespace_gets_xmlns(xmlcore, parser_cls):
    E = xmlcore.E
    m = E(
        "{jabber:client}message",
        E("{urn:x}x", E("{urn:x}y"), E("{urn:x}z")),
        E("{jabber:client}body", "b"),
    )
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    assert out.count(b"urn:x") == 1
    assert b"jabber:client" not in out
    assert b"ns0" not in out and _no_prefixed_element_names(out)
    back = roundtrip(parser_cls, out, CLIENT)
    assert dump(back, top_tail=False) == dump(m, top_tail=False)
    assert back[1].tag == "{jabber:client}body"


def test_child_in_no_namespace_gets_empty_xmlns(xmlcore, parser_cls):
    E = xmlcore.E
    m = E("{urn:a}a", E("b", E("c")), E("{urn:a}d"))
    out = xmlcore.tostring(m)
    assert re.search(rb"<b xmlns=(''|\"\")", out), out
    back = roundtrip(parser_cls, out, None)
    assert [e.tag for e in back.iter()] == ["{urn:a}a", "b", "c", "{urn:a}d"]
    # a stanza with a no-namespace child written into a jabber:client stream
    m = E("{jabber:client}message", E("x"))
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    assert dump(roundtrip(parser_cls, out, CLIENT), top_tail=False) == dump(m, top_tail=False)
    # an element in no namespace at the top, written into a jabber:client stream
    out = xmlcore.tostring(E("x"), default_namespace=CLIENT)
    assert roundtrip(parser_cls, out, CLIENT).tag == "x"


def test_namespaced_attributes_get_a_declared_prefix(xmlcore, parser_cls):
    E = xmlcore.E
    m = E(
        "{jabber:client}message",
        {"{urn:x}a": "1", "{urn:y}a": "2", "a": "3", "{jabber:client}a": "4"},
        E("{urn:x}child", {"{urn:x}b": "5", "{urn:z}c": "6"}),
    )
    for default in (None, CLIENT, "urn:x"):
        out = xmlcore.tostring(m, default_namespace=default)
        assert b"ns0" not in out and _no_prefixed_element_names(out), out
        back = roundtrip(parser_cls, out, default)
        assert dump(back, top_tail=False) == dump(m, top_tail=False)


def test_xml_lang(xmlcore, parser_cls):
    E = xmlcore.E
    m = E("{jabber:client}message", {XML_LANG: "en"}, E("{jabber:client}body", {XML_LANG: "fr"}))
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    assert out.count(b"xml:lang=") == 2
    assert XML_NS.encode() not in out
    assert dump(roundtrip(parser_cls, out, CLIENT), top_tail=False) == dump(m, top_tail=False)
    m = E("a", {f"{{{XML_NS}}}space": "preserve"})
    assert b"xml:space=" in xmlcore.tostring(m)


ATTRIBUTE_VALUES = [
    "&",
    "<",
    ">",
    '"',
    "'",
    "\r",
    "\t",
    "\n",
    "\r\n",
    " \t\r\n ",
    "a&b<c>d\"e'f",
    "&amp;",
    "&lt;",
    "&#13;",
    "]]>",
    "  two  spaces  ",
    "",
    "é中😀",
    "\x7f\x85\u2028",
    "'\"'\"",
    "\ufeff",
    "\U0010fffd",
]
TEXT_VALUES = [
    "&",
    "<",
    ">",
    "]]>",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "a\rb",
    "x]]>y]]>",
    "&amp;&lt;",
    " ",
    "  \n  ",
    "é中😀",
    "\x7f\x85\u2028",
    "<![CDATA[x]]>",
    "<!-- c -->",
    "<?pi?>",
    "'\"",
    "\ufeff",
    "\U0010fffd",
]


@pytest.mark.parametrize("value", ATTRIBUTE_VALUES, ids=[repr(v) for v in ATTRIBUTE_VALUES])
def test_attribute_escaping_round_trips(xmlcore, parser_cls, value):
    m = xmlcore.E("{jabber:client}message", {"a": value, "{urn:x}b": value, XML_LANG: value})
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    back = roundtrip(parser_cls, out, CLIENT)
    assert back.attrib == m.attrib, out


@pytest.mark.parametrize("value", TEXT_VALUES, ids=[repr(v) for v in TEXT_VALUES])
def test_text_escaping_round_trips(xmlcore, parser_cls, value):
    E = xmlcore.E
    child = E("{jabber:client}b", value)
    child.tail = value
    m = E("{jabber:client}message", value, child)
    out = xmlcore.tostring(m, default_namespace=CLIENT)
    back = roundtrip(parser_cls, out, CLIENT)
    assert (back.text, back[0].text, back[0].tail) == (value, value, value), out


def test_namespace_uri_escaping_round_trips(xmlcore, parser_cls):
    E = xmlcore.E
    for uri in ("urn:a&b", "urn:<x>", "urn:'\"", "urn:ü 中", "urn:tab\there"):
        m = E(f"{{{uri}}}a", {f"{{{uri}}}attr": "v"}, E(f"{{{uri}}}b"))
        out = xmlcore.tostring(m)
        assert dump(roundtrip(parser_cls, out, None), top_tail=False) == dump(m, top_tail=False)


def test_empty_and_text_only_elements(xmlcore, parser_cls):
    E = xmlcore.E
    for m in (
        E("{jabber:client}a"),
        E("{jabber:client}a", "x"),
        E("{jabber:client}a", E("{jabber:client}b")),
    ):
        out = xmlcore.tostring(m, default_namespace=CLIENT)
        assert dump(roundtrip(parser_cls, out, CLIENT), top_tail=False) == dump(m, top_tail=False)


def test_serializing_a_deep_tree(xmlcore, parser_cls):
    depth = 5000
    root = xmlcore.Element("{urn:x}a")
    e = root
    for _ in range(depth - 1):
        child = xmlcore.Element("{urn:x}a")
        e.append(child)
        e = child
    out = xmlcore.tostring(root)
    assert out.count(b"urn:x") == 1
    back = roundtrip(parser_cls, out, None, max_depth=depth)
    assert sum(1 for _ in back.iter()) == depth


# -- serializer: bad input -------------------------------------------------------------------------

BAD_CHARS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", BAD_CHARS, ids=[f"U+{ord(c):04X}" for c in BAD_CHARS])
@pytest.mark.parametrize(
    "where",
    [
        "text",
        "tail",
        "attribute",
        "namespaced-attribute",
        "namespace",
        "attribute-namespace",
        "tag",
        "attribute-name",
    ],
)
def test_characters_not_allowed_in_xml_raise_valueerror(xmlcore, char, where):
    E = xmlcore.E
    with pytest.raises(ValueError) as info:
        root = E("{jabber:client}message")
        child = E("{jabber:client}body")
        root.append(child)
        if where == "text":
            child.text = "a" + char + "b"
        elif where == "tail":
            child.tail = "a" + char + "b"
        elif where == "attribute":
            child.set("a", "a" + char + "b")
        elif where == "namespaced-attribute":
            child.set("{urn:x}a", "a" + char + "b")
        elif where == "namespace":
            root.append(xmlcore.Element("{urn:" + char + "}x"))
        elif where == "attribute-namespace":
            child.set("{urn:" + char + "}a", "v")
        elif where == "tag":
            root.append(xmlcore.Element("a" + char + "b"))
        else:
            child.set("a" + char + "b", "v")
        xmlcore.tostring(root, default_namespace=CLIENT)
    assert str(info.value)


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "a b",
        "1a",
        "-a",
        ".a",
        "a:b",
        "{urn:x}",
        "{urn:x}a:b",
        "{urn:x",
        "a>",
        "a/",
        "<a",
        "a\u00d7",
        "\t",
        "a\tb",
    ],
)
def test_bad_tag_names_raise_valueerror(xmlcore, tag):
    with pytest.raises(ValueError) as info:
        xmlcore.tostring(xmlcore.E("{jabber:client}m", xmlcore.Element(tag)))
    assert str(info.value)


@pytest.mark.parametrize("name", ["", "a b", "1a", "a:b", "a=", "a'", "{urn:x}", "{urn:x}1"])
def test_bad_attribute_names_raise_valueerror(xmlcore, name):
    e = xmlcore.Element("a")
    with pytest.raises(ValueError) as info:
        e.set(name, "v")
        xmlcore.tostring(e)
    assert str(info.value)


@pytest.mark.parametrize("name", ["xmlns", f"{{{XMLNS_NS}}}p", f"{{{XMLNS_NS}}}xmlns"])
def test_namespace_declaration_attributes_are_refused_or_preserved(xmlcore, parser_cls, name):
    """An attribute that would read back as a namespace declaration must not be written as one."""
    e = xmlcore.E("{urn:a}a", {name: "urn:evil"}, xmlcore.E("{urn:a}b"))
    try:
        out = xmlcore.tostring(e)
    except ValueError as err:
        assert str(err)
        return
    back = roundtrip(parser_cls, out, None)
    assert dump(back, top_tail=False) == dump(e, top_tail=False), out


@pytest.mark.parametrize("tag", [f"{{{XML_NS}}}a", f"{{{XMLNS_NS}}}a"])
def test_reserved_element_namespaces_are_refused_or_preserved(xmlcore, parser_cls, tag):
    e = xmlcore.E("{urn:a}r", xmlcore.Element(tag))
    try:
        out = xmlcore.tostring(e)
    except ValueError as err:
        assert str(err)
        return
    assert dump(roundtrip(parser_cls, out, None), top_tail=False) == dump(e, top_tail=False)


def _set(element, key, value):
    element.set(key, value)
    return element


def _attrib_item(element, key, value):
    element.attrib[key] = value
    return element


def _with(element, **fields):
    for name, value in fields.items():
        setattr(element, name, value)
    return element


NON_STR_CASES = {
    "tag-int": lambda m: m.Element(1),
    "tag-bytes": lambda m: m.Element(b"a"),
    "tag-none": lambda m: m.Element(None),
    "tag-tuple": lambda m: m.Element(("a",)),
    "attribute-value-int": lambda m: _set(m.E("a"), "x", 1),
    "attribute-value-bytes": lambda m: _set(m.E("a"), "x", b"bytes"),
    "attribute-value-none": lambda m: _set(m.E("a"), "x", None),
    "attribute-name-int": lambda m: _attrib_item(m.E("a"), 1, "v"),
    "attribute-name-bytes": lambda m: _attrib_item(m.E("a"), b"x", "v"),
    "text-int": lambda m: _with(m.E("a"), text=5),
    "text-bytes": lambda m: _with(m.E("a"), text=b"x"),
    "tail-bytes": lambda m: m.E("a", _with(m.E("b"), tail=b"bytes")),
    "attrib-not-a-mapping": lambda m: m.Element("a", attrib=5),
}


@pytest.mark.parametrize("case", sorted(NON_STR_CASES))
def test_non_str_values_raise_typeerror(xmlcore, case):
    """Wrong types raise TypeError, when set or at the latest when serialized."""
    with pytest.raises(TypeError) as info:
        xmlcore.tostring(NON_STR_CASES[case](xmlcore))
    assert str(info.value)


@pytest.mark.parametrize("value", ["<a/>", None, b"<a/>", 5])
def test_tostring_needs_an_element(xmlcore, value):
    with pytest.raises(TypeError):
        xmlcore.tostring(value)


# -- StreamWriter ----------------------------------------------------------------------------------


def test_stream_writer(parser_cls):
    xmlcore = fastxmpp.xml
    w = xmlcore.StreamWriter()
    header = w.header(to="example.com")
    assert isinstance(header, bytes)
    parser = parser_cls()
    (opening,) = parser.feed(header)
    assert opening.default_namespace == CLIENT
    assert opening.namespaces.get("stream") == STREAM_NS
    assert opening.get("to") == "example.com"
    assert opening.get("version") == "1.0"
    assert opening.get("from") is None and opening.get("id") is None
    assert opening.get(XML_LANG) is None

    C = xmlcore.ElementMaker(CLIENT)
    m = C.message(C.body("hi & <bye>"), to="b@x", type="chat")
    stanza = w.stanza(m)
    assert b"xmlns" not in stanza and stanza.startswith(b"<message")
    (back,) = parser.feed(stanza)
    assert dump(back, top_tail=False) == dump(m, top_tail=False)
    ping = C.iq(xmlcore.E("{urn:xmpp:ping}ping"), type="get", id="p1")
    (back,) = parser.feed(w.stanza(ping))
    assert dump(back, top_tail=False) == dump(ping, top_tail=False)
    assert parser.feed(w.footer()) == [StreamClose()]


def test_stream_writer_header_fields(parser_cls):
    w = fastxmpp.xml.StreamWriter()
    header = w.header(
        to="example.com", from_="juliet@example.com", id="s'1\"&<", lang="en", version="1.0"
    )
    (opening,) = parser_cls().feed(header)
    assert opening.get("to") == "example.com"
    assert opening.get("from") == "juliet@example.com"
    assert opening.get("id") == "s'1\"&<"
    assert opening.get(XML_LANG) == "en"
    assert opening.get("version") == "1.0"


def test_stream_writer_server_namespace(parser_cls):
    xmlcore = fastxmpp.xml
    w = xmlcore.StreamWriter(namespace="jabber:server")
    parser = parser_cls()
    (opening,) = parser.feed(w.header(to="example.org", from_="example.com"))
    assert opening.default_namespace == "jabber:server"
    S = xmlcore.ElementMaker("jabber:server")
    m = S.message(S.body("x"), to="a@example.org")
    stanza = w.stanza(m)
    assert b"xmlns" not in stanza
    (back,) = parser.feed(stanza)
    assert back.tag == "{jabber:server}message"
    # an element in another namespace declares it
    C = xmlcore.ElementMaker(CLIENT)
    (back,) = parser.feed(w.stanza(C.message()))
    assert back.tag == "{jabber:client}message"
    assert parser.feed(w.footer()) == [StreamClose()]


def test_stream_writer_whole_stream(parser_cls):
    xmlcore = fastxmpp.xml
    w = xmlcore.StreamWriter()
    C = xmlcore.ElementMaker(CLIENT)
    stanzas = [C.message(C.body(str(i)), to="b@x") for i in range(5)]
    data = w.header(to="x") + b"".join(w.stanza(s) for s in stanzas) + w.footer()
    items = parser_cls().feed(data)
    assert [dump(i, top_tail=False) for i in items[1:-1]] == [
        dump(s, top_tail=False) for s in stanzas
    ]
    assert isinstance(items[-1], StreamClose)


# -- round trips of generated trees ----------------------------------------------------------------

ELEMENT_NAMESPACES = [None, None, CLIENT, "urn:x", "urn:y", STREAM_NS, "urn:&'\"<>"]
ATTRIBUTE_NAMESPACES = [None, None, None, "urn:x", "urn:z", CLIENT, XML_NS]
NAMES = ["a", "body", "x-y", "_z", "é", "жж", "中文", "a.b", "n9", "stream2"]
TEXT_CHARS = list("ab <>&'\"]\t\n\r") + [
    "\r\n",
    "]]>",
    "é",
    "中",
    "😀",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\U0010fffd",
    "&amp;",
]


def _text(r):
    if r.random() < 0.4:
        return None
    return "".join(r.choice(TEXT_CHARS) for _ in range(r.randint(1, 8)))


def gen_tree(factory, r, depth=1):
    ns = r.choice(ELEMENT_NAMESPACES)
    local = r.choice(NAMES)
    element = factory(f"{{{ns}}}{local}" if ns else local)
    for _ in range(r.choice([0, 0, 1, 2, 3])):
        ans = r.choice(ATTRIBUTE_NAMESPACES)
        name = "lang" if ans == XML_NS else r.choice(NAMES)
        value = _text(r) or ""
        element.set(f"{{{ans}}}{name}" if ans else name, value)
    element.text = _text(r)
    if depth < 5:
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            child = gen_tree(factory, r, depth + 1)
            child.tail = _text(r)
            element.append(child)
    return element


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1), default=st.sampled_from([None, CLIENT, "urn:x"]))
def test_generated_trees_round_trip(xmlcore, parser_cls, seed, default):
    tree = gen_tree(xmlcore.Element, random.Random(seed))
    out = xmlcore.tostring(tree, default_namespace=default)
    note(repr(out))
    assert b"ns0" not in out and _no_prefixed_element_names(out)
    back = roundtrip(parser_cls, out, default)
    assert dump(back, top_tail=False) == dump(tree, top_tail=False)
    # and ElementTree reads the same thing from it
    ref = ET.fromstring(header_for(default) + out + CLOSE)[0]
    assert dump(ref, top_tail=False) == dump(tree, top_tail=False)


def test_modules_are_consistent():
    """fastxmpp.xml exports the active implementation."""
    import importlib

    import fastxmpp

    if fastxmpp.EXTENSIONS:
        import fastxmpp._xmlcore_c as active
    else:
        import fastxmpp._xmlcore as active
    assert fastxmpp.xml.Element is active.Element
    assert fastxmpp.xml.E is active.E
    assert fastxmpp.xml.ElementMaker is active.ElementMaker
    if not fastxmpp.EXTENSIONS:
        assert fastxmpp.xml.tostring is active.tostring
    # the stanza dispatch and Message's base come from the same side
    dispatch = importlib.import_module(
        "fastxmpp._dispatch_c" if fastxmpp.EXTENSIONS else "fastxmpp._dispatch"
    )
    assert fastxmpp._impl.dispatch is dispatch
    assert fastxmpp.Message.__mro__[1] is dispatch.StanzaView


def test_parsers_build_the_active_element():
    import fastxmpp

    for cls in (fastxmpp.xml.StreamParserPy, fastxmpp.xml.StreamParserC):
        if cls is None:
            continue
        items = cls().feed(header_for(CLIENT) + b"<message/>")
        assert isinstance(items[1], fastxmpp.xml.Element), cls


def test_a_python_subclass_keeps_indexing(xmlcore):
    """The compiled Element must not leave typing.overload's placeholder in its type dict,
    where a Python subclass would find it for ``[]``."""

    class Sub(xmlcore.Element):
        pass

    el = Sub("a")
    el.append(xmlcore.Element("b"))
    assert el[0].tag == "b" and [c.tag for c in el[:1]] == ["b"]


@pytest.fixture(params=["py", "c"])
def message_bytes(request):
    """send_message()'s writer: the pure one, and the compiled one that builds no tree."""
    if request.param == "py":
        import fastxmpp._xmlcore as core

        return core.message_bytes
    from conftest import missing_extension, no_extensions

    if no_extensions():
        missing_extension("fastxmpp._writer_c", "FASTXMPP_NO_EXTENSIONS=1")
    try:
        from fastxmpp._writer_c import message_bytes as compiled
    except ImportError as exc:
        missing_extension("fastxmpp._writer_c", f"ImportError: {exc}")
    return compiled


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


_tricky = ["a", "&", "<", ">", '"', "'", "\t", "\n", "\r", "\x00", "\x1f", "\ufffe", "é"]
_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.text(
    st.sampled_from(_tricky), max_size=6
)
_values = st.none() | _texts | st.integers(0, 9)


_chat_states = (
    st.none()
    | st.sampled_from(["active", "composing", "paused", "inactive", "gone"])
    | st.sampled_from(["typing", "", "Active", "active "])
    | st.integers(0, 1)
)


@given(to=_values, body=_values, type=_values, id=_values, state=_chat_states)
@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_message_bytes_is_tostring_of_message(message_bytes, to, body, type, id, state):
    """Byte for byte, and error for error, what the builder and the pure writer give."""
    import fastxmpp._xmlcore as core

    def reference(to, body, type, id, state):
        stanza = core.message(to, body, type=type, id=id, chat_state=state)
        return core.tostring(stanza, default_namespace=CLIENT)

    got = _outcome(message_bytes, to, body, type, id, state)
    assert got == _outcome(reference, to, body, type, id, state)
    if state is None:  # the four-argument call, as send_message() makes it for a plain message
        assert _outcome(message_bytes, to, body, type, id) == got


def test_message_bytes_takes_a_jid(message_bytes):
    from fastxmpp import JID

    out = message_bytes(JID("Romeo@Montague.lit/Orchard"), "a < b", "chat", "i&1")
    assert out == (
        b'<message to="romeo@montague.lit/Orchard" type="chat" id="i&amp;1">'
        b"<body>a &lt; b</body></message>"
    )
    assert message_bytes(None, None, None, None) == b"<message/>"
    assert message_bytes("a@b", None, "chat", "1", "composing") == (
        b'<message to="a@b" type="chat" id="1">'
        b'<composing xmlns="http://jabber.org/protocol/chatstates"/></message>'
    )
    with pytest.raises(TypeError, match="to must be a str or a JID"):
        message_bytes(b"romeo@montague.lit", "x", "chat", None)


@pytest.mark.parametrize("where", ["text", "tail"])
def test_a_falsy_non_str_text_is_refused_not_dropped(xmlcore, where):
    root = xmlcore.Element("{jabber:client}message")
    child = xmlcore.Element("{jabber:client}body")
    root.append(child)
    setattr(child, where, 0)
    with pytest.raises(TypeError, match="text must be a str, not int"):
        xmlcore.tostring(root)


@pytest.fixture
def compiled_xml():
    """fastxmpp.xml with the extension active: compiled Elements and the compiled writer."""
    from conftest import missing_extension

    import fastxmpp

    if not fastxmpp.EXTENSIONS:
        missing_extension("fastxmpp._writer_c", "the extension is not in use")
    return fastxmpp.xml


# Long runs reach the writer's sixteen-bytes-at-a-time copy; the pieces put every character it
# must stop on (and multi-byte ones, whose bytes it must not) at every offset of a block.
_pieces = [*_tricky, "abcdefghijklmno", "x", "中文", "\uff0c", "\U0001f389", "\x7f", "\udfff"]
_long_texts = st.builds(
    lambda n, pieces: "a" * n + "".join(pieces),
    st.integers(0, 40),
    st.lists(st.sampled_from(_pieces), max_size=12),
)


@given(text=_long_texts, value=_long_texts, ns=_long_texts, tail=_long_texts)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_compiled_writer_is_the_pure_one_on_long_strings(compiled_xml, text, value, ns, tail):
    """Byte for byte, and error for error, the compiled writer gives what the pure one gives."""
    import fastxmpp._xmlcore as core

    def write(module, tostring):
        root = module.E("{jabber:client}message", {"to": value}, module.E("{" + ns + "}x", text))
        root[0].tail = tail
        root.text = text
        return tostring(root, default_namespace="jabber:client")

    got = _outcome(write, compiled_xml, compiled_xml.tostring)
    assert got == _outcome(write, core, core.tostring)


# The compiled writer takes the plain ASCII of a non-ASCII str sixteen characters at a time and
# must stop at each of these, wherever it falls in a block, in each of the three kinds of str.
_ODD = [
    *'&<>"\t\n\r\x00\x1f\x7f',
    *"\x80\xe9\xff\u0416\u7fff\u8000\uff0c\ufffe\uffff\ud800\udfff\U0001f389\U0010ffff",
]


@pytest.mark.parametrize("widest", ["\xe9", "\u0416", "\uffee", "\U0001f602"])
def test_compiled_writer_blocks_of_wide_strings(compiled_xml, widest):
    import fastxmpp._xmlcore as core

    def write(module, text):
        return module.tostring(module.E("a", {"v": text}, text))

    for length in (15, 16, 17, 31, 32, 33, 47):
        for at in range(length):
            for odd in _ODD:
                for text in (
                    "a" * at + odd + "b" * (length - at) + widest,
                    widest + "a" * at + odd + "b" * (length - at),
                ):
                    got = _outcome(write, compiled_xml, text)
                    assert got == _outcome(write, core, text), (text, got)


class _Kind(str):
    """A str subclass, as a StrEnum member is: the API takes it wherever it takes a str."""


def test_str_subclasses_are_taken_like_str(xmlcore):
    """The compiled build checked parameters annotated ``str`` for the exact type, and refused
    a subclass the pure implementation takes."""
    S = _Kind
    el = xmlcore.Element(S("{jabber:client}message"), {"to": "a@b"})
    el.set(S("type"), S("chat"))
    assert el.get(S("to")) == "a@b" and el.get(S("type")) == "chat"
    body = xmlcore.E(S("{jabber:client}body"), S("hi"))
    el.append(body)
    assert el.find(S("{jabber:client}body")) is body
    assert el.findall(S("{jabber:client}body")) == [body]
    assert el.findtext(S("{jabber:client}body")) == "hi"
    assert el.findtext(S("{jabber:client}none"), S("x")) == "x"
    assert [e.tag for e in el.iter(S("{jabber:client}body"))] == ["{jabber:client}body"]
    assert xmlcore.ElementMaker(S("urn:x"))(S("y")).tag == "{urn:x}y"
    out = xmlcore.tostring(el, default_namespace=S("jabber:client"))
    assert out == b'<message to="a@b" type="chat"><body>hi</body></message>'
    built = xmlcore.message(S("a@b"), S("hi"), type=S("chat"), id=S("i1"), subject=S("s"))
    assert xmlcore.tostring(built, default_namespace="jabber:client") == (
        b'<message to="a@b" type="chat" id="i1"><subject>s</subject><body>hi</body></message>'
    )
    p = xmlcore.presence(type=S("subscribe"), show=S("away"), status=S("x"))
    assert p.get("type") == "subscribe" and p.findtext("{jabber:client}status") == "x"
    assert xmlcore.iq(S("get"), id=S("q")).get("type") == "get"
    for made in (
        xmlcore.Element("a", {"k": S("v")}, x=S("y")),
        xmlcore.E("a", {"k": S("v")}, x=S("y")),
    ):
        assert xmlcore.tostring(made) == b'<a k="v" x="y"/>'


def test_str_subclasses_on_parsed_stanzas(parser_cls):
    S = _Kind
    (_, stanza) = parser_cls().feed(
        header_for("jabber:client") + b"<message from='a@b'><body>hi</body></message>"
    )
    assert stanza.get(S("from")) == "a@b"
    assert stanza.findtext(S("{jabber:client}body")) == "hi"
    assert stanza.find(S("{jabber:client}body")).text == "hi"


@pytest.mark.parametrize("bad", [None, 3, b"b"])
def test_a_path_or_namespace_that_is_no_str_is_refused_alike(xmlcore, bad):
    el = xmlcore.E("a", xmlcore.E("b"))
    name = type(bad).__name__
    for method in (el.find, el.findall, el.findtext):
        with pytest.raises(TypeError, match=f"^path must be a str, not {name}$"):
            method(bad)
    if bad:  # (a false default_namespace means none)
        with pytest.raises(TypeError, match=f"^default_namespace must be a str, not {name}$"):
            xmlcore.tostring(el, default_namespace=bad)
