"""Hostile input: every fault of the contract's error table, for both implementations.

Each case is ``prefix + bad + suffix``: ``prefix`` is a valid (partial) stream whose items must
all come out (in ``err.events`` when fed in one piece), ``bad`` holds the single fault, and
``suffix`` (a good stanza and the stream end, by default) must never come out. Every case runs
fed in one piece, with the prefix fed separately, and one byte per feed; a later feed() must
raise again, with the same condition and no events.
"""

from __future__ import annotations

import pytest
from helpers import (
    CLOSE,
    HEADER,
    HEADER_NODECL,
    XML_DECL,
    bytewise,
    dumps,
    et_items,
    many_attrs,
    nested,
)

from fastxmpp import StreamError

NWF = "not-well-formed"
BNP = "bad-namespace-prefix"
RESTRICTED = "restricted-xml"
ENCODING = "unsupported-encoding"
INVALID_NS = "invalid-namespace"
BAD_FORMAT = "bad-format"
POLICY = "policy-violation"

GOOD = b"<message id='good'><body>ok</body></message>"
AFTER = b"<message id='after'><body>never</body></message>"
STANZA_PREFIX = HEADER + GOOD
STANZA_SUFFIX = AFTER + CLOSE
DOC_SUFFIX = HEADER_NODECL + GOOD + CLOSE
STREAMS = b"http://etherx.jabber.org/streams"
SMALL_HEADER = (
    b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>"
)

CASES = []


def stanza(case_id, bad, condition, *, prefix=STANZA_PREFIX, suffix=STANZA_SUFFIX, **limits):
    """A fault after the header and a good stanza."""
    CASES.append(pytest.param(prefix, bad, suffix, condition, limits, id=case_id))


def document(case_id, bad, condition, *, suffix=DOC_SUFFIX, **limits):
    """A fault at the very start of the document (nothing may come out)."""
    CASES.append(pytest.param(b"", bad, suffix, condition, limits, id=case_id))


def after_close(case_id, bad, condition):
    """A fault after ``</stream:stream>``: the header, the good stanza and the close come out."""
    CASES.append(pytest.param(HEADER + GOOD + CLOSE, bad, b"", condition, {}, id=case_id))


# -- invalid UTF-8 ---------------------------------------------------------------------------------

INVALID_UTF8 = {
    "stray-continuation-80": b"\x80",
    "stray-continuation-bf": b"\xbf",
    "stray-continuation-pair": b"\x80\x80",
    "continuation-after-valid": b"\xc3\xa9\x80",
    "overlong-2-nul": b"\xc0\x80",
    "overlong-2-c1bf": b"\xc1\xbf",
    "overlong-2-slash": b"\xc0\xaf",
    "overlong-2-lt": b"\xc0\xbc",
    "overlong-3-nul": b"\xe0\x80\x80",
    "overlong-3-7ff": b"\xe0\x9f\xbf",
    "overlong-3-lt": b"\xe0\x80\xbc",
    "overlong-4-nul": b"\xf0\x80\x80\x80",
    "overlong-4-ffff": b"\xf0\x8f\xbf\xbf",
    "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-dbff": b"\xed\xaf\xbf",
    "surrogate-dc00": b"\xed\xb0\x80",
    "surrogate-dfff": b"\xed\xbf\xbf",
    "surrogate-pair-cesu": b"\xed\xa0\xbd\xed\xb8\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "above-10ffff-f7": b"\xf7\xbf\xbf\xbf",
    "byte-f5": b"\xf5\x80\x80\x80",
    "byte-f8-5-bytes": b"\xf8\x88\x80\x80\x80",
    "byte-fc-6-bytes": b"\xfc\x84\x80\x80\x80\x80",
    "byte-fe": b"\xfe",
    "byte-ff": b"\xff",
    "lone-c0": b"\xc0",
    "lone-c1": b"\xc1",
    "truncated-2": b"\xc3",
    "truncated-3-of-1": b"\xe2",
    "truncated-3-of-2": b"\xe2\x82",
    "truncated-4-of-1": b"\xf0",
    "truncated-4-of-2": b"\xf0\x9f",
    "truncated-4-of-3": b"\xf0\x9f\x98",
    "bad-continuation-3": b"\xe2\x28\xa1",
    "bad-continuation-4": b"\xf0\x28\x8c\xbc",
    "lead-after-lead": b"\xc3\xc3\xa9",
}

UTF8_CONTEXTS = {
    "text": lambda s: (b"<message><body>ab" + s + b"cd</body></message>", None),
    "text-end": lambda s: (b"<message><body>ab" + s + b"</body></message>", None),
    "attribute": lambda s: (b"<message id='ab" + s + b"cd'/>", None),
    "element-name": lambda s: (b"<mes" + s + b"sage/>", None),
    "attribute-name": lambda s: (b"<message i" + s + b"d='1'/>", None),
    "stream-level": lambda s: (b" " + s + b" ", None),
    "header": lambda s: (
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        b" to='ex" + s + b"ample.com'>",
        "document",
    ),
}

for _ctx, _make in UTF8_CONTEXTS.items():
    for _name, _seq in INVALID_UTF8.items():
        if _ctx == "stream-level" and _name == "continuation-after-valid":
            continue  # the valid 'é' before the bad byte is already a fault (bad-format)
        _bad, _where = _make(_seq)
        if _where == "document":
            document(f"utf8-{_ctx}-{_name}", XML_DECL + _bad, NWF, suffix=GOOD + CLOSE)
        else:
            stanza(f"utf8-{_ctx}-{_name}", _bad, NWF)

