"""Valid input: both StreamParser implementations parse exactly as ElementTree (expat) does, and
any split of the input gives the same items."""

from __future__ import annotations

import random

import pytest
from helpers import (
    CLIENT_NS,
    CLOSE,
    HEADER,
    HEADER_NODECL,
    STREAM_NS,
    XML_LANG,
    XML_NS,
    bytewise,
    chunks_at,
    dump,
    dumps,
    element_depth,
    et_items,
    feed_all,
    many_attrs,
    nested,
    wrap,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastxmpp import StreamError
from fastxmpp.xml import StreamClose, StreamOpen

# -- the corpus ------------------------------------------------------------------------------------

STANZAS = {
    "simple": b"<message to='b@example.com' type='chat' id='m1'><body>hi</body></message>",
    "keepalives": b" \n<presence/> \t\r\n <iq type='get' id='1'/>\r\n \r ",
    "empty-elements": b"<a/><a></a><a><b/><c></c></a>",
    "default-ns-inherit-undeclare": (
        b"<message><x xmlns='urn:a'><y xmlns=''><z/><w xmlns='urn:b'><v/></w></y><u/></x>"
        b"<t/></message>"
    ),
    "prefixes": (
        b"<p:a xmlns:p='urn:p' p:attr='1' attr='2'><p:b/><q:c xmlns:q='urn:q' q:d='x'/>"
        b"<p:e xmlns:p='urn:other'><p:f/></p:e><p:g/></p:a>"
    ),
    "prefix-and-default-same-uri": (
        b"<a xmlns='urn:a' xmlns:p='urn:a' b='1' p:b='2'><p:c/><c/></a>"
    ),
    "stream-features": (
        b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
        b"</starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        b"<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
        b"</stream:features>"
    ),
    "stream-error": (
        b"<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>oops</text>"
        b"</stream:error>"
    ),
    "stream-ns-elsewhere": (
        b"<stream:foo/><message><stream:x/><stream xmlns='urn:not-streams'/></message>"
    ),
    "xml-lang": b"<message xml:lang='fr'><body xml:lang='de-CH'>x</body></message>",
    "xml-prefix-declared": (
        b"<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:space='preserve' xml:lang=''/>"
    ),
    "same-local-different-ns": b"<a xmlns:p='urn:p' b='1' p:b='2'/>",
    "entities": b"<a b='&lt;&gt;&amp;&quot;&apos;'>&lt;&gt;&amp;&quot;&apos;</a>",
    "charrefs": (
        b"<a b='&#65;&#x42;&#x1F600;&#9;&#10;&#13;&#x20;&#xd;&#xA;'>&#65;&#x42;&#x1f600;"
        b"&#128512;&#13;&#xD;&#x10FFFF;&#xE000;&#xFFFD;&#x7F;&#x85;&#xFDD0;&#0000065;</a>"
    ),
    "cdata": (
        b"<a><![CDATA[<b>&amp;</b>]]></a><a>x<![CDATA[y]]>z</a><a><![CDATA[a]]b]]]></a>"
        b"<a><![CDATA[]]></a><a><![CDATA[\r\nline\rline]]></a><a><b/><![CDATA[t]]></a>"
        b"<a><![CDATA[]]]]><![CDATA[>]]></a><a>p<![CDATA[]]>q</a>"
    ),
    "quotes": b'<a b="it\'s" c=\'say "hi"\' d="" e=\'\'/>',
    "whitespace-in-tags": (
        b"<a  b = 'c'\n\t d\r\n=\r\n\"e\" ></a ><x\n/><y></y\n\t><z\r\n></z\r\n>"
    ),
    "line-ends": (b"<a b='x\r\ny\rz\nw\tv' c='\r\r\n\n'>l1\r\nl2\rl3\n\r\n\r\r<b>\r</b>\r\n</a>"),
    "attribute-spaces-kept": b"<a b='  two  spaces  ' c=' '/>",
    "non-ascii": (
        "<é ж='中' é='ё'>日本語 😀 ñ<中文 属性='值😀'/>ß</é><Ωmega/><a·b/><_x-y.z9/>".encode()
    ),
    "text-tail": b"<a>t1<b>t2</b>t3<c/>t4<d>t5<e/></d></a>",
    "attribute-order": b"<a z='1' a='2' m='3' xmlns:p='urn:p' p:k='4' b='5' xmlns='urn:d'/>",
    "whitespace-only-text": b"<a> <b>\n</b>\t<c>  </c>\r\n</a>",
    "gt-in-text": b"<a>a>b ]] ]>x ]</a><a b='>'/><a>]</a><a>]]</a>",
    "xml-char-edges": (
        "<a b='\x7f\x85\u2028\ufeff\ufdd0\U0010fffd'>\x7f\x85\u2028\ufeff\ufdd0\ud7ff"
        "\ue000\ufffd\U00010000\U0010fffd</a>".encode()
    ),
    "dialback": b"<db:result xmlns:db='jabber:server:dialback' from='a' to='b'>key</db:result>",
    "deep-64": nested(64),
    "attributes-64": many_attrs(64),
    # alike in length, first and last byte, as duplicates would be (but not equal)
    "attributes-alike": b"<a fxom='1' from='2' f\xc3\xa9m='3' fyom='4' a='5' b='6' c='7'/>",
    "attributes-63-plus-declaration": many_attrs(63, extra=b" xmlns:p='urn:p'"),
}

HEADERS = {
    "decl": HEADER,
    "no-decl": HEADER_NODECL,
    "decl-encoding": b"<?xml version='1.0' encoding='UTF-8'?>" + HEADER_NODECL,
    "decl-encoding-lower": b'<?xml version="1.0" encoding="utf-8"?>' + HEADER_NODECL,
    "decl-standalone": (
        b"<?xml version=\"1.0\"   encoding='UTF-8' standalone='yes' ?>\r\n" + HEADER_NODECL
    ),
    "decl-standalone-no": b"<?xml version='1.0' standalone='no'?>\n\n" + HEADER_NODECL,
    "bom-decl": b"\xef\xbb\xbf" + HEADER,
    "bom-no-decl": b"\xef\xbb\xbf" + HEADER_NODECL,
    "leading-whitespace": b" \r\n\t" + HEADER_NODECL,
    "prefix-s": (
        b"<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'"
        b" xmlns:stream='http://etherx.jabber.org/streams' to='x'>"
    ),
    "no-default-ns": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
    "streams-default-ns": (
        b"<stream xmlns='http://etherx.jabber.org/streams' xmlns:stream='"
        b"http://etherx.jabber.org/streams' from='x'>"
    ),
    "server-extra-prefixes": (
        b'<stream:stream xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:server"'
        b" xmlns:db=\"jabber:server:dialback\" xmlns:p='urn:p' p:x='1' version=\"1.0\""
        b" xml:lang='fr' to=\"example.org\" from=\"example.com\" id='abc&amp;&#x44;'>"
    ),
    "whitespace-in-header": (
        b"<stream:stream\n xmlns:stream = 'http://etherx.jabber.org/streams'\r\n\txmlns="
        b'"jabber:client"\n>'
    ),
    "non-ascii-header": (
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'"
        " to='例え.テスト' from='ж@é.example'>".encode()
    ),
}

HEADER_CLOSES = {"prefix-s": b"</s:stream>", "streams-default-ns": b"</stream >"}


def _corpus():
    corpus = {}
    for name, stanzas in STANZAS.items():
        corpus[f"stanzas-{name}"] = wrap(stanzas)
    for name, header in HEADERS.items():
        close = HEADER_CLOSES.get(name, CLOSE)
        corpus[f"header-{name}"] = header + b"<message><body>x</body></message>" + close
    corpus["unclosed"] = wrap(STANZAS["simple"], close=False)
    corpus["header-only"] = HEADER
    corpus["whitespace-after-close"] = wrap(STANZAS["simple"]) + b" \r\n\t\n"
    corpus["close-right-after-header"] = HEADER + CLOSE
    corpus["partial-stanza"] = HEADER + b"<message><body>par"
    corpus["multibyte-everywhere"] = wrap("<é ж='é中😀' 中='ж'>é中😀<ж/>😀é</é><x>€𝄞ñ</x>".encode())
    return corpus


CORPUS = _corpus()
CORPUS_IDS = sorted(CORPUS)


def _single(parser_cls, data, **limits):
    return dumps(feed_all(parser_cls, [data], **limits))


# -- exactly as ElementTree ------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPUS_IDS)
def test_same_as_elementtree(parser_cls, name):
    data = CORPUS[name]
    assert dumps(feed_all(parser_cls, [data]), top_tail=False) == et_items(data)


@pytest.mark.parametrize("name", CORPUS_IDS)
def test_split_invariance_two_pieces(parser_cls, name):
    data = CORPUS[name]
    expected = _single(parser_cls, data)
    for cut in range(1, len(data)):
        got = dumps(feed_all(parser_cls, [data[:cut], data[cut:]]))
        assert got == expected, f"split at {cut}: {data[:cut][-20:]!r} | {data[cut:][:20]!r}"


@pytest.mark.parametrize("name", CORPUS_IDS)
def test_split_invariance_one_byte_per_feed(parser_cls, name):
    data = CORPUS[name]
    assert dumps(feed_all(parser_cls, bytewise(data))) == _single(parser_cls, data)


@pytest.mark.parametrize("name", CORPUS_IDS)
def test_split_invariance_empty_feeds_and_buffer_types(parser_cls, name):
    data = CORPUS[name]
    expected = _single(parser_cls, data)
    half = len(data) // 2
    chunks = [b"", bytearray(data[:half]), b"", memoryview(data[half:]), b""]
    assert dumps(feed_all(parser_cls, chunks)) == expected
    assert dumps(feed_all(parser_cls, [bytearray(data)])) == expected
    assert dumps(feed_all(parser_cls, [memoryview(data)])) == expected
    # a memoryview slice that does not start at offset 0 of its buffer
    buf = memoryview(b"XYZ" + data + b"XYZ")[3:-3]
    assert dumps(feed_all(parser_cls, [buf])) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CORPUS_IDS), data=st.data())
