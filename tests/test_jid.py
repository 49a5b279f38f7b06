"""Tests for fastxmpp.jid: RFC 7622 parsing and preparation, value semantics, the fast path."""

from __future__ import annotations

import copy
import pickle
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fastxmpp import jid as jidmod
from fastxmpp.errors import InvalidJID, XMPPError
from fastxmpp.jid import JID, parse_jid


def parts(j: JID) -> tuple[str | None, str, str | None]:
    return (j.local, j.domain, j.resource)


# --- RFC 7622 section 3.5 -------------------------------------------------------------------

RFC_VALID = [
    ("juliet@example.com", ("juliet", "example.com", None)),  # 1
    ("juliet@example.com/foo", ("juliet", "example.com", "foo")),  # 2
    ("juliet@example.com/foo bar", ("juliet", "example.com", "foo bar")),  # 3
    ("juliet@example.com/foo@bar", ("juliet", "example.com", "foo@bar")),  # 4
    ("foo\\20bar@example.com", ("foo\\20bar", "example.com", None)),  # 5
    ("fussball@example.com", ("fussball", "example.com", None)),  # 6
    ("fu\u00dfball@example.com", ("fu\u00dfball", "example.com", None)),  # 7
    ("\u03c0@example.com", ("\u03c0", "example.com", None)),  # 8
    ("\u03a3@example.com/foo", ("\u03c3", "example.com", "foo")),  # 9
    ("\u03c3@example.com/foo", ("\u03c3", "example.com", "foo")),  # 10
    ("\u03c2@example.com/foo", ("\u03c2", "example.com", "foo")),  # 11
    ("king@example.com/\u265a", ("king", "example.com", "\u265a")),  # 12
    ("example.com", (None, "example.com", None)),  # 13
    ("example.com/foobar", (None, "example.com", "foobar")),  # 14
    ("a.example.com/b@example.net", (None, "a.example.com", "b@example.net")),  # 15
]


@pytest.mark.parametrize(("text", "expected"), RFC_VALID)
def test_rfc7622_valid_examples(text: str, expected: tuple[str | None, str, str | None]) -> None:
    j = JID(text)
    assert parts(j) == expected
    assert JID(str(j)) == j


RFC_INVALID = [
    ('"juliet"@example.com', r"local part.*'\"'"),  # 16: quotation mark
    ("foo bar@example.com", r"local part 'foo bar'.*U\+0020.*spaces"),  # 17
    ("@example.com/", r"empty local part"),  # 19
    ("henry\u2163@example.com", r"local part.*U\+2163.*compatibility"),  # 20
    ("\u265a@example.com", r"local part.*U\+265A.*symbol"),  # 21
    ("juliet@", r"empty domain part"),  # 22
    ("/foobar", r"empty domain part"),  # 23
]


@pytest.mark.parametrize(("text", "message"), RFC_INVALID)
def test_rfc7622_invalid_examples(text: str, message: str) -> None:
    with pytest.raises(InvalidJID, match=message):
        JID(text)


def test_rfc7622_example_18_is_accepted_on_purpose() -> None:
    # Table 2 lists a leading space in the resourcepart as invalid, but OpaqueString allows
    # spaces and no rule of RFC 7622 forbids it; the module docstring documents the deviation.
    assert JID("juliet@example.com/ foo").resource == " foo"
    assert JID("juliet@example.com/foo ").resource == "foo "


def test_sigma_and_sharp_s_comparisons_from_rfc7622() -> None:
    assert JID("\u03a3@example.com/foo") == JID("\u03c3@example.com/foo")  # 9 and 10 match
    assert JID("\u03a3@example.com/foo") != JID("\u03c2@example.com/foo")  # 9 and 11 do not
    assert JID("fussball@example.com") != JID("fu\u00dfball@example.com")  # 6 and 7 differ


