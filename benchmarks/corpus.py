"""Deterministic corpus of typical XMPP traffic for the fastxmpp benchmarks.

What it produces: the bytes a client receives on a c2s stream after authentication - an XML
declaration, the server's ``<stream:stream>`` header, then N stanzas back to back, about
40% messages, 40% presences and 20% IQ results:

* ``<message type='chat'>`` from a contact's full JID with a ``<body>`` (English, French,
  German, Russian, Japanese, emoji, some ``&amp;``/``&lt;`` escapes), a chat state
  (``<active xmlns='http://jabber.org/protocol/chatstates'/>``) and, on some messages, a
  receipt request (XEP-0184) and an origin-id (XEP-0359);
* ``<presence>`` with ``show``/``status``/``priority``, XEP-0115 caps
  (``<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=... ver=.../>``) and on some a
  XEP-0153 avatar hash; one in ten is ``type='unavailable'``;
* ``<iq type='result'>``: a disco#info result (identity + features), a small roster result, or
  an empty result (ping / acknowledgement).

Every stanza has a ``from`` attribute; JIDs are already in canonical form (lower-case
localparts and domains, NFC), so a JID-parsing library gives back the same string.
The output only depends on ``n`` and ``seed`` (``random.Random`` with an integer seed is stable
across Python versions), and the expected counts / checksums are computed while generating, so
the benchmarks can check that a parser really saw every stanza.

``FASTXMPP_BENCH_STANZAS`` (default 50,000, about 15 MB) sets N for the benchmark run.

Run ``python benchmarks/corpus.py`` to print the corpus statistics and a few sample stanzas.
"""

from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass, field

__all__ = [
    "CHUNK_SIZE",
    "N_STANZAS",
    "OWN_JID",
    "SEED",
    "Corpus",
    "MessageSpec",
    "Tally",
    "build_stream",
    "check_stanzas",
    "generate",
    "get_corpus",
    "message_specs",
    "split_chunks",
    "stream_header",
]

#: Stanzas per benchmark round.
N_STANZAS = int(os.environ.get("FASTXMPP_BENCH_STANZAS", "50000"))
#: Size of one simulated socket read.
CHUNK_SIZE = 4096
SEED = 0x584D5050  # "XMPP"

OWN_BARE = "juliet@capulet.lit"
OWN_JID = OWN_BARE + "/balcony"
SERVER = "capulet.lit"

NS_CLIENT = "jabber:client"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_ROSTER = "jabber:iq:roster"

_LOCALPARTS = [
    "romeo",
    "mercutio",
    "benvolio",
    "tybalt",
    "nurse",
    "friar.laurence",
    "paris",
    "rosaline",
    "balthasar",
    "sampson",
    "gregory",
    "abram",
    "peter",
    "escalus",
    "alice",
    "bob",
    "carol",
    "dave",
    "eve",
    "mallory",
    "trent",
    "peggy",
    "victor",
    "zoë",
    "jürgen",
    "françois",
    "åsa",
    "søren",
    "josé",
    "noël",
    "mária",
    "дмитрий",
    "наташа",
    "たろう",
    "李雷",
    "müller-lüdenscheidt",
    "o.hara",
    "k_9",
]
_DOMAINS = [
    "montague.lit",
    "capulet.lit",
    "verona.example",
    "jabber.example.org",
    "chat.example.net",
    "xmpp.example.com",
    "im.example.de",
    "conversations.example",
]
_RESOURCES = [
    "orchard",
    "laptop",
    "phone",
    "Gajim.4Fq2",
    "Conversations.AzfX",
    "Dino.7c1b",
    "Psi+",
    "Monal-iOS.77b0",
    "Profanity.ZZ9",
    "poezio",
    "Beagle IM",
    "work-desktop",
]
_CLIENT_NODES = [
    "https://gajim.org",
    "http://conversations.im",
    "https://dino.im",
    "https://psi-plus.com",
    "https://monal-im.org",
    "http://profanity-im.github.io",
    "https://poez.io",
    "https://beagle.im",
]
_PHRASES = [
    "Hi!",
    "How are you?",
    "See you tonight at 8 :)",
    "Did you read the spec?",
    "Wherefore art thou Romeo?",
    "I'll be there in 5 minutes.",
    "ok",
    "Thanks a lot!",
    "The build is green again \u2705",
    "Can you review my patch?",
    "lol",
    "brb",
    "Bonjour, ça va ? On se voit à la crêpe-rie ?",
    "Très bien, merci !",
    "Schöne Grüße aus München, die Brötchen sind fertig.",
    "Größe: 4 KiB, Maß halten.",
    "Привет! Как дела?",
    "Всё хорошо, спасибо.",
    "こんにちは、元気ですか？",
    "了解です！",
    "你好，明天见。",
    "\U0001f602\U0001f602\U0001f602",
    "\U0001f389 Happy birthday! \U0001f382",
    "if (a < b && c > d) return;",
    "Tom & Jerry",
    "x<y & y>z",
    "\"quoted\" and 'single'",
    "https://example.org/some/long/path?query=1&other=2#fragment",
    (
        "A somewhat longer message that goes on for a while, as people sometimes do when they "
        "explain something in detail in a chat instead of writing an e-mail."
    ),
]
_STATUSES = [
    "Available",
    "Busy, ping me later",
    "On the phone",
    "In a meeting until 15:00",
    "En vacances \U0001f3d6",
    "Nicht stören",
    "На работе",
    "仕事中",
    "Listening to music \u266b",
    "Back soon & hungry",
    "zzz",
]
_SHOWS = [None, None, "away", "xa", "dnd", "chat"]
_FEATURES = [
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/chatstates",
    "http://jabber.org/protocol/muc",
    "urn:xmpp:receipts",
    "urn:xmpp:ping",
    "urn:xmpp:time",
    "jabber:iq:version",
    "urn:xmpp:avatar:metadata+notify",
    "urn:xmpp:chat-markers:0",
    "urn:xmpp:message-correct:0",
    "urn:xmpp:jingle:1",
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "http://jabber.org/protocol/nick+notify",
    "urn:xmpp:bookmarks:1+notify",
    "urn:xmpp:mam:2",
    "urn:xmpp:sid:0",
    "urn:xmpp:reply:0",
]
_IDENTITIES = [
    ("client", "pc", "Gajim"),
    ("client", "phone", "Conversations"),
    ("client", "pc", "Dino"),
    ("client", "phone", "Monal"),
    ("client", "console", "Profanity"),
]
_GROUPS = ["Friends", "Family", "Work", "Montagues", "Capulets", "Ünïcödé", "Друзья"]
_SUBSCRIPTIONS = ["both", "both", "both", "to", "from", "none"]


