"""Shared helpers for the XML-layer tests: comparable dumps, an ElementTree reference parse,
feeding helpers and a few canned stream fragments.

Nothing here imports fastxmpp at module level except through functions, so that the helpers stay
importable (and the test modules collectable) even while the package is half-built.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

STREAM_NS = "http://etherx.jabber.org/streams"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"
CLIENT_NS = "jabber:client"
XML_LANG = f"{{{XML_NS}}}lang"

XML_DECL = b"<?xml version='1.0'?>"
HEADER_NODECL = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='example.com' from='a@example.com' version='1.0' xml:lang='en' id='s1'>"
)
HEADER = XML_DECL + HEADER_NODECL
CLOSE = b"</stream:stream>"


def wrap(stanzas: bytes, *, close: bool = True, header: bytes = HEADER) -> bytes:
    """A whole stream: ``header``, ``stanzas`` and (by default) ``</stream:stream>``."""
    return header + stanzas + (CLOSE if close else b"")


def header_for(default_namespace):
    """A stream header whose default namespace is ``default_namespace`` (None: no default)."""
    if default_namespace is None:
        return b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    ns = (
        default_namespace.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )
    return (
        b'<stream:stream xmlns="' + ns.encode("utf-8") + b'"'
        b" xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    )


# -- comparable dumps ------------------------------------------------------------------------------


def _kind(item):
    if hasattr(item, "tag"):
        return "elem"
    if hasattr(item, "namespaces") and hasattr(item, "attrib"):
        return "open"
    if type(item).__name__ == "StreamClose":
        return "close"
    raise TypeError(f"unexpected parser item {item!r} of type {type(item).__name__}")


def dump(item, *, top_tail: bool = True):
    """``item`` (Element, ElementTree element, StreamOpen, StreamClose) as plain nested tuples.

    Elements: ``("elem", tag, ((name, value), ...), text, tail, (children...))`` (attributes in
    their order). ``top_tail=False`` drops the tail of ``item`` itself (not of its children): a
    first-level stanza's tail is whatever follows it on the stream, which a streaming parser
    cannot know and ElementTree fills in later.
    """
    kind = _kind(item)
    if kind == "close":
        return ("close",)
    if kind == "open":
        return (
            "open",
            tuple(item.attrib.items()),
            tuple(sorted(item.namespaces.items())),
            item.default_namespace,
        )
    return (
        "elem",
        item.tag,
        tuple(item.attrib.items()),
        item.text,
        item.tail if top_tail else None,
        tuple(dump(child) for child in item),
    )


def dumps(items, *, top_tail: bool = True):
    """A list of parser items as a list of dumps."""
    return [dump(item, top_tail=top_tail) for item in items]


OPEN_KIND = "open"
CLOSE_DUMP = ("close",)


# -- the ElementTree (expat) reference -------------------------------------------------------------


def et_items(data: bytes):
    """Parse one complete or partial stream document with ElementTree; dumps (top tails dropped).

    The root's start gives the StreamOpen dump (attributes, the namespaces declared on it and its
    default namespace), each first-level element its element dump, the root's end the StreamClose.
    """
    parser = ET.XMLPullParser(events=("start-ns", "start", "end"))
    parser.feed(data)
    items = []
    depth = 0
    root_ns = {}
    for event, obj in parser.read_events():
        if event == "start-ns":
            if depth == 0:
                prefix, uri = obj
                root_ns[prefix] = uri
        elif event == "start":
            depth += 1
            if depth == 1:
                items.append(
                    (
                        "open",
                        tuple(obj.attrib.items()),
                        tuple(sorted(root_ns.items())),
                        root_ns.get(""),
                    )
                )
        else:
            depth -= 1
            if depth == 1:
                items.append(dump(obj, top_tail=False))
            elif depth == 0:
                items.append(CLOSE_DUMP)
    return items


def et_element(data: bytes):
    """ElementTree's parse of a single standalone element (used for builder/API comparisons)."""
    return ET.fromstring(data)


