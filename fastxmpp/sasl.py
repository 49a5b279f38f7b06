"""SASL for XMPP clients, sans-IO: bytes in, bytes out (RFC 4422, RFC 6120 section 6).

A :class:`Mechanism` runs one authentication exchange. It knows nothing of sockets, XML or
base64: the stream layer puts what :meth:`Mechanism.initial_response` and
:meth:`Mechanism.challenge` return into ``<auth/>`` and ``<response/>`` (``encode_payload``),
and hands over the decoded text of ``<challenge/>`` and ``<success/>`` (``decode_payload``).
:func:`select_mechanism` picks the strongest mechanism both sides support.

Mechanisms: SCRAM-SHA-1/-256/-512 with their ``-PLUS`` channel-binding variants (RFC 5802,
RFC 7677, RFC 9266, XEP-0440), PLAIN (RFC 4616), EXTERNAL (RFC 4422 appendix A) and ANONYMOUS
(RFC 4505). Everything a server can get wrong raises :class:`~fastxmpp.errors.AuthenticationError`;
a caller's mistake raises ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

import precis_i18n

from .errors import AuthenticationError

__all__ = [
    "CHANNEL_BINDING_TYPES",
    "MECHANISMS",
    "AnonymousMechanism",
    "Credentials",
    "ExternalMechanism",
    "Mechanism",
    "PlainMechanism",
    "ScramMechanism",
    "decode_payload",
    "encode_payload",
    "select_mechanism",
]

#: The mechanisms this module implements, strongest first: the order select_mechanism prefers.
MECHANISMS: tuple[str, ...] = (
    "SCRAM-SHA-512-PLUS",
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-512",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
    "EXTERNAL",
    "ANONYMOUS",
)

#: Channel-binding types in order of preference (RFC 9266, RFC 5929).
CHANNEL_BINDING_TYPES: tuple[str, ...] = ("tls-exporter", "tls-server-end-point", "tls-unique")

# Tried when the server did not say which types it supports (no XEP-0440 element): the
# defaults of the RFCs, tls-exporter for TLS 1.3 (RFC 9266) and tls-unique for TLS 1.2
# (RFC 5802; the transport gives no tls-unique data on TLS 1.3, where it is undefined).
# tls-server-end-point is used only when advertised: a server that does not know it would
# fail the login (Prosody 0.12 binds to tls-unique only).
_DEFAULT_CB_TYPES = ("tls-exporter", "tls-unique")

_SCRAM_HASHES = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}

#: Fewer iterations than this are refused: a hostile server could ask for a cheap hash
#: (RFC 7677 section 4 asks for at least 4096).
MIN_ITERATIONS = 4096
#: More iterations than this are refused: a hostile server could make us burn CPU for minutes.
MAX_ITERATIONS = 10_000_000

_T = TypeVar("_T")
_OPAQUE = precis_i18n.get_profile("OpaqueString")
_PRINTABLE_NONCE = re.compile(r"[\x21-\x2b\x2d-\x7e]+\Z")  # RFC 5802 "printable": no ','
_ATTR_NAME = re.compile(r"[A-Za-z]\Z")
_DIGITS = re.compile(r"[0-9]+\Z")


# --- payload encoding (for the stream layer) -------------------------------------------------


def encode_payload(data: bytes | None) -> str | None:
    """Give the text of an ``<auth/>`` or ``<response/>`` element for ``data``.

    ``None`` means no text at all; empty data is a single ``=`` (RFC 6120 section 6.4.2).
    """
    if data is None:
        return None
    if not data:
        return "="
    return base64.b64encode(data).decode("ascii")


def decode_payload(text: str | None) -> bytes | None:
    """Decode the text of a ``<challenge/>`` or ``<success/>`` element.

    No text gives ``None`` (no data), ``=`` gives ``b""`` (empty data). Anything that is not
    strict base64 raises :class:`AuthenticationError`.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if text == "=":
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AuthenticationError("the server sent SASL data that is not valid base64") from None