def _escape_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(s: str) -> str:
    # attribute values are quoted with ' (as Prosody and ejabberd do)
    return _escape_text(s).replace("'", "&apos;")


@dataclass(frozen=True)
class MessageSpec:
    """The inputs of one outgoing chat message (used by the serializer benchmarks)."""

    to: str
    id: str
    body: str


@dataclass
class Corpus:
    """A generated stream plus what a correct parser must see in it."""

    #: header + stanzas (no closing ``</stream:stream>``)
    data: bytes
    #: ``data`` cut into CHUNK_SIZE reads
    chunks: list[bytes]
    n_stanzas: int
    n_messages: int
    n_presences: int
    n_iqs: int
    #: number of elements, the stream element included (= start-tag events)
    n_elements: int
    #: sum of len(from) over all stanzas, in characters
    from_chars: int
    #: sum of len(body text) over all messages, in characters (unescaped)
    body_chars: int
    header: bytes = field(repr=False, default=b"")

    @property
    def n_bytes(self) -> int:
        return len(self.data)


class Tally:
    """What a handler saw; compared with the corpus' expected values after the benchmark."""

    __slots__ = ("body_chars", "elements", "errors", "from_chars", "messages", "other", "stanzas")

    def __init__(self) -> None:
        self.stanzas = 0  # first-level elements handed to the handler
        self.messages = 0  # messages whose body text was non-empty
        self.from_chars = 0  # sum of len(from)
        self.body_chars = 0  # sum of len(body)
        self.elements = 0  # start-tag events (pyexpat baseline only)
        self.other = 0  # non-stanza events (stream header ...)
        self.errors: list[BaseException] = []

    def __repr__(self) -> str:
        return "Tally(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def check_stanzas(tally: Tally, c: Corpus) -> None:
    """A parser+handler really saw every stanza, every ``from`` and every body."""
    assert not tally.errors, tally.errors[:3]
    assert tally.stanzas == c.n_stanzas, tally
    assert tally.messages == c.n_messages, tally
    assert tally.from_chars == c.from_chars, tally
    assert tally.body_chars == c.body_chars, tally