# --- parsing structure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@b/c/d", ("a", "b", "c/d")),  # resource starts at the first '/'
        ("b/c@d", (None, "b", "c@d")),  # '@' after the first '/' belongs to the resource
        ("b/@", (None, "b", "@")),
        ("b//", (None, "b", "/")),
        ("a@b/c@d/e", ("a", "b", "c@d/e")),
    ],
)
def test_split_order(text: str, expected: tuple[str | None, str, str | None]) -> None:
    assert parts(JID(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^empty domain part$"),
        ("@", r"empty local part"),
        ("a@b/", r"empty resource part"),
        ("b/", r"empty resource part"),
        ("@b", r"empty local part"),
        ("a@/c", r"empty domain part"),
        ("a@b@c", r"domain part 'b@c'"),  # the local part ends at the first '@'
        ("a@.", r"empty domain part"),
        ("a@b..c", r"domain part 'b\.\.c': empty label"),
        ("a@.b", r"empty label"),
        ("a@b..", r"empty label"),  # only one final dot is stripped
    ],
)
def test_structural_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidJID, match=message):
        JID(text)


# --- preparation --------------------------------------------------------------------------


def test_local_and_domain_are_case_mapped_resource_is_not() -> None:
    j = JID("JuLiet@ExAmple.COM/BalCony")
    assert parts(j) == ("juliet", "example.com", "BalCony")
    assert str(j) == "juliet@example.com/BalCony"
    assert j == JID("juliet@example.com/BalCony")
    assert j != JID("juliet@example.com/balcony")


def test_non_ascii_case_mapping() -> None:
    assert JID("\u00c9LODIE@\u00c9COLE.FR").local == "\u00e9lodie"
    assert JID("\u00c9LODIE@\u00c9COLE.FR").domain == "\u00e9cole.fr"
    assert JID("x@y/\u00c9LODIE").resource == "\u00c9LODIE"


def test_nfc_normalisation_of_all_parts() -> None:
    decomposed = "e\u0301"  # e + COMBINING ACUTE ACCENT
    j = JID(f"{decomposed}@caf{decomposed}.fr/{decomposed}")
    assert parts(j) == ("\u00e9", "caf\u00e9.fr", "\u00e9")
    assert j == JID("\u00e9@caf\u00e9.fr/\u00e9")
    assert hash(j) == hash(JID("\u00e9@caf\u00e9.fr/\u00e9"))


def test_width_mapping_in_local_and_domain() -> None:
    # FULLWIDTH LATIN letters map to ASCII in the local part (then lowercase) and the domain.
    assert JID("\uff2a\uff55\uff4c@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com").bare == JID(
        "jul@example.com"
    )
    # The resource (OpaqueString) keeps fullwidth characters as they are.
    assert JID("a@b/\uff21").resource == "\uff21"


def test_resource_maps_non_ascii_spaces_to_space() -> None:
    assert JID("a@b/x\u00a0y").resource == "x y"
    assert JID("a@b/x\u3000y").resource == "x y"


@pytest.mark.parametrize("dot", ["\u3002", "\uff0e", "\uff61"])
def test_domain_dots_are_normalised(dot: str) -> None:
    assert JID(f"a@example{dot}com").domain == "example.com"
    assert JID(f"a@example.com{dot}").domain == "example.com"  # also as the final separator


def test_trailing_dot_removed() -> None:
    assert JID("example.com.").domain == "example.com"
    assert JID("a@Example.Com./r").domain == "example.com"
    assert JID("a@example.com.") == JID("a@example.com")


def test_a_labels_become_u_labels() -> None:
    assert JID("xn--mnchen-3ya.de").domain == "m\u00fcnchen.de"
    assert JID("XN--MNCHEN-3YA.DE") == JID("M\u00dcNCHEN.de")
    assert str(JID("user@xn--bcher-kva.example")) == "user@b\u00fccher.example"
    assert JID("xn--foo").domain == "\u456d"  # looks ASCII, but is a valid A-label


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("foo_bar.com", r"label 'foo_bar'.*U\+005F"),
        ("-foo.com", r"label '-foo'.*hyphen"),
        ("foo-.com", r"label 'foo-'.*hyphen"),
        ("ab--cd.com", r"label 'ab--cd'.*hyphen"),  # reserved LDH label, not NR-LDH
        ("xn--abc.com", r"label 'xn--abc'"),  # invalid punycode content
        ("xn--.com", r"label 'xn--'"),
        ("xn--foo-.com", r"label 'xn--foo-'"),
        ("xn--abc-.com", r"label 'xn--abc-'"),  # would encode ASCII only: a fake A-label
        ("a b.com", r"label 'a b'"),
        ("\u2163.com", r"label 'ⅳ'"),  # compatibility character, disallowed by IDNA2008
        ("\u265a.com", r"U\+265A"),
        ("a@b", r"label 'a@b'"),
    ],
)
def test_invalid_domains(domain: str, message: str) -> None:
    with pytest.raises(InvalidJID, match=r"invalid domain part .*" + message):
        JID(f"user@{domain}")


