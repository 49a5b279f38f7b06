"""The non-element items a stream parser emits: the stream header and the stream's end."""

from __future__ import annotations

from typing import Any


class StreamOpen:
    """The stream header (``<stream:stream ...>``): its attributes and namespace declarations.

    ``attrib`` uses Clark names for namespaced attributes (``xml:lang`` is
    ``{http://www.w3.org/XML/1998/namespace}lang``); ``namespaces`` maps each prefix declared on
    the header to its URI, with ``""`` for the default namespace.
    """

    __slots__ = ("attrib", "namespaces")

    def __init__(self, attrib: dict[str, str], namespaces: dict[str, str]) -> None:
        self.attrib = attrib
        self.namespaces = namespaces

    @property
    def default_namespace(self) -> str | None:
        """The content namespace the header declares (``jabber:client`` on a c2s stream)."""
        return self.namespaces.get("")

    def get(self, key: str, default: Any = None) -> Any:
        """The value of header attribute ``key``, or ``default``."""
        return self.attrib.get(key, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamOpen):
            return NotImplemented
        return self.attrib == other.attrib and self.namespaces == other.namespaces

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StreamOpen(attrib={self.attrib!r}, namespaces={self.namespaces!r})"


class StreamClose:
    """The peer's ``</stream:stream>``: it will send nothing more on this stream."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamClose) or NotImplemented

    def __hash__(self) -> int:
        return hash(StreamClose)

    def __repr__(self) -> str:
        return "StreamClose()"