# --- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What the user gave to authenticate with.

    ``username`` is the JID's localpart, already prepared by the JID layer (``None`` for
    ANONYMOUS and EXTERNAL); ``authzid`` asks to act as another identity and is rarely used.
    """

    username: str | None = None
    password: str | None = None
    authzid: str | None = None

    def __post_init__(self) -> None:
        for field in ("username", "password", "authzid"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Credentials.{field} must be a str or None, not {type(value)}")
            if value is not None and "\x00" in value:
                raise ValueError(f"Credentials.{field} must not contain a NUL character")

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        password = None if self.password is None else "***"
        return (
            f"Credentials(username={self.username!r}, password={password!r}, "
            f"authzid={self.authzid!r})"
        )


# --- the mechanism interface --------------------------------------------------------------------


class Mechanism(ABC):
    """One SASL exchange on the client side; make a new object for every attempt.

    Call :meth:`initial_response` once, then :meth:`challenge` for each ``<challenge/>`` and
    :meth:`success` on ``<success/>``. Once any call raised, the exchange is over and every
    later call raises too.
    """

    #: The SASL mechanism name, e.g. ``"SCRAM-SHA-256-PLUS"``.
    name: str

    def __init__(self) -> None:
        self._started = False
        self._complete = False
        self._failed: str | None = None

    @property
    def server_verified(self) -> bool:
        """True when the server proved it knows our credentials (mutual authentication)."""
        return False

    @property
    def complete(self) -> bool:
        """True once :meth:`success` accepted the outcome."""
        return self._complete

    def initial_response(self) -> bytes | None:
        """Give the data for ``<auth/>``: ``None`` for no text, ``b""`` for an empty response."""
        if self._started:
            raise ValueError(f"{self.name}: initial_response() may be called only once")
        self._started = True
        return self._guard(self._initial)

    def challenge(self, data: bytes) -> bytes:
        """Answer a server challenge; raises :class:`AuthenticationError` for a bad one."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"challenge data must be bytes, not {type(data).__name__}")
        self._check_state("challenge")
        return self._guard(self._challenge, bytes(data))

    def success(self, data: bytes | None) -> None:
        """Accept ``<success/>`` with its additional data (``None`` when it had no text).

        Raises :class:`AuthenticationError` when the outcome must not be trusted, e.g. a SCRAM
        server that did not prove itself.
        """
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"success data must be bytes or None, not {type(data).__name__}")
        self._check_state("success")
        self._guard(self._success, None if data is None else bytes(data))
        self._complete = True

    # subclasses implement these three
    @abstractmethod
    def _initial(self) -> bytes | None: ...

    def _challenge(self, data: bytes) -> bytes:
        raise self._error("the server sent a challenge, but this mechanism expects none")

    def _success(self, data: bytes | None) -> None:
        if data:
            raise self._error(
                "the server sent additional data with success, which it defines none of"
            )

    # helpers
    def _error(self, message: str, **kwargs: str | None) -> AuthenticationError:
        return AuthenticationError(f"{self.name}: {message}", **kwargs)

    def _check_state(self, call: str) -> None:
        if not self._started:
            raise ValueError(f"{self.name}: call initial_response() before {call}()")
        if self._failed is not None:
            raise self._error(f"the exchange already failed ({self._failed})")
        if self._complete:
            raise self._error(f"{call} after the exchange completed")

    def _guard(self, func: Callable[..., _T], *args: object) -> _T:
        """Run one step; any failure marks the exchange failed and is an AuthenticationError."""
        try:
            return func(*args)
        except AuthenticationError as exc:
            self._failed = str(exc)
            raise
        except Exception as exc:  # hostile data must never surface as another exception type
            self._failed = repr(exc)
            raise self._error(f"could not process the server's data: {exc!r}") from exc


# --- PLAIN, EXTERNAL, ANONYMOUS --------------------------------------------------------------


class PlainMechanism(Mechanism):
    """PLAIN (RFC 4616): the password in clear, so only ever over TLS."""

    name = "PLAIN"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        if not credentials.username or not credentials.password:
            raise ValueError("PLAIN needs a username and a password")
        self._message = b"\x00".join(
            s.encode("utf-8")
            for s in (credentials.authzid or "", credentials.username, credentials.password)
        )

    def _initial(self) -> bytes:
        return self._message


class ExternalMechanism(Mechanism):
    """EXTERNAL (RFC 4422 appendix A): identity from outside SASL, e.g. a TLS client certificate.

    The initial response is the authzid, or empty to let the server derive the identity.
    """

    name = "EXTERNAL"

    def __init__(self, credentials: Credentials | None = None) -> None:
        super().__init__()
        authzid = credentials.authzid if credentials is not None else None
        self._message = (authzid or "").encode("utf-8")

    def _initial(self) -> bytes:
        return self._message


class AnonymousMechanism(Mechanism):
    """ANONYMOUS (RFC 4505): no credentials; ``trace`` is an optional token for server logs."""

    name = "ANONYMOUS"

    def __init__(self, trace: str | None = None) -> None:
        super().__init__()
        if trace is not None and not isinstance(trace, str):
            raise TypeError("trace must be a str or None")
        if trace is not None and not 1 <= len(trace) <= 255:
            raise ValueError("an ANONYMOUS trace token has 1 to 255 characters (RFC 4505)")
        self._message = (trace or "").encode("utf-8")

    def _initial(self) -> bytes:
        return self._message