def test_localpart_excluded_characters() -> None:
    for char in "\"&':<>":
        with pytest.raises(InvalidJID, match=r"not allowed in a local part.*3\.3\.1"):
            JID(f"a{char}b@example.com")
    # '@' and '/' cannot arrive by parsing, but they can by keyword or by width mapping.
    for local in ("a@b", "a/b", "a\uff20b", "a\uff0fb"):
        with pytest.raises(InvalidJID, match=r"not allowed in a local part"):
            JID(local=local, domain="example.com")
    # Other ASCII punctuation is allowed by UsernameCaseMapped.
    assert JID("a!#$%*+=?^_`{|}~.-b@example.com").local == "a!#$%*+=?^_`{|}~.-b"


def test_resource_rejects_controls_and_context_failures() -> None:
    with pytest.raises(InvalidJID, match=r"resource part.*U\+0000.*control"):
        JID("a@b/x\x00")
    with pytest.raises(InvalidJID, match=r"resource part.*U\+007F"):
        JID("a@b/x\x7f")
    with pytest.raises(InvalidJID, match=r"resource part.*U\+200D"):
        JID("a@b/x\u200dy")  # ZERO WIDTH JOINER outside its context


def test_local_bidi_rule() -> None:
    with pytest.raises(InvalidJID, match=r"local part.*bidi"):
        JID("\u05d0a@example.com")
    assert JID("\u05d0\u05d1@example.com").local == "\u05d0\u05d1"


# --- length limits ------------------------------------------------------------------------


def test_local_length_limit_in_octets() -> None:
    assert JID("a" * 1023 + "@x").local == "a" * 1023
    with pytest.raises(InvalidJID, match=r"local part .* longer than 1023 octets \(1024 "):
        JID("a" * 1024 + "@x")
    # 512 two-octet characters: 512 characters but 1024 octets.
    assert len(JID("\u00e9" * 511 + "a@x").local.encode()) == 1023  # type: ignore[union-attr]
    with pytest.raises(InvalidJID, match=r"longer than 1023 octets"):
        JID("\u00e9" * 512 + "@x")


def test_resource_length_limit_in_octets() -> None:
    assert JID("x/" + "R" * 1023).resource == "R" * 1023
    with pytest.raises(InvalidJID, match=r"resource part .* longer than 1023 octets"):
        JID("x/" + "R" * 1024)
    with pytest.raises(InvalidJID, match=r"resource part .* longer than 1023 octets"):
        JID("x/" + "\u265a" * 342)  # 342 * 3 = 1026 octets


def test_length_is_measured_after_preparation() -> None:
    # 1024 raw characters, but NFC composes pairs into 2-octet characters: 1022 octets.
    assert JID("e\u0301" * 511 + "@x").local == "\u00e9" * 511
    # A final dot does not count: 1024 raw characters, 1023 after preparation.
    domain = ".".join(["a" * 63] * 16)
    assert len(domain) == 1023
    assert JID(domain + ".").domain == domain