def test_split_invariance_random_chunks(parser_cls, name, data):
    stream = CORPUS[name]
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=40), label="cuts")
    assert dumps(feed_all(parser_cls, chunks_at(stream, cuts))) == _single(parser_cls, stream)


def test_feed_returns_a_list_and_empty_feed(parser_cls):
    parser = parser_cls()
    assert parser.feed(b"") == []
    items = parser.feed(HEADER)
    assert isinstance(items, list) and len(items) == 1
    assert parser.feed(b"") == []
    assert parser.feed(b"   \n") == []
    assert isinstance(parser.feed(b"<presence/>"), list)


# -- the stream header, stanzas and the end --------------------------------------------------------


def test_stream_open_close_and_stanza_types(parser_cls):
    items = feed_all(parser_cls, [wrap(b"<message to='b@x'><body>hi</body></message>")])
    assert len(items) == 3
    opening, message, closing = items
    assert isinstance(opening, StreamOpen)
    assert isinstance(closing, StreamClose)
    assert closing == StreamClose()
    assert StreamClose() == StreamClose()
    assert opening.attrib == {
        "to": "example.com",
        "from": "a@example.com",
        "version": "1.0",
        XML_LANG: "en",
        "id": "s1",
    }
    assert list(opening.attrib) == ["to", "from", "version", XML_LANG, "id"]
    assert opening.namespaces == {"": CLIENT_NS, "stream": STREAM_NS}
    assert opening.default_namespace == CLIENT_NS
    assert opening.get("to") == "example.com"
    assert opening.get(XML_LANG) == "en"
    assert opening.get("nope") is None
    assert opening.get("nope", "dflt") == "dflt"
    assert message.tag == "{jabber:client}message"
    assert message.attrib == {"to": "b@x"}
    assert message[0].tag == "{jabber:client}body"
    assert message[0].text == "hi"
    assert message.text is None


