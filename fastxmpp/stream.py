"""The RFC 6120 client stream as a state machine, with no I/O: bytes in, bytes and events out.

:class:`ClientStream` knows the order of a client session: stream header, features, STARTTLS,
SASL, stream restart, resource binding, the legacy session where a server asks for it, then
stanzas until one side closes. It never touches a socket, a thread or a clock; whoever owns the
socket (:mod:`fastxmpp.connection`, or a test) drives it::

    stream = ClientStream(jid, Credentials(username, password), tls="starttls")
    send(stream.data_to_send())                 # our stream header
    for item in stream.receive_data(recv()):    # events, then stanzas (Elements) once ready
        if isinstance(item, StartTLS):          # do the TLS handshake on the socket, then
            stream.tls_established(binding)     # ... a restarted stream header is queued
    send(stream.data_to_send())

Problems raise: :class:`~fastxmpp.StreamError` (``by_peer`` tells whether the server sent it or
we found it; when we found it, our ``<stream:error/>`` is already queued for sending),
:class:`~fastxmpp.AuthenticationError`, :class:`~fastxmpp.TLSError` (a server without
STARTTLS when TLS is required) and :class:`~fastxmpp.StanzaError` (binding refused). After any of
them the stream is finished: flush :meth:`ClientStream.data_to_send` and close the socket.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from fastxmpp._impl import dispatch as _dispatch
from fastxmpp.errors import (
    AuthenticationError,
    StanzaError,
    StreamError,
    TLSError,
    XMPPError,
)
from fastxmpp.jid import JID, InvalidJID
from fastxmpp.sasl import (
    Credentials,
    Mechanism,
    decode_payload,
    encode_payload,
    select_mechanism,
)
from fastxmpp.xml import (
    Element,
    StreamClose,
    StreamOpen,
    StreamParser,
    StreamWriter,
    escape_text,
    tostring,
)

__all__ = [
    "Authenticated",
    "ClientStream",
    "SessionReady",
    "StartTLS",
    "StreamClosed",
    "TLSMode",
    "parse_stanza_error",
]

CLIENT_NS = "jabber:client"
STREAMS_NS = "http://etherx.jabber.org/streams"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
SESSION_NS = "urn:ietf:params:xml:ns:xmpp-session"
SASL_CB_NS = "urn:xmpp:sasl-cb:0"

FEATURES = f"{{{STREAMS_NS}}}features"
STREAM_ERROR = f"{{{STREAMS_NS}}}error"
_stanzas_only = _dispatch.stanzas_only  # compiled when the extensions are built
IQ = f"{{{CLIENT_NS}}}iq"

#: How the stream gets TLS: ``"starttls"`` negotiates it in the stream (RFC 6120 section 5),
#: ``"direct"`` means the socket is already TLS (XEP-0368), ``"disabled"`` is plain text: only
#: for a caller that asked for it explicitly.
TLSMode = Literal["starttls", "direct", "disabled"]


@dataclass(frozen=True)
class StartTLS:
    """The server said ``<proceed/>``: do the TLS handshake now, then call ``tls_established``.

    Nothing read from the socket before the handshake may be used afterwards; the stream has
    already dropped it.
    """


@dataclass(frozen=True)
class Authenticated:
    """SASL succeeded with ``mechanism``; ``server_verified`` when the server proved itself."""

    mechanism: str
    server_verified: bool


@dataclass(frozen=True)
class SessionReady:
    """The resource is bound: stanzas may flow. ``features`` are the post-SASL stream features."""

    jid: JID
    features: Element = field(repr=False)


@dataclass(frozen=True)
class StreamClosed:
    """The stream is over: both sides sent ``</stream:stream>`` (or the peer did first)."""

    by_peer: bool


# states
_HEADER, _FEATURES, _STARTTLS, _TLS, _SASL, _BIND, _SESSION, _READY, _CLOSING, _CLOSED = range(10)


def parse_stanza_error(stanza: Element, cls: type[StanzaError] = StanzaError) -> StanzaError:
    """The :class:`StanzaError` that an ``type='error'`` stanza carries (RFC 6120 8.3)."""
    error = stanza.find(f"{{{CLIENT_NS}}}error")
    if error is None:
        return cls("undefined-condition", "cancel", "error stanza without <error/>", stanza=stanza)
    condition, text = "undefined-condition", None
    for child in error:
        if child.tag == f"{{{STANZA_ERRORS_NS}}}text":
            text = child.text
        elif child.tag.startswith(f"{{{STANZA_ERRORS_NS}}}") and condition == "undefined-condition":
            condition = child.tag[len(STANZA_ERRORS_NS) + 2 :]
    return cls(condition, error.get("type") or "cancel", text, stanza=stanza)


def _stream_error(element: Element) -> StreamError:
    """The :class:`StreamError` a received ``<stream:error/>`` stands for."""
    condition, text, other_host = "undefined-condition", None, None
    prefix = f"{{{STREAM_ERRORS_NS}}}"
    for child in element:
        if not child.tag.startswith(prefix):
            continue
        name = child.tag[len(prefix) :]
        if name == "text":
            text = child.text
        elif condition == "undefined-condition":
            try:
                StreamError(name)
            except ValueError:  # an unknown condition: keep undefined-condition
                continue
            condition = name
            if name == "see-other-host":
                other_host = (child.text or "").strip() or None
    return StreamError(condition, text, by_peer=True, other_host=other_host)


class ClientStream:
    """One client-to-server XML stream, from the first header to ``</stream:stream>``.

    ``jid`` is the account (its resource, if any, is the one asked for when binding);
    ``credentials`` go to SASL. ``tls`` says how TLS is obtained (:data:`TLSMode`);
    ``channel_binding`` is needed with ``tls="direct"`` for the SCRAM ``-PLUS`` mechanisms
    (with ``"starttls"`` it comes with :meth:`tls_established`). ``mechanisms`` limits the SASL
    mechanisms that may be used.
    """

    def __init__(
        self,
        jid: JID,
        credentials: Credentials,
        *,
        tls: TLSMode = "starttls",
        channel_binding: Callable[[str], bytes | None] | None = None,
        mechanisms: Collection[str] | None = None,
        lang: str | None = "en",
        parser_factory: Callable[[], Any] = StreamParser,
    ) -> None:
        if tls not in ("starttls", "direct", "disabled"):
            raise ValueError(f"tls must be 'starttls', 'direct' or 'disabled', not {tls!r}")
        self.jid = jid
        self.credentials = credentials
        self.tls_mode: TLSMode = tls
        self.lang = lang
        self.mechanisms = mechanisms
        #: True once the stream runs over TLS (direct, or after STARTTLS).
        self.secure = tls == "direct"
        self.authenticated = False
        #: The server's stream header of the current stream (after each restart: the new one).
        self.stream_header: StreamOpen | None = None
        #: The latest ``<stream:features/>``; after the session is ready, the post-SASL ones.
        self.features: Element | None = None
        #: The bound full JID, once bound.
        self.bound_jid: JID | None = None
        self._channel_binding = channel_binding
        self._parser_factory = parser_factory
        self._parser = parser_factory()
        self._writer = StreamWriter(CLIENT_NS)
        self._out: list[bytes] = []
        self._state = _HEADER
        self._mechanism: Mechanism | None = None
        self._pending_id: str | None = None
        self._sent_close = False
        self._send_header()

    # -- driving the stream ----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True between :class:`SessionReady` and the start of closing: stanzas may be sent."""
        return self._state == _READY

    @property
    def closed(self) -> bool:
        """True once the stream is over (closed by either side, or failed)."""
        return self._state == _CLOSED

    def data_to_send(self) -> bytes:
        """Everything queued for the server since the last call (``b""`` if nothing)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def receive_data(self, data: bytes) -> list[Any]:
        """Feed bytes from the server; returns events and, once ready, stanzas (Elements).

        On a fault this raises (see the module docstring); a :class:`StreamError` carries in
        ``events`` whatever this call produced before the fault, so nothing is lost.
        """
        if self._state == _CLOSED:
            if not data:
                return []
            raise XMPPError("the stream is closed: no more data can be received on it")
        if self._state == _TLS:
            raise XMPPError("bytes received while waiting for the TLS handshake")
        out: list[Any] = []
        parser = self._parser
        try:
            items = parser.feed(data)
        except StreamError as exc:
            for item in exc.events:
                self._handle(item, out)
            self._fail_locally(exc.condition, exc.text)
            exc.events = out
            raise
        try:
            if self._state == _READY:
                # the hot path: hand the parser's list on when it is all stanzas
                if _stanzas_only(items, Element, STREAM_ERROR):
                    return items
                for item in items:
                    if isinstance(item, Element) and item.tag != STREAM_ERROR:
                        out.append(item)
                    else:
                        self._handle(item, out)
            else:
                for item in items:
                    if self._parser is not parser:  # more after <proceed/> or <success/>
                        self._fail_locally("policy-violation", None)
                        raise StreamError(
                            "policy-violation",
                            "the server went on with the old stream after it was replaced",
                        )
                    self._handle(item, out)
        except StreamError as exc:
            exc.events = out
            raise
        except XMPPError:  # a refusal (TLS, SASL, binding): end our side politely
            self._send_footer()
            self._state = _CLOSED
            raise
        return out

    def tls_established(self, channel_binding: Callable[[str], bytes | None] | None) -> None:
        """The TLS handshake after :class:`StartTLS` succeeded: restart the stream over TLS.

        ``channel_binding(type)`` returns the binding data for the SCRAM ``-PLUS`` mechanisms.
        """
        if self._state != _TLS:
            raise XMPPError("tls_established() called when no TLS handshake was due")
        self.secure = True
        self._channel_binding = channel_binding
        self._restart()

    def send(self, stanza: Element) -> None:
        """Queue a stanza (in ``jabber:client`` unless its tag says otherwise)."""
        if self._state != _READY:
            raise XMPPError("the session is not ready: stanzas cannot be sent now")
        self._out.append(tostring(stanza, default_namespace=CLIENT_NS))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes as they are (whitespace keepalives; already serialized stanzas)."""
        if self._state != _READY:
            raise XMPPError("the session is not ready: nothing can be sent now")
        self._out.append(data)

    def close(self) -> None:
        """Queue ``</stream:stream>``; the stream is closed when the server answers in kind."""
        if self._state == _CLOSED or self._sent_close:
            return
        self._send_footer()
        self._state = _CLOSING

    # -- internals -----------------------------------------------------------------------

    def _send_header(self) -> None:
        # RFC 6120 4.7.1: name ourselves ('from') only once the stream is protected.
        from_ = str(self.jid.bare) if self.secure and self.jid.local else None
        self._out.append(self._writer.header(to=self.jid.domain, from_=from_, lang=self.lang))

    def _restart(self) -> None:
        """RFC 6120 4.3.3: a new parser, a new header; everything learned before is forgotten."""
        self._parser = self._parser_factory()
        self.stream_header = None
        self.features = None
        self._state = _HEADER
        self._send_header()

    def _send_footer(self) -> None:
        """Queue our ``</stream:stream>`` unless it is already queued."""
        if not self._sent_close:
            self._out.append(self._writer.footer())
            self._sent_close = True

    def _fail_locally(self, condition: str, text: str | None) -> None:
        """We found a fault: tell the server with a stream error and end our side."""
        if self._state != _CLOSED and not self._sent_close:
            self._out.append(
                (f"<stream:error><{condition} xmlns='{STREAM_ERRORS_NS}'/></stream:error>").encode()
            )
            self._send_footer()
        self._state = _CLOSED

    def _handle(self, item: Any, out: list[Any]) -> None:
        if isinstance(item, StreamOpen):
            self._on_header(item)
        elif isinstance(item, StreamClose):
            by_peer = not self._sent_close
            self._send_footer()  # when the peer closed first, ours answers it (RFC 6120 4.4)
            self._state = _CLOSED
            out.append(StreamClosed(by_peer=by_peer))
        elif item.tag == STREAM_ERROR:
            self._state = _CLOSED
            self._send_footer()
            raise _stream_error(item)
        elif self._state in (_READY, _CLOSING):
            out.append(item)
        elif self._state == _FEATURES and item.tag == FEATURES:
            self.features = item
            self._on_features(item, out)
        elif self._state == _STARTTLS:
            self._on_starttls_answer(item, out)
        elif self._state == _SASL:
            self._on_sasl(item, out)
        elif (
            self._state in (_BIND, _SESSION)
            and item.tag == IQ
            and item.get("id") == (self._pending_id)
        ):
            self._on_iq_answer(item, out)
        elif self._state in (_BIND, _SESSION) and item.tag != FEATURES:
            out.append(item)  # a stanza before we are ready: keep it, the session will see it
        else:
            self._fail_locally("not-authorized" if not self.authenticated else "bad-format", None)
            raise StreamError(
                "not-authorized" if not self.authenticated else "bad-format",
                f"unexpected {item.tag} during stream negotiation",
            )

    def _on_header(self, header: StreamOpen) -> None:
        if self._state != _HEADER:
            self._fail_locally("bad-format", None)
            raise StreamError("bad-format", "a second stream header")
        if header.default_namespace != CLIENT_NS:
            self._fail_locally("invalid-namespace", None)
            raise StreamError(
                "invalid-namespace",
                f"the server's stream is in {header.default_namespace!r}, not {CLIENT_NS!r}",
            )
        version = header.get("version") or "0.9"
        major = version.partition(".")[0]
        if not major.isdigit() or int(major) < 1:
            self._fail_locally("unsupported-version", None)
            raise StreamError("unsupported-version", f"the server speaks XMPP {version}")
        self.stream_header = header
        self._state = _FEATURES

    def _on_features(self, features: Element, out: list[Any]) -> None:
        if not self.secure and self.tls_mode == "starttls":
            if features.find(f"{{{TLS_NS}}}starttls") is None:
                raise TLSError(
                    f"{self.jid.domain} does not offer STARTTLS; refusing to go on in plain"
                    " text (only tls='disabled', which anyone on the path can read, allows it)"
                )
            self._out.append(f"<starttls xmlns='{TLS_NS}'/>".encode())
            self._state = _STARTTLS
            return
        if not self.authenticated:
            self._start_sasl(features)
            return
        if features.find(f"{{{BIND_NS}}}bind") is None:
            self._fail_locally("unsupported-feature", None)
            raise XMPPError(f"{self.jid.domain} offers no resource binding after authentication")
        resource = self.jid.resource
        payload = f"<resource>{escape_text(resource)}</resource>" if resource else ""
        self._send_iq(f"<bind xmlns='{BIND_NS}'>{payload}</bind>")
        self._state = _BIND

    def _on_starttls_answer(self, item: Element, out: list[Any]) -> None:
        if item.tag == f"{{{TLS_NS}}}proceed":
            self._state = _TLS
            self._parser = self._parser_factory()  # nothing read in plain text survives
            out.append(StartTLS())
            return
        self._state = _CLOSED
        raise TLSError(f"{self.jid.domain} refused STARTTLS ({item.tag})")

    def _start_sasl(self, features: Element) -> None:
        mechanisms = features.find(f"{{{SASL_NS}}}mechanisms")
        offered = [] if mechanisms is None else [m.text or "" for m in mechanisms]
        cb = features.find(f"{{{SASL_CB_NS}}}sasl-channel-binding")
        cb_types = None if cb is None else [c.get("type") or "" for c in cb]
        self._mechanism = select_mechanism(
            offered,
            self.credentials,
            tls=self.secure,
            channel_binding=self._channel_binding,
            server_cb_types=cb_types,
            allowed=self.mechanisms,
            allow_plain_without_tls=self.tls_mode == "disabled",
        )
        initial = encode_payload(self._mechanism.initial_response())
        body = initial or ""  # base64: nothing to escape
        name = self._mechanism.name  # one of fastxmpp.sasl.MECHANISMS: nothing to escape
        self._out.append(f"<auth xmlns='{SASL_NS}' mechanism='{name}'>{body}</auth>".encode())
        self._state = _SASL

    def _on_sasl(self, item: Element, out: list[Any]) -> None:
        mechanism = self._mechanism
        assert mechanism is not None
        tag = item.tag
        if tag == f"{{{SASL_NS}}}challenge":
            answer = mechanism.challenge(decode_payload(item.text) or b"")
            text = base64.b64encode(answer).decode("ascii")  # empty answer: empty element
            self._out.append(f"<response xmlns='{SASL_NS}'>{text}</response>".encode())
        elif tag == f"{{{SASL_NS}}}success":
            data = decode_payload(item.text)
            mechanism.success(data)
            self.authenticated = True
            out.append(Authenticated(mechanism.name, mechanism.server_verified))
            self._restart()
        elif tag == f"{{{SASL_NS}}}failure":
            condition, text = None, None
            for child in item:
                name = child.tag.rpartition("}")[2]
                if name == "text":
                    text = child.text
                elif condition is None:
                    condition = name
            detail = f": {text}" if text else ""
            raise AuthenticationError(
                f"{self.jid.domain} refused {mechanism.name} for {self.jid.bare}"
                f" ({condition or 'no condition'}){detail}",
                condition=condition,
                text=text,
            )
        else:
            self._fail_locally("not-authorized", None)
            raise StreamError("not-authorized", f"unexpected {tag} during SASL")

    def _send_iq(self, payload: str) -> None:
        self._pending_id = "neg-" + secrets.token_hex(6)
        self._out.append(f"<iq type='set' id='{self._pending_id}'>{payload}</iq>".encode())

    def _on_iq_answer(self, item: Element, out: list[Any]) -> None:
        if item.get("type") == "error":
            error = parse_stanza_error(item)
            what = "binding a resource" if self._state == _BIND else "starting the session"
            raise StanzaError(
                error.condition,
                error.type,
                f"{what} failed: {error.text or error.condition}",
                stanza=item,
            )
        if item.get("type") != "result":
            raise StreamError("bad-format", "the answer to our IQ is neither result nor error")
        if self._state == _BIND:
            text = item.findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
            try:
                bound = JID(text or "")
            except InvalidJID as exc:
                raise XMPPError(f"the server bound an invalid JID {text!r}: {exc}") from None
            anonymous = self.jid.local is None
            if (
                bound.resource is None
                or (not anonymous and bound.bare != self.jid.bare)
                or (bound.domain != self.jid.domain)
            ):
                raise XMPPError(f"the server bound {bound}, which is not an address of {self.jid}")
            self.bound_jid = bound
            assert self.features is not None
            session = self.features.find(f"{{{SESSION_NS}}}session")
            if session is not None and session.find(f"{{{SESSION_NS}}}optional") is None:
                self._send_iq(f"<session xmlns='{SESSION_NS}'/>")
                self._state = _SESSION
                return
        self._pending_id = None
        self._state = _READY
        assert self.bound_jid is not None and self.features is not None
        out.append(SessionReady(self.bound_jid, self.features))
