"""The pure-Python stream parser: the standard library's expat, held to XMPP's rules.

expat tokenizes and checks well-formedness and namespaces; the handlers below add what RFC 6120
section 11 restricts (comments, processing instructions, DTDs), the stream rules (a
``stream:stream`` root, nothing but whitespace between stanzas) and the limits, and build one
:class:`~fastxmpp.xml.Element` per first-level element. The compiled parser in ``ext/`` follows
the same rules byte for byte; one test suite runs against both.
"""

from __future__ import annotations

import pyexpat
import re
from typing import Any, Union

from fastxmpp._events import StreamClose, StreamOpen
from fastxmpp._impl import core
from fastxmpp._limits import (
    DEFAULT_MAX_ATTRIBUTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_STANZA_SIZE,
    check_limits,
)
from fastxmpp._xmlcore import STREAM_NS
from fastxmpp.errors import StreamError

__all__ = ["StreamParserPy"]

_make_element = core._make_element
# The pure Element is filled in right here (a Python call less per element); the compiled one
# through its C-level constructor.
_Element = core.Element
_new_element = None if core.__name__ == "fastxmpp._xmlcore_c" else _Element.__new__
_STREAM_EXPAT = STREAM_NS + "}stream"  # how expat names {http://etherx.jabber.org/streams}stream
_codes = pyexpat.errors.codes
_CONDITIONS = {
    _codes[pyexpat.errors.XML_ERROR_UNBOUND_PREFIX]: "bad-namespace-prefix",
    _codes[pyexpat.errors.XML_ERROR_UNDEFINED_ENTITY]: "restricted-xml",
    _codes[pyexpat.errors.XML_ERROR_MISPLACED_XML_PI]: "restricted-xml",
}
_clark_cache: dict[str, str] = {}
# attribute names seen without a namespace: a set lookup instead of a look at every name
_plain_names: set[str] = set()
_FOREIGN_BOMS = (b"\xfe\xff", b"\xff\xfe", b"\x00\x00\xfe\xff")
# The end of a start tag ('>' outside quoted values), for measuring the stream header.
_TAG_END = re.compile(rb"""(?:[^'">]|'[^']*'|"[^"]*")*>""")


class _Fault(Exception):
    """Raised inside an expat handler; turned into a StreamError by feed()."""

    def __init__(self, condition: str, text: str) -> None:
        self.condition = condition
        self.text = text


def _clark(name: str) -> str:
    """expat's ``uri}local`` as ``{uri}local`` (names without a namespace stay as they are)."""
    tag = _clark_cache.get(name)
    if tag is None:
        tag = "{" + name if "}" in name else name
        if len(_clark_cache) < 10000 and name != _STREAM_EXPAT:
            _clark_cache[name] = tag
    return tag


def _attr_names(attrs: dict[str, str]) -> dict[str, str]:
    """``attrs`` with Clark names, when one of its names is not yet known to be plain."""
    for key in attrs:
        if "}" in key:
            return {_clark(k): v for k, v in attrs.items()}
    if len(_plain_names) < 10000:
        _plain_names.update(attrs)
    return attrs