def test_stream_open_equality_by_value(parser_cls):
    first = feed_all(parser_cls, [HEADER])[0]
    second = feed_all(parser_cls, [HEADER])[0]
    assert first == second
    other = feed_all(parser_cls, [HEADER.replace(b"to='example.com'", b"to='other'")])[0]
    assert first != other


def test_stream_open_without_default_namespace(parser_cls):
    (opening, element) = feed_all(parser_cls, [HEADERS["no-default-ns"] + b"<message/>"])
    assert opening.default_namespace is None
    assert opening.namespaces == {"stream": STREAM_NS}
    assert element.tag == "message"


def test_stream_level_prefixes(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["stream-features"] + STANZAS["dialback"])])
    assert items[1].tag == f"{{{STREAM_NS}}}features"
    assert items[2].tag == "{jabber:server:dialback}result"


def test_whitespace_keepalives_give_nothing(parser_cls):
    parser = parser_cls()
    assert len(parser.feed(HEADER)) == 1
    for ws in (b" ", b"\n", b"\r\n", b"\t", b"  \n\n  ", b"\r"):
        assert parser.feed(ws) == []
    assert [e.tag for e in parser.feed(b"<presence/> ")] == ["{jabber:client}presence"]
    assert parser.feed(b" " * 1000) == []
    assert parser.feed(CLOSE) == [StreamClose()]
    assert parser.feed(b" \r\n") == []