# -- characters outside XML 1.0 --------------------------------------------------------------------

BAD_CHARS = {
    "U+0000": b"\x00",
    "U+0001": b"\x01",
    "U+0008": b"\x08",
    "U+000B": b"\x0b",
    "U+000C": b"\x0c",
    "U+000E": b"\x0e",
    "U+001F": b"\x1f",
    "U+FFFE": b"\xef\xbf\xbe",
    "U+FFFF": b"\xef\xbf\xbf",
}
for _name, _char in BAD_CHARS.items():
    stanza(f"char-text-{_name}", b"<message><body>a" + _char + b"b</body></message>", NWF)
    stanza(f"char-attribute-{_name}", b"<message id='a" + _char + b"b'/>", NWF)
    stanza(f"char-name-{_name}", b"<mess" + _char + b"age/>", NWF)
    stanza(f"char-in-tag-{_name}", b"<message" + _char + b" id='1'/>", NWF)
    stanza(f"char-stream-level-{_name}", b"\n" + _char + b"\n", NWF)
    stanza(f"char-cdata-{_name}", b"<message><![CDATA[a" + _char + b"b]]></message>", NWF)

BAD_CHARREFS = [
    "&#0;",
    "&#x0;",
    "&#00;",
    "&#1;",
    "&#x1;",
    "&#8;",
    "&#xB;",
    "&#xc;",
    "&#x1F;",
    "&#xD800;",
    "&#xDFFF;",
    "&#55296;",
    "&#xFFFE;",
    "&#xFFFF;",
    "&#65535;",
    "&#x110000;",
    "&#1114112;",
    "&#x7FFFFFFF;",
    "&#x80000000;",
    "&#xFFFFFFFF;",
    "&#x100000000;",
    "&#4294967296;",
    "&#4294967361;",  # 2**32 + 65: 'A' after a 32-bit overflow
    "&#x100000041;",
    "&#18446744073709551681;",  # 2**64 + 65
    "&#x10000000000000041;",
    "&#99999999999999999999999999999999999999;",
    "&#x" + "0" * 50 + "110000;",
]
MALFORMED_CHARREFS = [
    "&#;",
    "&#x;",
    "&#xG;",
    "&#-1;",
    "&#x-1;",
    "&#+65;",
    "&# 65;",
    "&#65 ;",
    "&#X41;",
    "&#0x41;",
    "&#6 5;",
    "&#65",
    "&#x41",
    "&#1.5;",
    "&#١٢;",
]
for _ref in BAD_CHARREFS + MALFORMED_CHARREFS:
    _r = _ref.encode()
    stanza(f"charref-text-{_ref}", b"<message><body>a" + _r + b"b</body></message>", NWF)
    stanza(f"charref-attribute-{_ref}", b"<message id='a" + _r + b"b'/>", NWF)

# -- syntax ----------------------------------------------------------------------------------------

MALFORMED = {
    "attr-missing-quotes": b"<message id=1/>",
    "attr-missing-quotes-space": b"<message id=1 />",
    "attr-missing-equals": b"<message id/>",
    "attr-missing-value": b"<message id=/>",
    "attr-double-equals": b"<message id=='1'/>",
    "attr-missing-name": b"<message ='1'/>",
    "attr-no-space-between": b"<message a='1'b='2'/>",
    "attr-no-space-between-dq": b'<message a="1"b="2"/>',
    "attr-unterminated": b"<message id='1/>",
    "attr-mismatched-quotes": b"<message id=\"1'/>",
    "attr-lt-in-value": b"<message id='<'/>",
    "attr-lt-in-value-dq": b'<message id="a<b"/>',
    "attr-bare-amp": b"<message id='a&b'/>",
    "attr-bare-amp-space": b"<message id='a & b'/>",
    "attr-name-digit": b"<message 1d='1'/>",
    "attr-name-colon-only": b"<message :id='1'/>",
    "attr-name-trailing-colon": b"<message xmlns:p='urn:p' p:='1'/>",
    "space-after-lt": b"< message/>",
    "space-in-empty-tag": b"<message/ >",
    "space-in-empty-tag-after-attr": b"<message id='1' / >",
    "space-after-lt-slash": b"<message></ message>",
    "end-tag-with-attr": b"<message></message id='1'>",
    "empty-tag-name": b"<>",
    "empty-end-tag": b"<message></>",
    "lt-in-text": b"<message>a < b</message>",
    "double-lt": b"<message><<body/></message>",
    "name-starts-with-digit": b"<1message/>",
    "name-starts-with-hyphen": b"<-message/>",
    "name-starts-with-dot": b"<.message/>",
    "name-starts-with-colon": b"<:message/>",
    "name-ends-with-colon": b"<message:/>",
    "name-two-colons": b"<a:b:c xmlns:a='urn:a'/>",
    "name-bmp-non-name-char": "<mes×sage/>".encode(),
    "name-start-middle-dot": "<·message/>".encode(),
    "name-non-bmp": "<mes\U00010000sage/>".encode(),
    "name-non-bmp-start": "<\U00020000/>".encode(),
    "name-emoji": "<a😀/>".encode(),
    "name-undertie": "<a\u203f/>".encode(),
    "attr-name-non-bmp": "<message a\U00010000='1'/>".encode(),
    "attr-name-non-name-char": "<message a\u2000b='1'/>".encode(),
    "cdata-end-in-text": b"<message>x]]>y</message>",
    "cdata-end-alone-in-text": b"<message>]]></message>",
    "cdata-end-in-tail": b"<message><a/>]]></message>",
    "bare-amp-text": b"<message>a & b</message>",
    "bare-amp-end": b"<message>a&</message>",
    "amp-semicolon": b"<message>&;</message>",
    "amp-space-name": b"<message>& amp;</message>",
    "amp-hash-only": b"<message>&#</message>",
    "unterminated-entity-text": b"<message>&amp</message>",
    "unterminated-entity-attr": b"<message a='&lt'/>",
    "entity-amp-colon": b"<message><body>&amp:x;</body></message>",
    "entity-quot-space-attr": b"<message a='&quot x'/>",
    "cdata-lowercase": b"<message><![cdata[x]]></message>",
    "cdata-bad-open": b"<message><![CDATA x]]></message>",
    "bang-garbage": b"<message><!x></message>",
    "mismatched": b"<message></body>",
    "mismatched-nested": b"<message><body></message></body>",
    "mismatched-case": b"<message></Message>",
    "mismatched-prefix-same-uri": b"<p:a xmlns:p='urn:x' xmlns:q='urn:x'></q:a>",
    "mismatched-prefix-vs-default": b"<p:a xmlns:p='jabber:client'></a>",
    "mismatched-stream-close-in-stanza": b"<message></stream:stream>",
    "stray-end-tag": b"</message>",
    "stream-close-wrong-name": b"</stream>",
    "end-tag-unclosed": b"<message></message",
    "start-tag-with-slash-inside": b"<message / id='1'>",
}
for _name, _bad in MALFORMED.items():
    stanza(f"syntax-{_name}", _bad, NWF)

