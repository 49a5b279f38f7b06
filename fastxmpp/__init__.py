"""fastxmpp: a fast, secure XMPP client library with a plain synchronous API.

``fastxmpp.EXTENSIONS`` is True when the compiled hot path (``ext/``) is in use; set
``FASTXMPP_NO_EXTENSIONS=1`` to force the pure-Python implementation, which behaves identically.
"""

from fastxmpp._impl import EXTENSIONS
from fastxmpp.errors import InvalidJID, StreamError, XMPPError
from fastxmpp.jid import JID

__version__ = "0.1.0"

__all__ = ["EXTENSIONS", "JID", "InvalidJID", "StreamError", "XMPPError", "__version__"]