class _Gen:
    def __init__(self, seed: int, basic: bool = False) -> None:
        # basic: only what the issue names - messages with a body and a chat state, presences
        # with a status and caps, empty IQ results - for the "parse-basic" group
        self.basic = basic
        self.r = random.Random(seed)
        r = self.r
        # A roster of ~250 contacts, each with one to three online resources.
        self.contacts = []
        for i in range(250):
            local = _LOCALPARTS[i % len(_LOCALPARTS)]
            if i >= len(_LOCALPARTS):
                local = f"{local}{i // len(_LOCALPARTS)}"
            bare = f"{local}@{r.choice(_DOMAINS)}"
            res = r.sample(_RESOURCES, r.randint(1, 3))
            self.contacts.append((bare, [f"{bare}/{x}" for x in res]))
        self.caps_ver = {node: self._b64(20) for node in _CLIENT_NODES}
        self.counter = 0

    def _b64(self, nbytes: int) -> str:
        import base64

        return base64.b64encode(self.r.getrandbits(nbytes * 8).to_bytes(nbytes, "big")).decode()

    def _id(self) -> str:
        r = self.r
        self.counter += 1
        kind = r.random()
        if kind < 0.5:  # uuid4-like, as Conversations / Dino
            h = f"{r.getrandbits(128):032x}"
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if kind < 0.8:  # short random, as Gajim / slixmpp
            return f"{r.getrandbits(48):012x}"
        return f"purple{r.getrandbits(32):08x}{self.counter}"

    def _contact_full(self) -> str:
        return self.r.choice(self.r.choice(self.contacts)[1])

    def message(self) -> tuple[str, str, str, int]:
        r = self.r
        frm = self._contact_full()
        body = " ".join(r.choice(_PHRASES) for _ in range(r.choice((1, 1, 1, 2, 2, 3))))
        parts = [
            f"<message from='{_escape_attr(frm)}' to='{OWN_JID}' type='chat' id='{self._id()}'>",
            f"<body>{_escape_text(body)}</body>",
            f"<active xmlns='{NS_CHATSTATES}'/>",
        ]
        n_el = 3
        if self.basic:
            parts.append("</message>")
            return "".join(parts), frm, body, n_el
        if r.random() < 0.5:
            parts.append("<request xmlns='urn:xmpp:receipts'/>")
            n_el += 1
        if r.random() < 0.3:
            parts.append(f"<origin-id xmlns='urn:xmpp:sid:0' id='{self._id()}'/>")
            n_el += 1
        parts.append("</message>")
        return "".join(parts), frm, body, n_el

    def presence(self) -> tuple[str, str, int]:
        r = self.r
        frm = self._contact_full()
        if self.basic:
            node = r.choice(_CLIENT_NODES)
            return (
                f"<presence from='{_escape_attr(frm)}' to='{OWN_JID}'>"
                f"<status>{_escape_text(r.choice(_STATUSES))}</status>"
                f"<c xmlns='{NS_CAPS}' hash='sha-1' node='{node}' ver='{self.caps_ver[node]}'/>"
                "</presence>",
                frm,
                3,
            )
        if r.random() < 0.1:
            return (
                f"<presence from='{_escape_attr(frm)}' to='{OWN_JID}' type='unavailable'/>",
                frm,
                1,
            )
        parts = [f"<presence from='{_escape_attr(frm)}' to='{OWN_JID}'>"]
        n_el = 1
        show = r.choice(_SHOWS)
        if show:
            parts.append(f"<show>{show}</show>")
            n_el += 1
        if r.random() < 0.6:
            parts.append(f"<status>{_escape_text(r.choice(_STATUSES))}</status>")
            n_el += 1
        parts.append(f"<priority>{r.choice((0, 1, 5, 10, 24, 50))}</priority>")
        node = r.choice(_CLIENT_NODES)
        parts.append(
            f"<c xmlns='{NS_CAPS}' hash='sha-1' node='{node}' ver='{self.caps_ver[node]}'/>"
        )
        n_el += 2
        if r.random() < 0.4:
            parts.append(
                f"<x xmlns='vcard-temp:x:update'><photo>{r.getrandbits(160):040x}</photo></x>"
            )
            n_el += 2
        parts.append("</presence>")
        return "".join(parts), frm, n_el

    def iq(self) -> tuple[str, str, int]:
        r = self.r
        kind = 1.0 if self.basic else r.random()
        if kind < 0.5:  # disco#info result from a contact's client
            frm = self._contact_full()
            cat, typ, name = r.choice(_IDENTITIES)
            feats = sorted(r.sample(_FEATURES, r.randint(6, 14)))
            parts = [
                f"<iq type='result' from='{_escape_attr(frm)}' to='{OWN_JID}' id='{self._id()}'>",
                f"<query xmlns='{NS_DISCO_INFO}'>",
                f"<identity category='{cat}' type='{typ}' name='{name}'/>",
            ]
            parts.extend(f"<feature var='{f}'/>" for f in feats)
            parts.append("</query></iq>")
            return "".join(parts), frm, 3 + len(feats)
        if kind < 0.7:  # small roster result
            frm = OWN_BARE
            parts = [
                f"<iq type='result' from='{frm}' to='{OWN_JID}' id='{self._id()}'>",
                f"<query xmlns='{NS_ROSTER}' ver='ver{r.getrandbits(24)}'>",
            ]
            n_el = 2
            for bare, _ in r.sample(self.contacts, r.randint(2, 6)):
                name = bare.split("@", 1)[0].replace(".", " ").title()
                parts.append(
                    f"<item jid='{_escape_attr(bare)}' name='{_escape_attr(name)}' "
                    f"subscription='{r.choice(_SUBSCRIPTIONS)}'>"
                    f"<group>{_escape_text(r.choice(_GROUPS))}</group></item>"
                )
                n_el += 2
            parts.append("</query></iq>")
            return "".join(parts), frm, n_el
        frm = r.choice((SERVER, OWN_BARE, self._contact_full()))  # ping / ack
        return (
            f"<iq type='result' from='{_escape_attr(frm)}' to='{OWN_JID}' id='{self._id()}'/>",
            frm,
            1,
        )


