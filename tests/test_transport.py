"""fastxmpp.transport: SRV ordering (RFC 2782), SRV lookup against a real DNS server (dnsmasq on
loopback, XEP-0368), TCP connect, and TLS against a real TLS server on loopback: chain and
identity checks (DNS-ID, SRV-ID, IDN, IP), handshake failures, ALPN, client certificates and
channel bindings. Everything stays on 127.0.0.1."""

from __future__ import annotations

import collections
import datetime
import hashlib
import ipaddress
import logging
import random
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from dns_server import DNSServer
from OpenSSL import SSL

from fastxmpp.errors import CertificateError, ConnectionFailed, TLSError
from fastxmpp.transport import (
    Endpoint,
    EndpointList,
    SRVRecord,
    _server_end_point,
    channel_binding,
    make_tls_context,
    open_tcp,
    order_srv_records,
    resolve,
    shared_tls_context,
    tls_handshake,
    verify_certificate,
)

DOMAIN = "xmpp.test"
IDN_DOMAIN = "bücher.test"
IDN_A_LABEL = "xn--bcher-kva.test"

# --------------------------------------------------------------------------------------------
# RFC 2782 ordering (pure)


class ScriptedRandom(random.Random):
    """shuffle() keeps the order, randint() returns the scripted numbers."""

    def __init__(self, picks: list[int]):
        super().__init__(0)
        self.picks = list(picks)
        self.ranges: list[tuple[int, int]] = []

    def shuffle(self, x: Any) -> None:  # type: ignore[override]
        pass

    def randint(self, a: int, b: int) -> int:
        self.ranges.append((a, b))
        return self.picks.pop(0)


def rec(target: str, priority: int = 0, weight: int = 0, direct_tls: bool = False) -> SRVRecord:
    return SRVRecord(priority, weight, 5222, target, direct_tls)


def targets(records: list[SRVRecord]) -> list[str]:
    return [r.target for r in records]


@pytest.mark.parametrize(
    "picks, expected",
    [
        # running sums in the order weight-0 first: a=0, b=10, c=30; then recomputed
        ([0, 10, 20], ["a", "b", "c"]),  # 0 selects the weight-0 record
        ([1, 0, 0], ["b", "a", "c"]),  # 1: first running sum >= 1 is b's (10)
        ([11, 0, 0], ["c", "a", "b"]),  # 11 > 10: c; then a (0), then b
        ([30, 10, 0], ["c", "b", "a"]),  # 30 = total: the last; then among a=0, b=10: 10 -> b
    ],
)
def test_weighted_selection_follows_rfc2782_exactly(picks: list[int], expected: list[str]) -> None:
    rng = ScriptedRandom(picks)
    records = [rec("b", weight=10), rec("c", weight=20), rec("a", weight=0)]
    assert targets(order_srv_records(records, rng)) == expected
    assert rng.ranges[0] == (0, 30)  # uniform over [0, sum of weights], inclusive


def test_priorities_ascending_whatever_the_weights() -> None:
    records = [
        rec("p20", priority=20, weight=65535),
        rec("p5", priority=5, weight=0),
        rec("p10-a", priority=10, weight=1),
        rec("p10-b", priority=10, weight=1000),
        rec("p0", priority=0, weight=0),
    ]
    for seed in range(200):
        order = targets(order_srv_records(records, random.Random(seed)))
        assert order[:2] == ["p0", "p5"]
        assert set(order[2:4]) == {"p10-a", "p10-b"}
        assert order[4] == "p20"


def test_ordering_is_a_pure_function_of_the_rng() -> None:
    records = [rec(f"h{i}", priority=i % 2, weight=i * 7 % 5) for i in range(10)]
    first = order_srv_records(records, random.Random(42))
    assert order_srv_records(records, random.Random(42)) == first
    assert sorted(first, key=lambda r: r.target) == sorted(records, key=lambda r: r.target)
    orders = {tuple(targets(order_srv_records(records, random.Random(s)))) for s in range(50)}
    assert len(orders) > 10  # and the order does vary with the random source


def first_counts(records: list[SRVRecord], draws: int = 20000) -> collections.Counter[str]:
    rng = random.Random(2782)
    return collections.Counter(order_srv_records(records, rng)[0].target for _ in range(draws))


