# Augments fastxmpp/_xmlcore.py when the build compiles it as fastxmpp._xmlcore_c: Element becomes
# an extension type with C-level fields, which the compiled stream parser fills in directly.
# (cythonize does not see this file as a dependency of _xmlcore.py: after changing only this
# file, touch _xmlcore.py so that an in-place build regenerates the C code.)
# (class decorators such as the freelist are in _xmlcore.py: Cython ignores them here)


# the records of a stanza (_LazyStanza in ext/_parser_c.pyx derives from it): Element reads
# nnodes and calls the methods at C level, through the type's table, not by name
cdef class _Lazy:
    cdef readonly Py_ssize_t nnodes
    # The fields of _LazyStanza (see there), declared here rather than in it so that both types
    # are of one size: Cython's freelist for this type (see _xmlcore.py) then serves the
    # subtype too, as it checks an object's size, not its type (it keeps none for a subtype).
    cdef void* _nodes
    cdef void* _attrs
    cdef const unsigned char* _data
    cdef Py_ssize_t _nnamed, _nsattrs, _lo
    cdef void* _block
    cdef Py_ssize_t _units
    cpdef list build(self)
    cpdef object findtext(self, str path, object default)
    cpdef dict build_attrib(self)
    cpdef object get_attr(self, str key, object default)


# what a stanza builder was given: the writer reads its fields (see _Parts in _xmlcore.py)
cdef class _Parts(_Lazy):
    cdef readonly object to, from_, type, id, lang
    cdef readonly tuple tags
    cdef readonly object text0, text1, text2, last
    cpdef list leaves(self)
    cpdef list build(self)
    cpdef object findtext(self, str path, object default)
    cpdef dict build_attrib(self)
    cpdef object get_attr(self, str key, object default)


cdef class Element:
    cdef public object tag
    # the dict behind the ``attrib`` property, None until one is made (see Element._lazy)
    cdef readonly dict _attrib
    cdef public object text
    cdef public object tail
    cdef public list _children
    # set by the compiled parser (fastxmpp._parser_c, which cimports these types) and by the
    # stanza builders
    cdef readonly _Lazy _lazy


cpdef Element _make_element(object tag, dict attrib)  # (object: see StrArg in _xmlcore.py)
cpdef list _children_of(Element element)
cdef dict _make_attrib(Element element)
cdef _settle(Element element)
cdef bint _plain_path(str path) except -1
cdef str _PLAIN_PATH
# the stanza builders' helpers, called at C level (cpdef: _writer_c calls _address by name)
cdef Element _text_element(str tag, object text)
cdef bint _as_given(dict attrs) except -1
cdef str _chat_state_tag(object state)
cdef dict _CHAT_STATE_TAGS  # (C-level globals: read without a lookup by name)
cdef str _ACTIVE, _ACTIVE_TAG
cdef str _exact_str(object value, str what)
cpdef object _address(object value, str what)
cdef object _text(object value, str what)
cdef _Parts _new_parts(tuple tags, object to, object from_, object type, object id, object lang)
cdef Element _stanza(str tag, _Parts parts)
cdef tuple _MESSAGE_TEXTS, _PRESENCE_TEXTS


cdef class ElementMaker:
    cdef readonly str _prefix
    cdef dict __dict__  # the makers made so far, by local name (see __getattr__)
