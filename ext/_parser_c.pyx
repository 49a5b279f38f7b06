# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The compiled XMPP stream parser: one pass over the bytes in C, one Element per stanza.

It is a resumable state machine: every byte is examined once (a multi-byte character cut by a
read is looked at again, at most three bytes), so feeding one byte at a time is as linear as
feeding megabytes. The bytes of the stanza being read stay in a buffer and the tree is built from
spans of it; validation (UTF-8, XML 1.0 characters, names, namespaces, the RFC 6120 restrictions,
the limits) is complete before an element is handed out.

It follows the pure-Python parser (``fastxmpp/_parser_py.py``, expat with strict handlers) rule
for rule: same items, same error conditions; the test suite runs against both.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.object cimport PyTypeObject, destructor
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memmove, memcmp, memset

from fastxmpp._xmlcore_c cimport Element, _Lazy

from fastxmpp._events import StreamClose, StreamOpen
from fastxmpp._limits import (
    DEFAULT_MAX_ATTRIBUTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_STANZA_SIZE,
    check_limits,
)
from fastxmpp.errors import StreamError

cdef extern from "Python.h":
    PyObject* PyObject_Init(PyObject* op, PyTypeObject* tp)
    void PyObject_GC_Track(PyObject* op)
    void PyObject_GC_UnTrack(PyObject* op)
    PyTypeObject* Py_TYPE_PTR "Py_TYPE"(PyObject* o)
    bint PyType_HasFeature(PyTypeObject* tp, unsigned long feature)
    const unsigned long Py_TPFLAGS_HEAPTYPE
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    void PyUnicode_InternInPlace(PyObject** p)
    bint PyUnicode_IS_READY(PyObject* o)
    bint PyUnicode_IS_ASCII(PyObject* o)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject* o)
    int PyUnicode_KIND(PyObject* o)
    void* PyUnicode_DATA_PTR "PyUnicode_DATA"(PyObject* o)
    ctypedef unsigned char Py_UCS1
    ctypedef unsigned short Py_UCS2

cdef extern from "_nametab.h":
    ctypedef struct fx_range:
        unsigned short lo
        unsigned short hi
    const int fx_name_start_count
    const fx_range fx_name_start[]
    const int fx_name_char_count
    const fx_range fx_name_char[]

cdef extern from "_skip.h":
    Py_ssize_t fx_skip_aval(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) noexcept nogil
    Py_ssize_t fx_skip_text(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) noexcept nogil
    Py_ssize_t fx_utf8_count(const unsigned char* p, Py_ssize_t n, Py_UCS4* maxchar) noexcept nogil
    int fx_ascii8_ucs1(const unsigned char* p, Py_UCS1* d) noexcept nogil
    int fx_ascii8_ucs2(const unsigned char* p, Py_UCS2* d) noexcept nogil
    int fx_ascii8_ucs4(const unsigned char* p, Py_UCS4* d) noexcept nogil
    Py_ssize_t fx_copy_literal(const unsigned char* s, Py_ssize_t n, unsigned char* out, bint attr) noexcept nogil
    const int FX_HAVE_SKIP16

cdef extern from "_bytes.h":
    void fx_copy(unsigned char* d, const unsigned char* s, Py_ssize_t n) noexcept nogil
    bint fx_eq(const unsigned char* a, const unsigned char* b, Py_ssize_t n) noexcept nogil

cdef str S_XML_NS = "http://www.w3.org/XML/1998/namespace"
cdef str S_XMLNS_NS = "http://www.w3.org/2000/xmlns/"
cdef str S_STREAM_NS = "http://etherx.jabber.org/streams"

# -- character classes ----------------------------------------------------------------------

cdef enum:
    C_NSTART = 1   # ASCII name-start character (no colon: names are namespace-aware)
    C_NAME = 2     # ASCII name character
    C_WS = 4       # XML white space
    C_TEXT = 8     # plain character data: needs no second look
    C_AVAL = 16    # plain attribute-value byte
    C_CHAR = 32    # ASCII character allowed in XML 1.0

cdef unsigned char CLS[256]


cdef void _init_classes():
    cdef int c
    for c in range(256):
        CLS[c] = 0
    for c in range(0x20, 0x80):
        CLS[c] |= C_CHAR | C_TEXT | C_AVAL
    for c in (9, 10, 13):
        CLS[c] |= C_CHAR | C_WS
    CLS[32] |= C_WS
    CLS[9] |= C_TEXT
    CLS[10] |= C_TEXT
    for c in (ord('<'), ord('&'), ord(']')):
        CLS[c] &= ~C_TEXT
    for c in (ord('<'), ord('&'), ord("'"), ord('"')):
        CLS[c] &= ~C_AVAL
    for c in range(ord('a'), ord('z') + 1):
        CLS[c] |= C_NSTART | C_NAME
    for c in range(ord('A'), ord('Z') + 1):
        CLS[c] |= C_NSTART | C_NAME
    CLS[ord('_')] |= C_NSTART | C_NAME
    for c in range(ord('0'), ord('9') + 1):
        CLS[c] |= C_NAME
    CLS[ord('.')] |= C_NAME
    CLS[ord('-')] |= C_NAME


_init_classes()


cdef inline int _utf8(const unsigned char* p, Py_ssize_t avail, Py_UCS4* cp) noexcept nogil:
    """Length of the character at ``p``: 0 when cut short, -1 when not UTF-8 or not XML 1.0."""
    cdef unsigned char c = p[0], c1, c2, c3
    cdef Py_UCS4 v
    if c < 0x80:
        if CLS[c] & C_CHAR:
            cp[0] = c
            return 1
        return -1
    if c < 0xC2:
        return -1
    if avail < 2:
        return 0
    c1 = p[1]
    if (c1 & 0xC0) != 0x80:
        return -1
    if c < 0xE0:
        cp[0] = ((c & 0x1F) << 6) | (c1 & 0x3F)
        return 2
    if c < 0xF0:
        if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F):
            return -1
        if avail < 3:
            return 0
        c2 = p[2]
        if (c2 & 0xC0) != 0x80:
            return -1
        v = ((c & 0x0F) << 12) | ((c1 & 0x3F) << 6) | (c2 & 0x3F)
        if v == 0xFFFE or v == 0xFFFF:
            return -1
        cp[0] = v
        return 3
    if c > 0xF4 or (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 > 0x8F):
        return -1
    if avail < 3:
        return 0
    c2 = p[2]
    if (c2 & 0xC0) != 0x80:
        return -1
    if avail < 4:
        return 0
    c3 = p[3]
    if (c3 & 0xC0) != 0x80:
        return -1
    cp[0] = ((c & 0x07) << 18) | ((c1 & 0x3F) << 12) | ((c2 & 0x3F) << 6) | (c3 & 0x3F)
    return 4


cdef inline Py_ssize_t _skip_nonascii(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n, int* k) noexcept nogil:
    """Past the run of non-ASCII characters at ``pos`` (a word of Cyrillic, of Japanese...),
    to the next ASCII byte or the end of the data: ``*k`` is then > 0; or to a character that
    is cut short (``*k`` 0) or not UTF-8 or not an XML character (``*k`` -1). The common two-
    and three-byte forms are checked inline: all of them are XML characters (lead bytes E0 and
    ED, with their exceptions, are left to _utf8)."""
    cdef unsigned char c = s[pos]
    cdef Py_UCS4 cp
    while True:
        if 0xC2 <= c < 0xE0 and n - pos >= 2 and s[pos + 1] & 0xC0 == 0x80:
            k[0] = 2
        elif (
            0xE1 <= c <= 0xEC and n - pos >= 3
            and s[pos + 1] & 0xC0 == 0x80 and s[pos + 2] & 0xC0 == 0x80
        ):
            k[0] = 3
        else:
            k[0] = _utf8(s + pos, n - pos, &cp)
            if k[0] <= 0:
                return pos
        pos += k[0]
        if pos >= n:
            return pos
        c = s[pos]
        if c < 0x80:
            return pos


cdef inline bint _in_ranges(Py_UCS4 cp, const fx_range* table, int count) noexcept nogil:
    cdef int lo = 0, hi = count - 1, mid
    if cp > 0xFFFF:
        return False  # expat: no name characters outside the BMP
    while lo <= hi:
        mid = (lo + hi) >> 1
        if cp < table[mid].lo:
            hi = mid - 1
        elif cp > table[mid].hi:
            lo = mid + 1
        else:
            return True
    return False


cdef inline unsigned int _hexval(unsigned char c) noexcept nogil:
    if c <= 57:
        return c - 48
    return (c | 32) - 87


cdef inline bint _is_xml_char(unsigned int cp) noexcept nogil:
    if cp < 0x20:
        return cp == 9 or cp == 10 or cp == 13
    return cp <= 0xD7FF or (0xE000 <= cp <= 0xFFFD) or (0x10000 <= cp <= 0x10FFFF)


# -- scanner states ---------------------------------------------------------------------------

cdef enum:
    ST_START        # document start: byte-order mark, XML declaration
    ST_DECL         # inside the XML declaration, looking for '?>'
    ST_MISC         # outside the root element: white space and markup
    ST_LT           # after '<'
    ST_BANG         # after '<!'
    ST_COMMENT      # inside '<!--'
    ST_PI_TARGET    # after '<?'
    ST_PI           # inside a processing instruction
    ST_DOCTYPE      # after '<!DOCTYPE'
    ST_TAG_NAME     # start-tag name
    ST_TAG          # inside a start tag, between attributes
    ST_ATT_NAME
    ST_ATT_EQ
    ST_ATT_QUOTE
    ST_ATT_VALUE
    ST_TAG_SLASH    # after '/' in a start tag
    ST_ETAG_NAME    # end-tag name
    ST_ETAG         # after the end-tag name
    ST_TEXT         # character data inside an element
    ST_CDATA
    ST_REF          # a reference; returns to ref_ret

# flags of a text run or attribute value
cdef enum:
    F_NONASCII = 1
    F_REF = 2       # contains references
    F_CR = 4        # contains CR (line ends to normalise)
    F_CDATA = 8     # contains CDATA sections
    F_WS = 16       # attribute value contains TAB/LF/CR (normalised to spaces)
    F_BADENT = 32   # attribute value refers to an undefined entity (reported with the tag)

cdef struct Attr:
    Py_ssize_t ns, ne        # name span
    Py_ssize_t colon         # offset of ':' in the name, or -1
    Py_ssize_t vs, ve        # value span
    unsigned int flags
    int is_decl
    PyObject* uri            # resolved namespace (borrowed from a binding), NULL for none

cdef struct Binding:
    char* heap               # an owned copy of a prefix longer than 24 bytes, else NULL
    char short[24]           # shorter prefixes live here (no allocation); see _prefix()
    Py_ssize_t plen
    PyObject* uri            # owned reference; "" undeclares the default namespace

cdef inline char* _prefix(Binding* b) noexcept nogil:
    """Where a binding's prefix bytes are (inline when short; the array may move)."""
    return b.heap if b.heap != NULL else b.short


cdef struct Open:
    Py_ssize_t qs, qe        # qualified name span in the buffer (stanza levels)
    Py_ssize_t nbind         # bindings in force before this element

# -- lazy stanzas -------------------------------------------------------------------------------
#
# A stanza is handed out as an Element whose own attributes and children are only *described*:
# while the scanner reads the stanza it checks everything exactly as before (UTF-8, characters,
# names, namespaces, well-formedness, limits) and writes records instead of building objects:
# a LazyAttr for each attribute of the stanza, a LazyNode (and LazyAttrs) for each element below
# it. When the stanza ends, the records and a copy of the stanza's bytes go into a _LazyStanza,
# which the stanza keeps in ``_lazy``. Its attribute dict is built the first time something
# reads or changes it (Element.attrib), its children the first time anything reads them
# (Element._materialize); get() and findtext() on the stanza read the records in place. Since
# the bytes were validated, building needs no checks: a name is the object recorded (or, for an
# unprefixed attribute name, looked up from its span), a value is decoded from its span. The
# stanza's own attributes are the first LazyAttrs (0 .. nsattrs - 1),
# in document order; so a stanza takes three blocks: the Element, the _LazyStanza, and one
# block for the records and the bytes (see _take_block).

cdef struct LazyNode:         # one element below the stanza, in document order
    PyObject* tag             # its Clark name (an owned reference)
    Py_ssize_t parent         # the node of its parent; -1 for a child of the stanza itself
    Py_ssize_t after          # the node after its last descendant: its next sibling, if any
    Py_ssize_t attr0, nattr   # its attributes: LazyAttr attr0 .. attr0 + nattr - 1
    Py_ssize_t text_s, text_e   # its text: a span of the stanza bytes; text_s < 0: None
    Py_ssize_t tail_s, tail_e   # its tail, the same way
    unsigned int text_flags, tail_flags   # F_* flags of the spans (decoding needed)

cdef struct LazyAttr:
    PyObject* name            # its Clark name (an owned reference), for a prefixed name; NULL
                              # for an unprefixed one, whose Clark name is its span: most are
                              # never asked for, and get() compares the bytes (see _LazyStanza._name_of)
    Py_ssize_t ns, ne         # the name: a span of the stanza bytes
    Py_ssize_t vs, ve         # the value: a span of the stanza bytes
    unsigned int flags

cdef enum:
    MAX_CHECKED_ATTRIBUTES = 256  # most attributes checked in expat's order (see _start_tag)

cdef enum:
    CACHE_SET_BITS = 10    # 1 << CACHE_SET_BITS sets in the name cache, of CACHE_WAYS entries
    CACHE_WAYS = 2
    CACHE_LOCAL = 48       # longest local name (or namespace name) it keeps
    URI_CACHE_SIZE = 256   # entries of the namespace-name cache
    BUF_SLACK = 8          # bytes allocated past the parser's buffer: see _clark

