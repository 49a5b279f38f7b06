# Augments fastxmpp/_dispatch.py when the build compiles it as fastxmpp._dispatch_c: the handler
# tables and the stanza wrapper become extension types with C-level fields. (As with
# _xmlcore_c.pxd, cythonize does not track this file: touch _dispatch.py after changing it, or
# after changing Element in _xmlcore_c.pxd, before an in-place build.)

from fastxmpp._xmlcore_c cimport Element


cdef class Route:
    cdef public list plain
    cdef public dict by_type
    cdef public dict by_ns
    cdef public bint simple
    cdef public object default_type


cdef class StanzaView:
    cdef public object stanza
    cdef public object connection