# --- SCRAM -------------------------------------------------------------------------------------


def _escape_saslname(value: str) -> str:
    """Escape a name for SCRAM's ``n=`` and ``a=`` attributes (RFC 5802 section 5.1)."""
    return value.replace("=", "=3D").replace(",", "=2C")


class ScramMechanism(Mechanism):
    """SCRAM-SHA-1/-256/-512 and their -PLUS variants (RFC 5802, RFC 7677).

    ``hash_name`` is ``"SHA-1"``, ``"SHA-256"`` or ``"SHA-512"``. ``channel_binding`` is
    ``(type, data)`` when we can bind to the TLS channel. With ``plus=True`` it is used (GS2
    flag ``p=<type>``, mechanism name ``...-PLUS``); with ``plus=False`` it only tells the server
    that we could have (flag ``y``: the server offered no -PLUS variant, and a server that did
    will then detect the downgrade). Without it the flag is ``n``. ``nonce`` fixes the client
    nonce for tests; leave it out otherwise.

    The server's final message is accepted either as a last challenge (answered with empty
    data) or as the additional data of ``<success/>``. :meth:`success` raises unless the
    server's signature was verified by then.
    """

    def __init__(
        self,
        credentials: Credentials,
        hash_name: str = "SHA-256",
        *,
        plus: bool = False,
        channel_binding: tuple[str, bytes] | None = None,
        nonce: str | None = None,
    ) -> None:
        super().__init__()
        if hash_name not in _SCRAM_HASHES:
            raise ValueError(
                f"unsupported SCRAM hash {hash_name!r}: use one of {list(_SCRAM_HASHES)}"
            )
        if not credentials.username or not credentials.password:
            raise ValueError("SCRAM needs a username and a password")
        self._hash = _SCRAM_HASHES[hash_name]
        self.name = f"SCRAM-{hash_name}" + ("-PLUS" if plus else "")
        try:
            self._password = _OPAQUE.enforce(credentials.password).encode("utf-8")
        except UnicodeError as exc:
            raise ValueError(f"the password is not valid for SCRAM (OpaqueString): {exc}") from None

        cb_data = b""
        if channel_binding is not None:
            cb_type, cb_data = channel_binding
            if not isinstance(cb_type, str) or not re.fullmatch(r"[A-Za-z0-9.-]+", cb_type):
                raise ValueError(f"invalid channel-binding type {cb_type!r}")
            if not isinstance(cb_data, bytes) or not cb_data:
                raise ValueError(f"channel-binding data for {cb_type} must be non-empty bytes")
            flag = f"p={cb_type}" if plus else "y"
        elif plus:
            raise ValueError("a -PLUS mechanism needs channel_binding=(type, data)")
        else:
            flag = "n"
        #: The channel-binding type in use (``p=``), or None.
        self.channel_binding_type: str | None = (
            channel_binding[0] if plus and channel_binding else None
        )
        authzid = credentials.authzid
        self._gs2_header = f"{flag},{'a=' + _escape_saslname(authzid) if authzid else ''},"
        self._cbind_input = self._gs2_header.encode("utf-8") + (cb_data if plus else b"")

        if nonce is None:
            nonce = base64.b64encode(secrets.token_bytes(24)).decode("ascii")
        elif not isinstance(nonce, str) or not _PRINTABLE_NONCE.match(nonce):
            raise ValueError("a SCRAM nonce is printable ASCII without ','")
        self._nonce = nonce
        self._client_first_bare = f"n={_escape_saslname(credentials.username)},r={nonce}"
        self._auth_message: bytes | None = None
        self._server_signature: bytes | None = None
        self._server_final: bytes | None = None
        self._verified = False

    @property
    def server_verified(self) -> bool:
        """True once the server's signature (``v=``) checked out: the server knows our password."""
        return self._verified

    # exchange

    def _initial(self) -> bytes:
        return (self._gs2_header + self._client_first_bare).encode("utf-8")

    def _challenge(self, data: bytes) -> bytes:
        if self._auth_message is None:
            return self._client_final(data)
        if self._server_final is None:
            self._verify_server_final(data)
            return b""
        raise self._error("the server sent a challenge after its final message")

    def _success(self, data: bytes | None) -> None:
        if self._auth_message is None:
            raise self._error("the server reported success before the SCRAM exchange finished")
        if self._server_final is None:
            if not data:
                raise self._error(
                    "the server reported success without its signature (v=): it did not prove "
                    "that it knows the password"
                )
            self._verify_server_final(data)
        elif data and data != self._server_final:
            raise self._error("the server's success data differs from its final message")

    # steps

    def _client_final(self, data: bytes) -> bytes:
        text = self._decode(data, "server-first-message")
        attrs = self._parse(text, "server-first-message")
        if attrs and attrs[0][0] == "m":
            raise self._error("the server requires a SCRAM extension (m=) we do not support")
        if len(attrs) < 3 or [k for k, _ in attrs[:3]] != ["r", "s", "i"]:
            raise self._error(
                "malformed server-first-message: expected r=, s= and i= in that order"
            )
        nonce, salt_b64, iterations_text = (v for _, v in attrs[:3])
        if not _PRINTABLE_NONCE.match(nonce):
            raise self._error("the server nonce has characters SCRAM does not allow")
        if not nonce.startswith(self._nonce) or len(nonce) <= len(self._nonce):
            raise self._error("the server nonce does not extend our nonce (replay or attack?)")
        salt = self._b64(salt_b64, "salt")
        if not salt:
            raise self._error("the server sent an empty salt")
        if not _DIGITS.match(iterations_text):
            raise self._error(f"the iteration count is not a number: {iterations_text[:20]!r}")
        # Compare the length first: int() of thousands of digits is slow, or refused.
        iterations = MAX_ITERATIONS + 1 if len(iterations_text) > 12 else int(iterations_text)
        if iterations < MIN_ITERATIONS:
            raise self._error(
                f"the server asks for {iterations} iterations, fewer than the minimum "
                f"{MIN_ITERATIONS} (downgrade?)"
            )
        if iterations > MAX_ITERATIONS:
            shown = iterations_text if len(iterations_text) <= 20 else iterations_text[:20] + "..."
            raise self._error(
                f"the server asks for {shown} iterations, more than the limit {MAX_ITERATIONS}"
            )

        salted = hashlib.pbkdf2_hmac(self._hash, self._password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        cbind = base64.b64encode(self._cbind_input).decode("ascii")
        without_proof = f"c={cbind},r={nonce}"
        auth_message = f"{self._client_first_bare},{text},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._auth_message = auth_message
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode('ascii')}".encode("ascii")

    def _verify_server_final(self, data: bytes) -> None:
        text = self._decode(data, "server-final-message")
        attrs = self._parse(text, "server-final-message")
        key, value = attrs[0]
        if key == "e":
            raise AuthenticationError(
                f"{self.name}: the server refused the authentication: {value}",
                condition=None,
                text=value,
            )
        if key != "v":
            raise self._error("malformed server-final-message: expected v= or e=")
        assert self._server_signature is not None
        if not hmac.compare_digest(self._b64(value, "server signature"), self._server_signature):
            raise self._error(
                "the server's signature is wrong: it does not know the password (impostor?)"
            )
        self._server_final = data
        self._verified = True

    # parsing helpers

    def _decode(self, data: bytes, what: str) -> str:
        if not data:
            raise self._error(f"the {what} is empty")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._error(f"the {what} is not valid UTF-8") from None

    def _parse(self, text: str, what: str) -> list[tuple[str, str]]:
        """Split ``k=v,k=v`` into pairs; refuse bad names and repeated attributes."""
        attrs: list[tuple[str, str]] = []
        seen: set[str] = set()
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or not _ATTR_NAME.match(key):
                raise self._error(f"malformed {what}: {part[:40]!r} is not an attribute")
            if key in seen:
                raise self._error(f"malformed {what}: attribute {key}= is repeated")
            seen.add(key)
            attrs.append((key, value))
        return attrs

    def _b64(self, value: str, what: str) -> bytes:
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            raise self._error(f"the {what} is not valid base64") from None

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self._hash).digest()