def stream_header() -> bytes:
    """The server's XML declaration and stream header, as received by a client."""
    return (
        "<?xml version='1.0'?>"
        f"<stream:stream xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAMS}' "
        f"id='c2s-4bf2a7d1-8e1f-4c7a-9d2b-1f0e5a6b7c8d' from='{SERVER}' to='{OWN_BARE}' "
        "version='1.0' xml:lang='en'>"
    ).encode()


def generate(n: int = N_STANZAS, seed: int = SEED, mix: str = "rich") -> Corpus:
    """Header + ``n`` stanzas (40% message, 40% presence, 20% IQ, in shuffled blocks of 5).

    ``mix="rich"``: the varied traffic described above; ``mix="basic"``: messages with a body
    and a chat state, presences with a status and caps, empty IQ results.
    """
    if mix not in ("rich", "basic"):
        raise ValueError(f"mix must be 'rich' or 'basic', not {mix!r}")
    g = _Gen(seed, basic=mix == "basic")
    out = []
    n_msg = n_pres = n_iq = 0
    n_el = 1  # the stream element
    from_chars = body_chars = 0
    block: list[str] = []
    for _ in range(n):
        if not block:
            block = ["m", "m", "p", "p", "i"]
            g.r.shuffle(block)
        kind = block.pop()
        if kind == "m":
            xml, frm, body, k = g.message()
            n_msg += 1
            body_chars += len(body)
        elif kind == "p":
            xml, frm, k = g.presence()
            n_pres += 1
        else:
            xml, frm, k = g.iq()
            n_iq += 1
        out.append(xml)
        n_el += k
        from_chars += len(frm)
    header = stream_header()
    data = header + "".join(out).encode("utf-8")
    return Corpus(
        data=data,
        chunks=split_chunks(data),
        n_stanzas=n,
        n_messages=n_msg,
        n_presences=n_pres,
        n_iqs=n_iq,
        n_elements=n_el,
        from_chars=from_chars,
        body_chars=body_chars,
        header=header,
    )


def build_stream(n: int = N_STANZAS, seed: int = SEED) -> bytes:
    """The stream header followed by ``n`` stanzas, as bytes."""
    return generate(n, seed).data


def split_chunks(data: bytes, size: int = CHUNK_SIZE) -> list[bytes]:
    """Cut ``data`` into reads of ``size`` bytes (the last one shorter), as a socket would."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@functools.lru_cache(maxsize=4)
def get_corpus(n: int = N_STANZAS, seed: int = SEED, mix: str = "rich") -> Corpus:
    """Cached :func:`generate` (the benchmarks share one corpus per session)."""
    return generate(n, seed, mix)


def message_specs(n: int = 10_000, seed: int = SEED) -> list[MessageSpec]:
    """Inputs for ``n`` outgoing chat messages: recipient full JID, id, body."""
    g = _Gen(seed + 1)
    specs = []
    for _ in range(n):
        to = g._contact_full()
        body = " ".join(g.r.choice(_PHRASES) for _ in range(g.r.choice((1, 1, 2))))
        specs.append(MessageSpec(to=to, id=g._id(), body=body))
    return specs


if __name__ == "__main__":
    c = generate()
    print(f"{c.n_stanzas} stanzas, {c.n_bytes:,} bytes, {len(c.chunks)} chunks of {CHUNK_SIZE}")
    print(
        f"messages {c.n_messages}  presences {c.n_presences}  iqs {c.n_iqs}  "
        f"elements {c.n_elements}  avg stanza {(c.n_bytes - len(c.header)) / c.n_stanzas:.0f} B"
    )
    print(c.data[:1600].decode("utf-8", "replace"))