# -- feeding ---------------------------------------------------------------------------------------


def chunks_at(data: bytes, cuts):
    """Split ``data`` at the sorted positions ``cuts``."""
    out = []
    last = 0
    for cut in sorted(set(cuts)):
        if 0 < cut < len(data):
            out.append(data[last:cut])
            last = cut
    out.append(data[last:])
    return out


def bytewise(data: bytes):
    return [data[i : i + 1] for i in range(len(data))]


def feed_all(parser_cls, chunks, **limits):
    """Feed ``chunks`` to a fresh parser; the concatenated items (raises on StreamError)."""
    parser = parser_cls(**limits)
    items = []
    for chunk in chunks:
        items.extend(parser.feed(chunk))
    return items


def outcome(parser_cls, chunks, **limits):
    """Feed ``chunks`` to a fresh parser and describe what happened, comparably.

    ``("ok", None, dumps)`` when no StreamError, else ``("error", condition, dumps)`` where the
    dumps are everything emitted: the items returned by the successful feeds plus ``err.events``.
    """
    from fastxmpp import StreamError

    parser = parser_cls(**limits)
    items = []
    for chunk in chunks:
        try:
            items.extend(parser.feed(chunk))
        except StreamError as err:
            items.extend(err.events)
            return ("error", err.condition, dumps(items))
    return ("ok", None, dumps(items))


#: Ends whatever construct a parser may be waiting in (attribute value, declaration, PI, CDATA,
#: comment, tag) and contains characters XML never allows: a parser that has seen a fault but not
#: reported it yet must report it now.
FLUSH = b"\x01'\"?>]]>-->>\x01\x00"


def outcomes_agree(first, second, **limits):
    """Whether two runs agree; ``first``/``second`` are (parser class, chunks). -> (ok, why)

    Strict equality of :func:`outcome`, with one allowance: the contract does not say how soon a
    fault must be noticed (except for the size limit), so when one parser has raised and the
    other has not yet, with the same items so far, the late one must raise the same condition
    once it is fed :data:`FLUSH` (which ends any pending construct and is never valid), and
    emit nothing more.
    """
    from fastxmpp import StreamError

    results = []
    for cls, chunks in (first, second):
        parser = cls(**limits)
        items = []
        result = None
        for chunk in chunks:
            try:
                items.extend(parser.feed(chunk))
            except StreamError as err:
                items.extend(err.events)
                result = ("error", err.condition, dumps(items))
                break
        results.append((result or ("ok", None, dumps(items)), parser))
    (a, pa), (b, pb) = results
    if a == b:
        return True, ""
    why = (
        f"\n  {first[0].__name__} fed {len(first[1])} chunk(s): {a}"
        f"\n  {second[0].__name__} fed {len(second[1])} chunk(s): {b}"
    )
    if {a[0], b[0]} == {"ok", "error"} and a[2] == b[2]:
        late, done = (pa, b) if a[0] == "ok" else (pb, a)
        try:
            more = late.feed(FLUSH)
        except StreamError as err:
            if err.condition == done[1] and not err.events:
                return True, ""
            return False, why + f"\n  the late one, fed {FLUSH!r}: {err.condition} {err.events}"
        return False, why + f"\n  the late one, fed {FLUSH!r}: no error, {more}"
    return False, why


def element_depth(element) -> int:
    """Depth of an element tree (the element itself is 1), without recursion."""
    best = 0
    stack = [(element, 1)]
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        stack.extend((child, depth + 1) for child in node)
    return best


def nested(depth: int, tag: bytes = b"a", inner: bytes = b"") -> bytes:
    """``<a><a>...inner...</a></a>``, ``depth`` elements deep."""
    return (b"<" + tag + b">") * depth + inner + (b"</" + tag + b">") * depth


def many_attrs(n: int, *, tag: bytes = b"message", extra: bytes = b"") -> bytes:
    attrs = b"".join(b" a%d='%d'" % (i, i) for i in range(n))
    return b"<" + tag + extra + attrs + b"/>"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
