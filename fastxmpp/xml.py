"""The XML layer: stanza elements, the builder, the serializer and the stream parsers.

Everything here has a compiled and a pure-Python implementation with the same behaviour; the
compiled one is used when it was built (``fastxmpp.EXTENSIONS`` tells), and
``FASTXMPP_NO_EXTENSIONS=1`` forces pure Python.

- :class:`Element`, :func:`E`, :class:`ElementMaker`: the stanza tree and its builder;
  :func:`message`, :func:`presence`, :func:`iq`: the three stanzas, built in one call.
- :func:`tostring`, :class:`StreamWriter`: UTF-8 output with default-namespace inheritance.
- :data:`StreamParser` (the best available), :class:`StreamParserPy`, :data:`StreamParserC`:
  ``feed(bytes)`` returns :class:`StreamOpen`, one :class:`Element` per stanza and
  :class:`StreamClose`;
  a broken stream raises :class:`fastxmpp.StreamError` with the RFC 6120 condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastxmpp import _impl
from fastxmpp._events import StreamClose, StreamOpen
from fastxmpp._limits import DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_STANZA_SIZE
from fastxmpp._parser_py import StreamParserPy
from fastxmpp._xmlcore import STREAM_NS, XML_NS, XMLNS_NS

__all__ = [
    "Element",
    "E",
    "ElementMaker",
    "message",
    "presence",
    "iq",
    "tostring",
    "escape_text",
    "escape_attr",
    "StreamWriter",
    "StreamParser",
    "StreamParserPy",
    "StreamParserC",
    "StreamOpen",
    "StreamClose",
    "STREAM_NS",
    "XML_NS",
    "XMLNS_NS",
    "DEFAULT_MAX_STANZA_SIZE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ATTRIBUTES",
]

if TYPE_CHECKING:  # type checkers read the pure module: the compiled one has the same API
    from fastxmpp._xmlcore import (
        E,
        Element,
        ElementMaker,
        escape_attr,
        escape_text,
        iq,
        message,
        presence,
        tostring,
    )
else:
    Element = _impl.core.Element
    E = _impl.core.E
    ElementMaker = _impl.core.ElementMaker
    message = _impl.core.message
    presence = _impl.core.presence
    iq = _impl.core.iq
    tostring = _impl.tostring
    escape_text = _impl.core.escape_text
    escape_attr = _impl.core.escape_attr

#: The compiled parser, or None when the extension is not built or is switched off.
StreamParserC: type | None = _impl.StreamParserC
#: The fastest parser available: StreamParserC when built, else StreamParserPy.
StreamParser: type = StreamParserC if StreamParserC is not None else StreamParserPy


class StreamWriter:
    """Serializes one XML stream: the header, stanzas in the stream's namespace, the footer."""

    def __init__(self, namespace: str = "jabber:client") -> None:
        self.namespace = namespace

    def header(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        id: str | None = None,
        lang: str | None = None,
        version: str = "1.0",
    ) -> bytes:
        """The XML declaration and the opening ``<stream:stream>`` tag."""
        parts = [
            "<?xml version='1.0'?><stream:stream xmlns=\"",
            escape_attr(self.namespace, "xmlns"),
            '" xmlns:stream="http://etherx.jabber.org/streams"',
        ]
        for name, value in (("to", to), ("from", from_), ("id", id), ("version", version)):
            if value is not None:
                parts.append(f' {name}="{escape_attr(value, name)}"')
        if lang is not None:
            parts.append(f' xml:lang="{escape_attr(lang, "xml:lang")}"')
        parts.append(">")
        return "".join(parts).encode("utf-8")

    def stanza(self, element: Element) -> bytes:
        """One first-level element, inheriting the stream's default namespace."""
        return tostring(element, default_namespace=self.namespace)

    def footer(self) -> bytes:
        """The closing ``</stream:stream>`` tag."""
        return b"</stream:stream>"
