"""Element, builder and serializer: the stanza tree, in plain Python.

This module is the pure-Python implementation. The build compiles this very file with Cython
(augmented by ``_xmlcore_c.pxd``) into ``fastxmpp._xmlcore_c``, so both implementations share one
source and cannot drift apart; ``fastxmpp.xml`` picks the compiled one when it is available.
Keep it plain Python: nothing that behaves differently when compiled. The only ``cython`` uses are
class decorators that tune the compiled type and do nothing in pure Python (Cython does not take
class decorators from the ``.pxd``), and ``cython.compiled`` to skip what the compiled type
already does; without Cython installed, ``_cython_shim`` stands in.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Union, overload

try:
    import cython  # type: ignore[import-untyped]
except ImportError:  # Cython is not installed: the pure package needs only the no-op decorators
    from fastxmpp import _cython_shim as cython  # type: ignore[no-redef]

# The annotation of parameters that take a str: its subclasses too (a StrEnum member, say).
# Cython checks a parameter annotated ``str`` for the exact type, so the compiled build refused
# what pure Python takes; it does not know this alias and leaves such a parameter an object.
# (Functions that go on with typed str code take _exact_str() of it first.)
StrArg = str

XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"
STREAM_NS = "http://etherx.jabber.org/streams"
CLIENT_NS = "jabber:client"
XML_LANG = f"{{{XML_NS}}}lang"
CHATSTATES_NS = "http://jabber.org/protocol/chatstates"  # XEP-0085
CHAT_STATES = ("active", "composing", "paused", "inactive", "gone")
_CHAT_STATE_TAGS = {state: f"{{{CHATSTATES_NS}}}{state}" for state in CHAT_STATES}
_ACTIVE = CHAT_STATES[0]
_ACTIVE_TAG = _CHAT_STATE_TAGS[_ACTIVE]
MESSAGE = "{jabber:client}message"
PRESENCE = "{jabber:client}presence"
IQ = "{jabber:client}iq"
BODY = "{jabber:client}body"
SUBJECT = "{jabber:client}subject"
THREAD = "{jabber:client}thread"
SHOW = "{jabber:client}show"
STATUS = "{jabber:client}status"
PRIORITY = "{jabber:client}priority"

# Characters that XML 1.0 does not allow in a document (section 2.2), as a regex for the
# serializer. Text must never carry them: they would make the peer end the stream.
_INVALID_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An NCName, close enough to XML 1.0 5th edition for checking what the serializer writes.
_NCNAME = re.compile(
    "[A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd]"
    "[-.0-9A-Z_a-z\u00b7\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u203f-\u2040\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd]*\\Z"
)


def _split_tag(tag: str) -> tuple[str, str]:
    """Split a Clark name into (namespace, local); namespace is "" for no namespace."""
    if tag[:1] == "{":
        end = tag.find("}")
        if end < 0:
            raise ValueError(f"malformed Clark name {tag!r}: missing '}}'")
        return tag[1:end], tag[end + 1 :]
    return "", tag


def _exact_str(value: Any, what: str) -> str:
    """``value``, a str or an instance of a subclass (a StrEnum member, say), as a plain str;
    TypeError, naming it ``what``, for anything else."""
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{what} must be a str, not {type(value).__name__}")


@cython.freelist(64)  # one per stanza the parser hands out (for its subtype: see the .pxd)
@cython.cclass
class _Lazy:
    """What an element holds (``Element._lazy``) in place of parts not built yet.

    Two implementations: ``_LazyStanza`` in ext/_parser_c.pyx, the records of a stanza the
    compiled parser has fully validated, from which its attribute dict and its children are
    built when first needed; and ``_Parts`` below, what a stanza builder was given.
    Declared here so that the compiled Element reads ``nnodes`` and calls these methods at C
    level (see ``_xmlcore_c.pxd``).
    """

    nnodes: int  # elements recorded below the element: 0 when it has no children

    def build(self) -> list[Element]:
        """New Elements for the stanza's children (the list of its direct children)."""
        raise NotImplementedError

    def findtext(self, path: str, default: Any) -> Any:
        """Element.findtext() for a plain tag, read from the records."""
        raise NotImplementedError

    def build_attrib(self) -> dict[str, str]:
        """A new dict of the stanza's attributes, in document order."""
        raise NotImplementedError

    def get_attr(self, key: str, default: Any) -> Any:
        """The value of the stanza's attribute ``key``, or ``default``; nothing else is built."""
        raise NotImplementedError


