"""fastxmpp: a fast, secure XMPP client library with a plain synchronous API.

``fastxmpp.EXTENSIONS`` is True when the compiled hot path (``ext/``) is in use; set
``FASTXMPP_NO_EXTENSIONS=1`` to force the pure-Python implementation, which behaves identically.
"""

from typing import TYPE_CHECKING

from fastxmpp._impl import EXTENSIONS
from fastxmpp.errors import (
    AuthenticationError,
    CertificateError,
    ConnectionFailed,
    Disconnected,
    InvalidJID,
    IQError,
    ProtocolError,
    StanzaError,
    StreamError,
    Timeout,
    TLSError,
    XMPPError,
)
from fastxmpp.jid import JID

if TYPE_CHECKING:
    from fastxmpp.client import Account, Client
    from fastxmpp.connection import Connection
    from fastxmpp.im import IMConnection, connect
    from fastxmpp.message import Message
    from fastxmpp.presence import Presence
    from fastxmpp.roster import Contact, Roster

__version__ = "0.1.0"

__all__ = [
    "EXTENSIONS",
    "JID",
    "AuthenticationError",
    "Account",
    "CertificateError",
    "Client",
    "Connection",
    "ConnectionFailed",
    "Contact",
    "Disconnected",
    "IMConnection",
    "IQError",
    "InvalidJID",
    "Message",
    "Presence",
    "ProtocolError",
    "Roster",
    "StanzaError",
    "StreamError",
    "TLSError",
    "Timeout",
    "XMPPError",
    "__version__",
    "connect",
]


_LAZY = {
    "Client": "fastxmpp.client",
    "Account": "fastxmpp.client",
    "Connection": "fastxmpp.connection",
    "IMConnection": "fastxmpp.im",
    "connect": "fastxmpp.im",  # the IM connection; fastxmpp.connection.connect: the bare one
    "Message": "fastxmpp.message",
    "Presence": "fastxmpp.presence",
    "Roster": "fastxmpp.roster",
    "Contact": "fastxmpp.roster",
}


def __getattr__(name: str) -> object:
    # The connection layer pulls in pyOpenSSL and dnspython: load it when first used, so that
    # ``import fastxmpp`` for the XML layer or JIDs stays light.
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'fastxmpp' has no attribute {name!r}")