def test_namespaces_and_undeclaring(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["default-ns-inherit-undeclare"])])
    message = items[1]
    x = message[0]
    assert x.tag == "{urn:a}x"
    y = x[0]
    assert y.tag == "y"
    assert y[0].tag == "z"
    assert y[1].tag == "{urn:b}w" and y[1][0].tag == "{urn:b}v"
    assert x[1].tag == "{urn:a}u"
    assert message[1].tag == "{jabber:client}t"


def test_prefixed_attributes(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["prefixes"])])
    a = items[1]
    assert a.tag == "{urn:p}a"
    assert a.attrib == {"{urn:p}attr": "1", "attr": "2"}
    assert [c.tag for c in a] == ["{urn:p}b", "{urn:q}c", "{urn:other}e", "{urn:p}g"]
    assert a[1].attrib == {"{urn:q}d": "x"}
    assert a[2][0].tag == "{urn:other}f"


def test_xml_lang(parser_cls):
    message = feed_all(parser_cls, [wrap(STANZAS["xml-lang"])])[1]
    assert message.attrib == {XML_LANG: "fr"}
    assert message[0].get(XML_LANG) == "de-CH"
    a = feed_all(parser_cls, [wrap(STANZAS["xml-prefix-declared"])])[1]
    assert a.attrib == {f"{{{XML_NS}}}space": "preserve", XML_LANG: ""}


def test_entities_and_character_references(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["entities"] + STANZAS["charrefs"])])
    ent, ref = items[1], items[2]
    assert ent.text == "<>&\"'"
    assert ent.get("b") == "<>&\"'"
    assert ref.get("b") == "AB\U0001f600\t\n\r \r\n"
    assert ref.text == ("AB\U0001f600\U0001f600\r\r\U0010ffff\ue000\ufffd\x7f\x85\ufdd0A")


def test_predefined_entities_in_every_split(parser_cls):
    """The five predefined entities in text and in values, the stream cut at every byte (the
    compiled scanner steps over a whole one in place, and reads one cut short in its states)."""
    stanza = (
        b"<message id='&amp;&lt;x&gt;&quot;&apos;'>"
        b"<body>&quot;&apos;y&amp;&lt;&gt;</body></message>"
    )
    data = wrap(stanza)
    for cut in range(len(data) - len(stanza), len(data)):
        items = feed_all(parser_cls, [data[:cut], data[cut:]])
        assert items[1].get("id") == "&<x>\"'"
        assert items[1].findtext("{jabber:client}body") == "\"'y&<>"


