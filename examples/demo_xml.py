"""fastxmpp's XML layer at work: build stanzas, write a stream, read it back, refuse bad input.

Run with ``make demo`` (or ``python examples/demo_xml.py`` once fastxmpp is installed). It uses
only the public API and finishes on its own in a few seconds.
"""

from __future__ import annotations

import time

import fastxmpp
from fastxmpp.xml import (
    E,
    StreamParser,
    StreamParserC,
    StreamParserPy,
    StreamWriter,
    message,
    tostring,
)

ACTIVE = "{http://jabber.org/protocol/chatstates}active"  # a Clark name: {namespace}local


def chat(n: int):
    """A chat message as a client would send it: the stanza builder, plus a chat state."""
    msg = message(
        "romeo@montague.lit/orchard",
        f"message {n}: caf\u00e9 & <friends> \U0001f600",
        id=f"m{n}",
        from_="juliet@capulet.lit/balcony",
    )
    msg.append(E(ACTIVE))
    return msg


def main() -> None:
    print(f"fastxmpp {fastxmpp.__version__}: compiled extension in use: {fastxmpp.EXTENSIONS}")
    writer = StreamWriter("jabber:client")

    # 1. Build and serialize: default-namespace inheritance, escaping, UTF-8.
    first = chat(1)
    print("\nA stanza as it goes on the wire:\n ", writer.stanza(first).decode())
    print("The same element standalone:\n ", tostring(first).decode())

    # 2. A whole stream, read back one byte at a time and in one piece: same stanzas.
    count = 20000
    stream = writer.header(to="capulet.lit", from_="montague.lit", id="s1", lang="en")
    stream += b"".join(writer.stanza(chat(i)) for i in range(count)) + writer.footer()
    small = stream[:2000]
    parser = StreamParser()
    one_by_one = [item for i in range(len(small)) for item in parser.feed(small[i : i + 1])]
    at_once = StreamParser().feed(small)
    same = [repr(x) if not hasattr(x, "tag") else tostring(x) for x in one_by_one] == [
        repr(x) if not hasattr(x, "tag") else tostring(x) for x in at_once
    ]
    print(f"\nFirst 2000 bytes fed one byte at a time give the same items as one feed: {same}")
    header = at_once[0]
    print(f"Stream header: to={header.get('to')!r} default namespace={header.default_namespace!r}")
    message = at_once[1]
    print(
        f"First stanza: {message.tag} from {message.get('from')!r}, "
        f"body {message.findtext('{jabber:client}body')!r}"
    )

    # 3. Speed, on this machine, in 4 KiB reads.
    chunks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    for name, cls in (("compiled", StreamParserC), ("pure Python", StreamParserPy)):
        if cls is None:
            print(f"{name:>12}: not built")
            continue
        p = cls()
        seen = 0
        start = time.perf_counter()
        for chunk in chunks:
            for item in p.feed(chunk):
                if hasattr(item, "tag"):
                    item.get("from")
                    item.findtext("{jabber:client}body")
                    seen += 1
        elapsed = time.perf_counter() - start
        print(f"{name:>12}: {seen} stanzas parsed, {seen / elapsed:,.0f} stanzas/s")
    start = time.perf_counter()
    for i in range(count):
        writer.stanza(chat(i))
    print(
        f"  serializer: {count / (time.perf_counter() - start):,.0f} messages/s built and written"
    )

    # 4. Hostile input: a clear stream-error condition, and the stanza before the fault kept.
    print("\nHostile input is refused with the RFC 6120 condition:")
    head = writer.header(to="capulet.lit")
    good = writer.stanza(chat(0))
    for label, bad in (
        ("invalid UTF-8 (overlong '/')", b"<message><body>\xc0\xaf</body></message>"),
        ("a comment", b"<!-- hello -->"),
        ("an entity reference", b"<message><body>&xxe;</body></message>"),
        ("an unbound prefix", b"<x:message/>"),
        ("a nested stream", b"<stream:stream/>"),
    ):
        try:
            StreamParser().feed(head + good + bad)
        except fastxmpp.StreamError as err:
            kept = sum(1 for item in err.events if hasattr(item, "tag"))
            print(f"  {label:<30} -> {err.condition:<22} ({kept} good stanza kept)")
    deep = b"<a>" * 1000
    try:
        StreamParser(max_depth=64).feed(head + deep)
    except fastxmpp.StreamError as err:
        print(f"  {'1000 nested elements':<30} -> {err.condition}")


if __name__ == "__main__":
    main()
