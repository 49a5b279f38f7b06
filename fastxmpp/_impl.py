"""Chooses, once at import, between the compiled and the pure-Python implementations.

``FASTXMPP_NO_EXTENSIONS=1`` forces pure Python, in the manner of aiohttp and multidict; without
it the compiled modules are used when they were built and import cleanly.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Callable

from fastxmpp import _dispatch, _ids, _xmlcore

NO_EXTENSIONS = os.environ.get("FASTXMPP_NO_EXTENSIONS", "") not in ("", "0")

core: ModuleType = _xmlcore
dispatch: ModuleType = _dispatch  # stanza routing (fastxmpp/_dispatch.py)
tostring: Callable[..., bytes] = _xmlcore.tostring
message_bytes: Callable[..., bytes] = _xmlcore.message_bytes  # send_message()'s fast path
new_id: Callable[[], str] = _ids.new_id  # stanza ids
StreamParserC: type | None = None
EXTENSIONS = False

if not NO_EXTENSIONS:
    try:
        from fastxmpp import _dispatch_c, _xmlcore_c  # type: ignore[attr-defined]
        from fastxmpp._parser_c import StreamParserC as _StreamParserC  # type: ignore[import-not-found]
        from fastxmpp._writer_c import message_bytes as _message_bytes_c  # type: ignore[import-not-found]
        from fastxmpp._writer_c import new_id as _new_id_c  # type: ignore[import-not-found]
        from fastxmpp._writer_c import tostring as _tostring_c  # type: ignore[import-not-found]
    except ImportError:  # not built (no compiler at install time): the pure package works alike
        pass
    else:
        core = _xmlcore_c
        dispatch = _dispatch_c
        tostring = _tostring_c
        message_bytes = _message_bytes_c
        new_id = _new_id_c
        StreamParserC = _StreamParserC
        EXTENSIONS = True
