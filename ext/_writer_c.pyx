# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The compiled serializer: the same output as ``fastxmpp._xmlcore.tostring``, written in C.

Escaping, the XML 1.0 character check and the encoding to UTF-8 run over each string in one
pass into one growing buffer; names are checked once (by the pure-Python code) and cached. Anything
unusual (very deep trees) is handed to the pure implementation, which gives the same bytes.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

from fastxmpp._xmlcore_c cimport (
    Element, _Parts, _chat_state_tag, _children_of, _exact_str, _text
)

import os as _os
from sys import intern as _intern

from fastxmpp import _xmlcore_c as _core

cdef extern from "_escape.h":
    const unsigned char* fx_esc
    void fx_escape_init()
    unsigned char* fx_escape(unsigned char* out, unsigned char c, unsigned char mask) noexcept nogil
    unsigned char* fx_put_wide(const void* data, int kind, Py_ssize_t k, unsigned char* out, unsigned char mask) noexcept nogil
    Py_ssize_t fx_copy_plain(const unsigned char* s, Py_ssize_t i, Py_ssize_t k, unsigned char** out) noexcept nogil

cdef extern from "_bytes.h":
    void fx_copy(unsigned char* d, const unsigned char* s, Py_ssize_t n) noexcept nogil

cdef extern from "Python.h":
    object PyUnicode_DecodeASCII(const char* s, Py_ssize_t size, const char* errors)
    bint PyUnicode_IS_ASCII(object s)  # (a str, always ready since Python 3.12, compact before)
    void* PyUnicode_DATA(object s)
    int PyUnicode_KIND(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)


cdef str XML_NS = "http://www.w3.org/XML/1998/namespace"
cdef dict TAGS = {}   # Clark name -> its _Name, checked as a tag
cdef dict ATTRS = {}  # the same for attribute names (checked as such: "xmlns" is refused)
cdef enum:
    MAX_NAMES = 10000
    MAX_DEPTH = 512   # deeper trees go to the pure-Python writer (no recursion limit there)

fx_escape_init()


cdef struct Buf:
    unsigned char* p
    Py_ssize_t n
    Py_ssize_t cap
    bint heap          # p is malloc'ed (else it is tostring()'s stack buffer)


