"""XEP-0092 Software Version: ask an entity which software it runs, and answer the same.

``conn.version.query("example.org")`` returns a :class:`SoftwareVersion` (``name``,
``version``, ``os``; None for what the answer leaves out). A connection answers with name
"fastxmpp" and fastxmpp's version, and no operating system: the XEP notes that revealing it may
help attackers, so it is shared only on request (``conn.version.set(os=Version.detect_os())``).
A bot announces itself with ``conn.version.set(name="echo-bot", version="1.2")``.

The XEP asks clients to prefer XEP-0115 (entity capabilities) for entities that send them
presence, and to query their version only when a user asks for it.
"""

from __future__ import annotations

import dataclasses
import platform
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastxmpp.errors import ProtocolError, StanzaError
from fastxmpp.jid import JID
from fastxmpp.xep import Extension, _sender_of
from fastxmpp.xml import E, Element, iq

if TYPE_CHECKING:
    from fastxmpp.connection import Connection

__all__ = ["NS", "SoftwareVersion", "Version", "parse_version"]

NS = "jabber:iq:version"
_QUERY = f"{{{NS}}}query"


@dataclass(frozen=True, slots=True)
class SoftwareVersion:
    """An entity's software: ``name``, ``version`` and operating system ``os`` (each None
    when the answer leaves it out)."""

    name: str | None
    version: str | None
    os: str | None = None

    def to_element(self) -> Element:
        """The ``jabber:iq:version`` ``<query/>`` payload that announces this."""
        query = E(_QUERY)
        for tag, value in (("name", self.name), ("version", self.version), ("os", self.os)):
            if value is not None:
                query.append(E(f"{{{NS}}}{tag}", value))
        return query


def parse_version(stanza: Element) -> SoftwareVersion:
    """The :class:`SoftwareVersion` in a ``jabber:iq:version`` result (``<iq/>`` or ``<query/>``).

    Missing or empty ``<name/>``, ``<version/>``, ``<os/>`` become None (surrounding
    whitespace is stripped); no ``<query/>`` at all is a :class:`~fastxmpp.errors.ProtocolError`.
    """
    query = stanza if stanza.tag == _QUERY else stanza.find(_QUERY)
    if query is None:
        raise ProtocolError(
            f"the software version answer from {_sender_of(stanza)} has no <query xmlns='{NS}'/>",
            stanza=stanza,
        )

    def text(tag: str) -> str | None:
        value = (query.findtext(f"{{{NS}}}{tag}") or "").strip()
        return value or None

    return SoftwareVersion(text("name"), text("version"), text("os"))


class Version(Extension):
    """XEP-0092 on one connection (``conn.version``): :meth:`query` others, and answer for us
    with :attr:`software` (name "fastxmpp", fastxmpp's version, no ``os`` by default)."""

    name = "version"
    features = frozenset({NS})

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        import fastxmpp  # at run time: fastxmpp/__init__ is complete by now

        self._lock = threading.Lock()
        self._software = SoftwareVersion("fastxmpp", fastxmpp.__version__, None)
        self.serve_iq("get", NS, self._answer)

    # -- asking --------------------------------------------------------------------------------

    def query(self, jid: str | JID, timeout: float | None = None) -> SoftwareVersion:
        """Ask ``jid`` which software it runs; blocks for the answer.

        Raises :class:`~fastxmpp.IQError` for an error answer (``service-unavailable`` when
        the entity does not support the protocol), :class:`~fastxmpp.Timeout`,
        :class:`~fastxmpp.errors.ProtocolError` for an answer without the payload.
        """
        return self.request(_request(jid), parse_version, timeout)

    def query_async(self, jid: str | JID, timeout: float | None = None) -> Future[SoftwareVersion]:
        """:meth:`query` without waiting: a Future of the :class:`SoftwareVersion`."""
        return self.request_async(_request(jid), parse_version, timeout)

    # -- what we answer ------------------------------------------------------------------------

    @property
    def software(self) -> SoftwareVersion:
        """What we answer; assign a :class:`SoftwareVersion` or use :meth:`set`."""
        return self._software

    @software.setter
    def software(self, value: SoftwareVersion) -> None:
        if not isinstance(value, SoftwareVersion):
            raise TypeError(f"software must be a SoftwareVersion, not {value!r}")
        if not value.name or not value.version:
            raise ValueError("XEP-0092 requires a name and a version in every answer")
        self._software = value

    def set(self, **changes: str | None) -> None:
        """Change what we answer: ``name=``, ``version=``, ``os=`` (None: do not tell).

        ``set(name="echo-bot", version="1.2")``; ``set(os=Version.detect_os())`` shares the
        operating system, ``set(os=None)`` stops sharing it.
        """
        with self._lock:
            self.software = dataclasses.replace(self._software, **changes)

    @staticmethod
    def detect_os() -> str:
        """This machine's operating system and release, e.g. ``"Linux 6.1.0-18-amd64"``."""
        return " ".join(part for part in (platform.system(), platform.release()) if part)

    def _answer(self, request: Element) -> Element:  # callback thread
        if request[0].tag != _QUERY:
            raise StanzaError("bad-request", "modify", f"expected <query/>, not {request[0].tag}")
        return self._software.to_element()


def _request(jid: str | JID) -> Element:
    return iq("get", E(_QUERY), to=jid if isinstance(jid, JID) else JID(jid))