# names follow expat's (namespace-aware) rules: no colon in an entity name
stanza("syntax-entity-name-with-colon-text", b"<message>&ap:os;</message>", NWF)
stanza("syntax-entity-name-with-colon-attribute", b"<message id='&ap:os;'/>", NWF)
# ElementTree (expat) refuses a namespace URI that contains the Clark separator '}':
# "{urn:}x}a" could not be split back into namespace and local name
stanza("syntax-namespace-uri-with-brace-default", b"<message xmlns='urn:}x'/>", NWF)
stanza("syntax-namespace-uri-with-brace-prefix", b"<p:message xmlns:p='urn:}x'/>", NWF)
stanza("syntax-namespace-uri-with-brace-attribute", b"<message xmlns:p='}' p:a='1'/>", NWF)
stanza("syntax-namespace-uri-with-brace-unused", b"<message xmlns:p='}'/>", NWF)

# tags that are only broken by what follows them (the suffix supplies the '<')
stanza("syntax-end-tag-runs-into-next", b"<message></message ", NWF)
stanza("syntax-start-tag-runs-into-next", b"<message id='1' ", NWF)

# the stream header
document(
    "syntax-header-missing-quotes",
    XML_DECL + b"<stream:stream xmlns:stream=" + STREAMS + b">",
    NWF,
    suffix=GOOD + CLOSE,
)
document(
    "syntax-header-no-space-between-attrs",
    XML_DECL + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'to='x'>",
    NWF,
    suffix=GOOD + CLOSE,
)
document(
    "syntax-header-duplicate-attr",
    XML_DECL + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='x' to='y'>",
    NWF,
    suffix=GOOD + CLOSE,
)
document("syntax-text-before-root", b"hello" + HEADER_NODECL, NWF, suffix=GOOD + CLOSE)
document(
    "syntax-text-before-root-after-decl", XML_DECL + b"x" + HEADER_NODECL, NWF, suffix=GOOD + CLOSE
)
document("syntax-double-bom", b"\xef\xbb\xbf\xef\xbb\xbf", NWF)
document("syntax-bom-after-whitespace", b" \xef\xbb\xbf", NWF)
document("syntax-lt-lt", b"<<", NWF)

# -- XML declaration -------------------------------------------------------------------------------

for _name, _decl, _cond in [
    ("version-1.1", b"<?xml version='1.1'?>", NWF),
    ("version-2.0", b"<?xml version='2.0'?>", NWF),
    ("version-1.0-space", b"<?xml version='1.0 '?>", NWF),
    ("no-version", b"<?xml encoding='UTF-8'?>", NWF),
    ("empty", b"<?xml?>", NWF),
    ("empty-space", b"<?xml ?>", NWF),
    ("order", b"<?xml encoding='UTF-8' version='1.0'?>", NWF),
    ("standalone-maybe", b"<?xml version='1.0' standalone='maybe'?>", NWF),
    ("unknown-pseudo-attr", b"<?xml version='1.0' foo='bar'?>", NWF),
    ("unquoted", b"<?xml version=1.0?>", NWF),
    ("no-space", b"<?xml version='1.0'encoding='UTF-8'?>", NWF),
    ("encoding-latin1", b"<?xml version='1.0' encoding='ISO-8859-1'?>", ENCODING),
    ("encoding-latin1-alias", b"<?xml version='1.0' encoding='latin1'?>", ENCODING),
    ("encoding-utf16", b"<?xml version='1.0' encoding='UTF-16'?>", ENCODING),
    ("encoding-ascii", b"<?xml version='1.0' encoding='US-ASCII'?>", ENCODING),
    ("encoding-windows-1252", b'<?xml version="1.0" encoding="windows-1252"?>', ENCODING),
]:
    document(f"decl-{_name}", _decl, _cond)