class StreamParserPy:
    """Incremental XMPP stream parser in pure Python (see :class:`fastxmpp.xml.StreamParser`)."""

    __slots__ = (
        "max_stanza_size",
        "max_depth",
        "max_attributes",
        "_parser",
        "_items",
        "_error",
        "_level",
        "_ns_decls",
        "_fed",
        "_head",
        "_window",
        "_window_start",
        "_stanza_start",
        "_pending_lt",
        "_closed",
        "_depth",
        "_path",
    )

    def __init__(
        self,
        *,
        max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_attributes: int = DEFAULT_MAX_ATTRIBUTES,
    ) -> None:
        check_limits(max_stanza_size, max_depth, max_attributes)
        self.max_stanza_size = max_stanza_size
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.reset()

    def reset(self) -> None:
        """Forget the current document: the next bytes start a new stream (after STARTTLS/SASL)."""
        # intern=None: expat's names are not looked up in an intern dict (end-tag names are never
        # used, and tags go through _clark_cache anyway)
        p = pyexpat.ParserCreate("utf-8", "}", intern=None)
        if hasattr(p, "SetReparseDeferralEnabled"):  # expat >= 2.6 would hold stanzas back
            p.SetReparseDeferralEnabled(False)
        # expat gathers each run of text into one string. Between stanzas text is an error:
        # whatever expat holds is handed over before any other event, at the end of each
        # Parse(), and, when expat finds an error, before the error counts (see _parse).
        p.buffer_text = True
        # a C-level handler (no Python frame per call): declarations land in a dict, as one
        # element cannot declare a prefix twice
        self._ns_decls: dict[str | None, str] = {}
        p.StartNamespaceDeclHandler = self._ns_decls.__setitem__
        self._parser = p
        (
            p.StartElementHandler,
            p.EndElementHandler,
            p.CharacterDataHandler,
            p.StartCdataSectionHandler,
            self._depth,
        ) = self._handlers()
        p.XmlDeclHandler = self._xml_decl
        p.CommentHandler = self._restricted_comment
        p.ProcessingInstructionHandler = self._restricted_pi
        p.StartDoctypeDeclHandler = self._restricted_doctype
        self._items: list[Any] = []
        self._error: StreamError | None = None
        self._level = 0  # 1 once the stream header is read, 0 again after its end
        self._fed = 0  # bytes handed to expat in this document (including the feed at hand)
        self._head = b""  # the first byte, held until the byte-order mark is known
        self._window = b""  # the last two bytes of the previous feed, then the current feed
        self._window_start = 0
        self._stanza_start = -1  # offset of the open stanza's '<'
        self._pending_lt = -1  # offset of an incomplete tag at stream level
        self._closed = False

    # -- input ----------------------------------------------------------------------------------

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> list[Any]:
        """Parse ``data``; return the items it completed: StreamOpen, Element, StreamClose."""
        if self._error is not None:
            raise StreamError(self._error.condition, self._error.text)
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"feed() takes bytes, not {type(data).__name__}")
            data = bytes(data)
        if self._fed == 0:
            data = self._head + data
            self._head = b""
            for bom in _FOREIGN_BOMS:
                if data[: len(bom)] == bom:
                    self._fail(
                        "unsupported-encoding", "UTF-16 or UTF-32 byte-order mark: XMPP is UTF-8"
                    )
                if bom.startswith(data):  # could still become one: wait for more
                    self._head = data
                    return []
        if b"\x00" in data:
            # NUL is never allowed; expat refuses it too, but a NUL at the start would make it
            # switch to UTF-16 on its own. \x01 is refused the same way, with no such effect.
            data = data.replace(b"\x00", b"\x01")
        self._parse(data)
        items = self._items
        self._items = []
        return items

    def _parse(self, data: bytes) -> None:
        start = self._fed
        # the bytes the handlers may look back at: the whole document until the header is
        # complete (to measure it), then the end of the previous read and this one
        opening = self._level == 0 and not self._closed
        self._window = (self._window if opening else self._window[-2:]) + data
        self._window_start = start - (len(self._window) - len(data))
        self._fed = start + len(data)
        path = self._path
        if len(path) > self.max_depth:  # the limit was lowered: keep path no longer than it
            del path[max(self.max_depth, self._depth()) :]
        try:
            self._parser.Parse(data, False)
        except _Fault as fault:
            self._fail(fault.condition, fault.text)
        except pyexpat.ExpatError as e:
            # Text expat has read but not yet handed over comes before the error: if it is
            # text between stanzas, that is the fault (as when it is handed over at once).
            try:
                self._parser.buffer_text = False
            except _Fault as fault:
                self._fail(fault.condition, fault.text)
            self._fail(
                _CONDITIONS.get(e.code, "not-well-formed"),
                f"{pyexpat.ErrorString(e.code)} (line {e.lineno}, column {e.offset})",
            )
        self._check_size(data, start)

    def _check_size(self, data: bytes, start: int) -> None:
        """Apply max_stanza_size to what is still incomplete at the end of a feed."""
        limit = self.max_stanza_size
        if self._depth():  # inside a stanza
            if self._fed - self._stanza_start > limit:
                self._fail("policy-violation", f"stanza larger than {limit} bytes")
        elif self._level == 1:
            # Between stanzas every complete tag has been read (a stanza's start tag would have
            # opened one): a '<' that starts no complete tag is the start of the next stanza.
            lt = data.rfind(b"<")
            if lt >= 0 and _TAG_END.match(data, lt) is None:
                self._pending_lt = start + lt
            elif self._items:  # a stanza ended in this feed: what was pending has started
                self._pending_lt = -1
            if self._pending_lt >= 0 and self._fed - self._pending_lt > limit:
                self._fail("policy-violation", f"stanza larger than {limit} bytes")
        elif not self._closed and self._fed > limit:
            self._fail("policy-violation", f"stream header larger than {limit} bytes")

    def _fail(self, condition: str, text: str) -> None:
        items = self._items
        self._items = []
        self._error = StreamError(condition, text, events=items)
        self._parser = None  # type: ignore[assignment]  # expat cannot go on after an error
        raise self._error

    # -- expat handlers -------------------------------------------------------------------------

    def _xml_decl(self, version: str, encoding: str | None, standalone: int) -> None:
        if version != "1.0":
            raise _Fault("not-well-formed", f"XML version {version!r}: XMPP uses XML 1.0")
        if encoding is not None and encoding.lower() != "utf-8":
            raise _Fault("unsupported-encoding", f"encoding {encoding!r}: XMPP is UTF-8")

    def _restricted_comment(self, data: str) -> None:
        raise _Fault("restricted-xml", "comments are not allowed in XMPP")

    def _restricted_pi(self, target: str, data: str) -> None:
        raise _Fault("restricted-xml", "processing instructions are not allowed in XMPP")

    def _restricted_doctype(self, *args: Any) -> None:
        raise _Fault("restricted-xml", "a DTD is not allowed in XMPP")

    def _handlers(self) -> tuple[Any, Any, Any, Any, Any]:
        """The start, end, character-data and CDATA handlers of a new document, and a function
        that tells the depth inside the current stanza.

        Closures rather than methods: the state they change on every element lives in their
        cells. ``path[i]`` is the open element at depth ``i`` of the stanza (0: the stanza
        itself), ``depth`` the number of open elements of the stanza (0 between stanzas). Text
        goes where ElementTree puts it: to the open element's text until it has a child, then
        to its last child's tail. The stream element itself is read by ``_open_stream()``.
        """
        depth = 0
        # its length bounds the depth: an IndexError on storing an element is the depth check
        path: list[Any] = [None] * min(self.max_depth, 8)
        self._path = path
        decls = self._ns_decls
        tags = _clark_cache
        plain = _plain_names.issuperset
        new = _new_element
        Element = _Element
        make_element = _make_element
        parser = self._parser

        def open_stream(name: str, attrs: dict[str, str]) -> None:
            """The start handler of the document's first element."""
            if len(attrs) + len(decls) > self.max_attributes:
                raise _Fault("policy-violation", f"more than {self.max_attributes} attributes")
            self._open_stream(name, attrs)
            parser.StartElementHandler = start

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal depth
            if decls:
                if len(attrs) + len(decls) > self.max_attributes:
                    raise _Fault("policy-violation", f"more than {self.max_attributes} attributes")
                decls.clear()
                if attrs and not plain(attrs):
                    attrs = _attr_names(attrs)
            elif attrs:
                if len(attrs) > self.max_attributes:
                    raise _Fault("policy-violation", f"more than {self.max_attributes} attributes")
                if not plain(attrs):
                    attrs = _attr_names(attrs)
            try:
                tag = tags[name]  # never holds the stream's own name: see _clark()
            except KeyError:
                if depth >= self.max_depth:  # (that fault comes first)
                    raise _Fault(
                        "policy-violation", f"elements nested deeper than {self.max_depth}"
                    ) from None
                if name == _STREAM_EXPAT:
                    raise _Fault("bad-format", "a stream element inside the stream") from None
                tag = _clark(name)
            if new is not None:
                element = new(Element)
                element.tag = tag
                element._attrib = attrs
                element.text = None
                element.tail = None
                element._children = None
                element._lazy = None
            else:
                element = make_element(tag, attrs)
            if depth:
                parent = path[depth - 1]
                children = parent._children
                if children is None:
                    parent._children = [element]
                else:
                    children.append(element)
            else:
                self._stanza_start = parser.CurrentByteIndex
            try:
                path[depth] = element
            except IndexError:  # path is never longer than max_depth (see _parse)
                if depth >= self.max_depth:
                    raise _Fault(
                        "policy-violation", f"elements nested deeper than {self.max_depth}"
                    ) from None
                path.append(element)
            depth += 1

        def end(name: str) -> None:
            nonlocal depth
            depth -= 1
            if depth > 0:
                path[depth] = None  # (path holds open elements only)
                return
            if depth == 0:  # the stanza is complete
                stanza = path[0]
                path[0] = None
                if self._fed - self._stanza_start > self.max_stanza_size:
                    self._check_stanza_end(stanza)
                self._items.append(stanza)
            else:  # the stream's end
                depth = 0
                self._level = 0
                self._closed = True
                self._items.append(StreamClose())

        def chars(data: str) -> None:
            # expat hands over each run of text whole (buffer_text is on)
            if depth:
                parent = path[depth - 1]
                children = parent._children
                if children is None:
                    text = parent.text
                    parent.text = data if text is None else text + data
                else:
                    child = children[-1]
                    tail = child.tail
                    child.tail = data if tail is None else tail + data
            elif data.strip(" \t\r\n"):
                raise _Fault("bad-format", "character data between stanzas")

        def cdata() -> None:
            if not depth and self._level == 1:
                raise _Fault("bad-format", "character data between stanzas")

        def get_depth() -> int:
            return depth

        return open_stream, end, chars, cdata, get_depth

    def _open_stream(self, name: str, attrs: dict[str, str]) -> None:
        if name != _STREAM_EXPAT:
            if name.rpartition("}")[0] != STREAM_NS:
                raise _Fault("invalid-namespace", f"the stream must be {{{STREAM_NS}}}stream")
            raise _Fault("bad-format", f"the root element must be stream, not {name!r}")
        start = self._parser.CurrentByteIndex
        tag = _TAG_END.match(self._window, start - self._window_start)
        assert tag is not None  # expat has just read this very tag
        end = self._window_start + tag.end()
        if end > self.max_stanza_size:
            raise _Fault(
                "policy-violation", f"stream header larger than {self.max_stanza_size} bytes"
            )
        namespaces = {prefix or "": uri for prefix, uri in self._ns_decls.items()}
        self._ns_decls.clear()
        self._items.append(StreamOpen({_clark(k): v for k, v in attrs.items()}, namespaces))
        self._level = 1

    def _check_stanza_end(self, element: Any) -> None:
        """Fail if the stanza that just ended, end tag included, is larger than the limit."""
        parser = self._parser
        # expat is at the '<' of the end tag, or just past an empty-element tag
        end = parser.CurrentByteIndex
        at = end - self._window_start
        if element._children or element.text is not None or not self._window.endswith(b"/>", 0, at):
            end = self._window_start + self._window.index(b">", max(at, 0)) + 1
        if end - self._stanza_start > self.max_stanza_size:
            raise _Fault("policy-violation", f"stanza larger than {self.max_stanza_size} bytes")