cdef struct CacheEntry:
    PyObject* uri
    PyObject* value
    Py_ssize_t llen
    unsigned long long head   # name cache: the first 8 bytes of the name, zero-padded
    unsigned char local[CACHE_LOCAL]

cdef enum:
    BLOCK_UNIT = 64          # the blocks of records are multiples of this (see _take_block)
    POOL_CLASSES = 256       # blocks of up to POOL_CLASSES * BLOCK_UNIT bytes are kept for reuse
    POOL_MAX_BYTES = 262144  # bytes kept in all

cdef CacheEntry NAME_CACHE[(1 << CACHE_SET_BITS) * CACHE_WAYS]
# the bytes of a head (see _name_set) that belong to a name of 0..8 bytes: a load, rather than
# a shift by a variable count and its set-up
cdef unsigned long long HEAD_MASK[9]
HEAD_MASK[:] = [0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFF, 0xFFFFFFFFFFFF, 0xFFFFFFFFFFFFFF,
                0xFFFFFFFFFFFFFFFF]
cdef CacheEntry URI_CACHE[URI_CACHE_SIZE]
cdef dict URI_INTERN = {}
# the blocks kept, by size (in units): each list is linked through the blocks' first word.
# Stanzas are dropped on any thread; the GIL guards these, as _take_block and _give_block run
# no Python code that could let another thread in.
cdef void* POOL[POOL_CLASSES + 1]
cdef Py_ssize_t POOL_BYTES = 0


cdef inline bint _cache_hit(
    CacheEntry* e, PyObject* uri, const unsigned char* local, Py_ssize_t llen, unsigned long long head
) noexcept nogil:
    # an empty entry has uri NULL, which no lookup passes; an entry's name is at most
    # CACHE_LOCAL (a multiple of 8) bytes, so _eq_bytes reads no further than its ``local``
    return (
        e.head == head
        and e.uri == uri
        and e.llen == llen
        and (llen <= 8 or _eq_bytes(e.local + 8, local + 8, llen - 8))
    )


cdef inline CacheEntry* _name_set(
    PyObject* uri, const unsigned char* local, Py_ssize_t llen, unsigned long long* head
) noexcept nogil:
    """The set of the name cache that holds the Clark name for (uri, local), if it is cached,
    and in ``*head`` the name's first 8 bytes, zero-padded. ``local`` is a name in the parser's
    buffer (which has BUF_SLACK bytes past its end, so that the 8 bytes from ``local`` can be
    read in one load).

    The first 8 bytes of the name, as one word, both hash and compare most names (those of
    XMPP are mostly that short); only the rest of a longer name is compared, a word at a time.
    The cache is two-way set-associative: as the hash mixes in the address of ``uri``, a
    direct-mapped cache made two frequent names evict each other in some memory layouts."""
    cdef unsigned long long h
    memcpy(head, local, 8)
    head[0] &= HEAD_MASK[llen if llen < 8 else 8]
    # one multiplication (Fibonacci hashing: the set is the top bits of the product); a head
    # shorter than 8 bytes tells the length (names have no NUL), and the last byte and the
    # length spread the longer names
    h = head[0] ^ (<size_t>uri >> 4)
    if llen > 8:
        h ^= ((<unsigned long long>local[llen - 1]) << 48) ^ (<unsigned long long>llen << 56)
    h *= 0x9E3779B97F4A7C15ULL
    return &NAME_CACHE[(h >> (64 - CACHE_SET_BITS)) * CACHE_WAYS]


cdef inline PyObject* _clark_ref(object uri, const unsigned char* local, Py_ssize_t llen) except NULL:
    """The Clark name for (uri, local), from the name cache (see _name_set), as a new reference:
    for a record, which owns one, or for an Element's tag. The lookup is C without calls, so
    that the compiler inlines it where names are looked up: a hit costs no function call."""
    cdef unsigned long long head
    cdef CacheEntry* e = _name_set(<PyObject*>uri, local, llen, &head)
    cdef PyObject* name
    if _cache_hit(e, <PyObject*>uri, local, llen, head):
        name = e.value
    elif _cache_hit(e + 1, <PyObject*>uri, local, llen, head):
        name = e[1].value
    else:
        return _clark_miss(e, uri, local, llen, head)
    Py_INCREF(<object>name)
    return name


cdef PyObject* _clark_miss(
    CacheEntry* e, object uri, const unsigned char* local, Py_ssize_t llen, unsigned long long head
) except NULL:
    """_clark_ref() for a name not in its set ``e``: made, then kept in the set's first entry
    (the one there moves to the second, whose name is dropped)."""
    cdef object name
    cdef PyObject* interned
    name = _decode(local, llen, _has_nonascii(local, llen))
    if uri is not None and len(<str>uri) > 0:
        name = "{" + uri + "}" + name
    if llen <= CACHE_LOCAL:
        # interned, so that a lookup with a literal ("from", "type") finds the key by identity
        interned = <PyObject*>name
        Py_INCREF(name)  # the reference PyUnicode_InternInPlace may swap for the interned one
        PyUnicode_InternInPlace(&interned)
        name = <object>interned
        Py_DECREF(name)
        Py_XDECREF(e[1].value)
        Py_XDECREF(e[1].uri)
        e[1] = e[0]  # the references move with the entry
        Py_INCREF(name)
        Py_INCREF(uri)
        e.value = <PyObject*>name
        e.uri = <PyObject*>uri
        e.llen = llen
        e.head = head
        memcpy(e.local, local, llen)
    Py_INCREF(name)  # the caller's
    return <PyObject*>name


cdef inline PyObject* _attr_name(Attr* a, const unsigned char* s) except NULL:
    """The Clark name of a validated attribute (``{uri}local``, or ``local`` unprefixed), as a
    new reference."""
    if a.colon >= 0:
        return _clark_ref(<object>a.uri, s + a.colon + 1, a.ne - a.colon - 1)
    return _clark_ref(None, s + a.ns, a.ne - a.ns)


cdef inline Py_ssize_t _skip(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n, unsigned char cls) noexcept nogil:
    """Past the run of bytes of class ``cls`` from ``pos`` (at most ``n``): eight bytes a step
    while all eight are in the class, then one at a time."""
    while n - pos >= 8 and (
        CLS[s[pos]] & CLS[s[pos + 1]] & CLS[s[pos + 2]] & CLS[s[pos + 3]]
        & CLS[s[pos + 4]] & CLS[s[pos + 5]] & CLS[s[pos + 6]] & CLS[s[pos + 7]] & cls
    ):
        pos += 8
    while pos < n and CLS[s[pos]] & cls:
        pos += 1
    return pos


cdef inline bint _eq_bytes(const unsigned char* a, const unsigned char* b, Py_ssize_t length) noexcept nogil:
    """``a[:length] == b[:length]``, a word at a time: both are in the parser's buffer, which
    may be read up to 7 bytes past a span (its BUF_SLACK)."""
    cdef unsigned long long x, y
    while length >= 8:
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        if x != y:
            return False
        a += 8
        b += 8
        length -= 8
    if length == 0:
        return True
    memcpy(&x, a, 8)
    memcpy(&y, b, 8)
    return ((x ^ y) & ((1ULL << (8 * length)) - 1)) == 0


cdef inline bint _is_stream(const unsigned char* p) noexcept nogil:
    """``p[:6] == b"stream"``, without a call of memcmp ("active" and "status" are as long)."""
    return p[0] == 115 and p[1] == 116 and p[2] == 114 and p[3] == 101 and p[4] == 97 and p[5] == 109


cdef inline int _predefined_ref(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) noexcept nogil:
    """The length of the reference at ``s[pos]`` ('&') when it is to one of the five predefined
    entities and whole in the data, else 0. The scanner steps over these in place (resolving
    them is for the decoder); anything else, a reference cut short included, goes to ST_REF."""
    if n - pos < 6:
        return 0
    if s[pos + 3] == 59 and s[pos + 2] == 116 and (s[pos + 1] == 108 or s[pos + 1] == 103):
        return 4  # &lt; &gt;
    if memcmp(s + pos + 1, b"amp;", 4) == 0:
        return 5
    if s[pos + 5] == 59 and (memcmp(s + pos + 1, b"quot", 4) == 0 or memcmp(s + pos + 1, b"apos", 4) == 0):
        return 6
    return 0


cdef inline bint _has_nonascii(const unsigned char* p, Py_ssize_t length) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(length):
        if p[i] >= 0x80:
            return True
    return False


cdef object _decode_valid(const unsigned char* p, Py_ssize_t length):
    """Decode UTF-8 that the scanner has already validated, straight into a str of the right
    kind (CPython's general decoder widens as it goes, which costs more for short strings).

    The widest byte tells the kind exactly, as the encoding has no overlong forms (see
    fx_utf8_count). Anything unexpected goes to CPython's decoder."""
    cdef Py_ssize_t i, nchars = 0, o = 0
    cdef unsigned char c
    cdef int j
    cdef Py_UCS4 maxchar
    cdef object s
    cdef Py_UCS1* d1
    cdef Py_UCS2* d2
    cdef Py_UCS4* d4
    nchars = fx_utf8_count(p, length, &maxchar)
    s = PyUnicode_New(nchars, maxchar)
    i = 0
    # An ASCII byte starts a run of them, which goes eight bytes at a time while the string has
    # room for eight more characters (fx_ascii8_*: they are written, the ASCII ones kept).
    if maxchar <= 0xFF:
        d1 = <Py_UCS1*>PyUnicode_DATA(s)
        while i < length:
            c = p[i]
            if c < 0x80:
                if length - i >= 8 and nchars - o >= 8:
                    j = fx_ascii8_ucs1(p + i, d1 + o)  # (at least 1: p[i] is ASCII)
                    i += j
                    o += j
                    continue
                d1[o] = c
                i += 1
            elif i + 1 < length and c < 0xC4:
                d1[o] = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F)
                i += 2
            else:
                return PyUnicode_DecodeUTF8(<const char*>p, length, NULL)
            o += 1
    elif maxchar == 0xFFFF:
        d2 = <Py_UCS2*>PyUnicode_DATA(s)
        while i < length:
            c = p[i]
            if c < 0x80:
                if length - i >= 8 and nchars - o >= 8:
                    j = fx_ascii8_ucs2(p + i, d2 + o)
                    i += j
                    o += j
                    continue
                d2[o] = c
                i += 1
            elif c < 0xE0 and i + 1 < length:
                d2[o] = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F)
                i += 2
            elif c < 0xF0 and i + 2 < length:
                d2[o] = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F)
                i += 3
            else:
                return PyUnicode_DecodeUTF8(<const char*>p, length, NULL)
            o += 1
    else:
        d4 = <Py_UCS4*>PyUnicode_DATA(s)
        while i < length:
            c = p[i]
            if c < 0x80:
                if length - i >= 8 and nchars - o >= 8:
                    j = fx_ascii8_ucs4(p + i, d4 + o)
                    i += j
                    o += j
                    continue
                d4[o] = c
                i += 1
            elif c < 0xE0 and i + 1 < length:
                d4[o] = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F)
                i += 2
            elif c < 0xF0 and i + 2 < length:
                d4[o] = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F)
                i += 3
            elif i + 3 < length:
                d4[o] = (
                    ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12)
                    | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F)
                )
                i += 4
            else:
                return PyUnicode_DecodeUTF8(<const char*>p, length, NULL)
            o += 1
    if o != nchars:
        return PyUnicode_DecodeUTF8(<const char*>p, length, NULL)
    return s


cdef inline object _decode(const unsigned char* p, Py_ssize_t length, bint nonascii):
    cdef object s
    if nonascii:
        return _decode_valid(p, length)
    s = PyUnicode_New(length, 127)
    fx_copy(<unsigned char*>PyUnicode_DATA(s), p, length)
    return s


cdef Py_ssize_t _unescape_span(
    const unsigned char* s, Py_ssize_t start, Py_ssize_t end, bint attr, unsigned char* out
) noexcept nogil:
    """Write the UTF-8 of the validated span ``s[start:end]`` to ``out`` (room for ``end - start``
    bytes: the output is never longer) with references, CDATA sections and line ends resolved
    (in attribute values, white space normalised to spaces too); return its length. The scanner
    has checked the span, so this only reads what it knows is there."""
    cdef Py_ssize_t o = 0, i = start, j
    cdef unsigned char c
    cdef unsigned int v
    while i < end:
        j = fx_copy_literal(s + i, end - i, out + o, attr)  # the plain runs, 16 bytes at a time
        i += j
        o += j
        if i == end:
            break
        c = s[i]
        if c == 38:  # '&': the output is never longer than the reference
            i += 1
            if s[i] == 35:
                i += 1
                v = 0
                if s[i] == 120:
                    i += 1
                    while s[i] != 59:
                        v = v * 16 + _hexval(s[i])
                        i += 1
                else:
                    while s[i] != 59:
                        v = v * 10 + (s[i] - 48)
                        i += 1
                i += 1
            else:
                j = i
                while s[i] != 59:
                    i += 1
                if i - j == 2:
                    v = 60 if s[j] == 108 else 62
                elif i - j == 3:
                    v = 38
                else:
                    v = 39 if s[j + 1] == 112 else 34
                i += 1
            if v < 0x80:
                out[o] = <unsigned char>v
                o += 1
            elif v < 0x800:
                out[o] = 0xC0 | (v >> 6)
                out[o + 1] = 0x80 | (v & 0x3F)
                o += 2
            elif v < 0x10000:
                out[o] = 0xE0 | (v >> 12)
                out[o + 1] = 0x80 | ((v >> 6) & 0x3F)
                out[o + 2] = 0x80 | (v & 0x3F)
                o += 3
            else:
                out[o] = 0xF0 | (v >> 18)
                out[o + 1] = 0x80 | ((v >> 12) & 0x3F)
                out[o + 2] = 0x80 | ((v >> 6) & 0x3F)
                out[o + 3] = 0x80 | (v & 0x3F)
                o += 4
        elif c == 13:
            i += 1
            if i < end and s[i] == 10:
                i += 1
            out[o] = 32 if attr else 10
            o += 1
        elif attr and (c == 9 or c == 10):
            out[o] = 32
            o += 1
            i += 1
        elif c == 60 and not attr:  # a CDATA section: copied as it is, line ends aside
            i += 9
            while not (s[i] == 93 and s[i + 1] == 93 and s[i + 2] == 62):
                if s[i] == 13:
                    i += 1
                    if s[i] == 10:
                        i += 1
                    out[o] = 10
                else:
                    out[o] = s[i]
                    i += 1
                o += 1
            i += 3
        else:
            out[o] = c
            o += 1
            i += 1
    return o


