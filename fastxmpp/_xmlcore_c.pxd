# Augments fastxmpp/_xmlcore.py when the build compiles it as fastxmpp._xmlcore_c: Element becomes
# an extension type with C-level fields, which the compiled stream parser fills in directly.
# (class decorators such as the freelist are in _xmlcore.py: Cython ignores them here)


cdef class Element:
    cdef public object tag
    cdef public dict attrib
    cdef public object text
    cdef public object tail
    cdef public list _children
    # set only by the compiled parser (fastxmpp._parser_c), which cimports these types
    cdef readonly object _lazy


cpdef Element _make_element(str tag, dict attrib)
cpdef list _children_of(Element element)