@cython.final
@cython.no_gc  # (it holds only plain str, None and a tuple of str: see _text)
@cython.cclass
class _Parts(_Lazy):
    """What a stanza builder (message(), presence(), iq()) was given, kept as it came.

    The attributes ``to``, ``from``, ``type``, ``id`` and ``xml:lang`` (written in this order;
    None where left out), and the children: up to three with text, ``text0`` to ``text2`` in
    elements tagged ``tags[0]`` to ``tags[2]`` (None: no such child), and last an empty one
    tagged ``last`` (a chat state) or None. One object where the built parts are a dict, a
    list and an Element per child. tostring() writes them from here and get() and findtext()
    read them; whatever else reads or changes the attributes or the children builds them
    first (``build_attrib()``, ``build()``), as for a parsed stanza (see Element._lazy).
    (Cython keeps no free list for a subtype: each is allocated, as a tuple would be.)
    """

    to: Any
    from_: Any
    type: Any
    id: Any
    lang: Any
    tags: tuple  # the tags of the children with text: one tuple per kind of stanza
    text0: Any
    text1: Any
    text2: Any
    last: Any

    def leaves(self) -> list[tuple[str, Any]]:
        """The children as (tag, text) pairs, in order; text None for the empty one."""
        found = [
            (self.tags[i], text)
            for i, text in enumerate((self.text0, self.text1, self.text2))
            if text is not None
        ]
        if self.last is not None:
            found.append((self.last, None))
        return found

    def build(self) -> list[Element]:
        # (the fields read one by one, not through leaves(): this is what message() then
        # append() costs, and the pairs would be as many objects again)
        tags = self.tags
        children: list = []
        if self.text0 is not None:
            children.append(_text_element(tags[0], self.text0))
        if self.text1 is not None:
            children.append(_text_element(tags[1], self.text1))
        if self.text2 is not None:
            children.append(_text_element(tags[2], self.text2))
        if self.last is not None:
            children.append(_make_element(self.last, None))
        return children

    def findtext(self, path: str, default: Any) -> Any:
        for tag, text in self.leaves():
            if tag is path or tag == path:
                return "" if text is None else text
        return default

    def build_attrib(self) -> dict[str, str]:
        attrib: dict = {}
        if self.to is not None:
            attrib["to"] = self.to
        if self.from_ is not None:
            attrib["from"] = self.from_
        if self.type is not None:
            attrib["type"] = self.type
        if self.id is not None:
            attrib["id"] = self.id
        if self.lang is not None:
            attrib[XML_LANG] = self.lang
        return attrib

    def get_attr(self, key: str, default: Any) -> Any:
        value: Any = None
        if key == "to":
            value = self.to
        elif key == "type":
            value = self.type
        elif key == "id":
            value = self.id
        elif key == "from":
            value = self.from_
        elif key == XML_LANG:
            value = self.lang
        return default if value is None else value