# byte-order marks of other encodings, each followed by a declaration in that encoding
_DOC = "<?xml version='1.0'?>" + HEADER_NODECL.decode()
for _name, _bom, _codec in [
    ("utf16-le", b"\xff\xfe", "utf-16-le"),
    ("utf16-be", b"\xfe\xff", "utf-16-be"),
    ("utf32-le", b"\xff\xfe\x00\x00", "utf-32-le"),
    ("utf32-be", b"\x00\x00\xfe\xff", "utf-32-be"),
]:
    document(f"bom-{_name}", _bom, ENCODING, suffix=_DOC.encode(_codec))
    document(f"bom-{_name}-then-utf8", _bom, ENCODING, suffix=DOC_SUFFIX)

# other encodings without a byte-order mark are read as UTF-8: their NUL bytes are not allowed
_STREAM = (XML_DECL + HEADER_NODECL + GOOD + CLOSE).decode()
for _codec in ("utf-16-be", "utf-16-le", "utf-32-be", "utf-32-le"):
    document(f"no-bom-{_codec}", _STREAM.encode(_codec), NWF, suffix=b"")
    document(
        f"no-bom-{_codec}-no-decl",
        (HEADER_NODECL + GOOD + CLOSE).decode().encode(_codec),
        NWF,
        suffix=b"",
    )
document("nul-first", b"\x00", NWF)
document("nul-then-lt", b"\x00<", NWF)
document("lt-then-nul", b"<\x00", NWF)

# -- restricted XML --------------------------------------------------------------------------------

for _name, _bad in {
    "comment-in-stanza": b"<message><!-- c --></message>",
    "empty-comment-in-stanza": b"<message><!----></message>",
    "comment-in-text": b"<message>a<!--c-->b</message>",
    "comment-at-stream-level": b"<!-- keepalive -->",
    "pi-in-stanza": b"<message><?pi data?></message>",
    "pi-at-stream-level": b"<?pi?>",
    "pi-xml-stylesheet": b"<?xml-stylesheet href='x'?>",
    "xml-decl-at-stream-level": b"<?xml version='1.0'?>",
    "xml-decl-in-stanza": b"<message><?xml version='1.0'?></message>",
    "entity-text": b"<message>&foo;</message>",
    "entity-nbsp": b"<message><body>a&nbsp;b</body></message>",
    "entity-uppercase-lt": b"<message>&LT;</message>",
    "entity-attribute": b"<message id='&foo;'/>",
    "entity-attribute-copy": b"<message id='a&copy;b'/>",
    "entity-non-ascii-name": "<message>&é;</message>".encode(),
    # names that start as the predefined ones do (the compiled scanner steps over those in place)
    "entity-amp-longer": b"<message><body>a&ampx;b</body></message>",
    "entity-lt-longer": b"<message><body>a&ltt;b</body></message>",
    "entity-quote": b"<message><body>a&quote;b</body></message>",
    "entity-apos-longer-attribute": b"<message id='a&aposs;b'/>",
    "entity-gt-longer-attribute": b"<message id='a&gtx;b'/>",
}.items():
    stanza(f"restricted-{_name}", _bad, RESTRICTED)

for _name, _bad in {
    "comment-before-header": XML_DECL + b"<!-- c -->",
    "comment-first": b"<!-- c -->",
    "pi-before-header": XML_DECL + b"<?pi?>",
    "xml-decl-after-whitespace": b" <?xml version='1.0'?>",
    "xml-decl-after-newline": b"\n<?xml version='1.0'?>",
    "xml-decl-twice": XML_DECL + b"<?xml version='1.0'?>",
    "xml-decl-after-bom-and-space": b"\xef\xbb\xbf <?xml version='1.0'?>",
    "doctype": XML_DECL + b"<!DOCTYPE stream:stream>",
    "doctype-first": b"<!DOCTYPE stream:stream>",
    "doctype-system": XML_DECL + b"<!DOCTYPE stream:stream SYSTEM 'http://example.com/x.dtd'>",
    "doctype-internal-subset": (
        XML_DECL + b"<!DOCTYPE stream:stream [<!ENTITY x 'y'><!ENTITY lol 'lol'>]>"
    ),
}.items():
    document(f"restricted-{_name}", _bad, RESTRICTED)