def test_domain_length_limits() -> None:
    domain = ".".join(["a" * 63] * 16)  # 16 * 63 + 15 = 1023 octets
    assert JID(domain).domain == domain
    with pytest.raises(InvalidJID, match=r"domain part .* longer than 1023 octets"):
        JID("b." + domain)
    with pytest.raises(InvalidJID, match=r"longer than 1023 octets"):
        JID("B." + domain)  # same through the slow path
    assert JID("a" * 63 + ".com").domain == "a" * 63 + ".com"
    with pytest.raises(InvalidJID, match=r"label 'a{64}'.*longer than 63 octets"):
        JID("a" * 64 + ".com")
    with pytest.raises(InvalidJID, match=r"longer than 63 octets"):
        JID("A" * 64 + ".com")
    # The 63-octet limit applies to the A-label (DNS) form of a U-label.
    with pytest.raises(InvalidJID, match=r"longer than 63 octets"):
        JID("\u00e9" * 60 + ".com")


def test_huge_parts_are_rejected_quickly() -> None:
    start = time.perf_counter()
    for text in ("a" * 1_000_000 + "@x", "x/" + "\u00e9" * 1_000_000, "\u00e9" * 1_000_000):
        with pytest.raises(InvalidJID, match=r"longer than 1023 octets"):
            JID(text)
    assert time.perf_counter() - start < 0.5


# --- IP literals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("[::1]", "[::1]"),
        ("user@[2001:DB8::1]/res", "[2001:db8::1]"),
        ("[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"),
        ("127.0.0.1", "127.0.0.1"),
        ("user@192.0.2.255/r", "192.0.2.255"),
        ("[::1].", "[::1]"),
    ],
)
def test_ip_literals(text: str, domain: str) -> None:
    assert JID(text).domain == domain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[::1", r"without closing"),
        ("[]", r"bad IPv6 literal"),
        ("[example.com]", r"bad IPv6 literal"),
        ("[1.2.3.4]", r"bad IPv6 literal"),
        ("[::1::2]", r"bad IPv6 literal"),
        ("[fe80::1%eth0]", r"zone identifiers"),
        ("x@[::1]x", r"without closing"),
    ],
)
def test_invalid_ip_literals(text: str, message: str) -> None:
    with pytest.raises(InvalidJID, match=message):
        JID(text)


# --- value semantics ----------------------------------------------------------------------


def test_str_and_repr() -> None:
    j = JID("Alice@Example.org/Phone")
    assert str(j) == "alice@example.org/Phone"
    assert repr(j) == "JID('alice@example.org/Phone')"
    assert repr(JID("example.org")) == "JID('example.org')"
    assert eval(repr(j)) == j


def test_equality_and_hash() -> None:
    a = JID("alice@example.org/phone")
    b = JID(local="ALICE", domain="EXAMPLE.ORG.", resource="phone")
    assert a == b
    assert (a != b) is False
    assert hash(a) == hash(b)
    assert len({a, b, JID("alice@example.org"), JID("example.org")}) == 3
    assert {a: 1}[b] == 1
    assert a != JID("alice@example.org/Phone")
    assert a != JID("alice@example.org")
    assert a != JID("example.org/phone")


def test_not_equal_to_strings() -> None:
    a = JID("alice@example.org")
    assert (a == "alice@example.org") is False
    assert ("alice@example.org" == a) is False
    assert a != "alice@example.org"
    assert a.__eq__("alice@example.org") is NotImplemented
    nothing: object = None
    assert a != 1
    assert a != nothing


def test_bare() -> None:
    bare = JID("alice@example.org")
    assert bare.is_bare
    assert bare.bare is bare
    full = JID("alice@example.org/phone")
    assert not full.is_bare
    assert full.bare == bare
    assert full.bare.resource is None
    assert full.bare.is_bare
    assert str(full.bare) == "alice@example.org"
    assert full.bare is full.bare  # computed once
    assert JID("example.org/x").bare == JID("example.org")


def test_with_resource() -> None:
    bare = JID("alice@example.org")
    full = bare.with_resource("Phone\u00a0X")  # the resource is prepared (non-ASCII space)
    assert full == JID("alice@example.org/Phone X")
    assert full.resource == "Phone X"
    assert bare.with_resource("a/b@c").resource == "a/b@c"
    assert full.with_resource("tablet") == JID("alice@example.org/tablet")
    assert full.with_resource(None) == bare
    assert bare.is_bare  # unchanged
    with pytest.raises(InvalidJID, match="empty resource"):
        bare.with_resource("")
    with pytest.raises(InvalidJID, match="resource part"):
        bare.with_resource("x\x01")
    with pytest.raises(TypeError):
        bare.with_resource(b"x")  # type: ignore[arg-type]


