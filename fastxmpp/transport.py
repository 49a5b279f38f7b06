"""Transport building blocks: DNS SRV lookup, TCP connect, TLS with pyOpenSSL, certificate checks.

The steps of a client connection, each a plain function the connection layer calls in order::

    endpoints = resolve(domain)                       # RFC 6120 3.2 + XEP-0368 SRV records
    sock, endpoint = open_tcp(endpoints, timeout=10)  # first endpoint that answers
    ctx = make_tls_context(alpn=endpoint.direct_tls)
    conn = tls_handshake(sock, ctx, domain, timeout=10)  # at once (direct TLS) or after STARTTLS
    channel_binding(conn, "tls-exporter")             # for SCRAM-*-PLUS

``resolve``, ``open_tcp`` and ``tls_handshake`` block (each bounded by its timeout); none of
them starts a thread. ``tls_handshake`` returns the socket in blocking mode.

Security: ``make_tls_context()`` verifies by default, and ``tls_handshake`` then checks both the
chain and the server's identity (:func:`verify_certificate`) before it returns. Failures are
:class:`~fastxmpp.errors.CertificateError` (untrusted chain, expired, wrong name) or
:class:`~fastxmpp.errors.TLSError` (the handshake itself failed).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import selectors
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.resolver
import idna
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto
from service_identity import CertificateError as _SICertificateError
from service_identity import VerificationError as _SIVerificationError
from service_identity.cryptography import extract_patterns
from service_identity.hazmat import (
    DNS_ID,
    SRV_ID,
    IPAddress_ID,
    SRVPattern,
    verify_service_identity,
)

from .errors import CertificateError, ConnectionFailed, TLSError

__all__ = [
    "DEFAULT_DIRECT_TLS_PORT",
    "DEFAULT_PORT",
    "Endpoint",
    "EndpointList",
    "SRVRecord",
    "channel_binding",
    "make_tls_context",
    "shared_tls_context",
    "open_tcp",
    "order_srv_records",
    "resolve",
    "tls_handshake",
    "verify_certificate",
]

log = logging.getLogger("fastxmpp.transport")

DEFAULT_PORT = 5222  # RFC 6120: xmpp-client, STARTTLS
DEFAULT_DIRECT_TLS_PORT = 5223  # the customary direct-TLS port (XEP-0368 assigns none)
ALPN_XMPP_CLIENT = b"xmpp-client"  # XEP-0368

_SRV_STARTTLS = "_xmpp-client._tcp."
_SRV_DIRECT_TLS = "_xmpps-client._tcp."


# --------------------------------------------------------------------------------------------
# names


def _ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address when ``name`` is an IP literal (IPv6 with or without brackets), else None."""
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _a_label(domain: str) -> str:
    """``domain`` in ASCII (IDNA A-label) form, lower case, without a trailing dot."""
    domain = domain.rstrip(".")
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{domain!r} is not a valid internationalized domain name: {exc}") from exc


def _is_local_name(name: str) -> bool:
    """``localhost`` and ``*.localhost`` (RFC 6761): never looked up in the DNS."""
    return name == "localhost" or name.endswith(".localhost")


def _host_for_connect(name: str) -> str:
    ip = _ip_literal(name)
    return str(ip) if ip is not None else _a_label(name)


# --------------------------------------------------------------------------------------------
# DNS


@dataclass(frozen=True)
class Endpoint:
    """One place to connect to: ``host`` (name or IP), ``port``, and whether TLS starts at once
    (XEP-0368 direct TLS) instead of after STARTTLS."""

    host: str
    port: int
    direct_tls: bool


class EndpointList(list[Endpoint]):
    """What :func:`resolve` returns: a list of endpoints, best first, that also remembers DNS
    failures in ``dns_errors`` (``open_tcp`` adds them to its ``ConnectionFailed`` message)."""

    def __init__(self, endpoints: Iterable[Endpoint] = (), dns_errors: Iterable[str] = ()):
        super().__init__(endpoints)
        self.dns_errors: list[str] = list(dns_errors)


@dataclass(frozen=True)
class SRVRecord:
    """An SRV resource record, tagged with the kind of service it came from."""

    priority: int
    weight: int
    port: int
    target: str
    direct_tls: bool = False


