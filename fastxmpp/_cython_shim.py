"""Stands in for Cython's ``cython`` module when Cython is not installed.

``_xmlcore.py`` decorates classes with ``cython.cclass``, ``cython.final``, ``cython.no_gc``
and ``cython.freelist`` for its compiled build; in pure Python these decorators do nothing,
and ``compiled`` is False, which is all this module has to provide.
"""

from __future__ import annotations

from typing import Any, Callable

compiled = False


def cclass(cls: Any) -> Any:
    return cls


def final(cls: Any) -> Any:
    return cls


def no_gc(cls: Any) -> Any:
    return cls


def freelist(size: int) -> Callable[[Any], Any]:
    def decorate(cls: Any) -> Any:
        return cls

    return decorate
