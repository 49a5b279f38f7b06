"""A scripted XMPP server peer on loopback: plain text, PLAIN auth, then whatever a test wants.

Real servers cannot be told to misbehave, to redirect, or to push stanzas as fast as a socket
takes them; this peer can. It speaks just enough RFC 6120 for a client with ``tls="disabled"``
to log in (any password unless ``password`` is set), then hands the socket to ``session``.
Re-exported as :class:`fastxmpp.testing.ScriptedServer`.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fastxmpp.xml import Element, StreamClose, StreamOpen, StreamParserPy, StreamWriter

__all__ = ["ScriptedServer", "ClientLink"]

_SASL = (
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
)
_BIND = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"


class ClientLink:
    """One client connection as the scripted server sees it: read elements, send bytes."""

    def __init__(self, sock: socket.socket, domain: str) -> None:
        self.sock = sock
        self.domain = domain
        self.parser = StreamParserPy()
        self._items: list[Any] = []
        self.jid: str | None = None

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def next(self) -> Any:
        """The next item from the client (StreamOpen, Element, StreamClose); None at EOF."""
        while not self._items:
            data = self.sock.recv(65536)
            if not data:
                return None
            self._items.extend(self.parser.feed(data))
        return self._items.pop(0)

    def stanzas(self) -> Iterator[Any]:
        """The client's items until it closes the stream; its close is answered, as servers do."""
        while (item := self.next()) is not None:
            if isinstance(item, StreamClose):
                self.send("</stream:stream>")
                return
            yield item

    def until_closed(self) -> None:
        """Ignore what the client sends until it closes the stream, then answer its close."""
        for _ in self.stanzas():
            pass

    def expect(self, kind: type, tag: str | None = None) -> Any:
        item = self.next()
        if not isinstance(item, kind) or (tag is not None and getattr(item, "tag", None) != tag):
            raise AssertionError(f"expected {kind.__name__} {tag or ''}, got {item!r}")
        return item

    def login(self, password: str | None = None, resource: str = "scripted") -> str:
        """Run the server side of a plain-text login; returns the bound full JID."""
        self.expect(StreamOpen)
        self.send(StreamWriter().header(from_=self.domain, id="s1") + _SASL.encode())
        auth = self.expect(Element, "{urn:ietf:params:xml:ns:xmpp-sasl}auth")
        _, user, given = base64.b64decode(auth.text or "").split(b"\0")
        if password is not None and given.decode() != password:
            self.send(
                "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
            )
            raise AssertionError("wrong password")
        self.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        self.parser = StreamParserPy()
        self.expect(StreamOpen)
        self.send(StreamWriter().header(from_=self.domain, id="s2") + _BIND.encode())
        bind = self.expect(Element, "{jabber:client}iq")
        self.jid = f"{user.decode()}@{self.domain}/{resource}"
        self.send(
            f"<iq type='result' id='{bind.get('id')}'><bind xmlns='urn:ietf:params:xml:"
            f"ns:xmpp-bind'><jid>{self.jid}</jid></bind></iq>"
        )
        return self.jid

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class ScriptedServer:
    """Listens on 127.0.0.1; runs ``script(link)`` in a thread for each client that connects.

    ``with ScriptedServer(script) as server: connect(..., host=server.host, port=server.port,
    tls="disabled")``. An exception in a script is kept in :attr:`errors`.
    """

    host = "127.0.0.1"

    def __init__(self, script: Callable[[ClientLink], Any], *, domain: str = "localhost") -> None:
        self.script = script
        self.domain = domain
        self.listener = socket.create_server((self.host, 0))
        self.port: int = self.listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._acceptor = threading.Thread(target=self._accept, name="scripted-server", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            link = ClientLink(sock, self.domain)
            thread = threading.Thread(target=self._run, args=(link,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, link: ClientLink) -> None:
        try:
            self.script(link)
        except (OSError, AssertionError) as exc:
            self.errors.append(exc)
        finally:
            link.close()

    def close(self) -> None:
        self._stopped = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