def _weighted_order(records: list[SRVRecord], rng: random.Random) -> list[SRVRecord]:
    """RFC 2782's selection within one priority: repeatedly pick a record with probability
    proportional to its weight; weight-0 records go first in the running sum, so they are
    picked only when the random number is 0 (or when only weight-0 records are left)."""
    pending = list(records)
    rng.shuffle(pending)  # "arrange all SRV RRs ... in any order": a random one
    pending.sort(key=lambda r: r.weight != 0)  # stable: weight-0 records first
    ordered: list[SRVRecord] = []
    while pending:
        total = sum(r.weight for r in pending)
        pick = rng.randint(0, total)  # uniform in [0, total], both inclusive
        index, running = 0, pending[0].weight
        while running < pick:  # the first record whose running sum reaches pick
            index += 1
            running += pending[index].weight
        ordered.append(pending.pop(index))
    return ordered


def order_srv_records(
    records: Iterable[SRVRecord], rng: random.Random, *, prefer_direct_tls: bool = False
) -> list[SRVRecord]:
    """Order SRV records for connection attempts as RFC 2782 says: priority ascending, and
    within a priority a weighted random order. A pure function of ``records`` and ``rng``.

    XEP-0368 (SHOULD) mixes ``xmpps-client`` and ``xmpp-client`` records into one set, so by
    default the kind of record plays no part. ``prefer_direct_tls`` uses the XEP's MAY: within
    each priority, the direct-TLS records (each kind still in weighted order) come first.
    """
    by_priority: dict[int, list[SRVRecord]] = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    ordered: list[SRVRecord] = []
    for priority in sorted(by_priority):
        group = by_priority[priority]
        if prefer_direct_tls:
            ordered += _weighted_order([r for r in group if r.direct_tls], rng)
            ordered += _weighted_order([r for r in group if not r.direct_tls], rng)
        else:
            ordered += _weighted_order(group, rng)
    return ordered


_NO_RECORDS = "none"  # NXDOMAIN or NoAnswer: fall back to the domain
_NOT_AVAILABLE = "dot"  # a single record with target ".": decidedly not available
_FOUND = "found"
_FAILED = "failed"  # timeout, SERVFAIL, REFUSED, no resolver configuration