cdef inline bint _str_eq(PyObject* a, PyObject* b) except -1:
    """``a == b`` for two str objects: a tag the parser interned and a key the caller made, which
    are equal without being the same object when the key was not interned (a literal such as
    "{jabber:client}body" is not). Cython compares str with PyUnicode_Compare, which orders the
    strings: several times the cost of comparing the lengths, then the bytes. (Equal strings
    have the same kind: CPython stores each in the narrowest one.)"""
    cdef Py_ssize_t length
    if a == b:
        return True
    if not (PyUnicode_IS_READY(a) and PyUnicode_IS_READY(b)):  # a legacy string: no fast path
        return <str>a == <str>b
    length = PyUnicode_GET_LENGTH(a)
    if length != PyUnicode_GET_LENGTH(b) or PyUnicode_KIND(a) != PyUnicode_KIND(b):
        return False
    return fx_eq(
        <const unsigned char*>PyUnicode_DATA_PTR(a), <const unsigned char*>PyUnicode_DATA_PTR(b),
        length * PyUnicode_KIND(a))


cdef object _intern_uri(object uri):
    """One str object per namespace name; None for a name with '}' (expat refuses those: a
    Clark name could not tell where it ends)."""
    cdef object known = URI_INTERN.get(uri)
    if known is not None:
        return known
    if "}" in <str>uri:
        return None
    if len(URI_INTERN) < 4096:
        URI_INTERN[uri] = uri
    return uri


cdef void* _take_block(Py_ssize_t size, Py_ssize_t* units) except NULL:
    """A block of at least ``size`` bytes for a stanza's records, ``*units`` BLOCK_UNITs long.

    A stanza that is dropped gives its block back (_give_block), and a later one that needs as
    many units takes it: a block is half a kilobyte or more, too big for Python's small-object
    pools, and C's malloc and free would cost about 150 instructions a stanza. Rounding the size
    up to a unit lets the many stanzas of about the same size share blocks, for at most
    BLOCK_UNIT - 1 bytes more than the records take."""
    global POOL_BYTES
    cdef Py_ssize_t n = (size + BLOCK_UNIT - 1) // BLOCK_UNIT
    cdef void* block
    units[0] = n
    if n <= POOL_CLASSES and POOL[n] != NULL:
        block = POOL[n]
        POOL[n] = (<void**>block)[0]
        POOL_BYTES -= n * BLOCK_UNIT
        return block
    block = PyMem_Malloc(n * BLOCK_UNIT)
    if block == NULL:
        raise MemoryError()
    return block


cdef inline void _give_block(void* block, Py_ssize_t units) noexcept:
    """Keep the block of a stanza that is gone for a later one, or free it."""
    global POOL_BYTES
    if units <= POOL_CLASSES and POOL_BYTES + units * BLOCK_UNIT <= POOL_MAX_BYTES:
        (<void**>block)[0] = POOL[units]
        POOL[units] = block
        POOL_BYTES += units * BLOCK_UNIT
    else:
        PyMem_Free(block)


@cython.final  # (its objects come from _Lazy's freelist: see _xmlcore_c.pxd)
cdef class _LazyStanza(_Lazy):
    """A stanza's attributes and children, validated but not built (see LazyNode above).

    Spans are offsets from the stanza's '<'; ``_data`` holds the stanza bytes from offset ``_lo``.
    It is immutable: build() and build_attrib() make new objects each time they are called
    (Element calls each once). No Python objects besides the names (strings) are held, so it is
    not tracked by the GC."""

    # Its fields are declared in _Lazy (see _xmlcore_c.pxd), the records' pointers untyped:
    #   _nodes: ``nnodes`` LazyNodes (nnodes is read by Element), _attrs: the LazyAttrs, the
    #   first ``_nsattrs`` the stanza's own, the names of the first ``_nnamed`` to be dropped
    #   (after them none has a name: see LazyAttr), _data: the bytes, from offset ``_lo``;
    #   all three in ``_block``, of ``_units`` BLOCK_UNITs (see _take_block)

    cdef inline LazyNode* _node(self, Py_ssize_t i) noexcept:
        return &(<LazyNode*>self._nodes)[i]

    cdef inline LazyAttr* _attr(self, Py_ssize_t i) noexcept:
        return &(<LazyAttr*>self._attrs)[i]

    cdef inline PyObject* _name_of(self, LazyAttr* a) except NULL:
        """The Clark name of an attribute, as a new reference: the recorded one, or for an
        unprefixed name the one the name cache gives for its span (the interned string the
        parser would have recorded)."""
        if a.name != NULL:
            Py_INCREF(<object>a.name)
            return a.name
        return _clark_ref(None, self._data + (a.ns - self._lo), a.ne - a.ns)

    cdef inline void _release(self) noexcept:
        """What a dying _LazyStanza gives back (see _lazy_stanza_dealloc)."""
        cdef Py_ssize_t i
        for i in range(self.nnodes):
            Py_XDECREF(self._node(i).tag)
        for i in range(self._nnamed):
            Py_XDECREF(self._attr(i).name)
        if self._block != NULL:  # (NULL: _take_block failed)
            _give_block(self._block, self._units)
        # empty, as a new one is: the object may be used again (see _new_lazy_stanza)
        self.nnodes = self._nnamed = 0
        self._block = NULL

    cdef inline object _decode_span(self, Py_ssize_t start, Py_ssize_t end, unsigned int flags, bint attr):
        """The string a span stands for (text: None when it is empty, as expat reports none)."""
        if flags & ((F_REF | F_WS) if attr else (F_REF | F_CR | F_CDATA)):
            return self._unescape(start, end, attr)
        return _decode(self._data + (start - self._lo), end - start, flags & F_NONASCII)

    cdef object _unescape(self, Py_ssize_t start, Py_ssize_t end, bint attr):
        """_decode_span() for a span with something to resolve (references, CDATA sections, line
        ends, white space in a value): apart, so that the plain spans, most of them, do without
        its buffer and its clean-up."""
        cdef const unsigned char* p = self._data + (start - self._lo)
        cdef unsigned char small[256]
        cdef unsigned char* out = small
        cdef object value
        if end - start > <Py_ssize_t>sizeof(small):
            out = <unsigned char*>malloc(end - start)
            if out == NULL:
                raise MemoryError()
        try:
            value = _decode_valid(out, _unescape_span(p, 0, end - start, attr, out))
        finally:
            if out != small:
                free(out)
        if not attr and len(<str>value) == 0:  # only empty CDATA sections
            return None
        return value

    cdef object _text(self, LazyNode* node):
        if node.text_s < 0:
            return None
        return self._decode_span(node.text_s, node.text_e, node.text_flags, False)

    cpdef dict build_attrib(self):
        """A new dict of the stanza's own attributes, in document order."""
        cdef dict attrib = {}
        cdef LazyAttr* a
        cdef Py_ssize_t i
        cdef object name
        for i in range(self._nsattrs):
            a = self._attr(i)
            name = <object>self._name_of(a)
            Py_DECREF(name)  # (the reference _name_of made: ``name`` holds one)
            attrib[name] = self._decode_span(a.vs, a.ve, a.flags, True)
        return attrib

    cpdef object get_attr(self, str key, object default):
        """The value of the stanza's attribute ``key``, or ``default``; only it is decoded.

        An unprefixed name is compared as bytes with an ASCII key (whose characters are its
        UTF-8 bytes; a name with other characters has bytes of 0x80 and up, which such a key
        cannot equal), else as the Clark name the cache gives (_name_is); a prefixed name is
        the parser's interned string, compared as a str. (The names of a tag are distinct,
        duplicates being refused, so the first that is equal is the one.)"""
        cdef LazyAttr* a
        cdef Py_ssize_t i, klen = PyUnicode_GET_LENGTH(<PyObject*>key)
        cdef const unsigned char* kdata = NULL
        cdef const unsigned char* name
        cdef bint equal
        if PyUnicode_IS_READY(<PyObject*>key) and PyUnicode_IS_ASCII(<PyObject*>key):
            kdata = <const unsigned char*>PyUnicode_DATA_PTR(<PyObject*>key)
        for i in range(self._nsattrs):
            a = self._attr(i)
            if a.name != NULL:
                equal = _str_eq(a.name, <PyObject*>key)
            elif kdata != NULL:
                name = self._data + (a.ns - self._lo)
                equal = a.ne - a.ns == klen and fx_eq(name, kdata, klen)
            else:
                equal = self._name_is(a, key)
            if equal:
                return self._decode_span(a.vs, a.ve, a.flags, True)
        return default

    cdef bint _name_is(self, LazyAttr* a, str key) except -1:
        """Whether the Clark name of an unprefixed attribute is ``key`` (not an ASCII string)."""
        cdef PyObject* name = self._name_of(a)
        try:
            return _str_eq(name, <PyObject*>key)
        finally:
            Py_DECREF(<object>name)

    cpdef list build(self):
        """New Elements for all the nodes; returns the list of the stanza's direct children."""
        cdef list top = []
        cdef PyObject* small[32]
        # the element made for each node so far, by index (a child finds its parent there);
        # borrowed references: each one is held by its parent's list, or by ``top``
        cdef PyObject** made = small
        if self.nnodes > 32:
            made = <PyObject**>malloc(self.nnodes * sizeof(PyObject*))
            if made == NULL:
                raise MemoryError()
        try:
            self._build(top, made)
        finally:
            if made != small:
                free(made)
        return top

    cdef int _build(self, list top, PyObject** made) except -1:
        """build(): the elements of all nodes, in document order, into ``top`` and ``made``."""
        cdef Py_ssize_t i, j
        cdef LazyNode* node
        cdef LazyAttr* a
        cdef Element el, parent
        cdef dict attrib
        cdef object name
        for i in range(self.nnodes):
            node = self._node(i)
            el = _new_element(<object>node.tag)
            if node.nattr:  # else ``_attrib`` stays None: a dict is made when one is asked for
                attrib = {}
                for j in range(node.attr0, node.attr0 + node.nattr):
                    a = self._attr(j)
                    name = <object>self._name_of(a)
                    Py_DECREF(name)  # (the reference _name_of made: ``name`` holds one)
                    attrib[name] = self._decode_span(a.vs, a.ve, a.flags, True)
                el._attrib = attrib
            el.text = self._text(node)
            if node.tail_s >= 0:
                el.tail = self._decode_span(node.tail_s, node.tail_e, node.tail_flags, False)
            if node.parent < 0:
                top.append(el)
            else:
                parent = <Element>made[node.parent]
                if parent._children is None:
                    parent._children = [el]
                else:
                    parent._children.append(el)
            made[i] = <PyObject*>el
        return 0

    cpdef object findtext(self, str path, object default):
        """Element.findtext() for a plain tag, from the records: the stanza's first child named
        ``path`` gives its text ("" when it has none), else ``default``. Nothing is built."""
        cdef Py_ssize_t i = 0
        cdef LazyNode* node
        cdef object text
        while i < self.nnodes:  # the direct children only: ``after`` skips the descendants
            node = self._node(i)
            if _str_eq(node.tag, <PyObject*>path):
                text = self._text(node)
                return "" if text is None else text
            i = node.after
        return default


# Dead objects kept for reuse, as CPython keeps its floats or tuples: in an array of ``kept``,
# ``count[0]`` of them, their memory as their type's tp_dealloc left it (the GIL guards these
# as it guards POOL).

cdef inline void _keep(PyObject** kept, int* count, PyObject* o) noexcept:
    """Keep the dead ``o`` (the caller has checked that there is room). Reviving it takes a
    reference to its type when that is a heap type (PyObject_Init), so the one it had is
    dropped now."""
    if PyType_HasFeature(Py_TYPE_PTR(o), Py_TPFLAGS_HEAPTYPE):
        Py_DECREF(<object><PyObject*>Py_TYPE_PTR(o))
    kept[count[0]] = o
    count[0] += 1


cdef inline object _revive(PyObject** kept, int* count, PyTypeObject* tp):
    """The last object _keep kept (there is one), alive again as a new ``tp``."""
    cdef object o
    count[0] -= 1
    o = <object>PyObject_Init(kept[count[0]], tp)
    Py_DECREF(o)  # (the reference PyObject_Init made: ``o`` holds one)
    return o


cdef enum:
    LAZY_KEPT = 64  # dead _LazyStanzas kept for the next stanzas

# the dead _LazyStanzas kept (see _lazy_stanza_dealloc)
cdef PyObject* LAZY_FREE[LAZY_KEPT]
cdef int LAZY_NFREE = 0


