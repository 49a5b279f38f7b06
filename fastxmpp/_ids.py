"""Stanza ids: unique within the process and unlikely to repeat across processes."""

from __future__ import annotations

import itertools
import os

_ids = itertools.count(1)
_prefix = os.urandom(4).hex()  # another process (or a restart) gets other ids


def new_id() -> str:
    """A fresh stanza id (``'<8 hex digits>-<n>'``)."""
    return f"{_prefix}-{next(_ids)}"