document(
    "restricted-doctype-public",
    b"<!DOCTYPE stream:stream PUBLIC '-//Example//DTD X 1.0//EN' \"http://example.com/x\">",
    RESTRICTED,
)
document("restricted-doctype-line-end", b"<!DOCTYPE stream\n>", RESTRICTED)
# a DOCTYPE that breaks its own grammar before expat reports it is not-well-formed there, in
# both parsers (found by the coverage-guided fuzzer)
for _name, _bad in {
    "question-mark": b"<!DOCTYPE I ?",
    "name-then-question-mark": b"<!DOCTYPE I?",
    "system-without-space": b"<!DOCTYPE I SYSTEM'x'>",
    "system-unquoted": b"<!DOCTYPE I SYSTEM x>",
    "system-lower-case": b"<!DOCTYPE I system 'x'>",
    "public-without-system": b"<!DOCTYPE I PUBLIC 'p'>",
    "public-bad-character": b"<!DOCTYPE I PUBLIC 'p{' 'x'>",
    "public-literals-touching": b"<!DOCTYPE I PUBLIC 'p''x'>",
    "junk-after-literal": b"<!DOCTYPE I SYSTEM 'x' ?",
}.items():
    document(f"malformed-doctype-{_name}", _bad, NWF)
# a '?' right after a processing-instruction target must close it
document("malformed-pi-question-mark-then-text", b"<?B?x?>", NWF)
document("malformed-pi-question-mark-then-space", b"<?B?\t \t<m?xl version='1.0'?>", NWF)
document("restricted-pi-empty", b"<?B?>", RESTRICTED)
stanza("malformed-pi-target-with-colon", b"<?xml:la?>", NWF)
# an entity name must start with a name-start character, non-ASCII ones too (U+0320 is not)
stanza("malformed-entity-name-start", "<message>&\u0320t;</message>".encode(), NWF)
stanza("restricted-entity-non-ascii-name", "<message>&\u00e9t;</message>".encode(), RESTRICTED)
# inside a DOCTYPE expat reports an XML declaration as misplaced, other markup as malformed
document("restricted-xml-decl-in-doctype", b"<!DOCTYPE\r\r<?xml version='1.0'?>", RESTRICTED)
document("restricted-xml-decl-after-doctype-name", b"<!DOCTYPE I SYSTEM 'x' <?xml x?>", RESTRICTED)
document("malformed-pi-in-doctype", b"<!DOCTYPE <?foo?>", NWF)
document("malformed-xml-decl-question-mark-in-doctype", b"<!DOCTYPE\n<?xml?xml ?>", NWF)
document("restricted-empty-xml-decl-in-doctype", b"<!DOCTYPE\n<?xml?>", RESTRICTED)
document("malformed-comment-in-doctype", b"<!DOCTYPE <!-- c -->", NWF)
# expat reads a DOCTYPE's name with one colon, any name character after it
document("restricted-doctype-digits-after-colon", b"<!DOCTYPE s8:88>", RESTRICTED)
document("malformed-doctype-two-colons", b"<!DOCTYPE s8:88:x>", NWF)
document("malformed-doctype-trailing-colon", b"<!DOCTYPE s:>", NWF)
stanza("malformed-pi-target-prefix-only", b"<?a:?>", NWF)
document(
    "restricted-entity-in-header",
    XML_DECL + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='&x;'>",
    RESTRICTED,
    suffix=GOOD + CLOSE,
)

# -- namespaces ------------------------------------------------------------------------------------

for _name, _bad in {
    "element": b"<p:message/>",
    "element-end-tag-matches": b"<p:message></p:message>",
    "child-element": b"<message><p:x/></message>",
    "attribute": b"<message p:id='1'/>",
    "child-attribute": b"<message><x p:id='1'/></message>",
    "xmlns-element": b"<xmlns:a/>",
    "xmlns-element-declared-elsewhere": b"<message xmlns:a='urn:a'><xmlns:a/></message>",
    "out-of-scope-after-child": b"<message><a xmlns:p='urn:p'/><p:b/></message>",
    "uppercase-prefix": b"<message xmlns:p='urn:p'><P:x/></message>",
    "attr-other-prefix": b"<message xml:lang='en' foo:lang='x'/>",
}.items():
    stanza(f"unbound-{_name}", _bad, BNP)
stanza(
    "unbound-out-of-scope-sibling", b"<p:b/>", BNP, prefix=STANZA_PREFIX + b"<a xmlns:p='urn:p'/>"
)
document(
    "unbound-header-prefix",
    XML_DECL + b"<stream:stream xmlns='jabber:client' to='x'>",
    BNP,
    suffix=GOOD + CLOSE,
)

for _name, _bad in {
    "same-name": b"<message id='1' id='2'/>",
    "same-name-same-value": b"<message id='1' id='1'/>",
    "same-name-quotes": b"<message id='1' id=\"1\"/>",
    "after-expansion": b"<message xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>",
    "after-expansion-inherited": b"<x xmlns:p='urn:x' xmlns:q='urn:x'><a p:b='1' q:b='2'/></x>",
    "after-expansion-header-prefix": b"<message xmlns:s='http://etherx.jabber.org/streams'"
    b" stream:a='1' s:a='2'/>",
    "xml-lang-twice": b"<message xml:lang='en' xml:lang='fr'/>",
    "xmlns-prefix-twice": b"<message xmlns:p='urn:a' xmlns:p='urn:b'/>",
    "xmlns-default-twice": b"<message xmlns='urn:a' xmlns='urn:a'/>",
    "many-then-duplicate": b"<message a='1' b='2' c='3' d='4' e='5' a='6'/>",
    # names alike in length, first and last byte, as a duplicate is, then a duplicate
    "alike-then-duplicate": b"<message fxom='1' from='2' f\xc3\xa9m='3' fxom='4'/>",
}.items():
    stanza(f"duplicate-{_name}", _bad, NWF)