def test_cdata(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["cdata"])])[1:-1]
    texts = [e.text for e in items]
    assert texts == ["<b>&amp;</b>", "xyz", "a]]b]", None, "\nline\nline", None, "]]>", "pq"]
    assert items[5][0].tail == "t"


def test_quotes_and_whitespace_in_tags(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["quotes"] + STANZAS["whitespace-in-tags"])])
    assert items[1].attrib == {"b": "it's", "c": 'say "hi"', "d": "", "e": ""}
    a = items[2]
    assert a.attrib == {"b": "c", "d": "e"}
    assert [e.tag for e in items[2:-1]] == ["{jabber:client}" + t for t in "axyz"]


def test_line_end_and_attribute_normalisation(parser_cls):
    a = feed_all(parser_cls, [wrap(STANZAS["line-ends"])])[1]
    assert a.get("b") == "x y z w v"
    assert a.get("c") == "   "
    assert a.text == "l1\nl2\nl3\n\n\n\n"
    assert a[0].text == "\n"
    assert a[0].tail == "\n"
    spaces = feed_all(parser_cls, [wrap(STANZAS["attribute-spaces-kept"])])[1]
    assert spaces.attrib == {"b": "  two  spaces  ", "c": " "}


def test_non_ascii(parser_cls):
    e = feed_all(parser_cls, [wrap(STANZAS["non-ascii"])])[1]
    assert e.tag == "{jabber:client}é"
    assert e.attrib == {"ж": "中", "é": "ё"}
    assert e.text == "日本語 😀 ñ"
    assert e[0].tag == "{jabber:client}中文" and e[0].attrib == {"属性": "值😀"}
    assert e[0].tail == "ß"


def test_text_and_tail_placement(parser_cls):
    a = feed_all(parser_cls, [wrap(STANZAS["text-tail"])])[1]
    assert a.text == "t1"
    b, c, d = list(a)
    assert (b.text, b.tail) == ("t2", "t3")
    assert (c.text, c.tail) == (None, "t4")
    assert (d.text, d.tail) == ("t5", None)
    assert (d[0].text, d[0].tail) == (None, None)


def test_empty_elements(parser_cls):
    items = feed_all(parser_cls, [wrap(STANZAS["empty-elements"])])[1:-1]
    for e in items[:2]:
        assert e.text is None and len(e) == 0 and e.attrib == {}
    assert [(c.text, c.tail, len(c)) for c in items[2]] == [(None, None, 0)] * 2


def test_attribute_order(parser_cls):
    a = feed_all(parser_cls, [wrap(STANZAS["attribute-order"])])[1]
    assert list(a.attrib.items()) == [
        ("z", "1"),
        ("a", "2"),
        ("m", "3"),
        ("{urn:p}k", "4"),
        ("b", "5"),
    ]
    assert a.tag == "{urn:d}a"


@pytest.mark.parametrize("header", sorted(HEADERS))
def test_headers(parser_cls, header):
    items = feed_all(parser_cls, [CORPUS[f"header-{header}"]])
    assert isinstance(items[0], StreamOpen)
    assert isinstance(items[-1], StreamClose)
    assert len(items) == 3


def test_header_attributes_use_clark_names(parser_cls):
    opening = feed_all(parser_cls, [HEADERS["server-extra-prefixes"]])[0]
    assert opening.namespaces == {
        "stream": STREAM_NS,
        "": "jabber:server",
        "db": "jabber:server:dialback",
        "p": "urn:p",
    }
    assert opening.attrib == {
        "{urn:p}x": "1",
        "version": "1.0",
        XML_LANG: "fr",
        "to": "example.org",
        "from": "example.com",
        "id": "abc&D",
    }