# --- selection ---------------------------------------------------------------------------------


def _choose_cb_type(
    channel_binding: Callable[[str], bytes | None] | None,
    server_cb_types: Collection[str] | None,
) -> tuple[tuple[str, bytes] | None, str]:
    """Pick a channel-binding type and its data, or say why there is none."""
    if channel_binding is None:
        return None, "no channel-binding data available"
    if server_cb_types is None:
        candidates: Iterable[str] = _DEFAULT_CB_TYPES
    else:
        if isinstance(server_cb_types, str):
            raise TypeError("server_cb_types must be a collection of type names, not a str")
        offered = set(server_cb_types)
        candidates = [t for t in CHANNEL_BINDING_TYPES if t in offered]
        if not candidates:
            return None, "the server supports no channel-binding type we know"
    for cb_type in candidates:
        data = channel_binding(cb_type)
        if data is None:
            continue
        if not isinstance(data, bytes):
            raise TypeError(
                f"channel_binding({cb_type!r}) returned {type(data).__name__}, not bytes"
            )
        if not data:
            raise ValueError(
                f"channel_binding({cb_type!r}) returned empty data; return None instead"
            )
        return (cb_type, data), ""
    return None, "no channel-binding data for " + " or ".join(candidates)


def select_mechanism(
    offered: Iterable[str],
    credentials: Credentials,
    *,
    tls: bool,
    channel_binding: Callable[[str], bytes | None] | None = None,
    server_cb_types: Collection[str] | None = None,
    allowed: Collection[str] | None = None,
    allow_plain_without_tls: bool = False,
) -> Mechanism:
    """Choose the strongest mechanism the server offered and we can use, and set it up.

    Preference: SCRAM-SHA-512/-256/-1 with -PLUS first, then without, then PLAIN (only over
    TLS unless ``allow_plain_without_tls``), EXTERNAL (only when named in ``allowed`` and the
    credentials have no password), ANONYMOUS (only without a username, or when named in
    ``allowed``). ``allowed`` filters, it does not reorder.

    ``channel_binding(type)`` returns the binding data for a type or ``None`` when it has none;
    ``server_cb_types`` are the types the server advertised (XEP-0440), ``None`` if it
    advertised none. Raises :class:`AuthenticationError` listing why each offered mechanism
    was not usable when nothing fits.
    """
    if isinstance(offered, str):
        raise TypeError("offered must be a collection of mechanism names, not a str")
    if not isinstance(credentials, Credentials):
        raise TypeError("credentials must be a Credentials object")
    if allowed is not None:
        if isinstance(allowed, str):
            raise TypeError("allowed must be a collection of mechanism names, not a str")
        unknown = set(allowed) - set(MECHANISMS)
        if unknown:
            raise ValueError(
                f"allowed names mechanisms fastxmpp does not implement: {sorted(unknown)}; "
                f"choose from {list(MECHANISMS)}"
            )
    names: list[str] = []
    for name in offered:
        if not isinstance(name, str):
            raise TypeError(f"mechanism names must be str, not {type(name).__name__}")
        name = name.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise AuthenticationError("the server offered no SASL mechanisms")

    has_login = bool(credentials.username) and bool(credentials.password)
    binding, binding_reason = (
        _choose_cb_type(channel_binding, server_cb_types)
        if tls
        else (None, "channel binding needs TLS")
    )
    # Any -PLUS offered, also with a hash we do not implement, means the server can bind: then
    # the flag must be "n", since "y" would make it (rightly) suspect a downgrade.
    server_plus = any(n.startswith("SCRAM-") and n.endswith("-PLUS") for n in names)

    reasons: dict[str, str] = {}
    for name in MECHANISMS:
        if name not in names:
            continue
        if allowed is not None and name not in allowed:
            reasons[name] = "not allowed by the caller"
            continue
        if name.startswith("SCRAM-"):
            if not has_login:
                reasons[name] = "needs a username and a password"
                continue
            hash_name = name[len("SCRAM-") :].removesuffix("-PLUS")
            if name.endswith("-PLUS"):
                if binding is None:
                    reasons[name] = binding_reason
                    continue
                return ScramMechanism(credentials, hash_name, plus=True, channel_binding=binding)
            return ScramMechanism(
                credentials,
                hash_name,
                channel_binding=None if server_plus else binding,
            )
        if name == "PLAIN":
            if not has_login:
                reasons[name] = "needs a username and a password"
            elif not tls and not allow_plain_without_tls:
                reasons[name] = "PLAIN refused without TLS"
            else:
                return PlainMechanism(credentials)
        elif name == "EXTERNAL":
            if allowed is None:
                reasons[name] = "EXTERNAL must be named in allowed"
            elif credentials.password is not None:
                reasons[name] = "not used when a password is given"
            else:
                return ExternalMechanism(credentials)
        elif name == "ANONYMOUS":
            if credentials.username is not None and (allowed is None or name not in allowed):
                reasons[name] = "not used when a username is given (name it in allowed to force)"
            else:
                return AnonymousMechanism()
    for name in names:
        reasons.setdefault(name, "not supported by fastxmpp")
    detail = "; ".join(f"{name}: {reasons[name]}" for name in names)
    raise AuthenticationError(
        f"no usable SASL mechanism; the server offered {', '.join(names)} ({detail})"
    )