cdef void _lazy_stanza_dealloc(PyObject* o) noexcept:
    """_LazyStanza's tp_dealloc. Cython's, made for a ``__dealloc__``, saves and restores the
    pending exception around it and checks for a finalizer (about 60 instructions a stanza);
    this one needs neither: it runs no Python code and cannot fail (it drops the references
    to the names, which are strings, and gives back the block). The object is then kept for
    _new_lazy_stanza, as CPython keeps its floats or tuples (through _Lazy's freelist, which
    the base type's tp_dealloc would put it on, each would cost some 60 instructions more), or
    else given to the base type's tp_dealloc."""
    (<_LazyStanza>o)._release()
    if LAZY_NFREE < LAZY_KEPT:
        _keep(LAZY_FREE, &LAZY_NFREE, o)
    else:
        (<PyTypeObject*>_Lazy).tp_dealloc(o)


cdef inline _LazyStanza _new_lazy_stanza():
    """_LazyStanza.__new__(_LazyStanza), from the ones _lazy_stanza_dealloc kept when there
    are some: their fields (the vtable's included) are as _release() left them, that is as a
    new object's."""
    if LAZY_NFREE == 0:
        return _LazyStanza.__new__(_LazyStanza)
    return <_LazyStanza>_revive(LAZY_FREE, &LAZY_NFREE, <PyTypeObject*>_LazyStanza)


(<PyTypeObject*>_LazyStanza).tp_dealloc = _lazy_stanza_dealloc


cdef enum:
    ELEMENTS_KEPT = 256  # dead Elements kept for the next stanzas and their children

# the dead Elements kept (see _element_dealloc), untracked, each field None (each holds its
# reference to None)
cdef PyObject* ELEMENT_FREE[ELEMENTS_KEPT]
cdef int ELEMENT_NFREE = 0
# Element's tp_dealloc as Cython made it, for those not kept
cdef destructor ELEMENT_DEALLOC = (<PyTypeObject*>Element).tp_dealloc


cdef void _element_dealloc(PyObject* o) noexcept:
    """Element's tp_dealloc (in place of Cython's, which is ELEMENT_DEALLOC), so that the
    parser makes its elements (_new_element) without Cython's tp_new, whose freelist it cannot
    reach: an Element itself (not a subclass) has its fields set to None, as in a new one
    (only those that are not: None is left as it is, with its reference), and is kept for
    _new_element while there is room, else given to ELEMENT_DEALLOC. As Cython's does, it
    takes the element out of the cyclic GC's lists first; it drops each field's reference
    only after the field is None, so that what that runs (the deallocation of the children,
    say) finds the element consistent."""
    if Py_TYPE_PTR(o) != <PyTypeObject*>Element or ELEMENT_NFREE == ELEMENTS_KEPT:
        # (full: as when only the builders make elements, whose tp_new takes them from
        # Cython's freelist, which ELEMENT_DEALLOC fills)
        ELEMENT_DEALLOC(o)
        return
    PyObject_GC_UnTrack(o)
    (<Element>o).tag = None  # (always set: it is never None in an element that is used)
    if (<Element>o)._attrib is not None:
        (<Element>o)._attrib = None
    if (<Element>o).text is not None:
        (<Element>o).text = None
    if (<Element>o).tail is not None:
        (<Element>o).tail = None
    if (<Element>o)._children is not None:
        (<Element>o)._children = None
    if (<Element>o)._lazy is not None:
        (<Element>o)._lazy = None
    if ELEMENT_NFREE == ELEMENTS_KEPT:  # (again: the children, dropped above, are kept first)
        ELEMENT_DEALLOC(o)  # (it drops the references to None)
        return
    _keep(ELEMENT_FREE, &ELEMENT_NFREE, o)


cdef inline Element _new_element(object tag):
    """A new Element named ``tag``, its other fields None: one _element_dealloc kept when
    there is one (only ``tag`` is set and it is tracked again), else from Element.__new__."""
    cdef Element el
    if ELEMENT_NFREE == 0:
        el = Element.__new__(Element)
    else:
        el = <Element>_revive(ELEMENT_FREE, &ELEMENT_NFREE, <PyTypeObject*>Element)
        PyObject_GC_Track(<PyObject*>el)
    el.tag = tag
    return el


(<PyTypeObject*>Element).tp_dealloc = _element_dealloc