# -- reset -----------------------------------------------------------------------------------------


def test_reset_after_starttls(parser_cls):
    parser = parser_cls()
    items = parser.feed(HEADER + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert [dump(i)[0] for i in items] == ["open", "elem"]
    parser.reset()
    items = parser.feed(HEADER + b"<stream:features/>")
    assert dumps(items, top_tail=False) == et_items(HEADER + b"<stream:features/>")


def test_reset_discards_partial_data(parser_cls):
    parser = parser_cls()
    parser.feed(HEADER + b"<message><body>par")
    parser.reset()
    second = b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>" + HEADER_NODECL + b"<a/>"
    assert dumps(parser.feed(second), top_tail=False) == et_items(second)


def test_reset_mid_token_and_without_declaration(parser_cls):
    parser = parser_cls()
    parser.feed(HEADER + b"<message a='x\xc3")  # even inside a UTF-8 sequence
    parser.reset()
    assert dumps(parser.feed(HEADER_NODECL), top_tail=False) == et_items(HEADER_NODECL)


def test_reset_after_close_and_repeated(parser_cls):
    parser = parser_cls()
    for _ in range(3):
        items = parser.feed(wrap(b"<a/>"))
        assert dumps(items, top_tail=False) == et_items(wrap(b"<a/>"))
        parser.reset()


def test_reset_after_error(parser_cls):
    parser = parser_cls()
    with pytest.raises(StreamError):
        parser.feed(HEADER + b"<a></b>")
    parser.reset()
    assert dumps(parser.feed(wrap(b"<a/>")), top_tail=False) == et_items(wrap(b"<a/>"))


def test_reset_fresh_parser_is_harmless(parser_cls):
    parser = parser_cls()
    parser.reset()
    assert len(parser.feed(HEADER)) == 1


# -- limits that are not exceeded ------------------------------------------------------------------


def test_depth_64_and_attributes_64_pass(parser_cls):
    items = feed_all(parser_cls, [CORPUS["stanzas-deep-64"]])
    assert element_depth(items[1]) == 64
    items = feed_all(parser_cls, [CORPUS["stanzas-attributes-64"]])
    assert len(items[1].attrib) == 64
    items = feed_all(parser_cls, [CORPUS["stanzas-attributes-63-plus-declaration"]])
    assert len(items[1].attrib) == 63


def test_deep_tree_when_allowed_has_no_recursion_limit(parser_cls):
    depth = 10_000
    data = wrap(nested(depth, inner=b"x"))
    items = feed_all(parser_cls, [data], max_depth=depth)
    assert element_depth(items[1]) == depth
    inner = items[1]
    while len(inner):
        inner = inner[0]
    assert inner.text == "x"
    del items, inner  # freeing a 10000-deep tree must not crash either


def test_custom_limits_not_exceeded(parser_cls):
    header = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>"
    )
    stanza = b"<message a='1' b='2'><x><y/></x></message>"
    items = feed_all(
        parser_cls,
        [wrap(stanza, header=header)],
        max_depth=3,
        max_attributes=2,
        max_stanza_size=max(len(header), len(stanza)),
    )
    assert len(items) == 3


def test_stanza_of_exactly_max_size(parser_cls):
    limit = 1000
    head, tail = b"<message><body>", b"</body></message>"
    stanza = head + b"x" * (limit - len(head) - len(tail)) + tail
    assert len(stanza) == limit
    items = feed_all(parser_cls, [wrap(stanza)], max_stanza_size=limit)
    assert len(items[1][0].text) == limit - len(head) - len(tail)
    items = feed_all(parser_cls, bytewise(wrap(stanza)), max_stanza_size=limit)
    assert len(items) == 3