def test_weights_are_honoured_statistically() -> None:
    counts = first_counts([rec("w60", weight=60), rec("w30", weight=30), rec("w10", weight=10)])
    # pick is uniform over 0..100 (101 values); the record placed first also owns the value 0
    for target, weight in (("w60", 60), ("w30", 30), ("w10", 10)):
        expected = (weight + 1 / 3) / 101
        assert abs(counts[target] / 20000 - expected) < 0.015, counts


def test_weight_zero_is_rarely_first_but_never_lost() -> None:
    records = [rec("zero", weight=0), rec("hundred", weight=100)]
    counts = first_counts(records)
    assert 100 < counts["zero"] < 320, counts  # 1/101 of the draws: when the number is 0
    rng = random.Random(1)
    for _ in range(100):
        assert sorted(targets(order_srv_records(records, rng))) == ["hundred", "zero"]


def test_all_weights_zero_is_a_uniform_order() -> None:
    counts = first_counts([rec("a"), rec("b"), rec("c")], draws=9000)
    assert all(2700 < counts[t] < 3300 for t in "abc"), counts


def test_prefer_direct_tls_orders_within_a_priority_only() -> None:
    records = [
        rec("starttls-1", priority=1, weight=100),
        rec("direct-1", priority=1, weight=1, direct_tls=True),
        rec("direct-0", priority=0, weight=1, direct_tls=True),
        rec("starttls-0", priority=0, weight=1),
        rec("direct-2", priority=2, direct_tls=True),
    ]
    for seed in range(50):
        got = targets(order_srv_records(records, random.Random(seed), prefer_direct_tls=True))
        assert got == ["direct-0", "starttls-0", "direct-1", "starttls-1", "direct-2"]
    mixed = {tuple(targets(order_srv_records(records, random.Random(s))))[:2] for s in range(100)}
    assert mixed == {("direct-0", "starttls-0"), ("starttls-0", "direct-0")}  # XEP-0368 mixes


# --------------------------------------------------------------------------------------------
# SRV lookups against dnsmasq


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DNSServer]:
    srv = [
        # name, target, port, priority, weight
        ("_xmpps-client._tcp.example.test", "tls.example.test", 443, 10, 0),
        ("_xmpp-client._tcp.example.test", "xmpp.example.test", 5222, 5, 0),
        ("_xmpp-client._tcp.example.test", "backup.example.test", 5333, 20, 0),
        ("_xmpps-client._tcp.mixed.test", "tls.mixed.test", 5223, 10, 10),
        ("_xmpp-client._tcp.mixed.test", "plain.mixed.test", 5222, 10, 10),
        ("_xmpps-client._tcp.dot.test", ".", 0, 0, 0),
        ("_xmpp-client._tcp.dot.test", "xmpp.dot.test", 5222, 0, 0),
        ("_xmpps-client._tcp.dotonly.test", ".", 0, 0, 0),
        ("_xmpp-client._tcp.nostarttls.test", ".", 0, 0, 0),
        ("_xmpps-client._tcp.nostarttls.test", "tls.nostarttls.test", 5223, 0, 0),
        ("_xmpp-client._tcp.bothdot.test", ".", 0, 0, 0),
        ("_xmpps-client._tcp.bothdot.test", ".", 0, 0, 0),
        (f"_xmpp-client._tcp.{IDN_A_LABEL}", f"xmpp.{IDN_A_LABEL}", 5222, 0, 0),
    ]
    hosts = [("xmpp.example.test", "127.0.0.1"), ("xmpp.example.test", "::1")]
    with DNSServer(srv=srv, hosts=hosts) as server:
        yield server


@pytest.fixture
def resolver(dns_server: DNSServer) -> dns.resolver.Resolver:
    return dns_server.resolver()