@cython.freelist(256)  # parsers make and drop many elements: reuse their memory
@cython.cclass
class Element:
    """An XML element, ElementTree-compatible where it matters.

    ``tag`` is a Clark name (``{jabber:client}message``), ``attrib`` a dict whose namespaced keys
    are Clark names too (``{http://www.w3.org/XML/1998/namespace}lang``); ``text`` is the
    character data before the first child and ``tail`` the data after this element's end tag,
    each ``None`` when there is none. Unlike ElementTree an element is always true, so that
    ``if stanza.find(...)`` does what it reads like.
    """

    __slots__ = ("tag", "_attrib", "text", "tail", "_children", "_lazy")
    tag: str
    # What ``attrib`` returns, or None while no dict has been made: then the attributes are
    # those ``_lazy`` records, if it is set, and else there are none (an element without
    # attributes needs no dict until one is asked for). ``attrib`` makes the dict then and keeps
    # it here; get() answers from the records without making it.
    _attrib: dict[str, str] | None
    text: str | None
    tail: str | None
    # None until the first child: most elements of a stanza have none, and a list is one more
    # object to allocate, track for the cyclic GC and free
    _children: list[Element] | None
    # A stanza's attributes and children that the compiled parser has fully validated but not
    # built yet, as a _Lazy that can build them (``_LazyStanza`` in ext/_parser_c.pyx), or the
    # parts a stanza builder was given (``_Parts``); None otherwise. It stands for the
    # attributes while ``_attrib`` is None, and for the children while ``_children`` is None
    # (if it recorded any: ``_lazy.nnodes``); everything that reads or changes the children
    # gets them through ``_children_of()`` (or ``_materialize()``), which builds them first, as
    # ``attrib`` builds the dict. Once both are built, ``_lazy`` is cleared and the element is
    # an ordinary one. (get(), findtext() and tostring() read it in place, without building.)
    _lazy: Any

    def __init__(self, tag: StrArg, attrib: Mapping[str, str] | None = None, **extra: str) -> None:
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a str, not {type(tag).__name__}")
        self.tag = tag
        if attrib is None:
            self._attrib = dict(extra)
        else:
            if not isinstance(attrib, Mapping):
                raise TypeError(f"attrib must be a mapping, not {type(attrib).__name__}")
            self._attrib = {**attrib, **extra}
        self.text = None
        self.tail = None
        self._children = None
        self._lazy = None

    # -- attributes -------------------------------------------------------------------------

    @property
    def attrib(self) -> dict[str, str]:
        """The attributes: a dict of names (Clark names when namespaced) to values, in document
        order; the same object each time, which may be changed or replaced."""
        attrib = self._attrib
        if attrib is None:
            attrib = _make_attrib(self)
        return attrib

    @attrib.setter
    def attrib(self, value: dict[str, str] | None) -> None:
        self._attrib = {} if value is None else value  # None: no attributes, not "still lazy"
        _settle(self)

    def get(self, key: StrArg, default: Any = None) -> Any:
        """The value of attribute ``key`` (a Clark name when namespaced), or ``default``."""
        attrib: dict[str, str] | None = self._attrib
        if attrib is None:
            if type(key) is str:  # else the dict decides (an unhashable key raises there)
                lazy: _Lazy | None = self._lazy
                if lazy is None:
                    return default
                return lazy.get_attr(key, default)  # from the records: nothing else is made
            attrib = _make_attrib(self)
        return attrib.get(key, default)

    def set(self, key: StrArg, value: StrArg) -> None:
        """Set attribute ``key`` to ``value``."""
        attrib = self._attrib
        if attrib is None:
            attrib = _make_attrib(self)
        attrib[key] = value

    def keys(self) -> list[str]:
        """Attribute names, in document order."""
        attrib = self._attrib
        if attrib is None:
            attrib = _make_attrib(self)
        return list(attrib.keys())

    def items(self) -> list[tuple[str, str]]:
        """Attribute (name, value) pairs, in document order."""
        attrib = self._attrib
        if attrib is None:
            attrib = _make_attrib(self)
        return list(attrib.items())

    # -- children -----------------------------------------------------------------------------

    def _materialize(self, lazy: _Lazy) -> list[Element]:
        """Build the children that ``lazy`` (``_lazy`` when it was read) records (it has some);
        they become ``_children``. Building makes objects, and a collection it sets off can run
        Python code and so let another thread in: if that thread built them first, its list is
        kept and returned, so that every reader sees the same children."""
        children: list[Element] = lazy.build()
        made = self._children
        if made is not None:
            return made
        self._children = children
        _settle(self)
        return children

    def __len__(self) -> int:
        children = _children_of(self)
        return 0 if children is None else len(children)

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Element]:
        children = _children_of(self)
        return iter(() if children is None else children)

    if TYPE_CHECKING:  # (not compiled: in a compiled class, the overloads would replace it)

        @overload
        def __getitem__(self, index: int) -> Element: ...
        @overload
        def __getitem__(self, index: slice) -> list[Element]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Element, list[Element]]:
        children = _children_of(self)
        return ([] if children is None else children)[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = list(value)
            for v in value:
                _check_element(v)
        else:
            _check_element(value)
        children = _children_of(self)
        if children is None:
            children = self._children = []
        children[index] = value

    def __delitem__(self, index: Union[int, slice]) -> None:
        children = _children_of(self)
        del ([] if children is None else children)[index]

    def append(self, element: Element) -> None:
        """Add ``element`` as the last child."""
        _check_element(element)
        children = _children_of(self)
        if children is None:
            self._children = [element]
        else:
            children.append(element)

    def extend(self, elements: Iterable[Element]) -> None:
        """Add each of ``elements`` as a child, in order."""
        elements = list(elements)
        for e in elements:
            _check_element(e)
        children = _children_of(self)
        if children is None:
            self._children = elements
        else:
            children.extend(elements)

    def insert(self, index: int, element: Element) -> None:
        """Insert ``element`` as a child at position ``index``."""
        _check_element(element)
        children = _children_of(self)
        if children is None:
            children = self._children = []
        children.insert(index, element)

    def remove(self, element: Element) -> None:
        """Remove the child ``element`` (compared by identity); ValueError when absent."""
        children = _children_of(self)
        if children is not None:
            for i in range(len(children)):
                if children[i] is element:
                    del children[i]
                    return
        raise ValueError("Element.remove(x): x not a child of this element")

    def clear(self) -> None:
        """Remove children, attributes, text and tail."""
        attrib = self._attrib
        if attrib is not None:  # (else no dict has been made that anyone could hold)
            attrib.clear()
        self._children = None
        self._lazy = None
        self.text = None
        self.tail = None

    # -- search -------------------------------------------------------------------------------

    def find(self, path: StrArg) -> Element | None:
        """The first element matching ``path``, or None.

        Paths: ``tag``, ``{ns}tag``, ``{*}tag``, ``*``, ``a/b``, ``.//tag``.
        """
        p: str = path if type(path) is str else _exact_str(path, "path")  # (typed: fast below)
        if _plain_path(p):  # a plain tag: no path parsing
            children = _children_of(self)
            if children is None:
                return None
            child: Element  # compiled: a C-level type, so child.tag is a field read
            for child in children:
                tag = child.tag
                if tag is p or tag == p:
                    return child
            return None
        for found in _select(self, p):
            return found
        return None

    def findall(self, path: StrArg) -> list[Element]:
        """All elements matching ``path``, in document order."""
        p: str = path if type(path) is str else _exact_str(path, "path")  # (typed: fast below)
        if _plain_path(p):
            children = _children_of(self)
            if children is None:
                return []
            return [child for child in children if child.tag == p]
        return list(_select(self, p))

    def findtext(self, path: StrArg, default: StrArg | None = None) -> StrArg | None:
        """The text of the first element matching ``path`` ("" when it has none), or ``default``."""
        p: str = path if type(path) is str else _exact_str(path, "path")  # (typed: fast below)
        if _plain_path(p):  # as in find(), without the call
            children = self._children
            if children is None:
                if self._lazy is not None:  # read in place: the children stay unbuilt
                    return self._lazy.findtext(p, default)
                return default
            child: Element
            for child in children:
                tag = child.tag
                if tag is p or tag == p:
                    text = child.text
                    return "" if text is None else text
            return default
        found = self.find(p)
        if found is None:
            return default
        text = found.text
        return "" if text is None else text

    def iter(self, tag: StrArg | None = None) -> Iterator[Element]:
        """This element and all its descendants, depth first; only those named ``tag`` if given."""
        any_tag = tag is None or tag == "*"
        stack = [self]
        while stack:
            element = stack.pop()
            if any_tag or element.tag == tag:
                yield element
            children = _children_of(element)
            if children:
                stack.extend(reversed(children))

    def itertext(self) -> Iterator[str]:
        """All character data inside this element, in document order."""
        for event, element in _walk(self):
            if event:
                if element.text:
                    yield element.text
            elif element is not self and element.tail:
                yield element.tail

    # -- copying and display ------------------------------------------------------------------

    def copy(self) -> Element:
        """A shallow copy: new attrib dict and child list, same child elements."""
        new = Element(self.tag, self.attrib)
        new.text = self.text
        new.tail = self.tail
        children = _children_of(self)
        new._children = None if children is None else list(children)
        return new

    def __copy__(self) -> Element:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Element:
        new = Element(self.tag, self.attrib)
        new.text = self.text
        new.tail = self.tail
        children = _children_of(self)
        if children is not None:
            new._children = [c.__deepcopy__(memo) for c in children]
        return new

    def __reduce__(self) -> Any:
        children = _children_of(self)
        return (_rebuild, (self.tag, self.attrib, self.text, self.tail, children))

    def __repr__(self) -> str:
        return f"<Element {self.tag!r} at {id(self):#x}>"


def _make_element(tag: StrArg, attrib: dict | None) -> Element:
    """A new element that takes ``attrib`` as it is (no copy, no checks): for the parsers."""
    element: Element = Element.__new__(Element)
    element.tag = tag
    element._attrib = attrib
    if not cython.compiled:  # (the compiled type's __new__ sets every field to None already)
        element.text = None
        element.tail = None
        element._children = None
        element._lazy = None
    return element


def _make_attrib(element: Element) -> dict[str, str]:
    """Make ``element``'s attribute dict (``_attrib`` is None): from what ``_lazy`` holds (a
    builder's or the parser's), or empty."""
    lazy = element._lazy
    attrib: dict[str, str] = {} if lazy is None else lazy.build_attrib()
    made = element._attrib
    if made is not None:  # by another thread, while a collection that building set off ran
        return made
    element._attrib = attrib
    _settle(element)
    return attrib


def _settle(element: Element) -> None:
    """Clear ``element._lazy`` once neither the attributes nor the children need its records."""
    lazy = element._lazy
    if (
        lazy is not None
        and element._attrib is not None
        and (element._children is not None or lazy.nnodes == 0)
    ):
        element._lazy = None


def _children_of(element: Element) -> list[Element] | None:
    """``element._children``, built first if the parser left them lazy (see Element._lazy)."""
    children = element._children
    if children is None:
        lazy = element._lazy
        if lazy is not None and lazy.nnodes:
            children = element._materialize(lazy)
    return children


def _rebuild(tag: str, attrib: dict, text: Any, tail: Any, children: list | None) -> Element:
    element = Element(tag, attrib)
    element.text = text
    element.tail = tail
    element._children = children or None
    return element


def _check_element(value: Any) -> None:
    if not isinstance(value, Element):
        raise TypeError(f"expected an Element, not {type(value).__name__}")


def _walk(root: Element) -> Iterator[tuple[bool, Element]]:
    """Yield (True, element) at each start and (False, element) at each end, without recursion."""
    stack: list[tuple[Element, int]] = [(root, 0)]
    yield True, root
    while stack:
        element, index = stack[-1]
        children = _children_of(element)
        if children is not None and index < len(children):
            stack[-1] = (element, index + 1)
            child = children[index]
            yield True, child
            stack.append((child, 0))
        else:
            stack.pop()
            yield False, element


def _tag_matcher(step: str) -> Callable[[Element], bool]:
    if step == "*":
        return lambda e: True
    if step.startswith("{*}"):
        local = step[3:]
        return lambda e: e.tag == local or e.tag.endswith("}" + local)
    return lambda e: e.tag == step


# the last path _plain_path() found plain
_PLAIN_PATH: str | None = None


def _plain_path(path: str) -> bool:
    """Whether ``path`` is a plain tag (``tag``, ``{ns}tag``), which find() and its kin compare
    with the children's tags without parsing a path. The last path found plain is kept: callers
    ask for the same few paths again and again, and the same object needs no second look (the
    tests read the whole string, a character at a time when compiled)."""
    global _PLAIN_PATH
    if path is _PLAIN_PATH:
        return True
    if ("/" not in path or _plain_tag(path)) and "*" not in path and path != ".":
        _PLAIN_PATH = path
        return True
    return False


def _plain_tag(path: str) -> bool:
    """True for ``{ns}tag`` whose only slashes are inside the namespace (``{http://...}x``)."""
    return path[:1] == "{" and "/" not in path[path.find("}") + 1 :] and "}" in path


def _split_path(path: str) -> list[str]:
    """Split an ElementPath at the slashes outside ``{namespace}`` parts."""
    steps: list[str] = []
    start = 0
    in_ns = False
    for i, ch in enumerate(path):
        if ch == "{":
            in_ns = True
        elif ch == "}":
            in_ns = False
        elif ch == "/" and not in_ns:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps


def _select(element: Element, path: str) -> Iterator[Element]:
    """Evaluate the supported ElementPath subset, yielding matches in document order."""
    if path.startswith("/"):
        raise SyntaxError("cannot use absolute path on element")
    steps = _split_path(path)
    current = [element]
    i = 0
    while i < len(steps):
        step = steps[i]
        if step == "." or (step == "" and i == 0):
            i += 1
            continue
        if step == "":  # ".//x": descendants
            i += 1
            if i >= len(steps) or steps[i] in ("", "."):
                raise SyntaxError(f"unsupported path {path!r}")
            match = _tag_matcher(steps[i])
            found = []
            for e in current:
                for d in e.iter():
                    if d is not e and match(d):
                        found.append(d)
            current = found
        else:
            if "[" in step or step == "..":
                raise SyntaxError(f"unsupported path step {step!r} in {path!r}")
            match = _tag_matcher(step)
            current = [c for e in current for c in (_children_of(e) or ()) if match(c)]
        i += 1
    # a descendant step can reach one element twice through two ancestors
    seen: set[int] = set()
    for e in current:
        if id(e) not in seen:
            seen.add(id(e))
            yield e


# -- builder ------------------------------------------------------------------------------------


def E(tag: StrArg, *children: Any, **attrs: str | None) -> Element:
    """Build an element in one expression, in the spirit of Net::XMPP2's ``simxml``.

    ``children`` may be Elements (appended), strings (character data, placed as text or as the
    tail of the previous child), dicts (attributes, for names that are not identifiers such as
    Clark names) or None (ignored). Keyword attributes lose one trailing underscore, so
    ``from_="a@b"`` sets ``from``; attributes whose value is None are left out.
    """
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, not {type(tag).__name__}")
    # the dict and the list are made only when needed: a payload such as <active/> has neither
    attrib: dict | None = None
    element: Element = _make_element(tag, None)
    kids: list | None = None
    last: Element | None = None
    for child in children:
        if isinstance(child, Element):
            if kids is None:
                kids = []
            kids.append(child)
            last = child
        elif isinstance(child, str):
            if last is None:
                element.text = child if element.text is None else element.text + child
            else:
                last.tail = child if last.tail is None else last.tail + child
        elif isinstance(child, dict):
            for key, value in child.items():
                if value is not None:
                    if attrib is None:
                        attrib = {}
                    attrib[key] = value
        elif child is not None:
            raise TypeError(
                f"E() children must be Element, str, dict or None, not {type(child).__name__}"
            )
    if attrs:
        if attrib is None and _as_given(attrs):
            attrib = attrs  # (a new dict, made for this call: it can be the element's)
        else:
            for key, value in attrs.items():
                if value is not None:
                    if key and key[-1] == "_":
                        key = key[:-1]
                    if attrib is None:
                        attrib = {}
                    attrib[key] = value
    element._attrib = attrib
    element._children = kids
    return element


def _as_given(attrs: dict) -> bool:
    """True when E()'s keyword attributes are its attributes as they are: no value is None and
    no name loses a trailing underscore."""
    key: str  # (keyword names are str; typed, the tests below are C-level when compiled)
    for key, value in attrs.items():
        if value is None or not key or key[-1] == "_":
            return False
    return True


def _text_element(tag: str, text: StrArg | None) -> Element:
    element: Element = _make_element(tag, None)  # (no attributes: no dict until one is asked for)
    element.text = text
    return element


def _address(value: Any, what: str) -> StrArg:
    """A builder's address: a str (as a plain str, see _text) or a JID's str."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if hasattr(value, "domain"):  # a JID
        return str(value)
    raise TypeError(f"{what} must be a str or a JID, not {type(value).__name__}")


def _text(value: Any, what: str) -> Any:
    """A builder's text or attribute value: a str as a plain str (a subclass, such as a
    StrEnum member, as its value), None as it is; TypeError naming ``what`` for anything
    else. Checked when the stanza is built, where the mistake is; and plain, so that a _Parts
    holds nothing that could lead back to its stanza (it stays out of the cyclic GC)."""
    if value is None or type(value) is str:
        return value
    return _exact_str(value, what)


def _new_parts(tags: tuple, to: Any, from_: Any, type: Any, id: Any, lang: Any) -> _Parts:
    """A stanza builder's _Parts with the attributes every kind of stanza has (None leaves
    one out) and no children yet, whose ``tags`` are those of the kind."""
    parts: _Parts = _Parts.__new__(_Parts)
    if not cython.compiled:  # (the compiled type's __new__ sets every field to None already)
        parts.text0 = parts.text1 = parts.text2 = parts.last = None
        parts.nnodes = 0
    parts.tags = tags
    parts.to = None if to is None else _address(to, "to")
    parts.from_ = None if from_ is None else _address(from_, "from_")
    parts.type = _text(type, "type")
    parts.id = _text(id, "id")
    parts.lang = _text(lang, "lang")
    return parts


def _stanza(tag: str, parts: _Parts) -> Element:
    """A new stanza element made of ``parts`` (see _Parts)."""
    element: Element = _make_element(tag, None)
    element._lazy = parts
    return element


_MESSAGE_TEXTS = (SUBJECT, BODY, THREAD)  # _Parts.tags of a message and of a presence
_PRESENCE_TEXTS = (SHOW, STATUS, PRIORITY)


def message(
    to: Any = None,
    body: StrArg | None = None,
    *,
    type: StrArg | None = "chat",
    id: StrArg | None = None,
    from_: Any = None,
    subject: StrArg | None = None,
    thread: StrArg | None = None,
    lang: StrArg | None = None,
    chat_state: StrArg | None = None,
) -> Element:
    """A ``<message/>`` stanza in ``jabber:client``; omitted parts are left out.

    ``message("romeo@montague.lit", "hi", id="m1")`` is the stanza a chat client sends; add
    payloads with ``append()``. ``type=None`` leaves the type out (RFC 6121's "normal").
    ``chat_state`` adds an XEP-0085 chat state (``"active"``, ``"composing"``, ``"paused"``,
    ``"inactive"`` or ``"gone"``) as the last child; with no body it is a standalone
    notification.
    """
    parts: _Parts = _new_parts(_MESSAGE_TEXTS, to, from_, type, id, lang)
    parts.text0 = _text(subject, "subject")
    parts.text1 = _text(body, "body")
    parts.text2 = _text(thread, "thread")
    if chat_state is not None:
        parts.last = _chat_state_tag(chat_state)
    parts.nnodes = (
        (subject is not None) + (body is not None) + (thread is not None) + (chat_state is not None)
    )
    return _stanza(MESSAGE, parts)


def _chat_state_tag(state: Any) -> str:
    """The tag of the XEP-0085 chat state ``state``; TypeError or ValueError for no such state."""
    if state is _ACTIVE:  # the state sent with every message, passed as a literal: no lookup
        return _ACTIVE_TAG
    if not isinstance(state, str):
        raise TypeError(f"chat_state must be a str, not {state.__class__.__name__}")
    tag = _CHAT_STATE_TAGS.get(state)
    if tag is None:
        raise ValueError(f"chat_state must be one of {', '.join(CHAT_STATES)}, not {state!r}")
    return tag


def presence(
    to: Any = None,
    *,
    type: StrArg | None = None,
    id: StrArg | None = None,
    from_: Any = None,
    show: StrArg | None = None,
    status: StrArg | None = None,
    priority: Any = None,  # int | None; Any so that the compiled build checks it as we do
    lang: StrArg | None = None,
) -> Element:
    """A ``<presence/>`` stanza in ``jabber:client`` (RFC 6121 section 4.7)."""
    parts: _Parts = _new_parts(_PRESENCE_TEXTS, to, from_, type, id, lang)
    if priority is not None:
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"priority must be an int, not {priority.__class__.__name__}")
        if not -128 <= priority <= 127:
            raise ValueError(f"priority must be an int from -128 to 127, not {priority}")
        parts.text2 = str(priority)
    parts.text0 = _text(show, "show")
    parts.text1 = _text(status, "status")
    parts.nnodes = (show is not None) + (status is not None) + (priority is not None)
    return _stanza(PRESENCE, parts)


def iq(
    type: StrArg,
    payload: Element | None = None,
    *,
    to: Any = None,
    id: StrArg | None = None,
    from_: Any = None,
) -> Element:
    """An ``<iq/>`` stanza in ``jabber:client`` with an optional payload element."""
    if not isinstance(type, str):
        raise TypeError(f"iq type must be a str, not {type.__class__.__name__}")
    if type not in ("get", "set", "result", "error"):
        raise ValueError(f"iq type must be get, set, result or error, not {type!r}")
    element: Element = _stanza(IQ, _new_parts((), to, from_, type, id, None))
    if payload is not None:
        _check_element(payload)
        element._children = [payload]
    return element


@cython.cclass
class ElementMaker:
    """``E`` bound to a namespace.

    ``C = ElementMaker("jabber:client"); C.message(C.body("hi"))`` builds a message.
    """

    # (compiled, an extension type: its attribute lookup finds a name made before in the
    # instance's __dict__ and calls __getattr__ only for a new one, where a class with
    # __getattr__ goes through a slower hook for every name, and CPython cannot specialize it)
    _prefix: str

    def __init__(self, namespace: StrArg | None = None) -> None:
        self._prefix = f"{{{namespace}}}" if namespace else ""

    def __call__(self, local: StrArg, *children: Any, **attrs: str | None) -> Element:
        return E(self._prefix + local, *children, **attrs)

    def __getattr__(self, local: str) -> Callable[..., Element]:
        if local.startswith("__"):
            raise AttributeError(local)
        # a partial, not a closure: its call hands the arguments on to E as they came, where a
        # closure would pack them into a tuple and a dict first and E unpack them again
        make: Callable[..., Element] = partial(E, self._prefix + local)
        setattr(self, local, make)  # later lookups find it without coming here
        return make


# -- serializer ---------------------------------------------------------------------------------


def _check_chars(value: str, what: str) -> None:
    if not (value.isascii() and value.isprintable()):
        bad = _INVALID_CHAR.search(value)
        if bad is not None:
            raise ValueError(f"{what} contains {bad.group()!r}, which XML 1.0 does not allow")


def escape_text(value: Any) -> str:
    """Escape character data for XML; ValueError for characters XML 1.0 forbids."""
    if type(value) is not str:  # a subclass as a plain str; TypeError for what is no str
        value = _exact_str(value, "text")
    _check_chars(value, "text")
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:  # a literal CR would be read back as LF
        value = value.replace("\r", "&#13;")
    return value


def escape_attr(value: Any, name: StrArg = "attribute") -> str:
    """Escape an attribute value for ``"``-quoting, keeping tabs and line ends intact."""
    if type(value) is not str:  # a subclass as a plain str; TypeError for what is no str
        value = _exact_str(value, f"attribute {name!r}")
    _check_chars(value, f"attribute {name!r}")
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    if not value.isprintable():  # tab, LF and CR would be normalised to spaces by the reader
        value = value.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return value


# Read for an element that has no attribute dict yet; never changed.
_NO_ATTRIBUTES: dict[str, str] = {}
# Checked names, one cache per kind: "xmlns" is a fine tag but no attribute name.
_name_caches: dict[str, dict[str, tuple[str, str]]] = {"tag": {}, "attribute name": {}}


def _parse_name(name: Any, what: str) -> tuple[str, str]:
    """(namespace, local) of a Clark name used as ``what`` ("tag" or "attribute name"), checked
    once and cached."""
    cache = _name_caches[what]
    cached = cache.get(name)
    if cached is not None:
        return cached
    ns, local = _split_tag(_exact_str(name, what))  # (TypeError for what is no str)
    if _NCNAME.match(local) is None:
        raise ValueError(f"{what} {name!r} is not a valid XML name")
    _check_chars(ns, f"namespace of {what} {name!r}")
    if ns == XMLNS_NS or (ns == XML_NS and what == "tag"):
        raise ValueError(f"{what} {name!r} uses the reserved namespace {ns!r}")
    if local == "xmlns" and not ns and what != "tag":
        raise ValueError(
            "attribute name 'xmlns' is a namespace declaration: put the namespace in the tag"
        )
    if len(cache) < 10000:
        cache[name] = (ns, local)
    return ns, local


def _open(tag: Any, out: list, default_ns: str) -> tuple[str, str]:
    """Write ``<local`` and the xmlns that ``tag`` needs where ``default_ns`` is the default;
    (local, namespace)."""
    ns, local = _parse_name(tag, "tag")
    out.append("<")
    out.append(local)
    if ns != default_ns:
        out.append(' xmlns="')
        out.append(escape_attr(ns, "xmlns"))
        out.append('"')
    return local, ns


def _start_tag(
    element: Element, out: list, default_ns: str, prefixes: dict | None
) -> tuple[str, str, dict | None]:
    """Write ``<tag attrs...`` (without the closing ``>``).

    Returns the local name (for the end tag) and the scope the element opens for its children:
    its namespace as the default, and the attribute prefixes declared so far.
    """
    local, ns = _open(element.tag, out, default_ns)
    attrib = element._attrib
    if attrib is None:  # no dict made yet: none, or still in _lazy (read, not kept)
        attrib = _NO_ATTRIBUTES if element._lazy is None else element._lazy.build_attrib()
    for name, value in attrib.items():
        attr_ns, attr_local = _parse_name(name, "attribute name")
        if not attr_ns:
            out.append(" ")
        elif attr_ns == XML_NS:
            out.append(" xml:")
        else:
            if prefixes is None or attr_ns not in prefixes:
                prefixes = {} if prefixes is None else dict(prefixes)
                prefixes[attr_ns] = f"a{len(prefixes)}"
                out.append(" xmlns:")
                out.append(prefixes[attr_ns])
                out.append('="')
                out.append(escape_attr(attr_ns, "xmlns"))
                out.append('"')
            out.append(" ")
            out.append(prefixes[attr_ns])
            out.append(":")
        out.append(attr_local)
        out.append('="')
        out.append(escape_attr(value, name))
        out.append('"')
    return local, ns, prefixes


def _serialize(root: Element, out: list, default_ns: str) -> None:
    """Append the serialization of ``root`` (without its tail) to ``out``, without recursion."""
    # one frame per open element: [element, index of the current child, local name, scope]
    stack: list[list] = []
    element = root
    ns = default_ns
    prefixes: dict | None = None
    while True:
        local, inner_ns, inner_prefixes = _start_tag(element, out, ns, prefixes)
        lazy: Any = element._lazy
        leaves = None
        children = element._children
        if children is None and type(lazy) is _Parts:
            leaves = lazy.leaves()  # a builder's: written from its parts, none built
        else:
            children = _children_of(element)  # built here if lazy: the loop below reads them
        if not children and not leaves and element.text is None:
            out.append("/>")
        else:
            out.append(">")
            if element.text is not None:  # (not just "if text": a non-str 0 must not vanish)
                out.append(escape_text(element.text))
            if children:
                stack.append([element, 0, local, inner_ns, inner_prefixes])
                element = children[0]
                ns, prefixes = inner_ns, inner_prefixes
                continue
            for tag, text in leaves or ():
                leaf, _ = _open(tag, out, inner_ns)
                if text is None:
                    out.append("/>")
                else:
                    out.append(">")
                    out.append(escape_text(text))
                    out.append("</")
                    out.append(leaf)
                    out.append(">")
            out.append("</")
            out.append(local)
            out.append(">")
        # ``element`` is complete: write its tail, then move to its next sibling or close parents
        while True:
            if element is not root and element.tail is not None:
                out.append(escape_text(element.tail))
            if not stack:
                return
            frame = stack[-1]
            parent = frame[0]
            frame[1] += 1
            if frame[1] < len(parent._children):
                element = parent._children[frame[1]]
                ns, prefixes = frame[3], frame[4]
                break
            stack.pop()
            out.append("</")
            out.append(frame[2])
            out.append(">")
            element = parent


def tostring(element: Element, *, default_namespace: StrArg | None = None) -> bytes:
    """Serialize ``element`` (not its tail) as UTF-8, without an XML declaration.

    ``default_namespace`` is the namespace the output inherits from its context: a stanza written
    into a ``jabber:client`` stream passes ``"jabber:client"`` and its top element needs no xmlns.
    Elements take their namespace as the default namespace (never ``ns0:`` prefixes); only
    namespaced attributes get a declared prefix. Raises TypeError/ValueError for trees that
    cannot be written as XML (non-str values, characters XML 1.0 forbids, invalid names).
    """
    if not isinstance(element, Element):
        raise TypeError(f"tostring() needs an Element, not {type(element).__name__}")
    out: list = []
    default_ns = _exact_str(default_namespace, "default_namespace") if default_namespace else ""
    _serialize(element, out, default_ns)
    return "".join(out).encode("utf-8")


def message_bytes(to: Any, body: Any, type: Any, id: Any, chat_state: Any = None) -> bytes:
    """``tostring(message(to, body, type=type, id=id, chat_state=chat_state),
    default_namespace="jabber:client")``: the bytes :meth:`Connection.send_message` writes for
    a plain message. The compiled writer (``fastxmpp._writer_c.message_bytes``) writes them
    without building the tree."""
    stanza = message(to, body, type=type, id=id, chat_state=chat_state)
    return tostring(stanza, default_namespace=CLIENT_NS)