@pytest.mark.parametrize(
    "head, tail",
    [
        (b"<message><body>", b"</body></message>"),
        (b"<message>", b"</message>"),
        (b"<m id='", b"'/>"),
    ],
)
def test_stanzas_at_the_limit_in_any_split(parser_cls, head, tail):
    """Stanzas of exactly max_stanza_size bytes in a row, each form, then an unfinished tag at
    stream level that is also exactly at the limit: all pass, however the input is split."""
    limit = 200
    stanza = head + b"x" * (limit - len(head) - len(tail)) + tail
    assert len(stanza) == limit
    pending = b"<presence id='" + b"y" * (limit - 14)
    assert len(pending) == limit
    data = HEADER + stanza * 3 + pending
    splits = [[data], [HEADER + stanza, stanza * 2 + pending], bytewise(data)]
    splits += [[data[:n], data[n:]] for n in range(len(HEADER), len(data), 7)]
    for chunks in splits:
        items = feed_all(parser_cls, chunks, max_stanza_size=limit)
        assert len(items) == 4
        parser = parser_cls(max_stanza_size=limit)
        for chunk in chunks:
            parser.feed(chunk)
        with pytest.raises(StreamError) as info:
            parser.feed(b"y")
        assert info.value.condition == "policy-violation"


def test_attribute_names_plain_then_prefixed(parser_cls):
    """The same local names, plain in one stanza and prefixed in the next (and back)."""
    stanzas = (
        b"<a id='1' lang='x'/>"
        b"<a xmlns:p='urn:p' p:id='2' lang='y'/>"
        b"<a id='3' xml:lang='z'/>"
        b"<a xmlns:q='urn:q' id='4' q:lang='w'><b q:id='5' id='6'/></a>"
    )
    items = feed_all(parser_cls, [wrap(stanzas)])
    assert [e.attrib for e in items[1:5]] == [
        {"id": "1", "lang": "x"},
        {"{urn:p}id": "2", "lang": "y"},
        {"id": "3", XML_LANG: "z"},
        {"id": "4", "{urn:q}lang": "w"},
    ]
    assert items[4][0].attrib == {"{urn:q}id": "5", "id": "6"}


# -- multi-byte UTF-8 across feeds -----------------------------------------------------------------

TEXT_CHARS = ["é", "ж", "€", "中", "😀", "\U0010fffd", "𝄞"]  # 2, 3 and 4 bytes
NAME_CHARS = ["é", "ж", "中", "あ"]  # non-BMP characters are not name characters (expat)
MULTIBYTE_CASES = [
    pytest.param(char, where, id=f"{where}-U+{ord(char):04X}")
    for where, chars in (
        ("text", TEXT_CHARS),
        ("attribute", TEXT_CHARS),
        ("element-name", NAME_CHARS),
        ("attribute-name", NAME_CHARS),
    )
    for char in chars
]


@pytest.mark.parametrize(("char", "where"), MULTIBYTE_CASES)
def test_multibyte_split_across_feeds(parser_cls, char, where):
    c = char.encode()
    stanza = {
        "text": b"<a>" + c + b"x" + c + b"</a>",
        "attribute": b"<a b='" + c + c + b"'/>",
        "element-name": b"<a" + c + b">" + c + b"</a" + c + b">",
        "attribute-name": b"<a b" + c + b"='1'/>",
    }[where]
    data = wrap(stanza)
    expected = et_items(data)
    start = data.index(c)
    for cut in range(start, start + len(c) + 1):
        got = feed_all(parser_cls, [data[:cut], data[cut:]])
        assert dumps(got, top_tail=False) == expected
    # every byte of the sequence in its own feed
    got = feed_all(parser_cls, [data[:start]] + bytewise(data[start:]))
    assert dumps(got, top_tail=False) == expected


def test_crlf_split_across_feeds(parser_cls):
    data = wrap(b"<a b='1\r\n2'>x\r\ny\r</a><a>\r</a>")
    expected = et_items(data)
    for i in range(len(data)):
        if data[i : i + 1] == b"\r":
            got = feed_all(parser_cls, [data[: i + 1], data[i + 1 :]])
            assert dumps(got, top_tail=False) == expected


# -- no quadratic behaviour (correctness only, no timing) ------------------------------------------

