"""The stream parsers' limits: defaults and argument checks shared by both implementations."""

from __future__ import annotations

from typing import Any

#: Largest stanza accepted (bytes from its '<' to the '<' of its end tag): 4 MiB, room for a
#: large roster or archive page while bounding what a hostile server can make us hold.
DEFAULT_MAX_STANZA_SIZE = 4 * 1024 * 1024
#: Deepest nesting inside a stanza (the stanza element is depth 1).
DEFAULT_MAX_DEPTH = 64
#: Most attributes on one element, namespace declarations included.
DEFAULT_MAX_ATTRIBUTES = 64


def check_limits(max_stanza_size: Any, max_depth: Any, max_attributes: Any) -> None:
    """TypeError/ValueError unless every limit is a positive int."""
    for name, value in (
        ("max_stanza_size", max_stanza_size),
        ("max_depth", max_depth),
        ("max_attributes", max_attributes),
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
