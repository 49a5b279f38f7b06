"""The exception tree: everything fastxmpp raises on purpose derives from :class:`XMPPError`.

Errors are split the way h11 splits them: :class:`StreamError` means the *peer* broke the
stream (its ``condition`` is the RFC 6120 stream-error name to report or log), while
:class:`InvalidJID` and other ``ValueError`` subclasses mean *our caller* passed something wrong.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "STREAM_CONDITIONS",
    "AuthenticationError",
    "CertificateError",
    "ConnectionFailed",
    "Disconnected",
    "IQError",
    "InvalidJID",
    "ProtocolError",
    "StanzaError",
    "StreamError",
    "TLSError",
    "Timeout",
    "XMPPError",
]

#: The defined stream-error conditions of RFC 6120, section 4.9.3.
STREAM_CONDITIONS = frozenset(
    {
        "bad-format",
        "bad-namespace-prefix",
        "conflict",
        "connection-timeout",
        "host-gone",
        "host-unknown",
        "improper-addressing",
        "internal-server-error",
        "invalid-from",
        "invalid-namespace",
        "invalid-xml",
        "not-authorized",
        "not-well-formed",
        "policy-violation",
        "remote-connection-failed",
        "reset",
        "resource-constraint",
        "restricted-xml",
        "see-other-host",
        "system-shutdown",
        "undefined-condition",
        "unsupported-encoding",
        "unsupported-feature",
        "unsupported-stanza-type",
        "unsupported-version",
    }
)


class XMPPError(Exception):
    """Base class of every error fastxmpp raises on purpose."""


class StreamError(XMPPError):
    """The XML stream is broken beyond repair; RFC 6120 section 4.9.

    ``condition`` is the stream-error condition name (``"not-well-formed"``, ...), ``text`` a
    human-readable detail. When a parser raises it, ``events`` holds the items that were
    completed *before* the fault in the same ``feed()`` call: they are valid and must still be
    processed, so that a fault never costs the stanzas that preceded it.
    """

    def __init__(
        self,
        condition: str,
        text: str | None = None,
        *,
        events: list[Any] | None = None,
        by_peer: bool = False,
        other_host: str | None = None,
    ):
        if condition not in STREAM_CONDITIONS:
            raise ValueError(f"unknown stream-error condition {condition!r}")
        self.condition = condition
        self.text = text
        self.events: list[Any] = [] if events is None else events
        #: True when the peer sent this ``<stream:error/>``; False when we found the fault.
        self.by_peer = by_peer
        #: For ``see-other-host``: the ``host``, ``host:port`` or ``[v6]:port`` to go to.
        self.other_host = other_host
        detail = f"{condition}: {text}" if text else condition
        super().__init__(f"the server ended the stream: {detail}" if by_peer else detail)

    def __reduce__(self) -> Any:  # keep pickling (and copying) working with keyword-only events
        return (
            _rebuild_stream_error,
            (self.condition, self.text, self.events, self.by_peer, self.other_host),
        )


def _rebuild_stream_error(
    condition: str,
    text: str | None,
    events: list[Any],
    by_peer: bool = False,
    other_host: str | None = None,
) -> StreamError:
    return StreamError(condition, text, events=events, by_peer=by_peer, other_host=other_host)


class InvalidJID(XMPPError, ValueError):
    """A string is not a valid XMPP address (RFC 7622); the message says which part and why."""


class ConnectionFailed(XMPPError, OSError):
    """No connection could be made: DNS gave nothing usable, or every address refused or timed out.

    ``attempts`` lists ``(host, port, error)`` for each address tried, in order.
    """

    def __init__(self, message: str, attempts: list[tuple[str, int, BaseException]] | None = None):
        super().__init__(message)
        self.attempts = [] if attempts is None else attempts


class TLSError(XMPPError):
    """TLS could not be set up: the handshake failed, or the server offered no TLS at all."""


class CertificateError(TLSError):
    """The server's certificate is not valid for the domain we connected to, or not trusted."""


class AuthenticationError(XMPPError):
    """SASL failed: a wrong password, no common mechanism, or a server that failed to prove itself.

    ``condition`` is the SASL failure condition (RFC 6120 section 6.5: ``not-authorized``,
    ``mechanism-too-weak``, ...) or ``None`` when the failure was detected locally (for
    instance a wrong SCRAM server signature); ``text`` is the server's explanation, if any.
    """

    def __init__(self, message: str, *, condition: str | None = None, text: str | None = None):
        super().__init__(message)
        self.condition = condition
        self.text = text


class StanzaError(XMPPError):
    """A stanza came back as an error (RFC 6120 section 8.3).

    ``condition`` is the defined condition (``item-not-found``, ``service-unavailable``, ...),
    ``type`` the error type (``cancel``, ``modify``, ``auth``, ``wait``, ``continue``), ``text``
    the optional explanation and ``stanza`` the error stanza itself.
    """

    def __init__(
        self,
        condition: str,
        type: str = "cancel",
        text: str | None = None,
        *,
        stanza: Any = None,
    ):
        self.condition = condition
        self.type = type
        self.text = text
        self.stanza = stanza
        detail = f"{condition} ({type})" + (f": {text}" if text else "")
        super().__init__(detail)


class IQError(StanzaError):
    """An IQ request was answered with ``type='error'``."""


class ProtocolError(XMPPError):
    """A peer's answer breaks the protocol it belongs to, e.g. an IQ result without the payload
    the XEP requires (a broken *stream* is a :class:`StreamError` instead).

    ``stanza`` is the offending stanza.
    """

    def __init__(self, message: str, *, stanza: Any = None):
        super().__init__(message)
        self.stanza = stanza


class Timeout(XMPPError, TimeoutError):
    """A blocking call ran out of time (also a built-in :class:`TimeoutError`)."""


class Disconnected(XMPPError, ConnectionError):
    """The connection is closed (or was lost) so the call cannot complete.

    ``reason`` is the exception that ended the connection, or ``None`` after a clean close.
    """

    def __init__(self, message: str, reason: BaseException | None = None):
        super().__init__(message)
        self.reason = reason
