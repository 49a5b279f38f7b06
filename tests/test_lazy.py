"""Lazy stanzas: the compiled parser hands out stanzas whose attribute dict and children are
built on first use.

``StreamParserC`` validates a whole stanza before handing it out, but only records its
attributes and what is inside it; ``Element._lazy`` holds the records until something reads the
attribute dict or the children (``get`` and ``findtext`` read them in place). Every test here
parses the same bytes with both parsers and compares with the pure parser's stanza, which is
always fully built: an accessor or mutation applied first to an unbuilt stanza must give exactly
what it gives on a built one. ``is_lazy`` and ``attributes_are_lazy`` check the compiled parser
really left the children or the attributes unbuilt (for the pure parser ``_lazy`` is always
None).
"""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import weakref

import pytest
from conftest import missing_extension
from helpers import HEADER, dump, et_items, wrap

import fastxmpp.xml as fx
from fastxmpp import _impl

# text with references, CDATA (with markup-like and empty sections), CR LF line ends; namespaced
# and prefixed attributes with references and white space; tails; an empty child; grandchildren
STANZA = (
    b"<message from='romeo@montague.lit/orchard' type='chat' id='m1'>"
    b"stanza text"
    b"<body>x &amp; &lt;y&gt; &#233;&#x1F600; \xc3\xa9<![CDATA[<raw> & ]]>\r\nend"
    b"<![CDATA[]]></body>"
    b"body tail"
    b"<x xmlns='urn:x' xmlns:p='urn:p' p:a='1&#9;2\r\n3' b=\"q&quot;'\" xml:lang='fr'>"
    b"<y>t<![CDATA[]]></y>ytail<z/>\r\nztail<w><v>deep &#x10FFFF;</v></w></x>"
    b"<empty><![CDATA[]]></empty>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/>"
    b"last tail</message>"
)
BODY = "{jabber:client}body"
X = "{urn:x}x"


def parse(parser_cls, stanzas: bytes = STANZA, **limits):
    """The first-level elements of a stream holding ``stanzas``."""
    items = parser_cls(**limits).feed(wrap(stanzas))
    return [item for item in items if isinstance(item, fx.Element)]


def is_lazy(element) -> bool:
    """Whether the element's children are still only recorded."""
    return element._children is None and element._lazy is not None and element._lazy.nnodes > 0


def attributes_are_lazy(element) -> bool:
    """Whether the element's attributes are still only recorded (no dict made yet)."""
    return element._attrib is None and element._lazy is not None


@pytest.fixture
def pair(parser_cls):
    """(the stanza from ``parser_cls``, unbuilt if it can be; the pure parser's, fully built)."""
    (element,) = parse(parser_cls)
    (reference,) = parse(fx.StreamParserPy)
    assert not is_lazy(reference)
    if parser_cls is not fx.StreamParserPy:
        assert is_lazy(element) and element._children is None
    return element, reference


def test_the_reference_is_elementtree():
    (reference,) = parse(fx.StreamParserPy)
    assert [dump(reference, top_tail=False)] == et_items(wrap(STANZA, close=False))[1:]


# -- reading ---------------------------------------------------------------------------------------

READERS = {
    "len": len,
    "list": list,
    "index 0": lambda e: e[0],
    "index -1": lambda e: e[-1],
    "slice": lambda e: e[1:3],
    "find": lambda e: e.find(X),
    "find missing": lambda e: e.find("{urn:x}nope"),
    "find wildcard": lambda e: e.find("{*}active"),
    "find path": lambda e: e.find("{urn:x}x/{urn:x}w/{urn:x}v"),
    "find descendant": lambda e: e.find(".//{urn:x}v"),
    "findall": lambda e: e.findall(X),
    "findall star": lambda e: e.findall("*"),
    "findall descendants": lambda e: e.findall(".//*"),
    "findtext path": lambda e: e.findtext("{urn:x}x/{urn:x}y"),
    "iter": lambda e: list(e.iter()),
    "iter tag": lambda e: list(e.iter("{urn:x}z")),
    "itertext": lambda e: list(e.itertext()),
    "copy": lambda e: e.copy(),
    "copy.copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda e: pickle.loads(pickle.dumps(e)),
    "tostring": fx.tostring,
    "tostring default ns": lambda e: fx.tostring(e, default_namespace="jabber:client"),
    "pure-code tostring": _impl.core.tostring,
}


def _comparable(value):
    if isinstance(value, fx.Element):
        return dump(value)
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


@pytest.mark.parametrize("reader", list(READERS), ids=list(READERS))
def test_reading_an_unbuilt_stanza(pair, reader):
    element, reference = pair
    read = READERS[reader]
    assert _comparable(read(element)) == _comparable(read(reference))
    assert not is_lazy(element)
    assert dump(element) == dump(reference)
    assert _comparable(read(element)) == _comparable(read(reference))  # and again, once built