for _name, _bad in {
    "xml-to-other-uri": b"<message xmlns:xml='urn:not-xml'/>",
    "xml-ns-to-other-prefix": b"<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
    "xml-ns-as-default": b"<message xmlns='http://www.w3.org/XML/1998/namespace'/>",
    "declare-xmlns-prefix": b"<message xmlns:xmlns='http://www.w3.org/2000/xmlns/'/>",
    "declare-xmlns-prefix-other": b"<message xmlns:xmlns='urn:x'/>",
    "xmlns-ns-to-prefix": b"<message xmlns:x='http://www.w3.org/2000/xmlns/'/>",
    "xmlns-ns-as-default": b"<message xmlns='http://www.w3.org/2000/xmlns/'/>",
    "undeclare-prefix": b"<message xmlns:p=''/>",
    "undeclare-prefix-bound": b"<message xmlns:p='urn:p'><x xmlns:p=''/></message>",
    "undeclare-xml": b"<message xmlns:xml=''/>",
}.items():
    stanza(f"reserved-{_name}", _bad, NWF)

# -- stream structure ------------------------------------------------------------------------------

for _name, _bad in {
    "nested-stream-start": b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
    "nested-stream-empty": b"<stream:stream/>",
    "nested-stream-in-stanza": b"<message><stream:stream/></message>",
    "nested-stream-deep": b"<message><x><y><s:stream xmlns:s='http://etherx.jabber.org/streams'/>"
    b"</y></x></message>",
    "nested-stream-default-ns": b"<message><stream xmlns='http://etherx.jabber.org/streams'/>"
    b"</message>",
    "text-at-stream-level": b"hello",
    "text-around-whitespace": b" \n x \n",
    "nbsp-at-stream-level": "\u00a0".encode(),
    "ideographic-space-at-stream-level": "\u3000".encode(),
    "zwnbsp-at-stream-level": "\ufeff".encode(),
    "cdata-at-stream-level": b"<![CDATA[x]]>",
    "whitespace-cdata-at-stream-level": b"<![CDATA[ ]]>",
    "empty-cdata-at-stream-level": b"<![CDATA[]]>",
    "entity-at-stream-level": b"&amp;",
    "charref-at-stream-level": b"&#65;",
    "charref-lt-at-stream-level": b"&#60;",
}.items():
    stanza(f"stream-{_name}", _bad, BAD_FORMAT)

# the first fault decides, whatever follows it in the same feed
stanza("stream-text-then-mismatched-end-tag", b"hello</message>", BAD_FORMAT)
stanza("stream-text-then-invalid-utf8", b"x\xff", BAD_FORMAT)
stanza("stream-text-then-valid-then-invalid-utf8", " é".encode() + b"\x80 ", BAD_FORMAT)
stanza("stream-text-then-comment", b"x<!-- c -->", BAD_FORMAT)
stanza("stream-text-then-nul", b"text\x00", BAD_FORMAT)
# the presence before the text is complete, so it comes out
stanza("stream-text-right-after-stanza", b"x", BAD_FORMAT, prefix=STANZA_PREFIX + b"<presence/>")
# expat's order, found by the coverage-guided fuzzer: ']]>' spoils the whole run of text it is in
# (not-well-formed), while a line end or markup first ends the run (bad-format); see also
# test_cdata_end_in_text_between_stanzas below
stanza("stream-space-then-cdata-end", b" ]]>", NWF)
stanza("stream-text-line-end-then-cdata-end", b"x\n]]>", BAD_FORMAT)
stanza("stream-text-then-bracket", b"x]y", BAD_FORMAT)

