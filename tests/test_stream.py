"""The sans-IO client stream (fastxmpp.stream), driven with the bytes a server would send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from fastxmpp import JID, AuthenticationError, StanzaError, StreamError, TLSError, XMPPError
from fastxmpp.sasl import Credentials
from fastxmpp.stream import (
    Authenticated,
    ClientStream,
    SessionReady,
    StartTLS,
    StreamClosed,
    parse_stanza_error,
)
from fastxmpp.xml import Element, StreamParserPy

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='s1'"
    b" version='1.0'>"
)
STARTTLS_FEATURES = (
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    b"</starttls></stream:features>"
)


def sasl_features(*mechanisms: str) -> bytes:
    inner = "".join(f"<mechanism>{m}</mechanism>" for m in mechanisms)
    return (
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        f"{inner}</mechanisms></stream:features>"
    ).encode()


BIND_FEATURES = (
    b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>"
)
BIND_FEATURES_OPTIONAL_SESSION = (
    b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
    b"</stream:features>"
)
SUCCESS = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"


def pending_id(sent: bytes) -> str:
    match = re.search(rb"<iq type='set' id='([^']+)'", sent)
    assert match, sent
    return match.group(1).decode()


def bind_result(sent: bytes, jid: str = "alice@example.org/laptop") -> bytes:
    return (
        f"<iq type='result' id='{pending_id(sent)}'><bind xmlns='urn:ietf:params:xml:ns:"
        f"xmpp-bind'><jid>{jid}</jid></bind></iq>"
    ).encode()


def new_stream(**kwargs) -> ClientStream:
    kwargs.setdefault("parser_factory", StreamParserPy)
    return ClientStream(JID("alice@example.org/laptop"), Credentials("alice", "secret"), **kwargs)


def to_tls(stream: ClientStream) -> None:
    """Header, STARTTLS features, <proceed/>, handshake 'done'."""
    assert stream.receive_data(HEADER + STARTTLS_FEATURES) == []
    assert b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" in stream.data_to_send()
    events = stream.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert events == [StartTLS()]
    stream.tls_established(lambda cb_type: None)


def to_bind(stream: ClientStream, features: bytes) -> bytes:
    """TLS, PLAIN and the restart, up to the bind request; returns what the client sent."""
    to_tls(stream)
    stream.data_to_send()
    stream.receive_data(HEADER + sasl_features("PLAIN"))
    stream.receive_data(SUCCESS)
    stream.data_to_send()
    stream.receive_data(HEADER + features)
    return stream.data_to_send()


def login(stream: ClientStream) -> list:
    """From TLS to a ready session with PLAIN; returns the events of the last step."""
    to_tls(stream)
    sent = stream.data_to_send()
    assert sent.startswith(b"<?xml version='1.0'?><stream:stream")
    assert b'from="alice@example.org"' in sent  # RFC 6120 4.7.1: named once protected
    stream.receive_data(HEADER + sasl_features("PLAIN"))
    auth = stream.data_to_send()
    assert auth == (
        b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
        + base64.b64encode(b"\0alice\0secret")
        + b"</auth>"
    )
    assert stream.receive_data(SUCCESS) == [Authenticated("PLAIN", False)]
    stream.receive_data(HEADER + BIND_FEATURES_OPTIONAL_SESSION)
    sent = stream.data_to_send()
    assert b"<resource>laptop</resource>" in sent
    return stream.receive_data(bind_result(sent))


def test_the_whole_negotiation_in_order():
    stream = new_stream()
    first = stream.data_to_send()
    assert b'to="example.org"' in first and b"from=" not in first  # not named in plain text
    events = login(stream)
    assert events == [SessionReady(JID("alice@example.org/laptop"), events[0].features)]
    assert stream.ready and stream.secure and stream.authenticated
    assert stream.bound_jid == JID("alice@example.org/laptop")
    assert stream.features.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None


def test_stanzas_flow_once_ready_and_close_is_answered():
    stream = new_stream()
    login(stream)
    items = stream.receive_data(
        b"<message from='bob@example.org/x' type='chat'><body>hi</body></message><presence/>"
    )
    assert [el.tag for el in items] == ["{jabber:client}message", "{jabber:client}presence"]
    stream.send(Element("{jabber:client}message", {"to": "bob@example.org"}))
    assert stream.data_to_send() == b'<message to="bob@example.org"/>'
    assert stream.receive_data(b"</stream:stream>") == [StreamClosed(by_peer=True)]
    assert stream.data_to_send() == b"</stream:stream>"  # answered in kind
    assert stream.closed
    with pytest.raises(XMPPError):
        stream.send(Element("{jabber:client}presence"))


def test_our_close_then_theirs():
    stream = new_stream()
    login(stream)
    stream.close()
    stream.close()  # once only
    assert stream.data_to_send() == b"</stream:stream>"
    assert stream.receive_data(b"<message/></stream:stream>")[1] == StreamClosed(by_peer=False)
    assert stream.data_to_send() == b""


def test_legacy_session_when_the_server_requires_it():
    stream = new_stream()
    assert stream.receive_data(bind_result(to_bind(stream, BIND_FEATURES))) == []
    sent = stream.data_to_send()
    assert b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>" in sent
    events = stream.receive_data(f"<iq type='result' id='{pending_id(sent)}'/>".encode())
    assert isinstance(events[0], SessionReady) and stream.ready


def test_no_starttls_offered_is_refused():
    stream = new_stream()
    with pytest.raises(TLSError, match="does not offer STARTTLS"):
        stream.receive_data(HEADER + sasl_features("PLAIN"))
    assert stream.data_to_send().endswith(b"</stream:stream>")
    assert stream.closed


def test_starttls_failure_is_a_tls_error():
    stream = new_stream()
    stream.receive_data(HEADER + STARTTLS_FEATURES)
    with pytest.raises(TLSError, match="refused STARTTLS"):
        stream.receive_data(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")


def test_plaintext_after_proceed_is_never_used():
    stream = new_stream()
    stream.receive_data(HEADER + STARTTLS_FEATURES)
    with pytest.raises(StreamError) as info:
        stream.receive_data(
            b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
            b"<message><body>injected</body></message>"
        )
    assert info.value.condition == "policy-violation" and not info.value.by_peer


def test_bytes_while_waiting_for_the_handshake_are_refused():
    stream = new_stream()
    stream.receive_data(HEADER + STARTTLS_FEATURES)
    stream.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    with pytest.raises(XMPPError, match="TLS handshake"):
        stream.receive_data(b"<x/>")


def test_direct_tls_skips_starttls():
    stream = new_stream(tls="direct", channel_binding=lambda t: None)
    assert b'from="alice@example.org"' in stream.data_to_send()
    stream.receive_data(HEADER + sasl_features("PLAIN"))
    assert b"mechanism='PLAIN'" in stream.data_to_send()


def test_disabled_tls_is_plain_text_only_when_asked():
    stream = new_stream(tls="disabled")
    stream.receive_data(HEADER + sasl_features("PLAIN"))
    assert b"mechanism='PLAIN'" in stream.data_to_send()
    assert not stream.secure


def test_sasl_failure_raises_with_the_condition():
    stream = new_stream()
    to_tls(stream)
    stream.receive_data(HEADER + sasl_features("PLAIN"))
    with pytest.raises(AuthenticationError) as info:
        stream.receive_data(
            b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>"
            b"<text>wrong password</text></failure>"
        )
    assert info.value.condition == "not-authorized"
    assert info.value.text == "wrong password"
    assert stream.data_to_send().endswith(b"</stream:stream>")


def test_no_common_mechanism():
    stream = new_stream()
    to_tls(stream)
    with pytest.raises(AuthenticationError):
        stream.receive_data(HEADER + sasl_features("X-OAUTH2", "DIGEST-MD5"))


def test_invalid_base64_in_a_challenge():
    stream = new_stream()
    to_tls(stream)
    stream.receive_data(HEADER + sasl_features("SCRAM-SHA-1"))
    stream.data_to_send()
    with pytest.raises(AuthenticationError, match="base64"):
        stream.receive_data(b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>@@@</challenge>")


class ScramServer:
    """Just enough of a SCRAM-SHA-1 server to drive the client through a real exchange."""

    def __init__(self, password: str, salt: bytes = b"salt-1234", iterations: int = 4096):
        self.salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations)
        self.salt, self.iterations = salt, iterations

    def first(self, auth: bytes) -> bytes:
        payload = base64.b64decode(re.search(rb">([^<]+)</auth>", auth).group(1)).decode()
        self.gs2, _, self.client_first_bare = payload.partition(",,")[0] + ",,", None, None
        self.client_first_bare = payload[len(self.gs2) :]
        nonce = dict(kv.split("=", 1) for kv in self.client_first_bare.split(","))["r"]
        self.nonce = nonce + "server-nonce"
        salt = base64.b64encode(self.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.iterations}"
        return self.server_first.encode()

    def final(self, response: bytes, *, tamper: bool = False) -> bytes:
        payload = base64.b64decode(re.search(rb">([^<]+)</response>", response).group(1))
        without_proof = payload.decode().rsplit(",p=", 1)[0]
        message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        server_key = hmac.new(self.salted, b"Server Key", "sha1").digest()
        signature = hmac.new(server_key, message, "sha1").digest()
        if tamper:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return b"v=" + base64.b64encode(signature)


@pytest.mark.parametrize("tamper", [False, True])
def test_scram_exchange_checks_the_server_signature(tamper):
    stream = new_stream()
    to_tls(stream)
    stream.receive_data(HEADER + sasl_features("SCRAM-SHA-1", "PLAIN"))
    server = ScramServer("secret")
    challenge = base64.b64encode(server.first(stream.data_to_send()))
    stream.receive_data(
        b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + challenge + b"</challenge>"
    )
    final = base64.b64encode(server.final(stream.data_to_send(), tamper=tamper))
    success = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + final + b"</success>"
    if tamper:
        with pytest.raises(AuthenticationError):
            stream.receive_data(success)
        assert not stream.authenticated
    else:
        assert stream.receive_data(success) == [Authenticated("SCRAM-SHA-1", True)]


def test_a_parser_fault_is_reported_to_the_server_and_keeps_earlier_stanzas():
    stream = new_stream()
    login(stream)
    with pytest.raises(StreamError) as info:
        stream.receive_data(b"<message><body>kept</body></message><presence><</presence>")
    assert info.value.condition == "not-well-formed" and not info.value.by_peer
    assert [el.findtext("{jabber:client}body") for el in info.value.events] == ["kept"]
    sent = stream.data_to_send()
    assert b"<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in sent
    assert sent.endswith(b"</stream:stream>")


def test_a_stream_error_from_the_server():
    stream = new_stream()
    login(stream)
    with pytest.raises(StreamError) as info:
        stream.receive_data(
            b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>replaced</text></stream:error>"
        )
    assert info.value.by_peer and info.value.condition == "conflict"
    assert info.value.text == "replaced"
    assert stream.data_to_send() == b"</stream:stream>"


def test_see_other_host_names_the_host():
    stream = new_stream()
    with pytest.raises(StreamError) as info:
        stream.receive_data(
            HEADER + b"<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
            b"[2001:db8::1]:5223</see-other-host></stream:error>"
        )
    assert info.value.condition == "see-other-host"
    assert info.value.other_host == "[2001:db8::1]:5223"


def test_an_unknown_stream_error_condition_is_undefined_condition():
    stream = new_stream()
    with pytest.raises(StreamError) as info:
        stream.receive_data(
            HEADER + b"<stream:error><made-up xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            b"</stream:error>"
        )
    assert info.value.condition == "undefined-condition"


def test_old_servers_and_foreign_namespaces_are_refused():
    with pytest.raises(StreamError) as info:
        new_stream().receive_data(HEADER.replace(b" version='1.0'>", b" version='0.9'>"))
    assert info.value.condition == "unsupported-version"
    with pytest.raises(StreamError) as info:
        new_stream().receive_data(HEADER.replace(b" version='1.0'>", b">"))
    assert info.value.condition == "unsupported-version"
    with pytest.raises(StreamError) as info:
        new_stream().receive_data(HEADER.replace(b"jabber:client", b"jabber:server"))
    assert info.value.condition == "invalid-namespace"


def test_unexpected_elements_during_negotiation():
    stream = new_stream()
    with pytest.raises(StreamError) as info:
        stream.receive_data(HEADER + b"<message><body>too early</body></message>")
    assert info.value.condition == "not-authorized"


def test_binding_refused_is_a_stanza_error():
    stream = new_stream()
    sent = to_bind(stream, BIND_FEATURES)
    with pytest.raises(StanzaError) as info:
        stream.receive_data(
            f"<iq type='error' id='{pending_id(sent)}'><error type='cancel'>"
            "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>".encode()
        )
    assert info.value.condition == "conflict" and info.value.type == "cancel"


@pytest.mark.parametrize(
    "jid", ["mallory@example.org/laptop", "alice@evil.example/laptop", "alice@example.org", "@@"]
)
def test_a_bound_jid_that_is_not_ours_is_refused(jid):
    stream = new_stream()
    sent = to_bind(stream, BIND_FEATURES_OPTIONAL_SESSION)
    with pytest.raises(XMPPError):
        stream.receive_data(bind_result(sent, jid))


def test_anonymous_login_accepts_the_assigned_localpart():
    stream = ClientStream(
        JID("example.org"), Credentials(), tls="direct", parser_factory=StreamParserPy
    )
    stream.data_to_send()
    stream.receive_data(HEADER + sasl_features("ANONYMOUS"))
    assert b"mechanism='ANONYMOUS'" in stream.data_to_send()
    stream.receive_data(SUCCESS)
    stream.data_to_send()
    stream.receive_data(HEADER + BIND_FEATURES_OPTIONAL_SESSION)
    events = stream.receive_data(bind_result(stream.data_to_send(), "x7f3@example.org/r1"))
    assert events[0].jid == JID("x7f3@example.org/r1")


def test_split_input_gives_the_same_events():
    """The server's bytes one at a time give the same session as whole reads."""
    stream = new_stream()
    to_tls(stream)
    stream.data_to_send()
    data = HEADER + sasl_features("PLAIN")
    for i in range(len(data)):
        assert stream.receive_data(data[i : i + 1]) == []
    assert b"mechanism='PLAIN'" in stream.data_to_send()


def test_parse_stanza_error():
    stanza = Element("{jabber:client}iq", {"type": "error"})
    error = Element("{jabber:client}error", {"type": "auth"})
    error.append(Element("{urn:ietf:params:xml:ns:xmpp-stanzas}forbidden"))
    text = Element("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
    text.text = "no"
    error.append(text)
    stanza.append(error)
    exc = parse_stanza_error(stanza)
    assert (exc.condition, exc.type, exc.text, exc.stanza) == ("forbidden", "auth", "no", stanza)
    assert parse_stanza_error(Element("{jabber:client}iq")).condition == "undefined-condition"


def test_bad_arguments():
    with pytest.raises(ValueError):
        new_stream(tls="maybe")
    stream = new_stream()
    with pytest.raises(XMPPError):
        stream.tls_established(None)
    with pytest.raises(XMPPError):
        stream.send(Element("{jabber:client}message"))