def test_children_are_built_once(pair):
    element, _ = pair
    first = list(element)
    assert not is_lazy(element)
    assert list(element) == first and all(a is b for a, b in zip(element, first, strict=True))
    assert element.find(X) is first[1]


def test_copy_shares_the_built_children(pair):
    element, _ = pair
    shallow = element.copy()
    assert all(a is b for a, b in zip(shallow, element, strict=True))
    deep = copy.deepcopy(element)
    assert all(a is not b for a, b in zip(deep, element, strict=True))


def test_attributes_and_repr_leave_children_unbuilt(pair):
    element, reference = pair
    lazy = is_lazy(element)
    assert element.get("from") == reference.get("from")
    assert element.attrib == reference.attrib
    assert element.keys() == reference.keys() and element.items() == reference.items()
    assert element.text == reference.text == "stanza text"
    assert element.tag == reference.tag
    assert repr(element).startswith("<Element '{jabber:client}message' at ")
    assert bool(element)
    assert is_lazy(element) == lazy


@pytest.mark.parametrize(
    "tag",
    [BODY, X, "{jabber:client}empty", "{http://jabber.org/protocol/chatstates}active"]
    + ["{urn:x}y", "{urn:x}v", "{jabber:client}nope", "body", "{*}body"]
    # as long as a child's tag, but different (in its bytes, or in the width of its characters)
    + ["{jabber:client}bodx", "{jabber:client}b\u00f6dy", "{jabber:client}b\u0151dy"],
)
def test_findtext_reads_in_place(pair, tag):
    """findtext() on a plain tag: the same answer, and nothing is built (direct children only:
    grandchildren are not found, as with ElementTree); a wildcard is a path: find() builds."""
    element, reference = pair
    lazy = is_lazy(element)
    assert element.findtext(tag) == reference.findtext(tag)
    assert element.findtext(tag, "default") == reference.findtext(tag, "default")
    assert is_lazy(element) == (lazy and "*" not in tag)
    assert dump(element) == dump(reference)


def test_findtext_and_get_with_keys_that_are_not_the_parsers_strings(pair):
    """Keys equal to the recorded names without being the same objects find them."""
    element, reference = pair
    assert element.findtext("".join(BODY)) == reference.findtext(BODY)
    assert element.findtext("".join("{jabber:client}bodx"), "d") == "d"
    assert element.get("".join(["fr", "om"])) == reference.get("from")
    assert element.get("".join(["fr", "ox"]), "d") == "d"