class NoDNS(dns.resolver.Resolver):
    def __init__(self) -> None:
        super().__init__(configure=False)

    def resolve(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise AssertionError(f"no DNS query expected, got {args}")


def test_dns_server_serves_what_it_was_given(resolver: dns.resolver.Resolver) -> None:
    assert {r.address for r in resolver.resolve("xmpp.example.test", "A")} == {"127.0.0.1"}
    assert {r.address for r in resolver.resolve("xmpp.example.test", "AAAA")} == {"::1"}
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("_xmpp-client._tcp.none.test", "SRV")


def test_both_services_ordered_by_priority_whatever_the_kind(
    resolver: dns.resolver.Resolver,
) -> None:
    result = resolve("example.test", resolver=resolver)
    assert isinstance(result, EndpointList)
    assert result == [
        Endpoint("xmpp.example.test", 5222, False),
        Endpoint("tls.example.test", 443, True),
        Endpoint("backup.example.test", 5333, False),
    ]
    assert result.dns_errors == []


def test_equal_priority_is_mixed_by_weight_per_xep0368(resolver: dns.resolver.Resolver) -> None:
    firsts = {
        resolve("mixed.test", resolver=resolver, rng=random.Random(seed))[0] for seed in range(40)
    }
    assert firsts == {
        Endpoint("tls.mixed.test", 5223, True),
        Endpoint("plain.mixed.test", 5222, False),
    }
    for seed in range(10):  # the client's MAY: direct TLS first within a priority
        assert resolve(
            "mixed.test", resolver=resolver, prefer_direct_tls=True, rng=random.Random(seed)
        ) == [Endpoint("tls.mixed.test", 5223, True), Endpoint("plain.mixed.test", 5222, False)]


def test_direct_tls_restricts_to_one_kind(resolver: dns.resolver.Resolver) -> None:
    assert resolve("example.test", resolver=resolver, direct_tls=True) == [
        Endpoint("tls.example.test", 443, True)
    ]
    assert resolve("example.test", resolver=resolver, direct_tls=False) == [
        Endpoint("xmpp.example.test", 5222, False),
        Endpoint("backup.example.test", 5333, False),
    ]
    assert resolve("none.test", resolver=resolver, direct_tls=True) == [
        Endpoint("none.test", 5223, True)
    ]


def test_dot_target_drops_that_service(resolver: dns.resolver.Resolver) -> None:
    assert resolve("dot.test", resolver=resolver) == [Endpoint("xmpp.dot.test", 5222, False)]
    assert resolve("nostarttls.test", resolver=resolver) == [
        Endpoint("tls.nostarttls.test", 5223, True)
    ]


@pytest.mark.parametrize(
    "domain, kwargs",
    [
        ("bothdot.test", {}),
        ("dotonly.test", {}),  # XEP-0368: "." for xmpps and no xmpp records: no A fallback
        ("nostarttls.test", {"direct_tls": False}),
        ("dot.test", {"direct_tls": True}),
    ],
)
def test_decidedly_not_available(
    resolver: dns.resolver.Resolver, domain: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ConnectionFailed, match=f"{domain} is decidedly not available"):
        resolve(domain, resolver=resolver, **kwargs)


def test_no_records_falls_back_to_the_domain(resolver: dns.resolver.Resolver) -> None:
    result = resolve("none.test", resolver=resolver)
    assert result == [Endpoint("none.test", 5222, False)]
    assert isinstance(result, EndpointList) and result.dns_errors == []


def test_idn_domain_is_looked_up_as_a_label(resolver: dns.resolver.Resolver) -> None:
    assert resolve(IDN_DOMAIN, resolver=resolver) == [Endpoint(f"xmpp.{IDN_A_LABEL}", 5222, False)]


def test_dns_failure_falls_back_and_is_remembered(resolver: dns.resolver.Resolver) -> None:
    # dnsmasq answers REFUSED outside its local domains: a failure, not "no records"
    result = resolve("example.org", resolver=resolver)
    assert result == [Endpoint("example.org", 5222, False)]
    assert isinstance(result, EndpointList) and len(result.dns_errors) == 2
    assert "_xmpps-client._tcp.example.org" in result.dns_errors[0]
    assert "REFUSED" in result.dns_errors[0]


def test_dns_timeout_falls_back_and_reaches_the_error_message() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # never answers
        silent.bind(("127.0.0.1", 0))
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = silent.getsockname()[1]
        result = resolve("localdomain.test", resolver=resolver, timeout=0.2)
    assert result == [Endpoint("localdomain.test", 5222, False)]
    assert isinstance(result, EndpointList) and len(result.dns_errors) == 2
    closed = [Endpoint("127.0.0.1", free_port(), False)]
    with pytest.raises(ConnectionFailed) as info:
        open_tcp(EndpointList(closed, result.dns_errors), timeout=2)
    assert "DNS: SRV lookup of _xmpps-client._tcp.localdomain.test. failed" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"host": "127.0.0.1"}, Endpoint("127.0.0.1", 5222, False)),
        ({"host": "127.0.0.1", "direct_tls": True}, Endpoint("127.0.0.1", 5223, True)),
        ({"host": "[::1]", "port": 5999}, Endpoint("::1", 5999, False)),
        ({"port": 15222}, Endpoint("example.test", 15222, False)),
        ({"host": "Server.Example.TEST"}, Endpoint("server.example.test", 5222, False)),
    ],
)
def test_host_or_port_override_skips_dns(kwargs: dict[str, Any], expected: Endpoint) -> None:
    assert resolve("example.test", resolver=NoDNS(), **kwargs) == [expected]


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("127.0.0.1", Endpoint("127.0.0.1", 5222, False)),
        ("[::1]", Endpoint("::1", 5222, False)),
        ("localhost", Endpoint("localhost", 5222, False)),
        ("dev.localhost", Endpoint("dev.localhost", 5222, False)),
    ],
)
def test_ip_literals_and_localhost_skip_srv(domain: str, expected: Endpoint) -> None:
    assert resolve(domain, resolver=NoDNS()) == [expected]