cdef int _reserve(Buf* b, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap = b.cap
    cdef unsigned char* p
    if b.n + more <= cap:
        return 0
    while cap < b.n + more:
        cap *= 2
    if b.heap:
        p = <unsigned char*>realloc(b.p, cap)
    else:
        p = <unsigned char*>malloc(cap)
        if p != NULL:
            memcpy(p, b.p, b.n)
    if p == NULL:
        raise MemoryError()
    b.heap = True
    b.p = p
    b.cap = cap
    return 0


cdef inline int _put(Buf* b, const char* s, Py_ssize_t k) except -1:
    if b.n + k > b.cap:
        _reserve(b, k)
    fx_copy(b.p + b.n, <const unsigned char*>s, k)
    b.n += k
    return 0


cdef int _refuse(object value, bint attr, object what) except -1:
    """Raise what the pure writer raises for ``value``, which holds a character XML 1.0 does not
    allow (lone surrogates included)."""
    _core._check_chars(value, f"attribute {what!r}" if attr else "text")
    raise AssertionError("unreachable: the pure check must refuse this")


cdef int _put_str(Buf* b, object value, bint attr, object what) except -1:
    """Append ``value`` escaped for text (or a double-quoted attribute), as UTF-8."""
    cdef Py_ssize_t k, i, run
    cdef const unsigned char* s
    cdef unsigned char* out
    cdef unsigned char mask = 2 if attr else 1
    if type(value) is not str:
        if not isinstance(value, str):
            if attr:
                raise TypeError(f"attribute {what!r} must be a str, not {type(value).__name__}")
            raise TypeError(f"text must be a str, not {type(value).__name__}")
    if not PyUnicode_IS_ASCII(value):
        return _put_wide(b, value, mask, attr, what)
    s = <const unsigned char*>PyUnicode_DATA(value)  # its characters are its UTF-8 bytes
    k = PyUnicode_GET_LENGTH(value)
    if b.n + 6 * k > b.cap:  # (6: "&quot;"; it leaves fx_copy_plain the room it needs)
        _reserve(b, 6 * k)
    out = b.p + b.n
    i = 0
    while i < k:
        i = fx_copy_plain(s, i, k, &out)  # the long plain runs, sixteen bytes at a time
        run = i
        while i < k and fx_esc[s[i]] == 0:
            i += 1
        if i > run:
            fx_copy(out, s + run, i - run)
            out += i - run
        if i >= k:
            break
        out = fx_escape(out, s[i], mask)
        if out == NULL:
            _refuse(value, attr, what)
        i += 1
    b.n = out - b.p
    return 0


cdef int _put_wide(Buf* b, object value, unsigned char mask, bint attr, object what) except -1:
    """_put_str for a str with non-ASCII characters: encoded here, in the same pass, rather than
    through the UTF-8 copy that PyUnicode_AsUTF8AndSize would make and keep in the str."""
    cdef Py_ssize_t k = PyUnicode_GET_LENGTH(value)
    cdef unsigned char* out
    if b.n + 6 * k > b.cap:  # at most 4 bytes a character, 6 for an escaped ASCII one
        _reserve(b, 6 * k)
    out = fx_put_wide(PyUnicode_DATA(value), PyUnicode_KIND(value), k, b.p + b.n, mask)
    if out == NULL:
        _refuse(value, attr, what)
    b.n = out - b.p
    return 0


cdef class _Name:
    """A checked Clark name with the bytes the writer puts for it, made once per name."""
    cdef str ns        # its namespace, interned ('' for none; see _same_str)
    cdef bytes local   # its local name, UTF-8
    # tags: b"<local", b'<local xmlns="ns"' (escaped) and b"</local>"; attribute names without
    # a namespace or in the xml one: b' local="' or b' xml:local="' as ``open``, else None
    cdef bytes open
    cdef bytes open_ns
    cdef bytes close


cdef _Name _new_name(object name, bint attr):
    cdef _Name made = _Name.__new__(_Name)
    ns, local = _core._parse_name(name, "attribute name" if attr else "tag")
    made.ns = _intern(ns)
    made.local = local.encode("utf-8")
    if not attr:
        made.open = b"<" + made.local
        # (_parse_name has checked the namespace's characters: escaping cannot fail here)
        made.open_ns = made.open + b' xmlns="' + _core.escape_attr(ns, "xmlns").encode() + b'"'
        made.close = b"</" + made.local + b">"
    elif not ns:
        made.open = b" " + made.local + b'="'
    elif ns == XML_NS:
        made.open = b" xml:" + made.local + b'="'
    return made


cdef struct Seen:
    PyObject* name      # the str object last seen in this slot (owned)
    PyObject* parsed    # its _Name (owned)

cdef Seen SEEN[512]   # 0-255 tags, 256-511 attribute names


cdef inline _Name _name(object name, bint attr):
    """The _Name of a Clark name, checked once; the same str object is found again by identity
    (parsed and built trees reuse their tag objects), else by the dict (_seen)."""
    cdef Seen* slot = &SEEN[((<size_t><PyObject*>name >> 4) & 255) + (256 if attr else 0)]
    if slot.name == <PyObject*>name:
        return <_Name>slot.parsed
    return _seen(name, attr, slot)


cdef _Name _seen(object name, bint attr, Seen* slot):
    """_name() for a str that is not the one last seen in its ``slot``: it takes its place."""
    cdef object cached
    cdef dict names = ATTRS if attr else TAGS
    cached = names.get(name)
    if cached is None:
        cached = _new_name(name, attr)
        if len(names) < MAX_NAMES:
            names[name] = cached
    Py_XDECREF(slot.name)
    Py_XDECREF(slot.parsed)
    Py_INCREF(name)
    Py_INCREF(cached)
    slot.name = <PyObject*>name
    slot.parsed = <PyObject*>cached
    return <_Name>cached


cdef inline bint _same_str(str a, str b) except -1:
    """a == b, cheaply: Cython compares two str with PyUnicode_Compare, which orders them
    (walking their common prefix) even when the lengths differ. The namespaces compared here
    are interned (_name, tostring), so equal ones are usually the same object."""
    if a is b:
        return True
    if len(a) != len(b):
        return False
    return a == b


cdef inline int _put_bytes(Buf* b, bytes value) except -1:
    return _put(b, <const char*>value, len(value))


cdef object _attribute(Buf* b, object key, object value, object prefixes):
    """Write `` key="value"``; returns the prefixes in scope (a new dict when this attribute's
    namespace needed a declaration)."""
    cdef _Name attr = _name(key, True)
    if attr.open is not None:  # no namespace, or xml's
        _put_bytes(b, attr.open)
    else:
        if prefixes is None or attr.ns not in prefixes:
            prefixes = {} if prefixes is None else dict(prefixes)
            prefixes[attr.ns] = f"a{len(prefixes)}"
            _put(b, " xmlns:", 7)
            prefix = (<str>prefixes[attr.ns]).encode()
            _put_bytes(b, prefix)
            _put(b, '="', 2)
            _put_str(b, attr.ns, True, "xmlns")
            _put(b, '"', 1)
        prefix = (<str>prefixes[attr.ns]).encode()
        _put(b, " ", 1)
        _put_bytes(b, prefix)
        _put(b, ":", 1)
        _put_bytes(b, attr.local)
        _put(b, '="', 2)
    _put_str(b, value, True, key)
    _put(b, '"', 1)
    return prefixes


cdef int _element(Buf* b, Element el, str default_ns, object prefixes, int depth) except -1:
    """Write ``el`` (not its tail); 1, with the output cut short, when the tree is deeper than
    MAX_DEPTH (see tostring)."""
    if depth > MAX_DEPTH:
        return 1
    cdef _Name name = _name(el.tag, False)
    cdef list children
    cdef Element child
    cdef dict attrib
    cdef object lazy
    cdef _Parts parts
    _put_bytes(b, name.open if _same_str(name.ns, default_ns) else name.open_ns)
    attrib = el._attrib
    lazy = el._lazy
    if attrib is not None:
        for key, value in attrib.items():
            prefixes = _attribute(b, key, value, prefixes)
    elif lazy is not None:
        if type(lazy) is _Parts:  # a builder's: read in place
            parts = <_Parts>lazy
            _stanza_attributes(b, parts.to, parts.from_, parts.type, parts.id, parts.lang)
        else:  # still recorded by the parser: the dict is made now
            for key, value in el.attrib.items():
                prefixes = _attribute(b, key, value, prefixes)
    children = el._children
    if children is None and lazy is not None:
        if type(lazy) is _Parts:
            return _parts_children(b, el, name, <_Parts>lazy)
        children = _children_of(el)  # built first: the parser left them lazy
    if not children and el.text is None:
        _put(b, "/>", 2)
        return 0
    _put(b, ">", 1)
    if el.text is not None:  # (not just "if text": a non-str 0 must not vanish)
        _put_str(b, el.text, False, None)
    if children is not None:
        for obj in children:
            child = <Element?>obj
            if _element(b, child, name.ns, prefixes, depth + 1):
                return 1
            if child.tail is not None:
                _put_str(b, child.tail, False, None)
    _put_bytes(b, name.close)
    return 0


cdef int _stanza_attributes(
    Buf* b, object to, object from_, object type, object id, object lang
) except -1:
    """The attributes a stanza builder writes (see _Parts), in its order and as _attribute
    writes them; None leaves one out. (Written out: each `` name="`` then is a copy of
    constant size, which the compiler makes a store or two; through a shared helper, which it
    did not inline, it cost 100 instructions more.)"""
    if to is not None:
        _put(b, ' to="', 5)
        _put_str(b, to, True, "to")
        _put(b, '"', 1)
    if from_ is not None:
        _put(b, ' from="', 7)
        _put_str(b, from_, True, "from")
        _put(b, '"', 1)
    if type is not None:
        _put(b, ' type="', 7)
        _put_str(b, type, True, "type")
        _put(b, '"', 1)
    if id is not None:
        _put(b, ' id="', 5)
        _put_str(b, id, True, "id")
        _put(b, '"', 1)
    if lang is not None:
        _put(b, ' xml:lang="', 11)
        _put_str(b, lang, True, _core.XML_LANG)
        _put(b, '"', 1)
    return 0


cdef int _parts_children(Buf* b, Element el, _Name name, _Parts parts) except -1:
    """The rest of ``el`` (named ``name``) after its attributes, when its children are still
    the ones a builder was given (see _Parts): written as _element writes them built."""
    if parts.nnodes == 0 and el.text is None:
        _put(b, "/>", 2)
        return 0
    _put(b, ">", 1)
    if el.text is not None:
        _put_str(b, el.text, False, None)
    if parts.text0 is not None:
        _text_child(b, name, parts.tags[0], parts.text0)
    if parts.text1 is not None:
        _text_child(b, name, parts.tags[1], parts.text1)
    if parts.text2 is not None:
        _text_child(b, name, parts.tags[2], parts.text2)
    if parts.last is not None:
        _text_child(b, name, parts.last, None)
    _put_bytes(b, name.close)
    return 0


cdef int _text_child(Buf* b, _Name parent, object tag, object text) except -1:
    """A child with no attributes or children: ``<tag>text</tag>``, or ``<tag/>`` for None."""
    cdef _Name name = _name(tag, False)
    _put_bytes(b, name.open if _same_str(name.ns, parent.ns) else name.open_ns)
    if text is None:
        _put(b, "/>", 2)
        return 0
    _put(b, ">", 1)
    _put_str(b, text, False, None)
    _put_bytes(b, name.close)
    return 0


cdef object _last_default = None  # the last default_namespace tostring() was given
cdef str _last_default_ns = ""     # and its interned equal


cdef str _default_ns(object default_namespace):
    """``default_namespace`` interned (see _same_str), or '' for None or '': a stream passes
    the same object every time, which is then found without a call to sys.intern."""
    global _last_default, _last_default_ns
    if default_namespace is _last_default:
        return _last_default_ns
    if not default_namespace:
        return ""
    # (a str subclass, such as a StrEnum member, as its plain str: sys.intern refuses those)
    _last_default_ns = _intern(_exact_str(default_namespace, "default_namespace"))
    _last_default = default_namespace
    return _last_default_ns


def tostring(element, *, default_namespace=None):
    """Serialize ``element`` (not its tail) as UTF-8; see :func:`fastxmpp.xml.tostring`."""
    cdef Buf b
    cdef Element el
    cdef unsigned char first[2048]  # on the stack: most stanzas fit, no allocation
    if not isinstance(element, Element):
        raise TypeError(f"tostring() needs an Element, not {type(element).__name__}")
    el = <Element>element
    b.p = first
    b.n = 0
    b.cap = sizeof(first)
    b.heap = False
    try:
        if _element(&b, el, _default_ns(default_namespace), None, 0) == 0:
            return PyBytes_FromStringAndSize(<char*>b.p, b.n)
    finally:
        if b.heap:
            free(b.p)
    # too deep for the C stack: the pure-Python writer has no recursion
    return _core.tostring(element, default_namespace=default_namespace)


# message_bytes()'s chat states, written as _element writes them inside a jabber:client message
cdef dict CHAT_STATE_BYTES = {
    state: f'<{state} xmlns="{_core.CHATSTATES_NS}"/>'.encode() for state in _core.CHAT_STATES
}


def message_bytes(to, body, type, id, chat_state=None):
    """``tostring(message(to, body, type=type, id=id, chat_state=chat_state),
    default_namespace="jabber:client")``, byte for byte and error for error, without building
    the tree: what send_message() writes for every plain message (see
    ``fastxmpp._xmlcore.message_bytes``)."""
    cdef Buf b
    cdef unsigned char first[1024]
    cdef object state = None
    # the builder's checks, in its order (see message() and _new_parts)
    # (PyUnicode_CheckExact: the parameter ``type`` hides the builtin, and .__class__ is a
    # lookup by name)
    if to is not None and not PyUnicode_CheckExact(to):
        to = _core._address(to, "to")  # a JID (its str), or the builder's TypeError
    if type is not None and not PyUnicode_CheckExact(type):
        type = _text(type, "type")
    if id is not None and not PyUnicode_CheckExact(id):
        id = _text(id, "id")
    if body is not None and not PyUnicode_CheckExact(body):
        body = _text(body, "body")
    if chat_state is not None:
        state = CHAT_STATE_BYTES.get(chat_state) if isinstance(chat_state, str) else None
        if state is None:
            _chat_state_tag(chat_state)  # the builder's TypeError or ValueError
    b.p = first
    b.n = 0
    b.cap = sizeof(first)
    b.heap = False
    try:
        _put(&b, "<message", 8)
        _stanza_attributes(&b, to, None, type, id, None)
        if body is None and state is None:
            _put(&b, "/>", 2)
        else:
            _put(&b, ">", 1)
            if body is not None:
                _put(&b, "<body>", 6)
                _put_str(&b, body, False, None)
                _put(&b, "</body>", 7)
            if state is not None:
                _put_bytes(&b, <bytes>state)
            _put(&b, "</message>", 10)
        return PyBytes_FromStringAndSize(<char*>b.p, b.n)
    finally:
        if b.heap:
            free(b.p)


# -- stanza ids ---------------------------------------------------------------------------------

cdef unsigned long long _last_id = 0
cdef bytes _id_prefix = _os.urandom(4).hex().encode()  # 8 hex digits of this process


def new_id():
    """A fresh stanza id, ``'<8 hex digits>-<n>'`` as :func:`fastxmpp._ids.new_id` makes them
    (its own random prefix, so the two never collide): unique in the process, since the GIL is
    held from the increment to the return."""
    global _last_id
    cdef char buf[32]
    cdef char digits[20]
    cdef int k = 0, i
    _last_id += 1
    cdef unsigned long long n = _last_id
    while True:
        digits[k] = <char>(48 + n % 10)
        k += 1
        n //= 10
        if n == 0:
            break
    memcpy(buf, <const char*>_id_prefix, 8)
    buf[8] = 45  # '-'
    for i in range(k):
        buf[9 + i] = digits[k - 1 - i]
    return PyUnicode_DecodeASCII(buf, 9 + k, NULL)