def _query_srv(
    resolver: dns.resolver.Resolver, qname: str, direct_tls: bool, timeout: float
) -> tuple[str, list[SRVRecord], str | None]:
    try:
        answer = resolver.resolve(dns.name.from_text(qname), "SRV", lifetime=timeout, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return _NO_RECORDS, [], None
    except dns.exception.DNSException as exc:
        return _FAILED, [], f"SRV lookup of {qname} failed: {exc}"
    rrs = list(answer)
    if len(rrs) == 1 and rrs[0].target == dns.name.root:
        return _NOT_AVAILABLE, [], None
    records = [
        SRVRecord(
            rr.priority, rr.weight, rr.port, rr.target.to_text(omit_final_dot=True), direct_tls
        )
        for rr in rrs
        if rr.target != dns.name.root  # "." among other records means nothing: ignore it
    ]
    return (_FOUND, records, None) if records else (_NO_RECORDS, [], None)


def resolve(
    domain: str,
    *,
    host: str | None = None,
    port: int | None = None,
    direct_tls: bool | None = None,
    resolver: dns.resolver.Resolver | None = None,
    timeout: float = 10.0,
    prefer_direct_tls: bool = False,
    rng: random.Random | None = None,
) -> list[Endpoint]:
    """Where to connect for the XMPP ``domain``, best first (RFC 6120 3.2, XEP-0368).

    - ``host`` or ``port`` given: no DNS, one endpoint (``host`` defaults to the domain, ``port``
      to 5222, or 5223 with ``direct_tls=True``).
    - An IP literal, ``localhost`` or ``*.localhost``: no SRV lookup, the domain itself.
    - Otherwise ``_xmpps-client._tcp`` (direct TLS) and ``_xmpp-client._tcp`` (STARTTLS) SRV
      records, mixed and ordered per RFC 2782 (:func:`order_srv_records`).
      ``direct_tls=True``/``False`` asks for one kind only.
    - No SRV records at all: the domain on port 5222 (5223 direct TLS with ``direct_tls=True``).
      A DNS failure (timeout, SERVFAIL) falls back the same way and is kept in
      ``.dns_errors`` of the result for the error message should the connection fail.
    - A single record with target ``"."`` means that service is decidedly not available; if no
      usable record remains, :class:`ConnectionFailed` is raised (no fallback, as RFC 6120 and
      XEP-0368 require).

    ``timeout`` bounds the whole lookup (both SRV queries). The result is an
    :class:`EndpointList`: a list that also carries ``dns_errors``.
    """
    if host is not None or port is not None:
        tls = bool(direct_tls)
        default = DEFAULT_DIRECT_TLS_PORT if tls else DEFAULT_PORT
        target = _host_for_connect(host if host is not None else domain)
        return EndpointList([Endpoint(target, port if port is not None else default, tls)])

    name = _host_for_connect(domain)
    fallback = (
        Endpoint(name, DEFAULT_DIRECT_TLS_PORT, True)
        if direct_tls is True
        else Endpoint(name, DEFAULT_PORT, False)
    )
    if _ip_literal(domain) is not None or _is_local_name(name):
        return EndpointList([fallback])

    services: list[tuple[str, bool]] = []
    if direct_tls is not False:
        services.append((_SRV_DIRECT_TLS, True))
    if direct_tls is not True:
        services.append((_SRV_STARTTLS, False))

    errors: list[str] = []
    if resolver is None:
        try:
            resolver = dns.resolver.get_default_resolver()
        except dns.exception.DNSException as exc:  # no /etc/resolv.conf, for instance
            errors.append(f"no DNS resolver: {exc}")
    outcomes: dict[bool, str] = {}
    records: list[SRVRecord] = []
    if resolver is not None:
        deadline = time.monotonic() + timeout
        for index, (prefix, is_direct) in enumerate(services):
            left = len(services) - index
            lifetime = max(0.05, (deadline - time.monotonic()) / left)  # share what remains
            qname = prefix + name + "."
            status, found, error = _query_srv(resolver, qname, is_direct, lifetime)
            outcomes[is_direct] = status
            records += found
            if error is not None:
                errors.append(error)
    else:
        outcomes = {is_direct: _FAILED for _, is_direct in services}

    if records:
        ordered = order_srv_records(
            records, rng or random.SystemRandom(), prefer_direct_tls=prefer_direct_tls
        )
        result = EndpointList((Endpoint(r.target, r.port, r.direct_tls) for r in ordered), errors)
    elif _NOT_AVAILABLE not in outcomes.values() or outcomes.get(fallback.direct_tls) == _FAILED:
        # Nothing found and nothing refused: RFC 6120 3.2.2 fallback. When the lookup for the
        # fallback's own kind failed outright, the records may exist: try the domain anyway.
        result = EndpointList([fallback], errors)
    else:
        raise ConnectionFailed(
            f"the XMPP service of {domain} is decidedly not available: its SRV records say "
            "so (target '.')" + "".join(f"; {e}" for e in errors)
        )
    for error in errors:
        log.warning("%s; connecting to %s", error, ", ".join(f"{e.host}:{e.port}" for e in result))
    return result


# --------------------------------------------------------------------------------------------
# TCP


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def open_tcp(endpoints: Sequence[Endpoint], *, timeout: float) -> tuple[socket.socket, Endpoint]:
    """Connect to the first endpoint that accepts, trying every address of each in order.

    Each attempt (one address) has ``timeout`` seconds. Returns the connected socket in blocking
    mode with ``TCP_NODELAY`` set, and the endpoint it belongs to. Raises
    :class:`ConnectionFailed` with ``attempts``: ``(host or address, port, error)`` per try.
    """
    attempts: list[tuple[str, int, BaseException]] = []
    lines: list[str] = []
    for endpoint in endpoints:
        try:
            infos = socket.getaddrinfo(
                endpoint.host, endpoint.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            attempts.append((endpoint.host, endpoint.port, exc))
            lines.append(f"{_format_address(endpoint.host, endpoint.port)}: cannot resolve: {exc}")
            continue
        seen: set[Any] = set()
        for family, type_, proto, _, sockaddr in infos:
            if sockaddr in seen:
                continue
            seen.add(sockaddr)
            address = str(sockaddr[0])
            sock = socket.socket(family, type_, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                if isinstance(exc, TimeoutError) and not exc.args[1:]:
                    exc = TimeoutError(f"no answer within {timeout:g} s")
                attempts.append((address, endpoint.port, exc))
                via = "" if address == endpoint.host else f" ({address})"
                lines.append(f"{_format_address(endpoint.host, endpoint.port)}{via}: {exc}")
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, endpoint
    dns_errors = getattr(endpoints, "dns_errors", [])
    if not lines:
        lines.append("no address to connect to")
    message = "cannot connect to the XMPP server: " + "; ".join(lines)
    if dns_errors:
        message += " (DNS: " + "; ".join(dns_errors) + ")"
    raise ConnectionFailed(message, attempts)


# --------------------------------------------------------------------------------------------
# TLS

# First chain-verification failure per connection, recorded by the context's verify callback
# (pyOpenSSL has no SSL_get_verify_result). A key present with None: verified without error.
_verify_results: weakref.WeakKeyDictionary[SSL.Connection, tuple[int, int, str] | None] = (
    weakref.WeakKeyDictionary()
)


def _verify_callback(
    conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int
) -> bool:
    if conn not in _verify_results:
        _verify_results[conn] = None
    if not ok and _verify_results[conn] is None:
        subject = cert.to_cryptography().subject.rfc4514_string()
        _verify_results[conn] = (errnum, depth, subject or "empty subject")
    return bool(ok)  # OpenSSL's own verdict stands


_VERIFY_REASONS = {
    "ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": "issued by a CA that is not trusted here",
    "ERR_UNABLE_TO_GET_ISSUER_CERT": "issued by a CA that is not trusted here",
    "ERR_DEPTH_ZERO_SELF_SIGNED_CERT": "self-signed and not trusted",
    "ERR_SELF_SIGNED_CERT_IN_CHAIN": "chain ends in an untrusted self-signed CA",
    "ERR_CERT_HAS_EXPIRED": "expired",
    "ERR_CERT_NOT_YET_VALID": "not valid yet",
    "ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE": "its issuer cannot be found (missing intermediate?)",
    "ERR_CERT_SIGNATURE_FAILURE": "its signature is invalid",
    "ERR_INVALID_CA": "an issuer in the chain is not a CA",
}


_VERIFY_CODE_NAMES = {
    getattr(SSL.X509VerificationCodes, n): n
    for n in dir(SSL.X509VerificationCodes)
    if n[:4] == "ERR_"
}


def _verify_reason(errnum: int) -> str:
    name = _VERIFY_CODE_NAMES.get(errnum)
    if name is None:
        return f"failing X509 verification (error {errnum})"
    return _VERIFY_REASONS.get(name, name.removeprefix("ERR_").replace("_", " ").lower())


def _chain_error(conn: SSL.Connection, domain: str) -> CertificateError | None:
    failure = _verify_results.get(conn)
    if failure is None:
        return None
    errnum, depth, subject = failure
    where = "the server's certificate" if depth == 0 else f"certificate {depth} in its chain"
    return CertificateError(
        f"the certificate of {domain} is not trusted: {where} ({subject}) is "
        f"{_verify_reason(errnum)}"
    )


def make_tls_context(
    *,
    verify: bool = True,
    ca_file: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    alpn: bool = False,
    max_version: str | None = None,
) -> SSL.Context:
    """A client TLS context: TLS 1.2 or later, no compression, no renegotiation.

    ``verify``: check the server's chain against the system's trust store, or against
    ``ca_file`` ONLY when given (a private CA, an intermediate, or the server's own certificate:
    partial chains are accepted). ``certfile``/``keyfile``: a client certificate (for SASL
    EXTERNAL); ``keyfile`` defaults to ``certfile``. ``alpn``: offer ALPN ``xmpp-client``, for
    direct TLS (XEP-0368). ``max_version``: ``"1.2"`` caps the protocol at TLS 1.2 (for servers
    whose channel binding only works there); ``None`` or ``"1.3"`` allows TLS 1.3.
    ``verify=False`` logs a warning: such a connection is not private.
    """
    if max_version not in (None, "1.2", "1.3"):
        raise ValueError(f"max_version must be '1.2', '1.3' or None, not {max_version!r}")
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    if max_version == "1.2":
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION)
    if verify:
        try:
            if ca_file is not None:
                ctx.load_verify_locations(ca_file)
                store = ctx.get_cert_store()
                if store is not None:  # never None for a client context; for the type checker
                    store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
            else:
                ctx.set_default_verify_paths()
        except SSL.Error as exc:
            raise TLSError(f"cannot load the CA certificates from {ca_file}: {exc}") from exc
        ctx.set_verify(SSL.VERIFY_PEER, _verify_callback)
    else:
        ctx.set_verify(SSL.VERIFY_NONE)
        _warn_unverified()
    if certfile is not None:
        try:
            ctx.use_certificate_chain_file(certfile)
            ctx.use_privatekey_file(keyfile if keyfile is not None else certfile)
            ctx.check_privatekey()
        except SSL.Error as exc:
            raise TLSError(f"cannot use the client certificate {certfile}: {exc}") from exc
    if alpn:
        ctx.set_alpn_protos([ALPN_XMPP_CLIENT])
    return ctx


def _warn_unverified() -> None:
    log.warning(
        "TLS certificate verification is DISABLED: the server's identity is not checked, "
        "so anyone on the network path can read and change all traffic, passwords included"
    )


_contexts: dict[tuple[Any, ...], SSL.Context] = {}
_contexts_lock = threading.Lock()
_MAX_CONTEXTS = 32


def shared_tls_context(**options: Any) -> SSL.Context:
    """:func:`make_tls_context` made once per set of options and shared by connections.

    Loading the system's trust store costs 7-10 ms of CPU: paid once per login, it would be
    most of what logging in a thousand accounts costs. A context is never changed after it is
    made, and OpenSSL shares one between connections safely. The files named in the options
    are part of the key by their modification time and size, so a replaced CA or client
    certificate is read again; the system's trust store is read once per process.
    """
    key = (
        tuple(sorted(options.items())),
        *(_file_state(options.get(name)) for name in ("ca_file", "certfile", "keyfile")),
    )
    with _contexts_lock:
        ctx = _contexts.get(key)
    if ctx is not None:
        if not options.get("verify", True):
            _warn_unverified()  # loud on every connection, not only the first
        return ctx
    ctx = make_tls_context(**options)
    with _contexts_lock:
        if len(_contexts) >= _MAX_CONTEXTS:
            _contexts.clear()
        _contexts[key] = ctx
    return ctx


def _file_state(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None  # make_tls_context reports the missing file
    return (stat.st_mtime_ns, stat.st_size)


def _ssl_reason(exc: SSL.Error) -> str:
    """OpenSSL's reason strings from a pyOpenSSL error, e.g. 'tlsv1 alert protocol version'."""
    if exc.args and isinstance(exc.args[0], list):
        reasons = [str(item[-1]) for item in exc.args[0] if isinstance(item, tuple) and item]
        if reasons:
            return "; ".join(reasons)
    return str(exc) or type(exc).__name__


def wait_socket(sock: socket.socket, events: int, deadline: float) -> bool:
    """Wait until ``sock`` is ready for ``events`` or the deadline passes (False)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    with selectors.DefaultSelector() as selector:  # not select(): fds above 1024 must work
        selector.register(sock, events)
        return bool(selector.select(remaining))


def tls_handshake(
    sock: socket.socket, ctx: SSL.Context, server_hostname: str, *, timeout: float
) -> SSL.Connection:
    """TLS client handshake on the connected socket ``sock``, within ``timeout`` seconds.

    ``server_hostname`` is the XMPP domain: it goes out as SNI (A-label; none for IP literals)
    and, when ``ctx`` verifies, the certificate is checked against it
    (:func:`verify_certificate`). Raises :class:`CertificateError` (chain or identity) or
    :class:`TLSError` (handshake failure, timeout, connection closed). ``sock`` is in blocking
    mode afterwards, also on failure; closing it on failure is the caller's job.
    """
    conn = SSL.Connection(ctx, sock)
    if _ip_literal(server_hostname) is None:
        conn.set_tlsext_host_name(_a_label(server_hostname).encode("ascii"))
    conn.set_connect_state()
    deadline = time.monotonic() + timeout
    sock.setblocking(False)
    try:
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                ready = wait_socket(sock, selectors.EVENT_READ, deadline)
            except SSL.WantWriteError:
                ready = wait_socket(sock, selectors.EVENT_WRITE, deadline)
            if not ready:
                raise TLSError(
                    f"TLS handshake with {server_hostname} timed out after {timeout:g} s"
                )
    except SSL.ZeroReturnError as exc:
        raise TLSError(f"{server_hostname} closed the connection during the TLS handshake") from exc
    except SSL.SysCallError as exc:
        # (-1, 'Unexpected EOF') when the peer just closes; (errno, 'ECONNRESET') and the like
        errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else -1
        detail = "the server closed the connection" if errno <= 0 else os.strerror(errno)
        raise TLSError(f"TLS handshake with {server_hostname} failed: {detail}") from exc
    except SSL.Error as exc:
        chain_error = _chain_error(conn, server_hostname)
        if chain_error is not None:
            raise chain_error from exc
        raise TLSError(f"TLS handshake with {server_hostname} failed: {_ssl_reason(exc)}") from exc
    finally:
        sock.setblocking(True)
    if ctx.get_verify_mode() & SSL.VERIFY_PEER:
        verify_certificate(conn, server_hostname)
    return conn


def _describe_identities(cert: x509.Certificate) -> str:
    """What a certificate is for, e.g. 'DNS:other.test, SRV:_xmpp-client.other.test'."""
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        names += [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        names += [f"IP:{a}" for a in san.get_values_for_type(x509.IPAddress)]
        names += [f"URI:{u}" for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
        try:
            patterns = extract_patterns(cert)
        except _SICertificateError:
            patterns = []
        for p in patterns:
            if isinstance(p, SRVPattern):
                names.append(f"SRV:_{p.name_pattern.decode()}.{p.dns_pattern.pattern.decode()}")
    common_names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn = ", ".join(f"CN={a.value!s}" for a in common_names)
    if names:
        return ", ".join(names)
    return f"no subjectAltName, only {cn}" if cn else "no name at all"


def verify_certificate(conn: SSL.Connection, domain: str) -> None:
    """Check, after the handshake, that the server's certificate is trusted and is for the XMPP
    ``domain``: as DNS-ID, or as SRV-ID ``_xmpp-client.<domain>`` (RFC 6120 13.7.2, RFC 6125),
    compared in A-label form; an IP-literal domain needs an iPAddress entry.

    :func:`tls_handshake` calls this itself when its context verifies. Raises
    :class:`CertificateError` naming the domain and what the certificate is for.
    """
    chain_error = _chain_error(conn, domain)
    if chain_error is not None:
        raise chain_error
    if conn not in _verify_results and not conn.get_context().get_verify_mode() & SSL.VERIFY_PEER:
        raise CertificateError(
            f"the certificate of {domain} was not verified: the TLS context does not verify "
            "(make it with make_tls_context(verify=True))"
        )
    cert = conn.get_peer_certificate(as_cryptography=True)
    if cert is None:
        raise CertificateError(f"the server for {domain} presented no certificate")
    ip = _ip_literal(domain)
    try:
        if ip is not None:
            ids: list[Any] = [IPAddress_ID(str(ip))]
        else:
            name = _a_label(domain)
            ids = [DNS_ID(name), SRV_ID(f"_xmpp-client.{name}")]
    except ValueError as exc:  # DNS_ID refuses some names
        raise CertificateError(f"cannot check a certificate for {domain!r}: {exc}") from exc
    try:
        patterns = extract_patterns(cert)
    except _SICertificateError as exc:
        raise CertificateError(f"the certificate of {domain} is malformed: {exc}") from exc
    for wanted in ids:
        try:
            verify_service_identity(patterns, obligatory_ids=[wanted], optional_ids=[])
            return
        except (_SIVerificationError, _SICertificateError):
            continue
    raise CertificateError(
        f"the server's certificate is not valid for {domain}: it is for "
        f"{_describe_identities(cert)}"
    )


# --------------------------------------------------------------------------------------------
# channel binding


def _server_end_point(cert: x509.Certificate) -> bytes | None:
    """RFC 5929 4.1: the certificate hashed with its signature's hash (MD5/SHA-1 -> SHA-256);
    None when the signature uses no single hash (Ed25519, Ed448)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if algorithm is None:
        return None
    if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(Encoding.DER))
    return digest.finalize()


def channel_binding(conn: SSL.Connection, cb_type: str) -> bytes | None:
    """Channel-binding data of an established client connection, or None when ``cb_type`` is
    unknown or not defined for this connection.

    - ``tls-exporter`` (RFC 9266): TLS 1.3 only (None on TLS 1.2).
    - ``tls-server-end-point`` (RFC 5929 4.1): hash of the server's certificate.
    - ``tls-unique`` (RFC 5929 3): TLS 1.2 only; the first Finished message, which for a full
      handshake (fastxmpp never resumes sessions) is the client's own.
    """
    version = conn.get_protocol_version_name()
    if cb_type == "tls-exporter":
        if version != "TLSv1.3":
            return None
        return conn.export_keying_material(b"EXPORTER-Channel-Binding", 32, None)
    if cb_type == "tls-server-end-point":
        cert = conn.get_peer_certificate(as_cryptography=True)
        return None if cert is None else _server_end_point(cert)
    if cb_type == "tls-unique":
        if version != "TLSv1.2":
            return None
        return conn.get_finished()
    return None