# --------------------------------------------------------------------------------------------
# TCP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_open_tcp_connects_blocking_with_nodelay(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    closed = Endpoint("127.0.0.1", free_port(), False)
    good = Endpoint("127.0.0.1", port, True)
    sock, endpoint = open_tcp([closed, good], timeout=2)
    with sock:
        assert endpoint == good
        assert sock.gettimeout() is None  # blocking
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        peer, _ = listener.accept()
        with peer:
            sock.sendall(b"<stream/>")
            assert peer.recv(100) == b"<stream/>"


def test_open_tcp_tries_every_address_of_a_name(listener: socket.socket) -> None:
    sock, endpoint = open_tcp([Endpoint("localhost", listener.getsockname()[1], False)], timeout=2)
    with sock:
        assert sock.getpeername()[0] == "127.0.0.1"


def test_open_tcp_lists_every_failed_attempt() -> None:
    ports = [free_port(), free_port()]
    with pytest.raises(ConnectionFailed) as info:
        open_tcp([Endpoint("127.0.0.1", p, False) for p in ports], timeout=2)
    assert [(h, p) for h, p, _ in info.value.attempts] == [("127.0.0.1", p) for p in ports]
    assert all(isinstance(e, ConnectionRefusedError) for _, _, e in info.value.attempts)
    assert f"127.0.0.1:{ports[1]}" in str(info.value)
    assert isinstance(info.value, OSError)


def test_open_tcp_times_out_per_attempt() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers: list[socket.socket] = []
        try:
            for _ in range(5):  # fill the accept queue: further SYNs are dropped, not refused
                probe = socket.socket()
                probe.settimeout(0.3)
                fillers.append(probe)
                try:
                    probe.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            with pytest.raises(ConnectionFailed, match="no answer within 0.3 s") as info:
                open_tcp([Endpoint("127.0.0.1", port, False)], timeout=0.3)
            [(_, _, error)] = info.value.attempts
            assert isinstance(error, TimeoutError)
        finally:
            for filler in fillers:
                filler.close()


