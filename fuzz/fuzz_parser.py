"""Differential fuzzer for the compiled XMPP stream parser (atheris / libFuzzer).

Each input is split by ``atheris.FuzzedDataProvider`` into a few choices (whether to start with
a valid stream header, the parser limits) and a sequence of chunks; the chunks are fed to
``StreamParserC`` and to the pure-Python ``StreamParserPy``. The harness asserts that

* nothing but ``fastxmpp.StreamError`` ever escapes ``feed()`` (no ValueError, RecursionError,
  UnicodeDecodeError, MemoryError, crash ...), and its condition is an RFC 6120 condition;
* a parser that failed keeps failing with the same condition and emits nothing;
* both implementations agree on the outcome: the same items (compared as plain tuples) and,
  on a fault, the same condition;
* ``get()`` on a compiled parser's stanza that nothing has read yet (which answers from the
  parser's records) gives each attribute the pure parser's stanza has.

Short run (CI)::

    python fuzz/fuzz_parser.py -runs=20000

Long run (about an hour; keeps a corpus, a dictionary helps)::

    mkdir -p fuzz/corpus
    python fuzz/fuzz_parser.py fuzz/corpus -dict=fuzz/xmpp.dict -max_total_time=3600

Crashing inputs are written as ``crash-<sha1>``; replay one with
``python fuzz/fuzz_parser.py crash-<sha1>``. Only the Python code is coverage-instrumented; to
also guide the fuzzer through the compiled parser, build the extension with clang and
``CFLAGS="-fsanitize=fuzzer-no-link"`` (and optionally ``-fsanitize=address``).
Exit status 2 without fuzzing means the compiled parser is not available.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import atheris

if importlib.util.find_spec("fastxmpp") is None:  # not installed: use the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with atheris.instrument_imports():
    import fastxmpp.xml
    from fastxmpp import StreamError
    from fastxmpp.errors import STREAM_CONDITIONS

StreamParserPy = fastxmpp.xml.StreamParserPy
StreamParserC = fastxmpp.xml.StreamParserC

HEADERS = [
    b"",
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
    b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'"
    b" xmlns:db='jabber:server:dialback'>",
    b"\xef\xbb\xbf<stream xmlns='http://etherx.jabber.org/streams'>",
]


def dump(item):
    """A parser item as plain, comparable tuples (no recursion: trees may be deep)."""
    if hasattr(item, "tag"):
        out = []
        stack = [(item, out)]
        while stack:
            element, into = stack.pop()
            children = []
            into.append(
                (element.tag, tuple(element.attrib.items()), element.text, element.tail, children)
            )
            for child in reversed(list(element)):
                stack.append((child, children))
        return ("elem", repr(out))
    if hasattr(item, "namespaces"):
        return (
            "open",
            tuple(item.attrib.items()),
            tuple(sorted(item.namespaces.items())),
            item.default_namespace,
        )
    assert type(item).__name__ == "StreamClose", f"unexpected item {item!r}"
    return ("close",)


def run(cls, chunks, limits, items=None):
    """Feed the chunks; (("ok"|"error", condition, dumps of every item emitted), parser). The
    items themselves are appended to ``items`` when it is given."""
    parser = cls(**limits)
    if items is None:
        items = []
    for chunk in chunks:
        try:
            items.extend(parser.feed(chunk))
        except StreamError as err:
            assert err.condition in STREAM_CONDITIONS, err.condition
            items.extend(err.events)
            # a failed parser keeps failing, with the same condition and no items
            try:
                parser.feed(b"<a/>")
            except StreamError as again:
                assert again.condition == err.condition, (again.condition, err.condition)
                assert not again.events, again.events
            else:
                raise AssertionError("feed() after a StreamError did not raise")
            return ("error", err.condition, [dump(i) for i in items]), parser
    return ("ok", None, [dump(i) for i in items]), parser


# Ends any construct a parser may be waiting in and is never valid XML: the contract does not
# say how soon a fault must be reported (except for the size limit), so a parser that has not
# reported a fault yet is given this and must then report the same condition as the other.
FLUSH = b"\x01'\"?>]]>-->>\x01\x00"


def check_get(chunks, limits, items_py):
    """Parse again with the compiled parser and ask each new stanza, before anything else, for
    each attribute the pure parser's has (and for the same name made at run time, and for one
    it has not)."""
    items_c = []
    run(StreamParserC, chunks, limits, items_c)
    for item_c, item_py in zip(items_c, items_py, strict=True):
        if hasattr(item_py, "tag"):
            for name, value in item_py.attrib.items():
                assert item_c.get(name) == value, (name, item_c.get(name), value)
                assert item_c.get("".join(list(name))) == value, name
            assert item_c.get("{}x", 0) == 0


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    header = HEADERS[fdp.ConsumeIntInRange(0, len(HEADERS) - 1)]
    limits = {}
    if fdp.ConsumeBool():
        limits = {
            "max_depth": fdp.ConsumeIntInRange(1, 8),
            "max_attributes": fdp.ConsumeIntInRange(1, 8),
            # generous: the exact moment a size excess is noticed may differ between parsers
            "max_stanza_size": 1 << 20,
        }
    chunks = [header] if header else []
    while fdp.remaining_bytes():
        chunks.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 64)))
    got_c, parser_c = run(StreamParserC, chunks, limits)
    items_py = []
    got_py, parser_py = run(StreamParserPy, chunks, limits, items_py)
    if got_c == got_py:
        check_get(chunks, limits, items_py)
        return
    problem = f"C: {got_c}\n  Py: {got_py}"
    if {got_c[0], got_py[0]} == {"ok", "error"} and got_c[2] == got_py[2]:
        late, done = (parser_c, got_py) if got_c[0] == "ok" else (parser_py, got_c)
        try:
            more = late.feed(FLUSH)
        except StreamError as err:
            if err.condition == done[1] and not err.events:
                return  # only noticed later: allowed
            problem += f"\n  the late one, fed {FLUSH!r}: {err.condition} {err.events}"
        else:
            problem += f"\n  the late one, fed {FLUSH!r}: no error, {more}"
    raise AssertionError(
        f"implementations disagree on {b''.join(chunks)!r} fed as {chunks!r} "
        f"with limits {limits}:\n  {problem}"
    )


def main() -> None:
    if StreamParserC is None:
        reason = (
            "FASTXMPP_NO_EXTENSIONS is set"
            if os.environ.get("FASTXMPP_NO_EXTENSIONS", "") not in ("", "0")
            else "the extension is not built (pip install -e . --no-build-isolation)"
        )
        print(
            f"fuzz_parser: the compiled StreamParserC is not available: {reason}", file=sys.stderr
        )
        sys.exit(2)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
