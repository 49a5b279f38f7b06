"""Quick measurements for ``fastxmpp bench``: this machine's parser, serializer and server rate.

These are a first look, not the project's benchmarks: ``make bench`` (``fastxmpp bench
--full`` in a source checkout) runs the pytest-benchmark suite beside pyexpat, ElementTree,
slixmpp and aioxmpp. Every run here checks its own result (each stanza seen, each message
arrived), so a fast wrong answer cannot pass for a fast right one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import fastxmpp
from fastxmpp.xml import StreamOpen, StreamParser, StreamParserPy, message, tostring

__all__ = ["quick_benchmarks", "server_roundtrip", "stream_bytes"]

Update = Callable[[int], object]
_HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='b1' version='1.0'>"
)
_STANZAS = (
    b"<message from='juliet@example.org/balcony' to='romeo@example.org/orchard' type='chat'"
    b" id='m%d'><body>Art thou not Romeo, and a Montague? %d</body>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    b"<presence from='nurse@example.org/kitchen' to='romeo@example.org/orchard'>"
    b"<show>away</show><status>making tea %d</status><c xmlns='http://jabber.org/protocol/caps'"
    b" hash='sha-1' node='https://example.org/client' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
    b"</presence>",
    b"<iq from='example.org' to='romeo@example.org/orchard' type='result' id='i%d'/>",
)
_CHUNK = 4096


def stream_bytes(count: int) -> bytes:
    """A c2s stream of ``count`` stanzas: 40% chat messages, 40% presences, 20% IQ results."""
    parts = [_HEADER]
    for n in range(count):
        template = _STANZAS[0 if n % 5 < 2 else 1 if n % 5 < 4 else 2]
        parts.append(template.replace(b"%d", str(n).encode()))
    return b"".join(parts)


def _parse_run(parser_class: type, count: int) -> Callable[[Update], float]:
    data = stream_bytes(count)
    chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)]
    body_tag = "{jabber:client}body"
    message_tag = "{jabber:client}message"

    def run(update: Update) -> float:
        parser = parser_class()
        seen = bodies = 0
        start = time.perf_counter()
        for n, chunk in enumerate(chunks):
            for item in parser.feed(chunk):
                if isinstance(item, StreamOpen):
                    continue
                seen += item.get("from") is not None
                if item.tag == message_tag:
                    bodies += item.findtext(body_tag) is not None
            if n % 64 == 0:
                update(seen)
        took = time.perf_counter() - start
        update(seen)
        if seen != count or bodies != (count // 5) * 2 + min(count % 5, 2):
            raise AssertionError(f"the parser saw {seen} of {count} stanzas")
        return count / took

    return run


def _serialize_run(count: int) -> Callable[[Update], float]:
    def run(update: Update) -> float:
        total = 0
        start = time.perf_counter()
        for n in range(count):
            stanza = message("romeo@example.org", "But soft, what light", type="chat", id=str(n))
            total += len(tostring(stanza, default_namespace="jabber:client"))
            if n % 1024 == 0:
                update(n)
        took = time.perf_counter() - start
        update(count)
        if total < count * 60:
            raise AssertionError("the serializer wrote less than a message each time")
        return count / took

    return run


def quick_benchmarks(count: int) -> list[tuple[str, Callable[[Update], float]]]:
    """The quick benchmarks as (name, run): ``run(update)`` returns items per second."""
    runs = [("parse, StreamParser", _parse_run(StreamParser, count))]
    if fastxmpp.EXTENSIONS:
        runs.append(("parse, pure Python", _parse_run(StreamParserPy, count)))
    runs.append(("serialize chat message", _serialize_run(count)))
    return runs


def server_roundtrip(count: int, update: Update) -> float:
    """Messages per second from one account to another through a throwaway local Prosody."""
    import threading

    from fastxmpp.connection import Connection
    from fastxmpp.testing import ProsodyServer

    with ProsodyServer(accounts={"sender": "sender-pw", "receiver": "receiver-pw"}) as server:
        options: dict[str, Any] = {
            "host": server.host,
            "port": server.c2s_port,
            "ca_file": server.ca_file,
        }
        got = 0
        all_in = threading.Event()

        def arrived(_: object) -> None:
            nonlocal got
            got += 1
            if got % 256 == 0:
                update(got)
            if got == count:
                all_in.set()

        receiver = Connection(server.jid("receiver"), "receiver-pw", **options)
        receiver.on("message", arrived)
        with receiver.connect(), Connection(server.jid("sender"), "sender-pw", **options) as sender:
            target = receiver.jid
            assert target is not None  # bound: connect() returned
            start = time.perf_counter()
            for n in range(count):
                sender.send_message(target, f"message {n}")
            if not all_in.wait(max(60.0, count / 1000)):
                raise fastxmpp.Timeout(f"only {got} of {count} messages arrived")
            took = time.perf_counter() - start
        update(count)
        return count / took
