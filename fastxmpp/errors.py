"""The exception tree: everything fastxmpp raises on purpose derives from :class:`XMPPError`.

Errors are split the way h11 splits them: :class:`StreamError` means the *peer* broke the
stream (its ``condition`` is the RFC 6120 stream-error name to report or log), while
:class:`InvalidJID` and other ``ValueError`` subclasses mean *our caller* passed something wrong.
"""

from __future__ import annotations

from typing import Any

__all__ = ["XMPPError", "StreamError", "InvalidJID", "STREAM_CONDITIONS"]

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

    def __init__(self, condition: str, text: str | None = None, *, events: list[Any] | None = None):
        if condition not in STREAM_CONDITIONS:
            raise ValueError(f"unknown stream-error condition {condition!r}")
        self.condition = condition
        self.text = text
        self.events: list[Any] = [] if events is None else events
        super().__init__(f"{condition}: {text}" if text else condition)

    def __reduce__(self) -> Any:  # keep pickling (and copying) working with keyword-only events
        return (_rebuild_stream_error, (self.condition, self.text, self.events))


def _rebuild_stream_error(condition: str, text: str | None, events: list[Any]) -> StreamError:
    return StreamError(condition, text, events=events)


class InvalidJID(XMPPError, ValueError):
    """A string is not a valid XMPP address (RFC 7622); the message says which part and why."""