@cython.final  # direct (inlinable) calls between the methods instead of a vtable
cdef class StreamParserC:
    """Incremental XMPP stream parser, compiled (see :class:`fastxmpp.xml.StreamParser`)."""

    cdef readonly Py_ssize_t max_stanza_size
    cdef readonly Py_ssize_t max_depth
    cdef readonly Py_ssize_t max_attributes
    # buffer: bytes not yet released; offsets below are indexes into it
    cdef unsigned char* buf
    cdef Py_ssize_t cap, n, pos, base
    cdef int state
    cdef int sub                # small per-state counter
    cdef Py_ssize_t tok         # start of the current markup token ('<')
    cdef Py_ssize_t mark        # start of the current name or value
    cdef Py_ssize_t colon       # ':' in the current name, or -1
    cdef unsigned int vflags
    cdef int quote
    cdef bint had_ws
    cdef bint dt_public         # the DOCTYPE being read has a PUBLIC external ID
    cdef bint doctype_name      # _scan_name reads a DOCTYPE name (expat's looser colon rule)
    # references
    cdef int ref_ret, ref_kind
    cdef Py_ssize_t ref_start
    cdef unsigned int ref_val   # a plain integer: Cython treats Py_UCS4 as a character
    # text
    cdef Py_ssize_t text_start  # start of the pending text run, or -1
    cdef unsigned int text_flags
    # the start tag being read
    cdef Py_ssize_t name_s, name_e, name_colon
    cdef Attr* atts
    cdef Py_ssize_t natt, atts_cap
    cdef Attr* att              # the attribute being read, &atts[natt - 1] (set by _new_attr)
    # open elements
    cdef Open* open
    cdef Py_ssize_t depth, open_cap
    cdef bytes root_qname
    cdef object stanza          # the stanza being read (its children are recorded: LazyNode)
    cdef LazyNode* lnodes       # the records of the stanza's descendants so far
    cdef Py_ssize_t nlnodes, lnodes_cap
    cdef LazyAttr* lattrs       # their attributes
    cdef Py_ssize_t nlattrs, lattrs_cap
    cdef Py_ssize_t nnamed      # the LazyAttrs up to the last one with a name (most have none)
    cdef Py_ssize_t* lopen      # by depth (3 and more): the node of the open element
    cdef Py_ssize_t* llast      # by depth (2 and more): the node of the open element's last
                                # child so far, or -1 (a text run after it is its tail)
    cdef Py_ssize_t nsattrs     # of the LazyAttrs, the first nsattrs are the stanza's own
    cdef Py_ssize_t records_lo  # where the first span of the records starts (from the '<'),
                                # or -1 while there is none
    cdef Py_ssize_t stanza_start  # '<' of the stanza (or of markup between stanzas), or -1
    # namespaces in force
    cdef Binding* binds
    cdef Py_ssize_t nbind, bind_cap
    # output and end states
    cdef list items
    cdef object error
    cdef bint started, closed
    cdef unsigned char* scratch
    cdef Py_ssize_t scratch_cap

    def __cinit__(self):
        self.buf = NULL
        self.atts = NULL
        self.att = NULL
        self.open = NULL
        self.lnodes = NULL
        self.lattrs = NULL
        self.nlnodes = self.nlattrs = self.nsattrs = self.nnamed = 0
        self.lopen = NULL
        self.llast = NULL
        self.binds = NULL
        self.scratch = NULL

    def __init__(
        self,
        *,
        max_stanza_size=DEFAULT_MAX_STANZA_SIZE,
        max_depth=DEFAULT_MAX_DEPTH,
        max_attributes=DEFAULT_MAX_ATTRIBUTES,
    ):
        check_limits(max_stanza_size, max_depth, max_attributes)
        self.max_stanza_size = max_stanza_size
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.reset()

    def __dealloc__(self):
        self._free_bindings(0)
        self._drop_records()
        free(self.buf)
        free(self.atts)
        free(self.open)
        free(self.lnodes)
        free(self.lattrs)
        free(self.lopen)
        free(self.llast)
        free(self.binds)
        free(self.scratch)

    def reset(self):
        """Forget the current document: the next bytes start a new stream (after STARTTLS/SASL)."""
        self._free_bindings(0)
        self._drop_records()
        if self.buf == NULL:
            self.cap = 65536
            self.buf = <unsigned char*>malloc(self.cap + BUF_SLACK)
            self.atts_cap = 16
            self.atts = <Attr*>malloc(self.atts_cap * sizeof(Attr))
            self.open_cap = self.max_depth + 3
            self.open = <Open*>malloc(self.open_cap * sizeof(Open))
            self.lnodes_cap = 16
            self.lnodes = <LazyNode*>malloc(self.lnodes_cap * sizeof(LazyNode))
            self.lattrs_cap = 16
            self.lattrs = <LazyAttr*>malloc(self.lattrs_cap * sizeof(LazyAttr))
            self.lopen = <Py_ssize_t*>malloc(self.open_cap * sizeof(Py_ssize_t))
            self.llast = <Py_ssize_t*>malloc(self.open_cap * sizeof(Py_ssize_t))
            self.bind_cap = 16
            self.binds = <Binding*>malloc(self.bind_cap * sizeof(Binding))
            self.scratch_cap = 4096
            self.scratch = <unsigned char*>malloc(self.scratch_cap)
            if not (
                self.buf and self.atts and self.open and self.binds and self.scratch
                and self.lnodes and self.lattrs and self.lopen and self.llast
            ):
                raise MemoryError()
        self.n = 0
        self.pos = 0
        self.base = 0
        self.state = ST_START
        self.sub = 0
        self.tok = -1
        self.mark = -1
        self.colon = -1
        self.text_start = -1
        self.text_flags = 0
        self.natt = 0
        self.depth = 0
        self.root_qname = None
        self.stanza = None
        self.stanza_start = -1
        self.items = []
        self.error = None
        self.started = False
        self.closed = False
        self.doctype_name = False
        self._bind(b"xml", 3, S_XML_NS)

    # -- namespace bindings -------------------------------------------------------------------

    cdef int _bind(self, const unsigned char* prefix, Py_ssize_t plen, object uri) except -1:
        cdef Binding* b
        if self.nbind == self.bind_cap:
            b = <Binding*>realloc(self.binds, 2 * self.bind_cap * sizeof(Binding))
            if b == NULL:
                raise MemoryError()
            self.binds = b
            self.bind_cap *= 2
        b = &self.binds[self.nbind]
        b.heap = NULL
        if plen > 24:
            b.heap = <char*>malloc(plen)
            if b.heap == NULL:
                raise MemoryError()
        if plen:  # (not for the default namespace: a call of memcpy for nothing)
            memcpy(_prefix(b), prefix, plen)
        b.plen = plen
        Py_INCREF(uri)
        b.uri = <PyObject*>uri
        self.nbind += 1
        return 0

    cdef void _free_bindings(self, Py_ssize_t keep) noexcept:
        while self.nbind > keep:
            self.nbind -= 1
            free(self.binds[self.nbind].heap)
            Py_DECREF(<object>self.binds[self.nbind].uri)

    cdef inline PyObject* _lookup(self, const unsigned char* prefix, Py_ssize_t plen) noexcept:
        """The URI bound to ``prefix`` (NULL when unbound; "" when the default is undeclared)."""
        cdef Py_ssize_t i = self.nbind - 1
        cdef Binding* b
        while i >= 0:
            b = &self.binds[i]
            if b.plen == plen and (plen == 0 or memcmp(_prefix(b), prefix, plen) == 0):
                return b.uri
            i -= 1
        return NULL

    # -- errors ---------------------------------------------------------------------------------

    cdef int _fail(self, str condition, str text) except -1:
        items = self.items
        self.items = []
        self.error = StreamError(condition, text, events=items)
        self.stanza = None
        self._drop_records()
        raise self.error

    cdef int _bad(self, str text) except -1:
        return self._fail("not-well-formed", text)

    # -- input ----------------------------------------------------------------------------------

    def feed(self, data):
        """Parse ``data``; return the items it completed: StreamOpen, Element, StreamClose."""
        cdef Py_ssize_t length, keep
        cdef const char* p
        if self.error is not None:
            raise StreamError(self.error.condition, self.error.text)
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"feed() takes bytes, not {type(data).__name__}")
            data = bytes(data)
        length = PyBytes_GET_SIZE(data)
        p = PyBytes_AS_STRING(data)
        # release what no state refers to any more, when that is worth a move
        keep = self._keep()
        if keep > 0 and (keep >= self.n - keep or self.n + length > self.cap):
            memmove(self.buf, self.buf + keep, self.n - keep)
            self._shift(keep)
        if self.n + length > self.cap:
            self._grow(self.n + length)
        memcpy(self.buf + self.n, p, length)
        self.n += length
        # a sentinel after the data (in the buffer's BUF_SLACK): 0 is in no character class, so
        # a loop over a class stops there without a test of the end (see the names in _scan)
        self.buf[self.n] = 0
        self._scan()
        self._at_end_of_feed()
        items = self.items
        self.items = []
        return items

    cdef Py_ssize_t _keep(self) noexcept:
        """The first buffer offset that a state still refers to."""
        if self.depth >= 2 or self.stanza_start >= 0:
            return self.stanza_start
        if self.state == ST_REF and self.ref_ret == ST_TEXT:  # in a value: keep the whole tag
            return self.ref_start
        if self.state == ST_TEXT or self.state == ST_MISC or self.state == ST_START:
            return self.pos
        return self.tok if self.tok >= 0 else self.pos

    cdef void _shift(self, Py_ssize_t d) noexcept:
        cdef Py_ssize_t i
        self.n -= d
        self.pos -= d
        self.base += d
        if self.tok >= 0:
            self.tok -= d
        if self.mark >= 0:
            self.mark -= d
        if self.colon >= 0:
            self.colon -= d
        if self.ref_start >= 0:
            self.ref_start -= d
        if self.text_start >= 0:
            self.text_start -= d
        if self.stanza_start >= 0:
            self.stanza_start -= d
        self.name_s -= d
        self.name_e -= d
        if self.name_colon >= 0:
            self.name_colon -= d
        for i in range(self.natt):
            self.atts[i].ns -= d
            self.atts[i].ne -= d
            self.atts[i].vs -= d
            self.atts[i].ve -= d
            if self.atts[i].colon >= 0:
                self.atts[i].colon -= d
        for i in range(2, self.depth + 1):
            self.open[i].qs -= d
            self.open[i].qe -= d

    cdef int _grow(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = self.cap
        cdef unsigned char* b
        while cap < need:
            cap *= 2
        b = <unsigned char*>realloc(self.buf, cap + BUF_SLACK)
        if b == NULL:
            raise MemoryError()
        self.buf = b
        self.cap = cap
        return 0

    cdef int _at_end_of_feed(self) except -1:
        """Report what expat reports when a read ends: data between stanzas, the size limit."""
        cdef Py_ssize_t limit = self.max_stanza_size
        if self.depth >= 1 and self.stanza_start >= 0:
            if self.n - self.stanza_start > limit:
                self._fail("policy-violation", f"stanza larger than {limit} bytes")
        elif self.depth == 0 and not self.closed and self.base + self.n > limit:
            self._fail("policy-violation", f"stream header larger than {limit} bytes")
        return 0

    # -- the scanner ----------------------------------------------------------------------------

    cdef int _scan(self) except -1:
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t n = self.n
        cdef Py_ssize_t pos = self.pos
        cdef int state = self.state
        cdef unsigned char c
        cdef int k
        cdef Py_UCS4 cp
        cdef Py_ssize_t i
        cdef bint seen
        while True:
            if state == ST_TEXT:
                if self.depth >= 2:
                    # the hot loop: plain character data inside a stanza
                    if self.text_start < 0 and pos < n and s[pos] != 60:
                        self.text_start = pos
                    while True:
                        pos = fx_skip_text(s, pos, n)
                        if not FX_HAVE_SKIP16 or n - pos < 16:  # else it stopped on a byte
                            pos = _skip(s, pos, n, C_TEXT)
                        if pos >= n:
                            break
                        c = s[pos]
                        if c == 60:  # '<'
                            break
                        if c >= 0x80:
                            i = pos
                            pos = _skip_nonascii(s, pos, n, &k)
                            if pos > i:
                                self.text_flags |= F_NONASCII
                            if k <= 0:
                                if k == 0:
                                    break
                                self.pos = pos
                                self._bad("invalid UTF-8 or a character XML does not allow")
                        elif c == 38:  # '&'
                            k = _predefined_ref(s, pos, n)
                            if k == 0:
                                break  # any other reference: ST_REF reads it
                            self.text_flags |= F_REF
                            pos += k
                        elif c == 13:
                            self.text_flags |= F_CR
                            pos += 1
                        elif c == 93:  # ']': ']]>' is not allowed in text
                            if n - pos >= 3:
                                if s[pos + 1] == 93 and s[pos + 2] == 62:
                                    self._bad("']]>' in character data")
                                pos += 1
                            elif n - pos == 2 and s[pos + 1] != 93:
                                pos += 1
                            else:
                                break  # wait: this may be the start of ']]>'
                        else:
                            self._bad("a control character XML does not allow")
                    if pos >= n or s[pos] != 60 and s[pos] != 38:
                        break  # need more data
                    if s[pos] == 38:
                        self.text_flags |= F_REF
                        self.ref_ret = ST_TEXT
                        self.ref_kind = 0
                        self.ref_start = pos
                        pos += 1
                        state = ST_REF
                        continue
                    self.tok = pos
                    pos += 1
                    state = ST_LT
                    continue
                # Between stanzas only white space is allowed, and a fault is reported as expat
                # reports it: a run of character data (ended by markup, a line end, a bad or
                # cut character, or the end of the data) holding anything but white space is
                # bad-format, unless the run contains ']]>', which makes it not-well-formed.
                seen = False  # non-white-space in the current run
                while pos < n:
                    c = s[pos]
                    if c == 32 or c == 9:
                        pos += 1
                    elif c == 10 or c == 13 or c == 60 or c == 38:
                        if seen:
                            self._fail("bad-format", "character data between stanzas")
                        if c == 60 or c == 38:
                            break
                        pos += 1
                    elif c == 93:  # ']'
                        if n - pos >= 3 and s[pos + 1] == 93 and s[pos + 2] == 62:
                            self._bad("']]>' in character data")
                        if n - pos >= 3 or (n - pos == 2 and s[pos + 1] != 93):
                            seen = True
                            pos += 1
                        else:
                            break  # too short to tell whether ']]>' follows
                    else:
                        k = _utf8(s + pos, n - pos, &cp)
                        if k <= 0:
                            if seen:  # expat reports the data before a bad or cut character
                                self._fail("bad-format", "character data between stanzas")
                            if k < 0:
                                self._bad("invalid UTF-8 or a character XML does not allow")
                            break
                        seen = True
                        pos += k
                if seen:
                    self._fail("bad-format", "character data between stanzas")
                if pos >= n or (s[pos] != 60 and s[pos] != 38):
                    break
                if s[pos] == 38:
                    self.ref_ret = ST_TEXT
                    self.ref_kind = 0
                    self.ref_start = pos
                    pos += 1
                    state = ST_REF
                    continue
                self.tok = pos
                self.stanza_start = pos
                pos += 1
                state = ST_LT
                continue

            elif state == ST_LT:
                if pos >= n:
                    break
                c = s[pos]
                if c == 47:  # '/'
                    if self.depth == 0:
                        self._bad("an end tag outside the root element")
                    self._end_text_run()
                    pos += 1
                    self.mark = pos
                    self.colon = -1
                    state = ST_ETAG_NAME
                    if self.depth >= 2:
                        # the name the end tag must have (checked in the start tag), followed
                        # by a byte that ends it: the name's checks would pass, skip them
                        i = self.open[self.depth].qe - self.open[self.depth].qs
                        if n - pos > i and _eq_bytes(s + pos, s + self.open[self.depth].qs, i):
                            c = s[pos + i]
                            if CLS[c] & C_NAME == 0 and c < 0x80 and c != 58:
                                pos += i
                                state = ST_ETAG
                elif c == 63:  # '?'
                    self._end_text_run()
                    pos += 1
                    self.mark = pos
                    self.colon = -1
                    state = ST_PI_TARGET
                elif c == 33:  # '!'
                    pos += 1
                    state = ST_BANG
                else:
                    if self.depth == 0 and self.closed:
                        self._bad("data after the end of the stream")
                    if CLS[c] & C_NSTART == 0:
                        if c < 0x80:
                            self._bad("a tag must start with a name")
                        k = _utf8(s + pos, n - pos, &cp)
                        if k == 0:
                            break
                        if k < 0 or not _in_ranges(cp, fx_name_start, fx_name_start_count):
                            self._bad("a tag must start with a name")
                    self._end_text_run()
                    self.name_s = pos
                    self.mark = pos
                    self.colon = -1
                    self.natt = 0
                    state = ST_TAG_NAME
                continue

            elif state == ST_TAG_NAME or state == ST_ATT_NAME or state == ST_ETAG_NAME or state == ST_PI_TARGET:
                # inline, the common case: ASCII name characters, no colon so far, and a byte
                # after them that cannot continue the name; anything else is for _scan_name
                # (which, called here, goes on exactly as if called where the name started)
                k = -1
                if self.colon < 0:
                    while CLS[s[pos]] & C_NAME:  # (at the latest on the sentinel: see feed())
                        pos += 1
                    if pos < n and s[pos] < 0x80 and s[pos] != 58:
                        k = pos  # (no colon: nothing for _check_qname to check)
                if k < 0:
                    k = self._scan_name(pos)
                    if k < 0:
                        pos = self.pos  # cut short: wait for more
                        break
                    if state != ST_PI_TARGET:  # (which has its own rule)
                        self._check_qname(k)
                pos = k
                if state == ST_TAG_NAME:
                    self.name_e = pos
                    self.name_colon = self.colon
                    self.had_ws = False
                    state = ST_TAG
                    if n - pos >= 2 and s[pos] == 32 and CLS[s[pos + 1]] & C_NSTART:
                        # the usual: a space, then the first attribute's name (see ST_ATT_VALUE)
                        pos += 1
                        self.had_ws = True
                        self.mark = pos
                        self.colon = -1
                        state = ST_ATT_NAME
                elif state == ST_ATT_NAME:
                    self._new_attr(pos)
                    state = ST_ATT_EQ
                    if s[pos] == 61 and n - pos >= 2 and (s[pos + 1] == 39 or s[pos + 1] == 34):
                        # the usual =", what ST_ATT_EQ and ST_ATT_QUOTE do, without the trips
                        self.quote = s[pos + 1]
                        pos += 2
                        self.att.vs = pos
                        self.vflags = 0
                        state = ST_ATT_VALUE
                elif state == ST_ETAG_NAME:
                    self._match_end_tag(pos)
                    state = ST_ETAG
                else:
                    self._pi_target(pos)
                    state = ST_PI
                continue

            elif state == ST_TAG:
                while pos < n and CLS[s[pos]] & C_WS:
                    pos += 1
                    self.had_ws = True
                if pos >= n:
                    break
                c = s[pos]
                if c == 62:  # '>'
                    pos += 1
                    self.pos = pos
                    self._start_tag(False)
                    state = ST_TEXT if self.depth >= 1 else ST_MISC
                elif c == 47:  # '/'
                    pos += 1
                    state = ST_TAG_SLASH
                else:
                    if not self.had_ws:
                        self._bad("attributes must be separated by white space")
                    if CLS[c] & C_NSTART == 0:
                        if c < 0x80:
                            self._bad("malformed start tag")
                        k = _utf8(s + pos, n - pos, &cp)
                        if k == 0:
                            break
                        if k < 0 or not _in_ranges(cp, fx_name_start, fx_name_start_count):
                            self._bad("malformed start tag")
                    self.mark = pos
                    self.colon = -1
                    state = ST_ATT_NAME
                continue

            elif state == ST_TAG_SLASH:
                if pos >= n:
                    break
                if s[pos] != 62:
                    self._bad("'/' in a start tag must be followed by '>'")
                pos += 1
                self.pos = pos
                self._start_tag(True)
                state = ST_TEXT if self.depth >= 1 else ST_MISC
                continue

            elif state == ST_ATT_EQ:
                while pos < n and CLS[s[pos]] & C_WS:
                    pos += 1
                if pos >= n:
                    break
                if s[pos] != 61:  # '='
                    self._bad("an attribute name must be followed by '='")
                pos += 1
                state = ST_ATT_QUOTE
                continue

            elif state == ST_ATT_QUOTE:
                while pos < n and CLS[s[pos]] & C_WS:
                    pos += 1
                if pos >= n:
                    break
                c = s[pos]
                if c != 39 and c != 34:
                    self._bad("an attribute value must be quoted")
                self.quote = c
                pos += 1
                self.att.vs = pos
                self.vflags = 0
                state = ST_ATT_VALUE
                continue

            elif state == ST_ATT_VALUE:
                while True:
                    pos = fx_skip_aval(s, pos, n)
                    if not FX_HAVE_SKIP16 or n - pos < 16:  # else it stopped on a byte
                        pos = _skip(s, pos, n, C_AVAL)
                    if pos >= n:
                        break
                    c = s[pos]
                    if c == self.quote:
                        break
                    if c == 39 or c == 34:
                        pos += 1
                    elif c == 38:
                        k = _predefined_ref(s, pos, n)
                        if k == 0:
                            break
                        self.vflags |= F_REF
                        pos += k
                    elif c == 60:
                        break
                    elif c >= 0x80:
                        i = pos
                        pos = _skip_nonascii(s, pos, n, &k)
                        if pos > i:
                            self.vflags |= F_NONASCII
                        if k < 0:
                            self._bad("invalid UTF-8 or a character XML does not allow")
                        if k == 0:
                            break
                    elif c == 9 or c == 10 or c == 13:
                        self.vflags |= F_WS
                        pos += 1
                    else:
                        self._bad("a control character XML does not allow")
                if pos >= n:
                    break
                c = s[pos]
                if c == 60:
                    self._bad("'<' in an attribute value")
                if c == 38:
                    self.vflags |= F_REF
                    self.ref_ret = ST_ATT_VALUE
                    self.ref_kind = 0
                    self.ref_start = pos
                    pos += 1
                    state = ST_REF
                    continue
                if c != self.quote:
                    break  # a multi-byte character cut short
                self.att.ve = pos
                self.att.flags = self.vflags
                pos += 1
                self.had_ws = False
                state = ST_TAG
                if n - pos >= 2 and s[pos] == 32 and CLS[s[pos + 1]] & C_NSTART:
                    # the usual: a space, then the next attribute's name (what ST_TAG does,
                    # without the trip through the state switch)
                    pos += 1
                    self.had_ws = True
                    self.mark = pos
                    self.colon = -1
                    state = ST_ATT_NAME
                continue

            elif state == ST_ETAG:
                while pos < n and CLS[s[pos]] & C_WS:
                    pos += 1
                if pos >= n:
                    break
                if s[pos] != 62:
                    self._bad("malformed end tag")
                pos += 1
                self.pos = pos
                self._end_element(False)
                state = ST_TEXT if self.depth >= 1 else ST_MISC
                continue

            elif state == ST_REF:
                k = self._scan_ref(pos)
                if k < 0:
                    pos = self.pos
                    break
                pos = k
                state = self.ref_ret
                continue

            elif state == ST_CDATA:
                while pos < n:
                    c = s[pos]
                    if c == 93:  # ']'
                        if n - pos < 3:
                            if n - pos == 2 and s[pos + 1] != 93:
                                pos += 1
                                continue
                            break
                        if s[pos + 1] == 93 and s[pos + 2] == 62:
                            break
                        pos += 1
                    elif c < 0x80:
                        if CLS[c] & C_CHAR == 0:
                            self._bad("a control character XML does not allow")
                        if c == 13:
                            self.text_flags |= F_CR
                        pos += 1
                    else:
                        k = self._step(pos)
                        if k < 0:
                            break
                        self.text_flags |= F_NONASCII
                        pos = k
                if pos < n and n - pos >= 3 and s[pos] == 93 and s[pos + 1] == 93 and s[pos + 2] == 62:
                    pos += 3
                    state = ST_TEXT
                    continue
                break

            elif state == ST_BANG:
                k = self._bang(pos)
                if k < 0:
                    break
                if self.sub == 1:  # comment
                    pos = k
                    self.sub = 0
                    state = ST_COMMENT
                elif self.sub == 2:  # CDATA section: part of the text run
                    pos = k
                    if self.text_start < 0:
                        self.text_start = self.tok
                    self.text_flags |= F_CDATA
                    self.tok = -1
                    state = ST_CDATA
                else:  # DOCTYPE
                    pos = k
                    self.sub = 0
                    state = ST_DOCTYPE
                continue

            elif state == ST_COMMENT:
                while pos < n:
                    c = s[pos]
                    if c == 45:  # '-'
                        if n - pos < 2:
                            break
                        if s[pos + 1] == 45:
                            if n - pos < 3:
                                break
                            if s[pos + 2] != 62:
                                self._bad("'--' inside a comment")
                            self.pos = pos + 3
                            self._restricted("comments are not allowed in XMPP")
                        pos += 1
                    elif c < 0x80:
                        if CLS[c] & C_CHAR == 0:
                            self._bad("a control character XML does not allow")
                        pos += 1
                    else:
                        k = self._step(pos)
                        if k < 0:
                            break
                        pos = k
                break

            elif state == ST_PI:
                if self.sub == 1:
                    if n - pos < 2:
                        break
                    if s[pos + 1] != 62:
                        self._bad("malformed processing instruction")
                    self.pos = pos + 2
                    self._restricted("processing instructions are not allowed in XMPP")
                while pos < n:
                    c = s[pos]
                    if c == 63:  # '?'
                        if n - pos < 2:
                            break
                        if s[pos + 1] == 62:
                            self.pos = pos + 2
                            self._restricted("processing instructions are not allowed in XMPP")
                        pos += 1
                    elif c < 0x80:
                        if CLS[c] & C_CHAR == 0:
                            self._bad("a control character XML does not allow")
                        pos += 1
                    else:
                        k = self._step(pos)
                        if k < 0:
                            break
                        pos = k
                break

            elif state == ST_DOCTYPE:
                k = self._doctype(pos)
                if k < 0:
                    pos = self.pos
                    break
                pos = k  # not reached: _doctype raises once it has seen enough
                break

            elif state == ST_MISC:
                while pos < n and CLS[s[pos]] & C_WS:
                    pos += 1
                if pos >= n:
                    break
                if s[pos] != 60:
                    if self.closed:
                        self._bad("data after the end of the stream")
                    self._bad("data before the stream header")
                self.tok = pos
                pos += 1
                state = ST_LT
                continue

            elif state == ST_START:
                k = self._document_start(pos)
                if k < 0:
                    pos = self.pos
                    break
                pos = k
                if self.sub == 1:
                    self.sub = 0
                    self.mark = pos
                    state = ST_DECL
                else:
                    state = ST_MISC
                continue

            elif state == ST_DECL:
                # look for '?>' from where the last read stopped
                i = self.mark
                while i < n - 1 and not (s[i] == 63 and s[i + 1] == 62):
                    if s[i] >= 0x80 or (s[i] < 0x20 and CLS[s[i]] & C_WS == 0):
                        self._bad("malformed XML declaration")
                    i += 1
                if i >= n - 1:
                    self.mark = i
                    pos = n
                    break
                self._xml_decl(self.tok + 5, i)
                pos = i + 2
                self.tok = -1
                state = ST_MISC
                continue
            else:
                raise AssertionError(f"bad parser state {state}")
        self.pos = pos
        self.state = state
        return 0

    # -- pieces of the scanner ------------------------------------------------------------------

    cdef inline Py_ssize_t _step(self, Py_ssize_t pos) except -2:
        """Past the character at ``pos``, or -1 when the data ends inside it; invalid UTF-8 and
        characters XML 1.0 does not allow are refused."""
        cdef Py_UCS4 cp
        cdef int k = _utf8(self.buf + pos, self.n - pos, &cp)
        if k < 0:
            self._bad("invalid UTF-8 or a character XML does not allow")
        return pos + k if k > 0 else -1

    cdef Py_ssize_t _scan_name(self, Py_ssize_t pos) except -2:
        """Advance over name characters from ``pos``; -1 when the data ends inside the name.

        Tracks the colon of a qualified name in ``self.colon`` (a second one, or one that is not
        followed by a name-start character, is an error when the name is checked); with
        ``self.doctype_name`` (a DOCTYPE's name, as expat reads it) any name character may
        follow the one colon.
        """
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t n = self.n
        cdef unsigned char c
        cdef int k
        cdef Py_UCS4 cp
        if self.colon < 0 or self.colon < pos - 1:
            while pos < n and CLS[s[pos]] & C_NAME:
                pos += 1
        while pos < n:
            c = s[pos]
            if CLS[c] & C_NAME:
                if (
                    self.colon >= 0
                    and self.colon == pos - 1
                    and CLS[c] & C_NSTART == 0
                    and not self.doctype_name
                ):
                    self._bad("a prefix must be followed by a name")
                pos += 1
            elif c == 58:  # ':'
                if self.colon >= 0:
                    self._bad("a name with two colons")
                self.colon = pos
                pos += 1
            elif c >= 0x80:
                k = _utf8(s + pos, n - pos, &cp)
                if k == 0:
                    self.pos = pos
                    return -1
                if k < 0:
                    self._bad("invalid UTF-8 or a character XML does not allow")
                if self.colon >= 0 and self.colon == pos - 1 and not self.doctype_name:
                    if not _in_ranges(cp, fx_name_start, fx_name_start_count):
                        self._bad("a prefix must be followed by a name")
                elif not _in_ranges(cp, fx_name_char, fx_name_char_count):
                    return pos
                pos += k
            else:
                return pos
        self.pos = pos
        return -1

    cdef inline int _check_qname(self, Py_ssize_t end) except -1:
        if self.colon >= 0 and self.colon == end - 1:
            self._bad("a name must not end with a colon")
        return 0

    cdef inline int _new_attr(self, Py_ssize_t end) except -1:
        cdef Attr* a
        if self.natt == self.atts_cap:
            a = <Attr*>realloc(self.atts, 2 * self.atts_cap * sizeof(Attr))
            if a == NULL:
                raise MemoryError()
            self.atts = a
            self.atts_cap *= 2
        a = &self.atts[self.natt]
        a.ns = self.mark
        a.ne = end
        a.colon = self.colon
        a.vs = a.ve = end
        a.flags = 0
        a.is_decl = 0
        a.uri = NULL
        self.att = a
        self.natt += 1
        return 0

    cdef Py_ssize_t _scan_ref(self, Py_ssize_t pos) except -2:
        """Read a reference after '&' (ref_kind keeps the place across reads); -1: need more."""
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t n = self.n
        cdef unsigned char c
        cdef Py_ssize_t k
        cdef int u
        cdef Py_UCS4 cp
        while pos < n:
            c = s[pos]
            if self.ref_kind == 0:  # after '&'
                if c == 35:  # '#'
                    self.ref_kind = 1
                    pos += 1
                    continue
                if CLS[c] & C_NSTART == 0:
                    if c < 0x80:
                        self._bad("'&' must start a reference")
                    u = _utf8(s + pos, n - pos, &cp)
                    if u == 0:
                        break  # the first character is cut short: wait for the rest
                    if u < 0 or not _in_ranges(cp, fx_name_start, fx_name_start_count):
                        self._bad("'&' must start a reference")
                self.mark = pos
                self.colon = -1
                self.ref_kind = 5
                continue
            if self.ref_kind == 1:  # after '&#'
                if c == 120:  # 'x'
                    self.ref_kind = 3
                    pos += 1
                    continue
                if 48 <= c <= 57:
                    self.ref_val = 0
                    self.ref_kind = 2
                    continue
                self._bad("malformed character reference")
            if self.ref_kind == 2 or self.ref_kind == 4:  # digits
                if c == 59:  # ';'
                    if not _is_xml_char(self.ref_val):
                        self._bad("a character reference to a character XML does not allow")
                    self._ref_done(self.ref_val)
                    return pos + 1
                if self.ref_kind == 2 and 48 <= c <= 57:
                    self.ref_val = self.ref_val * 10 + (c - 48)
                elif self.ref_kind == 4 and (48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70):
                    self.ref_val = self.ref_val * 16 + _hexval(c)
                else:
                    self._bad("malformed character reference")
                if self.ref_val > 0x10FFFF:
                    self.ref_val = 0x110000
                pos += 1
                continue
            if self.ref_kind == 3:  # after '&#x'
                if 48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70:
                    self.ref_val = 0
                    self.ref_kind = 4
                    continue
                self._bad("malformed character reference")
            # ref_kind 5: an entity name
            k = self._scan_name(pos)
            if k < 0:
                return -1
            pos = k
            if s[pos] != 59 or self.colon >= 0:
                self._bad("malformed entity reference")
            if self.ref_ret == ST_ATT_VALUE and not self._predefined(self.mark, pos):
                # expat reads the whole tag before it resolves references in values
                self.vflags |= F_BADENT
            else:
                self._ref_done(self._entity(self.mark, pos))
            return pos + 1
        self.pos = pos
        return -1

    cdef bint _predefined(self, Py_ssize_t start, Py_ssize_t end) noexcept:
        cdef const unsigned char* p = self.buf + start
        cdef Py_ssize_t length = end - start
        if length == 2:
            return p[1] == 116 and (p[0] == 108 or p[0] == 103)
        if length == 3:
            return memcmp(p, b"amp", 3) == 0
        if length == 4:
            return memcmp(p, b"apos", 4) == 0 or memcmp(p, b"quot", 4) == 0
        return False

    cdef unsigned int _entity(self, Py_ssize_t start, Py_ssize_t end) except 0:
        cdef const unsigned char* p = self.buf + start
        cdef Py_ssize_t length = end - start
        if length == 2 and p[1] == 116:  # 't'
            if p[0] == 108:
                return 60  # lt
            if p[0] == 103:
                return 62  # gt
        elif length == 3 and memcmp(p, b"amp", 3) == 0:
            return 38
        elif length == 4:
            if memcmp(p, b"apos", 4) == 0:
                return 39
            if memcmp(p, b"quot", 4) == 0:
                return 34
        self._restricted("entity references other than the five predefined are not allowed")
        return 0

    cdef int _ref_done(self, unsigned int value) except -1:
        if self.ref_ret == ST_TEXT and self.depth == 1:
            if not (value == 32 or value == 9 or value == 10 or value == 13):
                self._fail("bad-format", "character data between stanzas")
        return 0

    cdef Py_ssize_t _bang(self, Py_ssize_t pos) except -2:
        """After '<!': 1 comment, 2 CDATA, 3 DOCTYPE in ``self.sub``; -1 when more is needed."""
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t avail = self.n - pos
        cdef Py_ssize_t m
        m = avail if avail < 7 else 7
        if avail >= 1 and s[pos] == 45:
            if avail < 2:
                return -1
            if s[pos + 1] != 45:
                self._bad("malformed comment")
            self._end_text_run()
            self.sub = 1
            return pos + 2
        if memcmp(s + pos, b"[CDATA[", m) == 0:
            if m < 7:
                return -1
            if self.depth == 0:
                self._bad("a CDATA section outside the root element")
            if self.depth == 1:
                self._fail("bad-format", "character data between stanzas")
            self.sub = 2
            return pos + 7
        if memcmp(s + pos, b"DOCTYPE", m) == 0:
            if m < 7:
                return -1
            if self.depth > 0 or self.closed:
                self._bad("a DOCTYPE inside the document")
            self.sub = 3
            return pos + 7
        self._bad("malformed markup after '<!'")
        return -1

    cdef Py_ssize_t _doctype(self, Py_ssize_t pos) except -2:
        """'<!DOCTYPE' S Name (S ExternalID)? S?, then '>' or '[': restricted-xml, exactly
        where expat calls its DOCTYPE handler; a malformed start is not-well-formed, as there.

        ``sub`` keeps the place: 0 white space required, 1 before the name, 2 in the name, 3
        after it, 4 in SYSTEM/PUBLIC, 5 before a literal, 6 in a literal, 7 after the public
        literal, 8 after the system literal, 9 in a misplaced XML declaration (which expat
        reports, once it is complete, as misplaced: restricted-xml; any other markup there
        is not-well-formed).
        """
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t n = self.n
        cdef Py_ssize_t k
        cdef unsigned char c
        cdef Py_ssize_t m
        while pos < n:
            c = s[pos]
            if self.sub == 9:  # look for the '?>' that ends the misplaced declaration
                if c == 63:
                    if n - pos < 2:
                        break
                    if s[pos + 1] == 62:
                        self.pos = pos + 2
                        self._restricted("an XML declaration after the start")
                    pos += 1
                    continue
                k = self._step(pos)
                if k < 0:
                    break
                pos = k
                continue
            if c == 60 and self.sub != 0 and self.sub != 2 and self.sub != 4 and self.sub != 6:
                m = n - pos if n - pos < 6 else 6
                if memcmp(s + pos, b"<?xml", m if m < 5 else 5) != 0:
                    self._bad("malformed DOCTYPE")
                if m < 6:
                    break
                if CLS[s[pos + 5]] & C_WS == 0 and s[pos + 5] != 63:
                    self._bad("malformed DOCTYPE")
                if s[pos + 5] == 63:  # '<?xml?' must be '<?xml?>'
                    if n - pos < 7:
                        break
                    if s[pos + 6] != 62:
                        self._bad("malformed processing instruction")
                self.sub = 9
                pos += 5
                continue
            if self.sub == 0:
                if CLS[c] & C_WS == 0:
                    self._bad("malformed DOCTYPE")
                self.sub = 1
                pos += 1
            elif self.sub == 1 or self.sub == 3 or self.sub == 8:
                if CLS[c] & C_WS:
                    pos += 1
                    continue
                if self.sub != 1 and (c == 62 or c == 91):  # '>' or '['
                    self._restricted("a DTD is not allowed in XMPP")
                if self.sub == 8 or (CLS[c] & C_NSTART == 0 and c < 0x80):
                    self._bad("malformed DOCTYPE")
                self.mark = pos
                self.colon = -1
                self.doctype_name = True
                self.sub = 2 if self.sub == 1 else 4
            elif self.sub == 2 or self.sub == 4:
                k = self._scan_name(pos)
                if k < 0:
                    return -1  # _scan_name has set self.pos
                self.doctype_name = False
                c = s[k]
                if self.colon == k - 1:
                    self._bad("malformed DOCTYPE")
                if self.sub == 2:
                    if c == 62 or c == 91:
                        self._restricted("a DTD is not allowed in XMPP")
                    if CLS[c] & C_WS == 0:
                        self._bad("malformed DOCTYPE")
                    self.sub = 3
                else:
                    if k - self.mark != 6 or CLS[c] & C_WS == 0:
                        self._bad("malformed DOCTYPE")
                    if memcmp(s + self.mark, b"SYSTEM", 6) == 0:
                        self.dt_public = False
                    elif memcmp(s + self.mark, b"PUBLIC", 6) == 0:
                        self.dt_public = True
                    else:
                        self._bad("malformed DOCTYPE")
                    self.sub = 5
                pos = k
            elif self.sub == 5 or self.sub == 7:
                if CLS[c] & C_WS:
                    self.had_ws = True
                    pos += 1
                    continue
                if (c != 34 and c != 39) or (self.sub == 7 and not self.had_ws):
                    self._bad("malformed DOCTYPE")
                self.quote = c
                self.sub = 6
                pos += 1
            else:  # 6: in a literal
                if c == self.quote:
                    pos += 1
                    if self.dt_public:  # the public literal: the system literal must follow
                        self.dt_public = False
                        self.had_ws = False
                        self.sub = 7
                    else:
                        self.sub = 8
                    continue
                if self.dt_public:  # PubidChar: letters, digits, and these
                    if not ((CLS[c] & C_NAME) or c in b" \r\n'()+,/:=?;!*#@$%"):
                        self._bad("illegal character in a public id")
                    pos += 1
                else:
                    k = self._step(pos)
                    if k < 0:
                        break
                    pos = k
        self.pos = pos
        return -1

    cdef int _pi_target(self, Py_ssize_t end) except -1:
        cdef const unsigned char* p = self.buf + self.mark
        cdef Py_ssize_t length = end - self.mark
        cdef unsigned char c = self.buf[end]
        cdef Py_UCS4 cp
        if length == 0 or (CLS[p[0]] & C_NSTART == 0 and (
            p[0] < 0x80 or _utf8(p, length, &cp) <= 0
            or not _in_ranges(cp, fx_name_start, fx_name_start_count)
        )):
            self._bad("a processing instruction needs a target")
        if length == 3 and (p[0] | 32) == 120 and (p[1] | 32) == 109 and (p[2] | 32) == 108:
            if not (p[0] == 120 and p[1] == 109 and p[2] == 108):
                self._bad("reserved processing-instruction target")
            if self.closed:  # expat: an XML declaration after the document is junk
                self._bad("data after the end of the stream")
        if (CLS[c] & C_WS == 0 and c != 63) or self.colon >= 0:  # no colon: expat's rule
            self._bad("malformed processing instruction")
        self.sub = c == 63  # a '?' right after the target must be the end: '?>'
        return 0

    cdef int _restricted(self, str text) except -1:
        return self._fail("restricted-xml", text)

    cdef Py_ssize_t _document_start(self, Py_ssize_t pos) except -2:
        """Byte-order mark and XML declaration; sets sub=1 when a declaration starts."""
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t avail = self.n - pos
        cdef Py_ssize_t m
        self.pos = pos
        if avail == 0:
            return -1
        if not self.started:
            if s[pos] == 0:  # 00 00 FE FF: a UTF-32 byte-order mark
                m = avail if avail < 4 else 4
                if memcmp(s + pos, b"\0\0\xfe\xff", m) == 0:
                    if m < 4:
                        return -1
                    self._fail("unsupported-encoding", "UTF-32 byte-order mark: XMPP is UTF-8")
            if s[pos] == 0xFE or s[pos] == 0xFF:
                if avail < 2:
                    return -1
                if (s[pos] == 0xFE and s[pos + 1] == 0xFF) or (s[pos] == 0xFF and s[pos + 1] == 0xFE):
                    self._fail("unsupported-encoding", "UTF-16 or UTF-32 byte-order mark: XMPP is UTF-8")
            if s[pos] == 0xEF:
                m = avail if avail < 3 else 3
                if memcmp(s + pos, b"\xef\xbb\xbf", m) == 0:
                    if m < 3:
                        return -1
                    pos += 3
                    avail -= 3
            self.started = True
            if avail == 0:
                self.pos = pos
                return -1
        m = avail if avail < 5 else 5
        if memcmp(s + pos, b"<?xml", m) == 0:
            if avail < 6:
                self.pos = pos
                return -1
            if CLS[s[pos + 5]] & C_WS or s[pos + 5] == 63:
                self.tok = pos
                self.sub = 1
                return pos + 5
        self.sub = 0
        return pos

    cdef int _xml_decl(self, Py_ssize_t start, Py_ssize_t end) except -1:
        """Check ``<?xml version='1.0' [encoding='UTF-8'] [standalone='yes|no']?>``."""
        cdef bytes decl = PyBytes_FromStringAndSize(<char*>self.buf + start, end - start)
        cdef list names = []
        cdef bytes name, value
        cdef Py_ssize_t i = 0, j, length = len(decl)
        cdef int q
        values = {}
        while True:
            j = i
            while i < length and decl[i] in b" \t\r\n":
                i += 1
            if i >= length:
                break
            if i == j:
                self._bad("malformed XML declaration")
            j = i
            while i < length and (97 <= decl[i] <= 122):
                i += 1
            name = decl[j:i]
            while i < length and decl[i] in b" \t\r\n":
                i += 1
            if i >= length or decl[i] != 61:
                self._bad("malformed XML declaration")
            i += 1
            while i < length and decl[i] in b" \t\r\n":
                i += 1
            if i >= length or decl[i] not in (34, 39):
                self._bad("malformed XML declaration")
            q = decl[i]
            j = i + 1
            i = decl.find(bytes((q,)), j)
            if i < 0:
                self._bad("malformed XML declaration")
            value = decl[j:i]
            i += 1
            names.append(name)
            values[name] = value
        order = [b"version", b"encoding", b"standalone"]
        if not names or names[0] != b"version" or len(set(names)) != len(names):
            self._bad("malformed XML declaration")
        last = -1
        for name in names:
            if name not in order or order.index(name) <= last:
                self._bad("malformed XML declaration")
            last = order.index(name)
        version = values[b"version"]
        if not version or any(not (chr(c).isalnum() or chr(c) in "_.:-") or c > 127 for c in version):
            self._bad("malformed XML declaration")
        if b"encoding" in values:
            enc = values[b"encoding"]
            if not enc or not (65 <= (enc[0] | 32) - 32 <= 90) or any(
                c > 127 or not (chr(c).isalnum() or chr(c) in "._-") for c in enc
            ):
                self._bad("malformed XML declaration")
        if b"standalone" in values and values[b"standalone"] not in (b"yes", b"no"):
            self._bad("malformed XML declaration")
        if version != b"1.0":
            self._bad(f"XML version {version.decode()!r}: XMPP uses XML 1.0")
        if b"encoding" in values and values[b"encoding"].lower() != b"utf-8":
            self._fail("unsupported-encoding", f"encoding {values[b'encoding'].decode()!r}: XMPP is UTF-8")
        return 0

    # -- text -----------------------------------------------------------------------------------

    cdef inline int _end_text_run(self) except -1:
        """Attach the pending character data (ended by markup at ``tok``) to the tree."""
        if self.text_start < 0:  # (most markup: no call)
            return 0
        return self._text_run(self.text_start)

    cdef int _text_run(self, Py_ssize_t start) except -1:
        cdef Element top
        cdef object text
        self.text_start = -1
        if self.depth < 2:
            self.text_flags = 0
            return 0
        if self.depth > 2 or self.llast[2] >= 0:  # inside a child of the stanza, or after one
            self._record_text(start)
            return 0
        # the stanza's own text (before its first child)
        if self.text_flags & (F_REF | F_CR | F_CDATA):
            text = self._unescape(start, self.tok, False, self.text_flags)
            self.text_flags = 0
            if len(<str>text) == 0:  # only empty CDATA sections: expat reports nothing
                return 0
        else:
            text = _decode(self.buf + start, self.tok - start, self.text_flags & F_NONASCII)
            self.text_flags = 0
        top = <Element>self.stanza
        top.text = text if top.text is None else top.text + text
        return 0

    cdef object _unescape(self, Py_ssize_t start, Py_ssize_t end, bint attr, unsigned int flags):
        """Decode a validated span of the buffer (see _unescape_span), through the scratch buffer."""
        cdef unsigned char* out
        if end - start > self.scratch_cap:
            out = <unsigned char*>realloc(self.scratch, end - start)
            if out == NULL:
                raise MemoryError()
            self.scratch = out
            self.scratch_cap = end - start
        return _decode_valid(self.scratch, _unescape_span(self.buf, start, end, attr, self.scratch))

    cdef object _uri_value(self, Attr* a):
        """A namespace name, one str object per distinct value (the name cache keys on it)."""
        cdef const unsigned char* p = self.buf + a.vs
        cdef Py_ssize_t length = a.ve - a.vs, i
        cdef unsigned long long h = <unsigned long long>length, w
        cdef CacheEntry* e
        cdef object uri
        if a.flags or length > CACHE_LOCAL:
            return _intern_uri(self._attr_value(a))
        # a word at a time (a multiply per byte would be a long chain of latencies), the last
        # word overlapping the one before it; the index is taken from the well-mixed top bits
        if length >= 8:
            i = 0
            while i < length - 8:
                memcpy(&w, p + i, 8)
                h = (h ^ w) * 0x9E3779B97F4A7C15ULL
                i += 8
            memcpy(&w, p + length - 8, 8)
        else:
            w = 0
            for i in range(length):
                w = (w << 8) | p[i]
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL
        e = &URI_CACHE[(h >> 48) & (URI_CACHE_SIZE - 1)]
        if e.value != NULL and e.llen == length and fx_eq(e.local, p, length):
            return <object>e.value
        uri = _intern_uri(_decode(p, length, False))
        if uri is None:
            return None
        Py_XDECREF(e.value)
        Py_INCREF(uri)
        e.value = <PyObject*>uri
        e.llen = length
        memcpy(e.local, p, length)
        return uri

    cdef object _attr_value(self, Attr* a):
        if a.flags & (F_REF | F_WS):
            return self._unescape(a.vs, a.ve, True, a.flags)
        return _decode(self.buf + a.vs, a.ve - a.vs, a.flags & F_NONASCII)

    # -- the stanza's children, recorded (see LazyNode) -----------------------------------------

    cdef void _drop_records(self) noexcept:
        """Forget the records of a stanza that will not be handed out (an error, reset())."""
        cdef Py_ssize_t i
        for i in range(self.nlnodes):
            Py_DECREF(<object>self.lnodes[i].tag)
        for i in range(self.nlattrs):
            Py_XDECREF(self.lattrs[i].name)
        self.nlnodes = self.nlattrs = self.nsattrs = self.nnamed = 0

    cdef int _reserve_records(self, Py_ssize_t nattrs) except -1:
        """Room for one more node and ``nattrs`` more attributes."""
        cdef void* p
        if self.nlnodes == self.lnodes_cap:
            p = realloc(self.lnodes, 2 * self.lnodes_cap * sizeof(LazyNode))
            if p == NULL:
                raise MemoryError()
            self.lnodes = <LazyNode*>p
            self.lnodes_cap *= 2
        if self.nlattrs + nattrs > self.lattrs_cap:
            p = realloc(self.lattrs, (2 * self.lattrs_cap + nattrs) * sizeof(LazyAttr))
            if p == NULL:
                raise MemoryError()
            self.lattrs = <LazyAttr*>p
            self.lattrs_cap = 2 * self.lattrs_cap + nattrs
        return 0

    cdef int _record_attributes(self) except -1:
        """The start tag just checked opens a stanza: record its attributes (the first
        LazyAttrs, ``nsattrs`` of them)."""
        cdef Py_ssize_t before = self.nlattrs
        if self.natt > self.lattrs_cap:
            self._reserve_records(self.natt)
        if self._append_attributes() and before == 0:
            # in document order: no span of the records starts before the first name
            self.records_lo = self.lattrs[0].ns
        self.nsattrs = self.nlattrs
        return 0

    cdef inline Py_ssize_t _append_attributes(self) except -1:
        """Record the attributes of the start tag just checked (not its namespace
        declarations) as the next LazyAttrs, for which there is room; returns how many."""
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t i, base = self.stanza_start, first = self.nlattrs, count = first
        cdef LazyAttr* la = &self.lattrs[first]
        cdef Attr* a = self.atts
        for i in range(self.natt):  # (``a`` is ``&self.atts[i]``, ``la`` the next record)
            if not a.is_decl:
                # an unprefixed name is only a span: see LazyAttr
                la.name = NULL
                if a.colon >= 0:
                    la.name = _clark_ref(<object>a.uri, s + a.colon + 1, a.ne - a.colon - 1)
                    self.nnamed = count + 1
                la.ns = a.ns - base
                la.ne = a.ne - base
                la.vs = a.vs - base
                la.ve = a.ve - base
                la.flags = a.flags
                la += 1
                count += 1
                self.nlattrs = count  # the owned reference is counted as soon as it is taken
            a += 1
        return count - first

    cdef int _record_element(
        self, Py_ssize_t depth, object uri, const unsigned char* local, Py_ssize_t llen
    ) except -1:
        """The start tag just checked opens an element below the stanza, named (uri, local):
        record it."""
        cdef Py_ssize_t index = self.nlnodes, base = self.stanza_start
        cdef LazyNode* node
        if self.nlnodes == self.lnodes_cap or self.nlattrs + self.natt > self.lattrs_cap:
            self._reserve_records(self.natt)
        if self.records_lo < 0:  # no span of the records starts before this name
            self.records_lo = self.name_s - base
        node = &self.lnodes[index]
        node.tag = _clark_ref(uri, local, llen)
        node.parent = self.lopen[depth - 1] if depth > 3 else -1
        node.after = index + 1
        node.attr0 = self.nlattrs
        node.nattr = 0
        node.text_s = node.tail_s = -1
        node.text_e = node.tail_e = -1
        node.text_flags = node.tail_flags = 0
        self.nlnodes = index + 1  # the owned references are counted as soon as they are taken
        node.nattr = self._append_attributes()
        self.lopen[depth] = index
        self.llast[depth] = -1
        self.llast[depth - 1] = index
        return 0

    cdef void _record_text(self, Py_ssize_t start) noexcept:
        """A text run below the stanza ends at ``tok``: the tail of the open element's last
        child, or else the open element's text. (One run at most per place: only comments and
        processing instructions could split one, and they end the stream.)"""
        cdef Py_ssize_t last = self.llast[self.depth], base = self.stanza_start
        cdef LazyNode* node
        if last >= 0:
            node = &self.lnodes[last]
            node.tail_s = start - base
            node.tail_e = self.tok - base
            node.tail_flags = self.text_flags
        else:
            node = &self.lnodes[self.lopen[self.depth]]
            node.text_s = start - base
            node.text_e = self.tok - base
            node.text_flags = self.text_flags
        self.text_flags = 0

    cdef _LazyStanza _take_records(self):
        """The records of the stanza that has just ended, moved into a _LazyStanza with a copy
        of the bytes they refer to (from the first attribute, or else the first child's name, to
        the stanza's end), and BUF_SLACK bytes after them: the name cache reads a name 8 bytes
        at a time (see _name_set)."""
        cdef _LazyStanza lazy = _new_lazy_stanza()
        cdef Py_ssize_t nodes_size = self.nlnodes * sizeof(LazyNode)
        cdef Py_ssize_t attrs_size = self.nlattrs * sizeof(LazyAttr)
        cdef Py_ssize_t lo = self.records_lo, hi = self.pos - self.stanza_start
        cdef Py_ssize_t size = nodes_size + attrs_size + (hi - lo)
        cdef char* block = <char*>_take_block(size + BUF_SLACK, &lazy._units)
        memcpy(block, self.lnodes, nodes_size)
        memcpy(block + nodes_size, self.lattrs, attrs_size)
        memcpy(block + nodes_size + attrs_size, self.buf + self.stanza_start + lo, hi - lo)
        memset(block + size, 0, BUF_SLACK)  # (defined bytes, though no result depends on them)
        lazy._block = block
        lazy._nodes = block
        lazy._attrs = block + nodes_size
        lazy._data = <const unsigned char*>(block + nodes_size + attrs_size)
        lazy._lo = lo
        lazy.nnodes = self.nlnodes  # the references move with the records
        lazy._nnamed = self.nnamed
        lazy._nsattrs = self.nsattrs
        self.nlnodes = self.nlattrs = self.nsattrs = self.nnamed = 0
        return lazy

    # -- tags -----------------------------------------------------------------------------------

    cdef int _start_tag(self, bint empty) except -1:
        """A start tag is complete: namespaces, checks, then the element (or the stream header)."""
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t i, j, natt = self.natt, nbind_before = self.nbind
        cdef Attr* a
        cdef Attr* b
        cdef Py_ssize_t plen, llen
        cdef PyObject* found
        cdef object uri, el_uri, tag
        cdef const unsigned char* local
        cdef Py_ssize_t depth = self.depth + 1
        cdef bint prefixed = False  # an attribute other than a declaration has a prefix
        cdef unsigned long long seen = 0, bit, had  # names so far, one bit each: see 1.
        cdef Attr* atts = self.atts  # (moved only by _new_attr, while a tag is read)
        cdef Py_ssize_t alen
        cdef unsigned char first
        if natt > self.max_attributes and natt > MAX_CHECKED_ATTRIBUTES:
            # the duplicate check below is quadratic: past this bound, refuse before it
            self._fail("policy-violation", f"more than {self.max_attributes} attributes")
        # 1. raw duplicates and namespace declarations, in document order (as expat does). Two
        # equal names have the same length, first and last byte: a bit taken from those, set
        # for each name, tells most names that no earlier one can equal them, without the
        # comparisons (quadratic: a stanza's tags have a few attributes, some have many).
        a = atts
        for i in range(natt):  # (``a`` is ``&atts[i]``)
            alen = a.ne - a.ns
            first = s[a.ns]
            bit = 1ULL << ((<size_t>alen * 7 + first * 3 + s[a.ne - 1]) & 63)
            seen, had = seen | bit, seen & bit
            for j in range(i if had else 0):
                b = &atts[j]
                if (
                    b.ne - b.ns == alen
                    and s[b.ns] == first
                    and memcmp(s + b.ns, s + a.ns, alen) == 0
                ):
                    self._bad("duplicate attribute")
            if a.flags & F_BADENT:
                self._restricted("entity references other than the five predefined are not allowed")
            if first != 120:  # not 'x': neither "xmlns" nor "xmlns:..." (most names)
                if a.colon >= 0:
                    prefixed = True
            elif a.colon < 0 and alen == 5 and memcmp(s + a.ns, b"xmlns", 5) == 0:
                a.is_decl = 1
                self._declare(s + a.ns, 0, self._uri_value(a))
            elif a.colon == a.ns + 5 and memcmp(s + a.ns, b"xmlns", 5) == 0:
                a.is_decl = 1
                self._declare(s + a.colon + 1, a.ne - a.colon - 1, self._uri_value(a))
            elif a.colon >= 0:
                prefixed = True
            a += 1
        # 2. prefixed attribute names, then duplicates after expansion (most tags have none)
        for i in range(natt if prefixed else 0):
            a = &self.atts[i]
            if a.is_decl or a.colon < 0:
                continue
            found = self._lookup(s + a.ns, a.colon - a.ns)
            if found == NULL:
                self._fail("bad-namespace-prefix", "unbound prefix on an attribute")
            a.uri = found
            for j in range(i):
                b = &self.atts[j]
                if (
                    b.uri != NULL
                    and not b.is_decl
                    and b.ne - b.colon == a.ne - a.colon
                    and memcmp(s + b.colon, s + a.colon, a.ne - a.colon) == 0
                    and (b.uri == a.uri or <str>b.uri == <str>a.uri)
                ):
                    self._bad("duplicate attribute after namespace expansion")
        # 3. the element's own name
        if self.name_colon >= 0:
            found = self._lookup(s + self.name_s, self.name_colon - self.name_s)
            if found == NULL:
                self._fail("bad-namespace-prefix", "unbound prefix on an element")
            local = s + self.name_colon + 1
            llen = self.name_e - self.name_colon - 1
        else:
            found = self._lookup(s, 0)
            local = s + self.name_s
            llen = self.name_e - self.name_s
        el_uri = <object>found if found != NULL else ""
        # 4. the stream's rules and the limits (expat's handlers run here)
        if natt > self.max_attributes:
            self._fail("policy-violation", f"more than {self.max_attributes} attributes")
        if depth == 1:
            if <str>el_uri != S_STREAM_NS:
                self._fail("invalid-namespace", "the stream must be {%s}stream" % S_STREAM_NS)
            if llen != 6 or memcmp(local, b"stream", 6) != 0:
                self._fail("bad-format", "the root element must be stream")
            self._open_stream(nbind_before)
            if empty:
                self._end_element(True)
            return 0
        if depth > self.max_depth + 1:
            self._fail("policy-violation", f"elements nested deeper than {self.max_depth}")
        if llen == 6 and _is_stream(local) and <str>el_uri == S_STREAM_NS:
            self._fail("bad-format", "a stream element inside the stream")
        # 5. the element: a stanza is made now, its attributes and what is inside it only
        # recorded (LazyAttr, LazyNode)
        if depth > 2:
            self._record_element(depth, el_uri, local, llen)
        else:
            tag = <object>_clark_ref(el_uri, local, llen)
            Py_DECREF(tag)  # (the reference _clark_ref made: ``tag`` holds one)
            self.stanza = _new_element(tag)
            if self.nlnodes or self.nlattrs:  # left by an exception other than a stream error
                self._drop_records()
            self.records_lo = -1
            self._record_attributes()
            self.llast[2] = -1
        self.open[depth].qs = self.name_s
        self.open[depth].qe = self.name_e
        self.open[depth].nbind = nbind_before
        self.depth = depth
        self.natt = 0
        self.tok = -1
        if empty:
            self._end_element(True)
        return 0

    cdef int _declare(self, const unsigned char* prefix, Py_ssize_t plen, object uri) except -1:
        """A namespace declaration, held to the Namespaces in XML rules as expat holds it."""
        cdef bint is_xml = plen == 3 and memcmp(prefix, b"xml", 3) == 0
        cdef Py_ssize_t ulen
        cdef bint xml_uri, xmlns_uri
        if uri is None:
            self._bad("'}' in a namespace name")
        ulen = len(<str>uri)
        xml_uri = ulen == 36 and <str>uri == S_XML_NS
        xmlns_uri = ulen == 29 and <str>uri == S_XMLNS_NS
        if plen == 5 and memcmp(prefix, b"xmlns", 5) == 0:
            self._bad("the xmlns prefix must not be declared")
        if is_xml and not xml_uri:
            self._bad("the xml prefix must not be bound to another namespace")
        if not is_xml and (xml_uri or xmlns_uri):
            self._bad("a reserved namespace must not be bound to another prefix")
        if plen > 0 and ulen == 0:
            self._bad("a prefix must not be undeclared")
        self._bind(prefix, plen, uri)
        return 0

    cdef int _open_stream(self, Py_ssize_t nbind_before) except -1:
        cdef const unsigned char* s = self.buf
        cdef Py_ssize_t i
        cdef Attr* a
        cdef dict attrib = {}
        cdef dict namespaces = {}
        cdef Binding* b
        for i in range(nbind_before, self.nbind):
            b = &self.binds[i]
            namespaces[PyUnicode_DecodeUTF8(_prefix(b), b.plen, NULL)] = <object>b.uri
        for i in range(self.natt):
            a = &self.atts[i]
            if a.is_decl:
                continue
            name = <object>_attr_name(a, s)
            Py_DECREF(name)  # (the reference _attr_name made: ``name`` holds one)
            attrib[name] = self._attr_value(a)
        if self.base + self.pos > self.max_stanza_size:
            self._fail("policy-violation", f"stream header larger than {self.max_stanza_size} bytes")
        self.root_qname = PyBytes_FromStringAndSize(<char*>s + self.name_s, self.name_e - self.name_s)
        self.open[1].nbind = nbind_before
        self.depth = 1
        self.natt = 0
        self.tok = -1
        self.stanza_start = -1
        self.started = True
        self.items.append(StreamOpen(attrib, namespaces))
        return 0

    cdef int _match_end_tag(self, Py_ssize_t end) except -1:
        cdef Py_ssize_t length = end - self.mark
        cdef Open* o = &self.open[self.depth]
        if self.depth == 1:
            if length != len(self.root_qname) or memcmp(self.buf + self.mark, PyBytes_AS_STRING(self.root_qname), length) != 0:
                self._bad("mismatched end tag")
        elif length != o.qe - o.qs or memcmp(self.buf + self.mark, self.buf + o.qs, length) != 0:
            self._bad("mismatched end tag")
        return 0

    cdef int _end_element(self, bint empty) except -1:
        """An element ends (``empty``: it was ``<x/>``); a finished stanza is handed out."""
        cdef Py_ssize_t depth = self.depth
        self._end_text_run()
        self._free_bindings(self.open[depth].nbind)
        self.depth = depth - 1
        if depth > 2:
            self.lnodes[self.lopen[depth]].after = self.nlnodes
        elif depth == 2:
            if self.pos - self.stanza_start > self.max_stanza_size:
                self._fail("policy-violation", f"stanza larger than {self.max_stanza_size} bytes")
            if self.nlnodes or self.nlattrs:
                (<Element>self.stanza)._lazy = self._take_records()
            self.items.append(self.stanza)
            self.stanza = None
            self.stanza_start = -1
        elif depth == 1:
            self.closed = True
            self.stanza_start = -1
            self.items.append(StreamClose())
        self.tok = -1
        return 0