BIG = 200_000


def test_big_text_node_one_byte_at_a_time(parser_cls):
    parser = parser_cls()
    parser.feed(HEADER + b"<message><body>")
    text = (b"0123456789abcde\n" * (BIG // 16 + 1))[:BIG]
    out = []
    feed = parser.feed
    for i in range(BIG):
        out.extend(feed(text[i : i + 1]))
    assert out == []
    out = parser.feed(b"</body></message>")
    assert len(out) == 1 and out[0][0].text == text.decode()


def test_many_small_stanzas_one_byte_at_a_time(parser_cls):
    stanza = b"<presence from='a@b/c'><show>away</show></presence>\n"
    count = BIG // 8 // len(stanza)
    data = HEADER + stanza * count
    parser = parser_cls()
    out = []
    feed = parser.feed
    for i in range(len(data)):
        out.extend(feed(data[i : i + 1]))
    assert len(out) == count + 1
    assert all(e.tag == "{jabber:client}presence" and e[0].text == "away" for e in out[1:])


def test_big_attribute_value_in_small_pieces(parser_cls):
    size = 50_000
    value = (b"abcdefgh" * (size // 8 + 1))[:size]
    data = wrap(b"<message a='" + value + b"'/>")
    chunks = chunks_at(data, range(0, len(data), 7))
    items = feed_all(parser_cls, chunks)
    assert items[1].get("a") == value.decode()


def test_big_stanza_many_children_in_small_pieces(parser_cls):
    children = b"<item jid='x@y' name='n'/>" * 5000
    data = wrap(b"<iq type='result'><query xmlns='jabber:iq:roster'>" + children + b"</query></iq>")
    rng = random.Random(1)
    cuts = [rng.randrange(1, len(data)) for _ in range(len(data) // 3)]
    items = feed_all(parser_cls, chunks_at(data, cuts))
    assert len(items[1][0]) == 5000


# -- generic ---------------------------------------------------------------------------------------


def test_streamerror_is_exported():
    import fastxmpp.errors

    assert fastxmpp.StreamError is fastxmpp.errors.StreamError
    assert isinstance(fastxmpp.EXTENSIONS, bool)
    assert fastxmpp.xml.StreamParser in (fastxmpp.xml.StreamParserPy, fastxmpp.xml.StreamParserC)
    if fastxmpp.EXTENSIONS:
        assert fastxmpp.xml.StreamParserC is not None
        assert fastxmpp.xml.StreamParser is fastxmpp.xml.StreamParserC
    else:
        assert fastxmpp.xml.StreamParser is fastxmpp.xml.StreamParserPy


def test_no_extensions_environment():
    import os
    import subprocess
    import sys

    env = dict(os.environ, FASTXMPP_NO_EXTENSIONS="1")
    code = (
        "import fastxmpp, fastxmpp.xml;"
        "assert fastxmpp.EXTENSIONS is False;"
        "assert fastxmpp.xml.StreamParserC is None;"
        "assert fastxmpp.xml.StreamParser is fastxmpp.xml.StreamParserPy;"
        "import fastxmpp._xmlcore as c; assert fastxmpp.xml.Element is c.Element"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_long_prefixes_and_many_bindings(parser_cls):
    """Prefixes longer than the compiled parser keeps inline, more bindings than its first
    allocation: same result as ElementTree, in one piece and one byte at a time."""
    prefixes = [f"{'p' * 30}{i}" for i in range(40)]
    decls = " ".join(f"xmlns:{p}='urn:long:{i}'" for i, p in enumerate(prefixes))
    inner = "".join(f"<{p}:x {p}:a='{i}'/>" for i, p in enumerate(prefixes))
    data = wrap(f"<message {decls}>{inner}</message>".encode())
    expected = et_items(data)
    assert dumps(feed_all(parser_cls, [data]), top_tail=False) == expected
    assert dumps(feed_all(parser_cls, bytewise(data)), top_tail=False) == expected
