"""fastxmpp: a fast, secure XMPP client library with a plain synchronous API.

``fastxmpp.EXTENSIONS`` is True when the compiled hot path (``ext/``) is in use; set
``FASTXMPP_NO_EXTENSIONS=1`` to force the pure-Python implementation, which behaves identically.
"""

from fastxmpp._impl import EXTENSIONS
from fastxmpp.errors import (
    AuthenticationError,
    CertificateError,
    ConnectionFailed,
    Disconnected,
    InvalidJID,
    IQError,
    StanzaError,
    StreamError,
    Timeout,
    TLSError,
    XMPPError,
)
from fastxmpp.jid import JID

__version__ = "0.1.0"

__all__ = [
    "EXTENSIONS",
    "JID",
    "AuthenticationError",
    "CertificateError",
    "Connection",
    "ConnectionFailed",
    "Disconnected",
    "IQError",
    "InvalidJID",
    "StanzaError",
    "StreamError",
    "TLSError",
    "Timeout",
    "XMPPError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> object:
    # The connection layer pulls in pyOpenSSL and dnspython: load it when first used, so that
    # ``import fastxmpp`` for the XML layer or JIDs stays light.
    if name in ("Connection", "connect"):
        from fastxmpp import connection

        return getattr(connection, name)
    raise AttributeError(f"module 'fastxmpp' has no attribute {name!r}")