def test_resolve_then_connect(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    srv = [("_xmpp-client._tcp.flow.test", "localhost", port, 0, 0)]
    with DNSServer(srv=srv) as server:
        endpoints = resolve("flow.test", resolver=server.resolver())
    sock, endpoint = open_tcp(endpoints, timeout=2)
    with sock:
        assert endpoint == Endpoint("localhost", port, False)


def test_open_tcp_without_endpoints() -> None:
    with pytest.raises(ConnectionFailed, match="no address to connect to"):
        open_tcp([], timeout=1)


# --------------------------------------------------------------------------------------------
# certificates


NOW = datetime.datetime.now(datetime.timezone.utc)
SRV_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7")
SHA256 = hashes.SHA256()


def ia5(text: str) -> bytes:
    raw = text.encode("ascii")
    assert len(raw) < 128
    return bytes([0x16, len(raw)]) + raw  # DER IA5String


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    cn: str,
    sans: list[x509.GeneralName],
    *,
    issuer: tuple[x509.Certificate, Any] | None = None,
    ca: bool = False,
    key: Any = None,
    algorithm: Any = SHA256,
    expired: bool = False,
) -> tuple[x509.Certificate, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (name(cn), key)
    start = NOW - datetime.timedelta(days=30 if expired else 1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=2 if expired else 30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, algorithm), key


class Certs:
    def __init__(self, directory: Path):
        self.dir = directory
        self.ca = make_cert("fastxmpp test CA", [], ca=True)
        self.write("ca", self.ca[0])
        ca = self.ca

        def leaf(label: str, sans: list[x509.GeneralName], **kwargs: Any) -> None:
            cert, key = make_cert(
                f"{label} server", sans, issuer=kwargs.pop("issuer", ca), **kwargs
            )
            self.write(label, cert, key)

        dns_name = x509.DNSName
        leaf("good", [dns_name(DOMAIN)])
        leaf("srv", [x509.OtherName(SRV_OID, ia5(f"_xmpp-client.{DOMAIN}"))])
        leaf("other", [dns_name("other.test"), x509.OtherName(SRV_OID, ia5("_xmpp-client.o.test"))])
        leaf("nosan", [])
        leaf("idn", [dns_name(IDN_A_LABEL)])
        leaf("ip", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        leaf("wildcard", [dns_name(f"*.{DOMAIN}")])
        leaf("expired", [dns_name(DOMAIN)], expired=True)
        leaf("self", [dns_name(DOMAIN)], issuer=None)  # self-signed
        leaf("sha384", [dns_name(DOMAIN)], algorithm=hashes.SHA384())
        leaf("client", [x509.OtherName(x509.ObjectIdentifier("1.3.6.1.5.5.7.8.5"), b"\x0c\x00")])

    def write(self, label: str, cert: x509.Certificate, key: Any = None) -> None:
        pem = cert.public_bytes(serialization.Encoding.PEM)
        (self.dir / f"{label}.pem").write_bytes(pem)
        if key is not None:
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            (self.dir / f"{label}.key").write_bytes(key_pem)

    def cert(self, label: str) -> str:
        return str(self.dir / f"{label}.pem")

    def key(self, label: str) -> str:
        return str(self.dir / f"{label}.key")

    def der(self, label: str) -> bytes:
        pem = (self.dir / f"{label}.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


# --------------------------------------------------------------------------------------------
# a TLS server on loopback (the standard library's ssl module)


class TLSServer:
    """Accepts one connection in a thread. ``mode``: "tls" (handshake, record, echo), "close"
    (close at once), "plain" (send an XMPP stream header in clear), "silent" (say nothing)."""

    def __init__(
        self,
        certs: Certs,
        label: str = "good",
        *,
        mode: str = "tls",
        maximum_version: ssl.TLSVersion | None = None,
        alpn: list[str] | None = None,
        client_ca: str | None = None,
    ):
        self.certs, self.label, self.mode = certs, label, mode
        self.maximum_version, self.alpn, self.client_ca = maximum_version, alpn, client_ca
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.info: dict[str, Any] = {}
        self.done = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certs.cert(self.label), self.certs.key(self.label))
        if self.maximum_version is not None:
            with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.maximum_version = self.maximum_version
        if self.alpn:
            ctx.set_alpn_protocols(self.alpn)
        if self.client_ca:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED

        def sni(_sock: Any, server_name: str | None, _ctx: Any) -> None:
            self.info["sni"] = server_name

        ctx.sni_callback = sni
        return ctx

    def _run(self) -> None:
        try:
            self.listener.settimeout(10)
            raw, _ = self.listener.accept()
        except OSError:
            return
        with raw:
            raw.settimeout(10)
            try:
                if self.mode == "close":
                    raw.recv(4096)  # the ClientHello: then the close is a clean EOF, not a reset
                    return
                if self.mode == "plain":
                    raw.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'>")
                    self.stop.wait(10)
                    return
                if self.mode == "silent":
                    self.stop.wait(10)
                    return
                with self.context().wrap_socket(raw, server_side=True) as tls:
                    self.info.update(
                        version=tls.version(),
                        tls_unique=tls.get_channel_binding("tls-unique"),
                        alpn=tls.selected_alpn_protocol(),
                        peer_cert=tls.getpeercert(binary_form=True),
                    )
                    self.done.set()
                    while data := tls.recv(4096):
                        tls.sendall(data)
            except (OSError, ssl.SSLError) as exc:
                self.info["error"] = exc
            finally:
                self.done.set()

    def __enter__(self) -> TLSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(10)


@contextmanager
def tls_client(
    server: TLSServer, domain: str = DOMAIN, *, timeout: float = 5, **ctx_args: Any
) -> Iterator[SSL.Connection]:
    sock, _ = open_tcp([Endpoint("127.0.0.1", server.port, False)], timeout=5)
    try:
        yield tls_handshake(sock, make_tls_context(**ctx_args), domain, timeout=timeout)
        server.done.wait(5)  # closing with unread data sends a RST: let the server finish first
    finally:
        sock.close()


def echo(conn: SSL.Connection, data: bytes) -> bytes:
    conn.sendall(data)
    return conn.recv(len(data))


# --------------------------------------------------------------------------------------------
# TLS: what is accepted


@pytest.mark.parametrize("label", ["good", "srv", "wildcard_sub", "sha384"])
def test_valid_certificates_are_accepted(certs: Certs, label: str) -> None:
    domain = f"chat.{DOMAIN}" if label == "wildcard_sub" else DOMAIN
    with TLSServer(certs, label.replace("_sub", "")) as server:
        with tls_client(server, domain, ca_file=certs.cert("ca")) as conn:
            assert conn.get_protocol_version_name() == "TLSv1.3"
            assert echo(conn, b"<presence/>") == b"<presence/>"
            verify_certificate(conn, domain)  # idempotent, callable again
            assert conn.getpeername()  # pyOpenSSL proxies the socket
            assert conn.gettimeout() is None  # the socket (pyOpenSSL proxies it) is left blocking
        assert server.info["sni"] == domain


def test_idn_domain_matches_and_sends_sni_as_a_label(certs: Certs) -> None:
    with TLSServer(certs, "idn") as server:
        with tls_client(server, IDN_DOMAIN, ca_file=certs.cert("ca")):
            pass
        assert server.info["sni"] == IDN_A_LABEL


def test_ip_literal_domain_needs_an_ip_entry_and_sends_no_sni(certs: Certs) -> None:
    with TLSServer(certs, "ip") as server:
        with tls_client(server, "127.0.0.1", ca_file=certs.cert("ca")):
            pass
        assert server.info.get("sni") is None
    with TLSServer(certs, "good") as server, pytest.raises(CertificateError, match="127.0.0.1"):
        with tls_client(server, "127.0.0.1", ca_file=certs.cert("ca")):
            pass


def test_alpn_xmpp_client_for_direct_tls(certs: Certs) -> None:
    with TLSServer(certs, alpn=["h2", "xmpp-client"]) as server:
        with tls_client(server, ca_file=certs.cert("ca"), alpn=True) as conn:
            assert conn.get_alpn_proto_negotiated() == b"xmpp-client"
        assert server.info["alpn"] == "xmpp-client"
    with TLSServer(certs, alpn=["xmpp-client"]) as server:
        with tls_client(server, ca_file=certs.cert("ca")) as conn:  # not offered: none
            assert conn.get_alpn_proto_negotiated() == b""


def test_client_certificate_is_presented(certs: Certs) -> None:
    with TLSServer(certs, client_ca=certs.cert("ca")) as server:
        client: dict[str, Any] = {"certfile": certs.cert("client"), "keyfile": certs.key("client")}
        with tls_client(server, ca_file=certs.cert("ca"), **client) as conn:
            assert echo(conn, b"x") == b"x"
        assert server.info["peer_cert"] == certs.der("client")


def test_the_server_certificate_itself_can_be_the_ca_file(certs: Certs) -> None:
    with TLSServer(certs, "self") as server:  # pinning a self-signed server: partial chain
        with tls_client(server, ca_file=certs.cert("self")):
            pass


def test_verify_false_connects_to_anything_and_warns(
    certs: Certs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastxmpp.transport"):
        with TLSServer(certs, "self") as server, tls_client(server, "wrong.test", verify=False):
            pass
    [record] = [r for r in caplog.records if r.name == "fastxmpp.transport"]
    assert record.levelno == logging.WARNING
    assert "anyone on the network path can read and change" in record.getMessage()


def test_shared_contexts_are_made_once_per_options_and_file_state(
    certs: Certs, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(open(certs.cert("ca"), "rb").read())
    first = shared_tls_context(ca_file=str(ca), alpn=False)
    assert shared_tls_context(ca_file=str(ca), alpn=False) is first
    assert shared_tls_context(ca_file=str(ca), alpn=True) is not first  # other options
    ca.write_bytes(ca.read_bytes() + b"\n")  # a replaced CA file is read again
    assert shared_tls_context(ca_file=str(ca), alpn=False) is not first
    with caplog.at_level(logging.WARNING, logger="fastxmpp.transport"):
        shared_tls_context(verify=False)
        shared_tls_context(verify=False)  # cached, and still loud every time
    warnings = [r for r in caplog.records if "verification is DISABLED" in r.getMessage()]
    assert len(warnings) == 2
    with pytest.raises(TLSError):
        shared_tls_context(ca_file=str(tmp_path / "missing.pem"))


def test_no_warning_when_verifying(certs: Certs, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastxmpp.transport"):
        make_tls_context(ca_file=certs.cert("ca"))
    assert not caplog.records


# --------------------------------------------------------------------------------------------
# TLS: what is refused


@pytest.mark.parametrize(
    "label, ctx_args, message",
    [
        ("other", {}, r"not valid for xmpp\.test: it is for DNS:other\.test, SRV:_xmpp-client\.o"),
        ("nosan", {}, r"not valid for xmpp\.test: it is for no subjectAltName, only CN=nosan"),
        ("self", {}, r"certificate of xmpp\.test is not trusted: .* self-signed"),
        ("expired", {}, r"not trusted: the server's certificate \(CN=expired server\) is expired"),
        ("good", {"ca_file": None}, r"not trusted: .*issued by a CA that is not trusted here"),
    ],
)
def test_bad_certificates_raise_certificate_error(
    certs: Certs, label: str, ctx_args: dict[str, Any], message: str
) -> None:
    ctx_args = {"ca_file": certs.cert("ca"), **ctx_args}
    with TLSServer(certs, label) as server:
        with pytest.raises(CertificateError, match=message), tls_client(server, **ctx_args):
            pass


def test_srv_id_for_another_service_or_domain_does_not_match(certs: Certs) -> None:
    with TLSServer(certs, "srv") as server, pytest.raises(CertificateError, match="SRV:"):
        with tls_client(server, "other.test", ca_file=certs.cert("ca")):
            pass


def test_verify_certificate_refuses_an_unverified_connection(certs: Certs) -> None:
    with TLSServer(certs, "good") as server, tls_client(server, verify=False) as conn:
        with pytest.raises(CertificateError, match="was not verified"):
            verify_certificate(conn, DOMAIN)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("close", "failed: the server closed the connection"),
        ("plain", "TLS handshake with xmpp.test failed: .*(wrong version|packet length|record)"),
        ("silent", "timed out after 0.3 s"),
    ],
)
def test_handshake_failures_raise_tls_error(certs: Certs, mode: str, message: str) -> None:
    with TLSServer(certs, mode=mode) as server:
        with pytest.raises(TLSError, match=message) as info:
            with tls_client(server, timeout=0.3, ca_file=certs.cert("ca")):
                pass
    assert not isinstance(info.value, CertificateError)


def test_tls_1_1_server_is_refused(certs: Certs) -> None:
    server = TLSServer(certs, maximum_version=ssl.TLSVersion.TLSv1_1)
    with server, pytest.raises(TLSError, match="TLS handshake with xmpp.test failed") as info:
        with tls_client(server, ca_file=certs.cert("ca")):
            pass
    assert not isinstance(info.value, CertificateError)


def test_unreadable_files_raise_tls_error(certs: Certs, tmp_path: Path) -> None:
    with pytest.raises(TLSError, match="CA certificates"):
        make_tls_context(ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(TLSError, match="client certificate"):
        make_tls_context(certfile=certs.cert("client"), keyfile=certs.key("good"))


# --------------------------------------------------------------------------------------------
# channel binding


def test_channel_binding_tls13(certs: Certs) -> None:
    with TLSServer(certs, "good") as server:
        with tls_client(server, ca_file=certs.cert("ca")) as conn:
            exporter = channel_binding(conn, "tls-exporter")
            assert exporter is not None and len(exporter) == 32
            assert channel_binding(conn, "tls-exporter") == exporter  # stable per connection
            assert channel_binding(conn, "tls-unique") is None  # not defined for TLS 1.3
            end_point = hashlib.sha256(certs.der("good")).digest()
            assert channel_binding(conn, "tls-server-end-point") == end_point
            assert channel_binding(conn, "tls-nonsense") is None


def test_channel_binding_tls12(certs: Certs) -> None:
    with TLSServer(certs, "sha384", maximum_version=ssl.TLSVersion.TLSv1_2) as server:
        with tls_client(server, ca_file=certs.cert("ca")) as conn:
            assert conn.get_protocol_version_name() == "TLSv1.2"
            assert channel_binding(conn, "tls-exporter") is None
            unique = channel_binding(conn, "tls-unique")
            end_point = channel_binding(conn, "tls-server-end-point")
            assert echo(conn, b"x") == b"x"
        # the stdlib server computes tls-unique from its side: the same first Finished message
        assert unique is not None and unique == server.info["tls_unique"]
        assert end_point == hashlib.sha384(certs.der("sha384")).digest()  # the signature's hash


def _handshake_in_memory(client: SSL.Connection, server: SSL.Connection) -> None:
    done = {id(client): False, id(server): False}
    for _ in range(20):
        for this, other in ((client, server), (server, client)):
            if not done[id(this)]:
                try:
                    this.do_handshake()
                    done[id(this)] = True
                except SSL.WantReadError:
                    pass
            try:
                other.bio_write(this.bio_read(65536))
            except SSL.WantReadError:
                pass
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def test_tls_exporter_matches_the_server_side(certs: Certs) -> None:
    server_ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    server_ctx.use_certificate_chain_file(certs.cert("good"))
    server_ctx.use_privatekey_file(certs.key("good"))
    client = SSL.Connection(make_tls_context(ca_file=certs.cert("ca")), None)
    client.set_tlsext_host_name(DOMAIN.encode())
    client.set_connect_state()
    server = SSL.Connection(server_ctx, None)
    server.set_accept_state()
    _handshake_in_memory(client, server)
    verify_certificate(client, DOMAIN)
    expected = server.export_keying_material(b"EXPORTER-Channel-Binding", 32)
    assert channel_binding(client, "tls-exporter") == expected
    other_label = server.export_keying_material(b"EXPORTER-Something-Else", 32)
    assert channel_binding(client, "tls-exporter") != other_label


class StubCert:
    def __init__(self, algorithm: Any, der: bytes = b"0\x03\x02\x01\x00"):
        self.signature_hash_algorithm = algorithm
        self.der = der

    def public_bytes(self, encoding: Any) -> bytes:
        return self.der


@pytest.mark.parametrize(
    "algorithm, digest",
    [
        (hashes.MD5(), hashlib.sha256),  # RFC 5929 4.1: MD5 and SHA-1 become SHA-256
        (hashes.SHA1(), hashlib.sha256),
        (hashes.SHA256(), hashlib.sha256),
        (hashes.SHA512(), hashlib.sha512),
    ],
)
def test_server_end_point_hash_choice(algorithm: Any, digest: Any) -> None:
    stub = StubCert(algorithm)
    assert _server_end_point(stub) == digest(stub.der).digest()  # type: ignore[arg-type]


def test_server_end_point_undefined_without_a_single_hash() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cert, _ = make_cert("ed", [], key=key, algorithm=None)
    assert _server_end_point(cert) is None