def test_keyword_construction() -> None:
    assert JID(domain="example.org") == JID("example.org")
    assert JID(local="a", domain="b") == JID("a@b")
    assert JID(domain="b", resource="r/s@t") == JID("b/r/s@t")
    assert parts(JID(local="\u03a3", domain="\u00c9.fr", resource="R")) == (
        "\u03c3",
        "\u00e9.fr",
        "R",
    )
    with pytest.raises(InvalidJID, match="empty local part"):
        JID(local="", domain="b")
    with pytest.raises(InvalidJID, match="empty resource part"):
        JID(domain="b", resource="")
    with pytest.raises(InvalidJID, match="empty domain part"):
        JID(domain="")
    with pytest.raises(InvalidJID, match="domain part"):
        JID(domain="b/c")  # parts are taken whole: '/' is not a separator here


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((b"a@b",), {}),
        ((42,), {}),
        ((), {}),
        ((), {"local": "a"}),
        (("a@b",), {"domain": "c"}),
        (("a@b",), {"resource": "c"}),
        ((), {"domain": b"b"}),
        ((), {"local": 1, "domain": "b"}),
        ((), {"domain": "b", "resource": ["r"]}),
    ],
)
def test_type_errors(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        JID(*args, **kwargs)  # type: ignore[arg-type]


def test_parse_jid() -> None:
    assert parse_jid("Alice@Example.org/R") == JID("alice@example.org/R")
    assert parse_jid("alice@example.org/x") is JID("alice@example.org/x")
    with pytest.raises(InvalidJID, match="empty local part"):
        parse_jid("@example.org")
    for bad in (b"a@b", None, 1):
        with pytest.raises(TypeError):
            parse_jid(bad)  # type: ignore[arg-type]


def test_str_subclass_input() -> None:
    class Text(str):
        pass

    j = JID(Text("Alice@Example.org/R"))
    assert j == JID("alice@example.org/R")
    assert type(str(j)) is str
    assert type(j.local) is str
    assert type(j.resource) is str


def test_jid_argument_is_returned() -> None:
    j = JID("a@b/c")
    assert JID(j) is j


def test_invalid_jid_is_value_error() -> None:
    with pytest.raises(ValueError):
        JID("@")
    assert issubclass(InvalidJID, XMPPError)


def test_immutable() -> None:
    j = JID("a@b/c")
    for name in ("local", "domain", "resource", "_str", "_local", "anything"):
        with pytest.raises(AttributeError):
            setattr(j, name, "x")
    with pytest.raises(AttributeError):
        del j._domain
    assert not hasattr(j, "__dict__")
    assert str(j) == "a@b/c"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle(protocol: int) -> None:
    for j in (JID("\u00e9@caf\u00e9.fr/R\u265a"), JID("example.org"), JID("a@b/c").bare):
        clone = pickle.loads(pickle.dumps(j, protocol))
        assert type(clone) is JID
        assert clone == j
        assert parts(clone) == parts(j)
        assert hash(clone) == hash(j)


def test_copy_returns_same_object() -> None:
    j = JID("a@b/c")
    assert copy.copy(j) is j
    assert copy.deepcopy(j) is j
    assert copy.deepcopy([j])[0] is j


def test_cache_returns_shared_instances_and_does_not_cache_errors() -> None:
    assert JID("cache@example.org/x") is JID("cache@example.org/x")
    for _ in range(2):
        with pytest.raises(InvalidJID):
            JID("bad user@example.org")


def test_fast_path_skips_precis(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        def enforce(self, value: str) -> str:
            raise AssertionError(f"PRECIS called for {value!r}")

    monkeypatch.setattr(jidmod, "_LOCAL_PROFILE", Exploding())
    monkeypatch.setattr(jidmod, "_RESOURCE_PROFILE", Exploding())
    monkeypatch.setattr(jidmod, "_prep_domain_slow", Exploding().enforce)
    assert jidmod._prepare_string("alice@example.org/phone 1") == (
        "alice",
        "example.org",
        "phone 1",
    )
    with pytest.raises(AssertionError, match="PRECIS called for 'Alice'"):
        jidmod._prepare_string("Alice@example.org")
    with pytest.raises(AssertionError, match="PRECIS called for 'x\\\\x01'"):
        jidmod._prepare_string("a@b/x\x01")
    with pytest.raises(AssertionError, match="xn--mnchen-3ya"):
        jidmod._prepare_string("xn--mnchen-3ya.de")


# --- property tests -----------------------------------------------------------------------

# ASCII text biased towards the characters and tokens that matter to the parser and to the
# fast-path decisions, so that both accepted and rejected strings are frequent.
_ascii_char = st.characters(max_codepoint=127)
_tokens = st.sampled_from(
    ["@", "/", ".", "-", "--", "xn--", "[", "]", ":", "::1", "127.0.0.1", "A", "a", "z", "0",
     "9", " ", "_", "\x00", "\x7f", "\t", "\"", "&", "'", "<", ">", "%", "\\"]
)  # fmt: skip
_ascii_text = st.lists(st.one_of(_ascii_char, _tokens, _ascii_char), max_size=24).map("".join)
_ascii_word = st.from_regex(r"[a-z0-9!-@\[-~ A-Z-]{1,12}", fullmatch=True).filter(str.isascii)
_ascii_label = st.one_of(
    st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),  # fast-path material
    st.from_regex(r"[a-zA-Z0-9-]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{0,3}--[a-z0-9-]{0,4}", fullmatch=True),  # "xn--", "ab--"
    st.builds(lambda n, c: c * n, st.integers(62, 65), st.sampled_from("a0-Z")),  # 63 limit
)


def _domain_of_length(length: int) -> str:
    """A valid-looking domain of ``length`` characters made of labels of at most 63."""
    labels = ["a" * 63] * 15  # 959 characters with the dots
    rest = length - 960
    labels += ["b" * rest] if rest <= 63 else ["b" * (rest // 2), "c" * (rest - rest // 2 - 1)]
    domain = ".".join(labels)
    assert len(domain) == length
    return domain


# A plain lowercase word with at most one arbitrary ASCII character in it: the fast path
# decides on single characters, so this finds a wrongly admitted one quickly.
_one_odd_char = st.builds(
    lambda a, c, b: a + c + b,
    st.from_regex(r"[a-z0-9]{0,4}", fullmatch=True),
    st.one_of(st.just(""), _ascii_char),
    st.from_regex(r"[a-z0-9]{0,4}", fullmatch=True),
)
# Parts around the 1023-octet limit.
_long_part = st.builds(lambda n, c: c * n, st.integers(1021, 1025), st.sampled_from("aZ "))
_ascii_part = st.one_of(_one_odd_char, _ascii_word, _ascii_text, _long_part)


@st.composite
def _ascii_jids(draw: st.DrawFn) -> str:
    local = draw(st.one_of(st.none(), _ascii_part))
    labels = draw(st.lists(_ascii_label, min_size=1, max_size=4))
    if draw(st.booleans()):  # the odd character inside a label
        labels[-1] = draw(_one_odd_char) or "a"
    domain = ".".join(labels)
    many = _domain_of_length(draw(st.integers(1020, 1026)))
    domain = draw(st.sampled_from([domain, domain + ".", many, many + "."]))
    domain = draw(st.one_of(st.just(domain), _ascii_text))
    resource = draw(st.one_of(st.none(), _ascii_part))
    text = domain
    if local is not None:
        text = f"{local}@{text}"
    if resource is not None:
        text = f"{text}/{resource}"
    return text


def _outcome(text: str, *, fast: bool) -> object:
    try:
        return jidmod._prepare_string(text, fast=fast)
    except InvalidJID as exc:
        return (type(exc), str(exc))


@settings(max_examples=800, deadline=None)
@given(st.one_of(_ascii_jids(), _ascii_text))
@example("alice@example.org/phone")
@example("Alice@Example.org/Phone")
@example("a b@c")
@example("a@b/ ")
@example("xn--mnchen-3ya.de")
@example("a--b.c")
@example("127.0.0.1")
@example("[::1]")
@example("a@b.")
def test_fast_path_matches_slow_path_on_ascii(text: str) -> None:
    assert _outcome(text, fast=True) == _outcome(text, fast=False)


_ASCII = [chr(i) for i in range(128)]
_SINGLE_CHAR_TEMPLATES = [
    "{c}@example.org",
    "{c}a@example.org",
    "a{c}b@example.org",
    "a{c}@example.org",
    "a@{c}",
    "a@{c}b.org",
    "a@b{c}.org",
    "a@b{c}c.org",
    "a@bc.{c}",
    "a@bc.o{c}",
    "a@xn{c}-mnchen-3ya.de",
    "a@b/{c}",
    "a@b/{c}r",
    "a@b/r{c}",
    "a@b/r{c}s",
]


@pytest.mark.parametrize("template", _SINGLE_CHAR_TEMPLATES)
def test_fast_path_matches_slow_path_for_every_ascii_character(template: str) -> None:
    # The fast path decides character by character: try each of the 128 everywhere.
    for char in _ASCII:
        text = template.format(c=char)
        assert _outcome(text, fast=True) == _outcome(text, fast=False), text


def test_fast_path_matches_slow_path_for_ascii_pairs_in_a_label() -> None:
    # Hyphen rules depend on neighbours and positions: all pairs, at the start, middle, end.
    chars = "".join(_ASCII)
    for first in chars:
        for second in chars:
            for text in (f"{first}{second}x.org", f"xy{first}{second}z.org", f"x.o{first}{second}"):
                assert _outcome(text, fast=True) == _outcome(text, fast=False), text


@pytest.mark.parametrize("length", range(1020, 1027))
def test_fast_path_matches_slow_path_at_length_limits(length: int) -> None:
    domain = _domain_of_length(length)
    for text in (
        domain,
        domain + ".",
        "l" * length + "@x",
        "x/" + "r" * length,
        "L" * length + "@x",
        "x/" + "\x01" * length,
    ):
        assert _outcome(text, fast=True) == _outcome(text, fast=False)


@pytest.mark.parametrize("length", range(61, 66))
def test_fast_path_matches_slow_path_at_label_length_limit(length: int) -> None:
    label = "a" * length
    for text in (label, f"{label}.org", f"x.{label}.org", f"x.{label}", f"0{label[1:]}.org"):
        assert _outcome(text, fast=True) == _outcome(text, fast=False), text


@settings(max_examples=400, deadline=None)
@given(st.from_regex(jidmod._LOCAL_FAST, fullmatch=True))
def test_fast_local_strings_are_fixed_points_of_usernamecasemapped(text: str) -> None:
    assert jidmod._LOCAL_PROFILE.enforce(text) == text


@settings(max_examples=400, deadline=None)
@given(st.from_regex(jidmod._RESOURCE_FAST, fullmatch=True))
def test_fast_resource_strings_are_fixed_points_of_opaquestring(text: str) -> None:
    assert jidmod._RESOURCE_PROFILE.enforce(text) == text


@settings(max_examples=400, deadline=None)
@given(st.from_regex(jidmod._DOMAIN_FAST, fullmatch=True).filter(lambda d: "--" not in d))
def test_fast_domains_are_fixed_points_of_the_slow_path(domain: str) -> None:
    if len(domain) <= 1023:
        assert jidmod._prep_domain(domain, fast=False) == domain


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=20), _ascii_jids()))
@example("\u0130@\u0130.com/\u0130")
@example("\uff21@\uff21\uff0e\uff43\uff4f\uff4d/\uff21")
def test_preparation_is_idempotent(text: str) -> None:
    try:
        j = JID(text)
    except InvalidJID:
        return
    again = JID(str(j))
    assert again == j
    assert parts(again) == parts(j)
    assert JID(local=j.local, domain=j.domain, resource=j.resource) == j