for _name, _bad, _cond in [
    (
        "not-stream",
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>",
        BAD_FORMAT,
    ),
    (
        "stream-uppercase",
        b"<stream:Stream xmlns:stream='http://etherx.jabber.org/streams'>",
        BAD_FORMAT,
    ),
    (
        "stream-empty",
        b"<stream:message xmlns:stream='http://etherx.jabber.org/streams'/>",
        BAD_FORMAT,
    ),
    ("client-ns", b"<stream xmlns='jabber:client'>", INVALID_NS),
    ("no-ns", b"<stream>", INVALID_NS),
    ("wrong-uri", b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams/'>", INVALID_NS),
    (
        "wrong-uri-case",
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/Streams'>",
        INVALID_NS,
    ),
    ("message-root", b"<message xmlns='jabber:client'/>", INVALID_NS),
]:
    document(f"root-{_name}", XML_DECL + _bad, _cond, suffix=GOOD + CLOSE)

for _name, _bad in {
    "text": b"x",
    "whitespace-then-text": b" \n x",
    "element": b"<message/>",
    "stream-close-again": CLOSE,
    "new-header": HEADER_NODECL,
    "cdata": b"<![CDATA[x]]>",
    "nul": b"\x00",
    "invalid-utf8": b"\xff",
    "xml-declaration": b"<?xml version='1.0'?>",  # expat: junk after the document
}.items():
    after_close(f"after-close-{_name}", _bad, NWF)
after_close("after-close-pi", b"<?pi x?>", RESTRICTED)

# -- limits ----------------------------------------------------------------------------------------

stanza("limit-depth-65", nested(65), POLICY)
stanza("limit-depth-65-unclosed", nested(65)[: -len(b"</a>") * 65], POLICY)
stanza("limit-depth-10000", nested(10_000), POLICY)
stanza("limit-depth-10000-unclosed", b"<a>" * 10_000, POLICY)
stanza("limit-depth-custom", nested(4), POLICY, max_depth=3)
stanza(
    "limit-depth-1",
    b"<message><body/></message>",
    POLICY,
    max_depth=1,
    prefix=HEADER + b"<presence/>",
)

_BIG = 2000
stanza(
    "limit-size-text",
    b"<message><body>" + b"x" * _BIG + b"</body></message>",
    POLICY,
    max_stanza_size=1000,
)
stanza(
    "limit-size-text-unclosed",
    b"<message><body>" + b"x" * _BIG,
    POLICY,
    suffix=b"",
    max_stanza_size=1000,
)
stanza(
    "limit-size-children",
    b"<message>" + b"<x/>" * 500 + b"</message>",
    POLICY,
    max_stanza_size=1000,
)
stanza(
    "limit-size-attribute", b"<message id='" + b"x" * _BIG + b"'/>", POLICY, max_stanza_size=1000
)
stanza(
    "limit-size-attribute-unclosed",
    b"<message id='" + b"x" * _BIG,
    POLICY,
    suffix=b"",
    max_stanza_size=1000,
)
stanza(
    "limit-size-start-tag-whitespace-unclosed",
    b"<message" + b" " * _BIG,
    POLICY,
    suffix=b"",
    max_stanza_size=1000,
)
stanza("limit-size-name-unclosed", b"<" + b"m" * _BIG, POLICY, suffix=b"", max_stanza_size=1000)
# the empty stanza before the big one is complete: it comes out
stanza(
    "limit-size-after-empty-stanza",
    b"<message id='" + b"x" * _BIG,
    POLICY,
    prefix=STANZA_PREFIX + b"<a/>",
    suffix=b"",
    max_stanza_size=1000,
)
stanza(
    "limit-size-after-empty-stanza-text",
    b"<message>" + b"x" * _BIG,
    POLICY,
    prefix=STANZA_PREFIX + b"<a/>",
    suffix=b"",
    max_stanza_size=1000,
)
stanza(
    "limit-size-cdata-unclosed",
    b"<message><![CDATA[" + b"x" * _BIG,
    POLICY,
    suffix=b"",
    max_stanza_size=1000,
)
stanza(
    "limit-size-multibyte",
    b"<message>" + "ж".encode() * _BIG + b"</message>",
    POLICY,
    max_stanza_size=1000,
)
stanza(
    "limit-size-one-over",
    b"<message><body>" + b"x" * (1001 - 32) + b"</body></message>",
    POLICY,
    max_stanza_size=1000,
)
stanza(
    "limit-size-one-over-empty",
    b"<message id='" + b"x" * (1001 - 16) + b"'/>",
    POLICY,
    max_stanza_size=1000,
)
document(
    "limit-size-header",
    XML_DECL
    + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='"
    + b"x" * _BIG
    + b"'>",
    POLICY,
    suffix=GOOD + CLOSE,
    max_stanza_size=1000,
)
document(
    "limit-size-header-unclosed",
    XML_DECL + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='" + b"x" * _BIG,
    POLICY,
    suffix=b"",
    max_stanza_size=1000,
)

stanza("limit-attributes-65", many_attrs(65), POLICY)
stanza("limit-attributes-64-plus-declaration", many_attrs(64, extra=b" xmlns:p='urn:p'"), POLICY)
stanza(
    "limit-attributes-declarations-only",
    b"<message" + b"".join(b" xmlns:p%d='urn:%d'" % (i, i) for i in range(65)) + b"/>",
    POLICY,
)
stanza(
    "limit-attributes-custom", many_attrs(4), POLICY, max_attributes=3, prefix=SMALL_HEADER + GOOD
)
stanza(
    "limit-attributes-custom-with-default-ns",
    many_attrs(3, extra=b" xmlns='urn:x'"),
    POLICY,
    max_attributes=3,
    prefix=SMALL_HEADER + GOOD,
)
stanza("limit-attributes-in-child", b"<message>" + many_attrs(65, tag=b"x") + b"</message>", POLICY)
stanza("limit-attributes-1000", many_attrs(1000), POLICY)
document(
    "limit-attributes-header",
    XML_DECL
    + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
    + b"".join(b" a%d='%d'" % (i, i) for i in range(64))
    + b">",
    POLICY,
    suffix=GOOD + CLOSE,
)


# -- the tests -------------------------------------------------------------------------------------


def _expected(prefix):
    return et_items(prefix)


@pytest.mark.parametrize(("prefix", "bad", "suffix", "condition", "limits"), CASES)
def test_single_feed(parser_cls, prefix, bad, suffix, condition, limits):
    parser = parser_cls(**limits)
    with pytest.raises(StreamError) as info:
        parser.feed(prefix + bad + suffix)
    err = info.value
    assert err.condition == condition, err
    assert dumps(err.events, top_tail=False) == _expected(prefix)
    # every later feed() raises again, with the same condition, and emits nothing
    for later in (GOOD, b"", b" ", CLOSE):
        with pytest.raises(StreamError) as again:
            parser.feed(later)
        assert again.value.condition == condition
        assert again.value.events == []


@pytest.mark.parametrize(("prefix", "bad", "suffix", "condition", "limits"), CASES)
def test_prefix_fed_first(parser_cls, prefix, bad, suffix, condition, limits):
    parser = parser_cls(**limits)
    items = parser.feed(prefix)
    with pytest.raises(StreamError) as info:
        items += parser.feed(bad + suffix)
        items += parser.feed(b"")  # a fault in the last bytes may be seen only now
    err = info.value
    assert err.condition == condition, err
    assert dumps(items + err.events, top_tail=False) == _expected(prefix)


@pytest.mark.parametrize(("prefix", "bad", "suffix", "condition", "limits"), CASES)
def test_one_byte_per_feed(parser_cls, prefix, bad, suffix, condition, limits):
    parser = parser_cls(**limits)
    items = []
    err = None
    for piece in bytewise(prefix + bad + suffix):
        try:
            items += parser.feed(piece)
        except StreamError as e:
            err = e
            break
    assert err is not None, "no StreamError"
    assert err.condition == condition, err
    assert dumps(items + err.events, top_tail=False) == _expected(prefix)
    with pytest.raises(StreamError) as again:
        parser.feed(GOOD)
    assert again.value.condition == condition
    assert again.value.events == []


def test_cases_are_well_formed_up_to_the_fault():
    """Sanity check of the table itself: each prefix is valid XML that ElementTree accepts."""
    for case in CASES:
        prefix = case.values[0]
        et_items(prefix)


# -- limits: exactly when --------------------------------------------------------------------------


def test_unclosed_huge_stanza_fails_in_the_feed_that_exceeds(parser_cls):
    limit = 1000
    parser = parser_cls(max_stanza_size=limit)
    parser.feed(HEADER + GOOD)
    stanza = b"<message><body>" + b"x" * (3 * limit)
    sent = 0
    for start in range(0, len(stanza), 100):
        piece = stanza[start : start + 100]
        if sent + len(piece) > limit:
            with pytest.raises(StreamError) as info:
                parser.feed(piece)
            assert info.value.condition == POLICY
            assert info.value.events == []
            return
        assert parser.feed(piece) == []
        sent += len(piece)
    pytest.fail("never raised")


def test_unclosed_huge_header_fails_in_the_feed_that_exceeds(parser_cls):
    limit = 1000
    parser = parser_cls(max_stanza_size=limit)
    header = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='" + b"x" * limit
    assert parser.feed(header[:500]) == []
    with pytest.raises(StreamError) as info:
        parser.feed(header[500:])
    assert info.value.condition == POLICY


@pytest.mark.parametrize("over", [1, 2, 10, 17, 100])
def test_stanza_just_over_the_limit(parser_cls, over):
    """A stanza of limit + n bytes fails, however it is made up (end tag length included)."""
    limit = 1000
    for head, tail in (
        (b"<message><body>", b"</body></message>"),
        (b"<message>", b"</message>"),
        (b"<message id='", b"'/>"),
    ):
        stanza = head + b"x" * (limit + over - len(head) - len(tail)) + tail
        assert len(stanza) == limit + over
        for chunks in (
            [HEADER + stanza + CLOSE],
            [HEADER, stanza, CLOSE],
            bytewise(HEADER + stanza),
        ):
            parser = parser_cls(max_stanza_size=limit)
            with pytest.raises(StreamError) as info:
                for chunk in chunks:
                    parser.feed(chunk)
            assert info.value.condition == POLICY, (head, over)


def test_deep_nesting_never_recursion_error(parser_cls):
    for depth in (100, 1000, 10_000, 100_000):
        parser = parser_cls()
        with pytest.raises(StreamError) as info:
            parser.feed(HEADER + b"<a>" * depth + b"</a>" * depth)
        assert info.value.condition == POLICY


def test_limits_are_keyword_only(parser_cls):
    with pytest.raises(TypeError):
        parser_cls(64)


def test_feed_rejects_str(parser_cls):
    parser = parser_cls()
    with pytest.raises(TypeError):
        parser.feed("<stream:stream>")


@pytest.mark.parametrize("text", [b">]]>d", b"x]]>"])
def test_cdata_end_in_text_between_stanzas(parser_cls, text):
    """Text between stanzas that runs into ']]>' has two faults. Read in one piece, the run is
    refused whole (not-well-formed, as expat does); read a byte at a time, its first character
    is already complete text between stanzas (bad-format). The one case where a condition
    depends on the split; both parsers agree on each split."""
    data = STANZA_PREFIX + text + STANZA_SUFFIX
    with pytest.raises(StreamError) as whole:
        parser_cls().feed(data)
    assert whole.value.condition == NWF
    parser = parser_cls()
    with pytest.raises(StreamError) as bytewise_err:
        for piece in bytewise(data):
            parser.feed(piece)
    assert bytewise_err.value.condition == BAD_FORMAT


def test_duplicate_attribute_over_the_limit(parser_cls):
    """Over max_attributes and a duplicate: expat's order, the duplicate first, in both parsers
    (found by the native fuzzer)."""
    data = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
    data += b"<iq type='get' type='get'/>"
    with pytest.raises(StreamError) as info:
        parser_cls(max_attributes=1).feed(data)
    assert info.value.condition == NWF
    with pytest.raises(StreamError) as info:
        parser_cls(max_attributes=1).feed(data.replace(b"type='get'/>", b"id='x'/>"))
    assert info.value.condition == "policy-violation"