def test_names_values_and_namespaces_of_every_length(parser_cls):
    """Attribute names and tags of 1 to 40 bytes, read with get() and findtext() by keys equal to
    them and by keys that differ in one byte (the first, one in the middle, the last), ASCII
    values of 0 to 40 bytes, and namespace names of 1 to 50 bytes, each declared twice (the
    compiled parser compares and copies up to 32 bytes as overlapping words, and keeps the
    namespace names it has seen: every length crosses those bounds)."""
    letters = "abcdefghijklmnopqrstuvwxyz" * 2
    names = [letters[:n] for n in range(1, 41)]
    uris = ["u" + letters[: n - 1] for n in range(1, 51)]
    data = b"".join(
        f"<message {name}='{letters[: len(name)]}' v='{letters[: len(name) - 1]}'>"
        f"<{name} xmlns='{uris[len(name) - 1]}'>{name}</{name}></message>".encode()
        for name in names
    )
    data += b"".join(
        f"<iq type='get'><q xmlns='{uri}'/><q xmlns='{uri}'/></iq>".encode() for uri in uris * 2
    )
    stanzas = parse(parser_cls, data)
    references = parse(fx.StreamParserPy, data)
    for name, stanza, reference in zip(names, stanzas[:40], references[:40], strict=True):
        uri = uris[len(name) - 1]
        tag = f"{{{uri}}}{name}"
        keys = {name, "".join(list(name))}
        for i in {0, len(name) // 2, len(name) - 1}:
            keys.add(name[:i] + "Z" + name[i + 1 :])
        for key in sorted(keys):
            assert stanza.get(key, "d") == reference.get(key, "d"), key
            path = f"{{{uri}}}{key}"
            assert stanza.findtext(path, "d") == reference.findtext(path, "d"), path
        assert stanza.get(name) == letters[: len(name)] and stanza.get("v") == name[:-1]
        assert stanza.findtext(tag) == name
    assert [dump(s) for s in stanzas] == [dump(r) for r in references]


def test_latin_text_with_ascii_runs(parser_cls):
    """Text and values of Latin-1 characters with ASCII runs of every length around them (the
    compiled parser decodes eight ASCII bytes at a time)."""
    texts = [
        "a" * before + accent + "b" * after
        for before in range(18)
        for after in (0, 1, 7, 8, 9, 17)
        for accent in ("\u00e9", "\u00ff\u00e0")
    ]
    data = b"".join(f"<message from='{t}'><body>{t}</body></message>".encode() for t in texts)
    stanzas = parse(parser_cls, data)
    assert [s.get("from") for s in stanzas] == texts
    assert [s.findtext(BODY) for s in stanzas] == texts
    assert [s[0].text for s in stanzas] == texts


# one character of each width the compiled parser's decoder tells apart: U+00FF and U+0100 are
# the last and first of their kinds (UTF-8 lead bytes C3 and C4), U+FFEE and U+10000 too (EF, F0)
WIDE_CHARS = (
    "\u00e9",
    "\u00ff",
    "\u0100",
    "\u043f",
    "\u4e86",
    "\uffee",
    "\U00010000",
    "\U0001f602",
)


def test_text_of_every_length_with_a_wide_character_anywhere(parser_cls):
    """Values and text of 0 to 40 bytes with one or two characters that are not ASCII at every
    place (the compiled parser counts the characters of up to 7 bytes one at a time, of 8 to 15
    in two words, and of more 16 at a time with a last load that overlaps; it decodes eight
    ASCII bytes at a time while the string has room for them), and with references next to them."""
    texts = [""]
    for size in range(1, 41):
        for ch in WIDE_CHARS:
            for at in range(size):
                text = "a" * at + ch + "b" * (size - at - 1)
                texts.append(text)
                if at % 3 == 0:
                    texts.append(text[:-1] + "\u00e0" if size > 1 else text)
    texts.append("é" * 20 + "П" + "了" * 3 + "\U0001f602")
    texts += ["&" + t + "<" for t in texts[::5]]

    def escape(t: str) -> str:
        return t.replace("&", "&amp;").replace("<", "&lt;")

    data = b"".join(
        f"<message from='{escape(t)}'><body>{escape(t)}</body></message>".encode() for t in texts
    )
    stanzas = parse(parser_cls, data)
    assert [s.get("from") for s in stanzas] == texts
    assert [s.findtext(BODY) for s in stanzas] == texts
    assert [s[0].text for s in stanzas] == [t or None for t in texts]


@pytest.mark.parametrize(
    ("raw", "in_text", "in_value"),
    [
        ("&amp;", "&", "&"),
        ("&#x10000;", "\U00010000", "\U00010000"),
        ("\r\n", "\n", " "),
        ("\r", "\n", " "),
        ("\t", "\t", " "),
        ("\n", "\n", " "),
        ("<![CDATA[<x>\r\n]]>", "<x>\n", None),
    ],
)
def test_references_and_line_ends_anywhere_in_a_run(parser_cls, raw, in_text, in_value):
    """A reference, line end, white space or CDATA section at every place of plain runs of 0 to
    40 bytes, after a reference (the compiled parser copies the plain bytes between the places
    that need resolving 16 at a time)."""
    runs = [
        "a" * at + "\u00e9" * (at % 2) + "b" * after for at in range(24) for after in (0, 1, 15, 16)
    ]
    data = b"".join(
        f"<message from='&lt;{r}{raw if in_value else ''}{r}'>"
        f"<body>&lt;{r}{raw}{r}</body></message>".encode()
        for r in runs
    )
    stanzas = parse(parser_cls, data)
    assert [s.findtext(BODY) for s in stanzas] == [f"<{r}{in_text}{r}" for r in runs]
    assert [s.get("from") for s in stanzas] == [f"<{r}{in_value or ''}{r}" for r in runs]


def test_findtext_values(pair):
    element, _ = pair
    assert element.findtext(BODY) == "x & <y> é\U0001f600 é<raw> & \nend"
    assert element.findtext("{jabber:client}empty") == ""  # an empty CDATA section: no text
    assert element.findtext("{http://jabber.org/protocol/chatstates}active") == ""
    assert element.findtext("{urn:x}y", "absent") == "absent"  # a grandchild


def test_text_tail_and_attributes_of_lazy_children(pair):
    element, _ = pair
    body, x, empty, active = element
    assert body.tail == "body tail"
    # a character reference keeps its tab; a literal CR LF is one space
    assert x.attrib == {"{urn:p}a": "1\t2 3", "b": "q\"'", fx.XML_NS.join("{}") + "lang": "fr"}
    assert x.text is None and x.tail is None
    y, z, w = x
    assert (y.text, y.tail) == ("t", "ytail")
    assert (z.text, z.tail) == (None, "\nztail")
    assert w[0].text == "deep \U0010ffff"
    assert empty.text is None  # only an empty CDATA section: expat reports no text
    assert active.tail == "last tail" and len(active) == 0


# -- changing --------------------------------------------------------------------------------------


def _new():
    return fx.Element("{urn:new}n", {"k": "v"})


MUTATIONS = {
    "append": lambda e: e.append(_new()),
    "extend": lambda e: e.extend([_new(), _new()]),
    "insert": lambda e: e.insert(1, _new()),
    "setitem": lambda e: e.__setitem__(0, _new()),
    "setitem slice": lambda e: e.__setitem__(slice(1, 3), [_new()]),
    "delitem": lambda e: e.__delitem__(1),
    "delitem slice": lambda e: e.__delitem__(slice(0, 2)),
    "remove": lambda e: e.remove(e[2]),
    "clear": lambda e: e.clear(),
    "child text": lambda e: setattr(e[0], "text", "changed"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS), ids=list(MUTATIONS))
@pytest.mark.parametrize("built_first", [False, True], ids=["unbuilt", "built"])
def test_mutations(pair, mutation, built_first):
    element, reference = pair
    if built_first:
        list(element)
    MUTATIONS[mutation](element)
    MUTATIONS[mutation](reference)
    assert not is_lazy(element)
    assert dump(element) == dump(reference)
    assert fx.tostring(element) == fx.tostring(reference)
    element.append(_new())  # and it keeps behaving like any element
    reference.append(_new())
    assert dump(element) == dump(reference)


def test_remove_of_a_stranger_builds_and_raises(pair):
    element, reference = pair
    with pytest.raises(ValueError):
        element.remove(_new())
    assert dump(element) == dump(reference)


def test_clear_drops_unbuilt_children(pair):
    element, _ = pair
    element.clear()
    assert element._lazy is None and len(element) == 0 and element.findtext(BODY) is None
    assert element.attrib == {} and element.get("from") is None
    assert fx.tostring(element) == b'<message xmlns="jabber:client"/>'


# -- lazy attributes -----------------------------------------------------------------------------

LONG = b"&lt;" + b"v&amp;\xc3\xa9 " * 80  # longer than the decoding buffer on the stack
# a prefix declared on the stanza; xml:lang; references, character references, white space that
# is normalised, non-ASCII, quotes, an empty value; children with and without attributes
ASTANZA = (
    b"<message xmlns:p='urn:p' from='r\xc3\xb6meo@montague.lit/\xe6\x9c\xa8'"
    b" to='juliet@capulet.lit' type='chat' id='m&amp;1' xml:lang='fr'"
    b" p:a='1&#9;2\r\n3\t4\n5&#10;' b=\"q&quot;'&#x1F600;\""
    b" e='' long='" + LONG + b"'>"
    b"<body>hi</body><x xmlns='urn:x' k='v' p:k='w'/></message>"
)
ATTRIBUTES = {
    "from": "r\xf6meo@montague.lit/\u6728",
    "to": "juliet@capulet.lit",
    "type": "chat",
    "id": "m&1",
    fx.XML_NS.join("{}") + "lang": "fr",
    "{urn:p}a": "1\t2 3 4 5\n",
    "b": "q\"'\U0001f600",
    "e": "",
    "long": "<" + "v&\xe9 " * 80,
}


@pytest.fixture
def apair(parser_cls):
    """(ASTANZA from ``parser_cls``, its attributes unbuilt if they can be; the pure parser's)."""
    (element,) = parse(parser_cls, ASTANZA)
    (reference,) = parse(fx.StreamParserPy, ASTANZA)
    assert not attributes_are_lazy(reference)
    if parser_cls is not fx.StreamParserPy:
        assert attributes_are_lazy(element) and is_lazy(element)
    return element, reference


def test_attribute_values(apair):
    element, reference = apair
    assert list(reference.attrib.items()) == list(ATTRIBUTES.items())  # document order
    lazy = attributes_are_lazy(element)
    for key, value in ATTRIBUTES.items():
        assert element.get(key) == value
        assert element.get(key, "default") == value
    assert attributes_are_lazy(element) == lazy  # get() answers from the records
    assert list(element.attrib.items()) == list(ATTRIBUTES.items())
    assert element.keys() == list(ATTRIBUTES) and element.items() == list(ATTRIBUTES.items())


@pytest.mark.parametrize(
    "key",
    [
        "from",
        "".join(["fr", "om"]),  # equal, not the same object
        fx.XML_NS.join("{}") + "lang",
        "{urn:p}a",
        "a",
        "p:a",
        "lang",
        "xmlns:p",
        "xmlns",
        "nope",
        "",
    ],
)
def test_get(apair, key):
    element, reference = apair
    lazy = attributes_are_lazy(element)
    assert element.get(key) == reference.get(key)
    assert element.get(key, "default") == reference.get(key, "default")
    assert attributes_are_lazy(element) == lazy  # answered from the records


# names with characters other than ASCII (a key of them is compared as a str, an ASCII key as
# bytes), names that share a first byte or a length; the last one ends a few bytes before the
# stanza does
NSTANZA = b"<iq n\xc3\xa9='1' \xe6\x9c\xa8='2' nf='3' no='4' xml:lang='en' a=''/>"


@pytest.mark.parametrize(
    "key",
    ["n\xe9", "".join(["n", "\xe9"]), "\u6728", "\u6729", "\xe9", "nf", "no", "n", "nfx", "a", "b"],
)
def test_get_with_names_that_are_not_ascii(parser_cls, key):
    (element,) = parse(parser_cls, NSTANZA)
    (reference,) = parse(fx.StreamParserPy, NSTANZA)
    lazy = attributes_are_lazy(element)
    assert element.get(key, "default") == reference.get(key, "default")
    assert attributes_are_lazy(element) == lazy  # answered from the records
    assert list(element.attrib.items()) == list(reference.attrib.items())


def test_get_with_an_unhashable_key_raises(apair):
    for element in apair:
        with pytest.raises(TypeError):
            element.get(["from"])


def test_attrib_is_one_dict(apair):
    element, reference = apair
    attrib = element.attrib
    assert type(attrib) is dict and attrib == reference.attrib
    assert element.attrib is attrib and not attributes_are_lazy(element)
    attrib["new"] = "1"
    assert element.get("new") == "1" and element.keys()[-1] == "new"


def _replace(element, attrib):
    element.attrib = attrib


ATTRIBUTE_MUTATIONS = {
    "setitem new": lambda e: e.attrib.__setitem__("new", "1"),
    "setitem existing": lambda e: e.attrib.__setitem__("type", "normal"),
    "delitem": lambda e: e.attrib.__delitem__("from"),
    "pop namespaced": lambda e: e.attrib.pop("{urn:p}a"),
    "update": lambda e: e.attrib.update({"to": "x@y", "z": "1"}),
    "attrib clear": lambda e: e.attrib.clear(),
    "set new": lambda e: e.set("new", "1"),
    "set existing": lambda e: e.set("id", "m2"),
    "set namespaced": lambda e: e.set("{urn:q}n", "v"),
    "replace": lambda e: _replace(e, {"only": "this"}),
    "replace with None": lambda e: _replace(e, None),
    "clear": lambda e: e.clear(),
}


@pytest.mark.parametrize("mutation", list(ATTRIBUTE_MUTATIONS), ids=list(ATTRIBUTE_MUTATIONS))
@pytest.mark.parametrize("first", ["nothing", "get", "children", "attrib", "both"])
def test_attribute_mutations(apair, mutation, first):
    element, reference = apair
    for e in (element, reference):
        if first == "get":
            assert e.get("from") == ATTRIBUTES["from"]
        if first in ("children", "both"):
            assert len(e) == 2
        if first in ("attrib", "both"):
            assert e.attrib == ATTRIBUTES
        ATTRIBUTE_MUTATIONS[mutation](e)
    assert not attributes_are_lazy(element)
    assert element.items() == reference.items()
    for key in [*ATTRIBUTES, "new", "z", "only", "{urn:q}n"]:
        assert element.get(key) == reference.get(key)
    assert element.attrib is element.attrib
    assert fx.tostring(element) == fx.tostring(reference)
    assert _impl.core.tostring(element) == _impl.core.tostring(reference)
    assert dump(element) == dump(reference)


@pytest.mark.parametrize(
    "write",
    [
        fx.tostring,
        lambda e: fx.tostring(e, default_namespace="jabber:client"),
        _impl.core.tostring,
    ],
    ids=["tostring", "default ns", "pure-code tostring"],
)
def test_serializing_unbuilt_attributes(apair, write, parser_cls):
    element, reference = apair
    data = write(element)
    assert data == write(reference)
    (again,) = parse(parser_cls, data)  # the stream's default namespace is jabber:client
    assert dump(again) == dump(reference)


def test_attributes_read_after_the_children(apair):
    element, reference = apair
    assert dump(element[1]) == dump(reference[1])  # the children are built ...
    assert attributes_are_lazy(element) == (element._lazy is not None)  # ... not the dict
    assert element.get("id") == "m&1"
    assert element.attrib == ATTRIBUTES
    assert element._lazy is None  # both built: the records are let go


def test_children_read_after_the_attributes(apair):
    element, reference = apair
    assert element.attrib == ATTRIBUTES
    assert is_lazy(element) == (element._lazy is not None)
    assert dump(element) == dump(reference)
    assert element._lazy is None


@pytest.mark.parametrize(
    "make",
    [lambda e: e.copy(), copy.copy, copy.deepcopy, lambda e: pickle.loads(pickle.dumps(e))],
    ids=["copy", "copy.copy", "deepcopy", "pickle"],
)
def test_copies_of_unbuilt_attributes(apair, make):
    element, reference = apair
    copied = make(element)
    assert dump(copied) == dump(reference)
    assert copied.attrib == ATTRIBUTES and copied.attrib is not element.attrib
    copied.set("type", "normal")
    assert element.get("type") == "chat"


def test_children_without_attributes_need_no_dict(apair, parser_cls):
    element, reference = apair
    body, x = element
    if parser_cls is not fx.StreamParserPy:  # built by the compiled parser's records
        assert body._attrib is None
    assert body.attrib == {} and body.attrib is body.attrib
    assert body.get("k") is None and body.get("k", "d") == "d" and body.keys() == []
    assert x.attrib == {"k": "v", "{urn:p}k": "w"} and x.get("{urn:p}k") == "w"
    body.set("k", "1")
    assert body.items() == [("k", "1")]
    assert fx.tostring(body) == b'<body xmlns="jabber:client" k="1">hi</body>'
    (_, rx) = reference
    assert fx.tostring(x) == fx.tostring(rx)


def test_no_attributes_only_namespace_declarations(parser_cls):
    (element,) = parse(parser_cls, b"<message xmlns='jabber:client' xmlns:p='urn:p'/>")
    assert element._lazy is None
    assert element.get("xmlns") is None and element.get("xmlns:p", "d") == "d"
    assert element.attrib == {} and element.keys() == []


def test_many_attributes_on_the_stanza_and_its_children(parser_cls):
    attrs = b" ".join(b"a%d='v&amp;%d'" % (i, i) for i in range(64))
    data = b"<message " + attrs + b"><c " + attrs + b"/><c " + attrs + b"/></message>"
    (element,) = parse(parser_cls, data)
    expected = {f"a{i}": f"v&{i}" for i in range(64)}
    assert [element.get(f"a{i}") for i in range(64)] == list(expected.values())
    assert element[1].attrib == expected
    assert element.attrib == expected and element.keys() == list(expected)
    assert [dump(element, top_tail=False)] == et_items(wrap(data, close=False))[1:]


# -- lifetime: the stanza owns its bytes ---------------------------------------------------------


def test_kept_after_later_feeds_and_reset(parser_cls):
    """The stanza's records point into its own copy of the bytes, not into the parser's buffer,
    which later reads (and reset()) reuse."""
    parser = parser_cls()
    (first,) = [i for i in parser.feed(HEADER + STANZA) if isinstance(i, fx.Element)]
    other = STANZA.replace(b"x &amp;", b"Q &amp;").replace(b"romeo", b"juliet")
    for _ in range(200):  # well past the parser's first buffer size
        parser.feed(other)
    parser.reset()
    parser.feed(HEADER + other)
    gc.collect()
    (reference,) = parse(fx.StreamParserPy)
    assert first.get("from") == reference.get("from") == "romeo@montague.lit/orchard"
    assert first.findtext(BODY) == reference.findtext(BODY)
    assert dump(first) == dump(reference)


def _stanzas_of_many_sizes(count: int) -> list[bytes]:
    """Stanzas with children and attributes whose records and bytes take from under a hundred
    bytes to tens of kilobytes (a few of each size, in no order)."""
    out = []
    for i in range(count):
        body = f"b\u00e9{i} " * ((i * 37) % 50 if i % 97 else 4000)
        out.append(
            f"<message from='u{i}@example.com/r' id='m{i}'><body>{body}</body>"
            f"<x xmlns='urn:x' n='{i}'>{'<y/>' * (i % 5)}</x></message>".encode()
        )
    return out


def test_stanzas_kept_while_others_are_dropped(parser_cls):
    """A dropped stanza's records make room for later ones (the compiled parser reuses their
    memory): the stanzas kept alive in between must keep their own, whatever is parsed and
    dropped after them; many stanzas dropped at once, small ones and big ones, too."""
    stanzas = _stanzas_of_many_sizes(600)
    data = wrap(b"".join(stanzas))
    parser = parser_cls()
    kept = []
    for round_ in range(3):
        if round_:
            parser.reset()
        for start in range(0, len(data), 4096):
            for item in parser.feed(data[start : start + 4096]):
                if isinstance(item, fx.Element) and int(item.get("id")[1:]) % 7 == round_:
                    kept.append(item)  # the others are dropped with the list
    assert len(parser_cls().feed(data)) == 602  # all dropped at once, more than is kept for reuse
    references = [item for item in fx.StreamParserPy().feed(data) if isinstance(item, fx.Element)]
    for element in kept:
        reference = references[int(element.get("id")[1:])]
        assert element.findtext("{jabber:client}body") == reference.findtext("{jabber:client}body")
        assert dump(element) == dump(reference)
    assert len(kept) == len([i for i in range(600) if i % 7 < 3])


def test_records_kept_without_their_stanza(parser_cls):
    """A stanza's records (``_lazy``) may outlive the stanza: the compiled parser's objects for
    them are reused once dropped, so those still referenced must be left alone."""
    data = wrap(b"".join(_stanzas_of_many_sizes(200)))
    references = [item for item in fx.StreamParserPy().feed(data) if isinstance(item, fx.Element)]
    parser = parser_cls()
    kept = []
    for start in range(0, len(data), 4096):
        for item in parser.feed(data[start : start + 4096]):
            if isinstance(item, fx.Element) and item._lazy is not None and len(kept) < 50:
                kept.append((item.get("id"), item._lazy))  # the element itself is dropped
    assert len(kept) == (50 if parser_cls is not fx.StreamParserPy else 0)
    for id_, lazy in kept:
        reference = references[int(id_[1:])]
        assert lazy.get_attr("from", None) == reference.get("from")
        assert lazy.build_attrib() == reference.attrib
        assert lazy.findtext(BODY, None) == reference.findtext(BODY)
        assert [dump(e) for e in lazy.build()] == [dump(e) for e in reference]


class _Marker:
    """An object that can be in a reference cycle and tell when it is collected."""

    element = None


def test_reused_elements_are_in_the_cyclic_gc(parser_cls):
    """The compiled parser reuses the memory of dropped elements for its next ones: those must
    be tracked by the cyclic GC again, or a cycle through one would never be collected."""
    parser = parser_cls()
    parser.feed(HEADER)
    for _ in range(3):  # the first round's elements, dropped, are the next rounds' ones
        (element,) = [i for i in parser.feed(STANZA) if isinstance(i, fx.Element)]
        children = list(element)  # built: elements made from the records
        markers = [_Marker(), _Marker()]
        for marker, e in zip(markers, (element, children[0]), strict=True):
            marker.element = e
            e.tail = marker  # e -> marker -> e
        alive = [weakref.ref(marker) for marker in markers]  # (elements have no weak references)
        del element, children, markers, marker, e
        gc.collect()
        assert [ref() for ref in alive] == [None, None]


def test_many_elements_dropped_at_once(parser_cls):
    """More elements dropped at once than the compiled parser keeps for reuse (they are the
    children of one stanza, dropped while it is), and subclasses of Element, which are not
    kept: later stanzas are whole and the subclass is deallocated as before."""

    class Sub(fx.Element):
        pass

    many = b"<message id='m'>" + b"".join(b"<c n='%d'>t%d</c>" % (i, i) for i in range(700))
    many += b"</message>"
    parser = parser_cls()
    parser.feed(HEADER)
    references = fx.StreamParserPy().feed(HEADER + many + STANZA)[1:]
    refcount = sys.getrefcount(Sub)
    for _ in range(3):
        subs = [Sub("{urn:s}s", {"k": "v"}) for _ in range(300)]
        items = parser.feed(many + STANZA)
        assert [dump(item) for item in items] == [dump(item) for item in references]
        del subs  # while the elements dropped before have been reused: there is room
        del items
        gc.collect()
    assert sys.getrefcount(Sub) == refcount


def test_prefixed_names_are_dropped_with_the_stanza(parser_cls):
    """The records hold a reference to each prefixed attribute name (on the stanza and on its
    children, after unprefixed ones): dropping the stanza drops them."""
    data = b"<message a='1' xml:lang='en'><x xmlns:p='urn:p' b='2' p:zq='3'/><y c='4'/></message>"
    parser = parser_cls()
    parser.feed(HEADER)
    (element,) = [i for i in parser.feed(data) if isinstance(i, fx.Element)]
    names = [next(k for k in attrib if "}" in k) for attrib in (element.attrib, element[0].attrib)]
    del element
    gc.collect()
    counts = [sys.getrefcount(name) for name in names]
    for _ in range(3):
        assert len(parser.feed(data * 50)) == 50  # dropped with the list
        gc.collect()
    assert [sys.getrefcount(name) for name in names] == counts


def test_parser_dropped_before_the_stanza(parser_cls):
    parser = parser_cls()
    (element,) = [i for i in parser.feed(HEADER + STANZA) if isinstance(i, fx.Element)]
    del parser
    gc.collect()
    (reference,) = parse(fx.StreamParserPy)
    assert dump(element) == dump(reference)


def test_one_byte_at_a_time(parser_cls):
    """The buffer moves under a stanza being read: its records must not."""
    data = wrap(STANZA * 3)
    parser = parser_cls()
    items = []
    for i in range(len(data)):
        items += parser.feed(data[i : i + 1])
    stanzas = [i for i in items if isinstance(i, fx.Element)]
    (reference,) = parse(fx.StreamParserPy)
    assert [s.get("id") for s in stanzas] == ["m1"] * 3
    assert [s.findtext(BODY) for s in stanzas] == [reference.findtext(BODY)] * 3
    assert [dump(s) for s in stanzas] == [dump(reference)] * 3


def test_a_failed_stanza_leaves_nothing_behind(parser_cls, stream_error):
    parser = parser_cls()
    parser.feed(HEADER + STANZA)
    with pytest.raises(stream_error):
        parser.feed(b"<message><body>a</body><x a='1' a='2'/></message>")
    parser.reset()
    (element,) = [i for i in parser.feed(HEADER + STANZA) if isinstance(i, fx.Element)]
    (reference,) = parse(fx.StreamParserPy)
    assert dump(element) == dump(reference)


# -- sizes and limits ----------------------------------------------------------------------------


def _nested(depth: int, text: bytes = b"in&amp;side") -> bytes:
    """A stanza with elements nested ``depth`` deep (the stanza is depth 1)."""
    inner = b"".join(b"<d%d a='%d'>" % (i, i) for i in range(2, depth + 1))
    outer = b"".join(b"</d%d>tail%d" % (i, i) for i in range(depth, 1, -1))
    return b"<message>" + inner + text + outer + b"</message>"


@pytest.mark.parametrize("depth", [2, 3, 16])
def test_nesting_at_the_depth_limit(parser_cls, depth):
    data = _nested(depth)
    (element,) = parse(parser_cls, data, max_depth=depth)
    assert element.findtext("{jabber:client}d2", "none") == ("in&side" if depth == 2 else "")
    assert [dump(element, top_tail=False)] == et_items(wrap(data, close=False))[1:]


def test_nesting_past_the_depth_limit(parser_cls, stream_error):
    with pytest.raises(stream_error) as info:
        parse(parser_cls, _nested(17), max_depth=16)
    assert info.value.condition == "policy-violation"


def test_deep_default_limit_tree(parser_cls):
    data = _nested(64, b"x" * 300)
    (element,) = parse(parser_cls, data)
    assert [dump(element, top_tail=False)] == et_items(wrap(data, close=False))[1:]
    assert fx.tostring(element).count(b"<d") == 63


def test_many_attributes_at_the_limit_on_a_child(parser_cls):
    attrs = b" ".join(b"a%d='v&amp;%d'" % (i, i) for i in range(8))
    data = b"<message><c " + attrs + b"/></message>"
    (element,) = parse(parser_cls, data, max_attributes=8)
    assert element[0].attrib == {f"a{i}": f"v&{i}" for i in range(8)}


def test_big_stanza_and_long_escaped_text(parser_cls):
    """More records and bytes than fit in the holder itself; text longer than the decoding
    buffer on the stack."""
    text = b"&lt;long&gt; \xe2\x82\xac " * 200
    items = b"".join(
        b"<item jid='u%d@example.com' name='N&amp;%d'>%s</item>" % (i, i, text) for i in range(50)
    )
    data = b"<iq type='result'><query xmlns='jabber:iq:roster'>" + items + b"</query></iq>"
    (element,) = parse(parser_cls, data)
    assert [dump(element, top_tail=False)] == et_items(wrap(data, close=False))[1:]
    (query,) = element
    assert query[49].text == "<long> € " * 200


def test_stanzas_without_children_have_nothing_to_build(parser_cls):
    stanzas = parse(parser_cls, b"<iq type='result' id='1'/><message>only text</message>")
    assert not any(is_lazy(s) for s in stanzas)
    assert stanzas[1]._lazy is None  # nor attributes: nothing recorded at all
    assert [len(s) for s in stanzas] == [0, 0]
    assert stanzas[1].text == "only text" and stanzas[1].findtext("x", "d") == "d"


def test_a_build_that_finds_the_children_built_keeps_those():
    """Building children makes objects, and a collection that sets off can run Python code and
    let another thread in, which may build and store the children first. The build that then
    finishes must hand back the stored list, not replace it: every reader sees one list. (Only
    the compiled parser leaves children to build later.)"""
    if fx.StreamParserC is None:
        missing_extension("fastxmpp._parser_c", "the compiled parser leaves children lazy")
    (element,) = parse(fx.StreamParserC)
    lazy = element._lazy
    assert is_lazy(element)
    first = element[0]  # "the other thread": builds and stores the children
    stored = element._children
    assert stored is not None
    assert element._materialize(lazy) is stored  # the interrupted build, finishing late
    assert element._children is stored and element[0] is first
