"""fastxmpp.testing: the throwaway Prosody server, checked with raw sockets and the stdlib ssl.

One session server serves most tests; the few that need their own configuration start their own
(about half a second each). Prosody missing is a failure, never a skip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time

import pytest

from fastxmpp.testing import (
    DEFAULT_ACCOUNTS,
    ProsodyNotFound,
    ProsodyServer,
    ProsodyStartupError,
)

HEADER = (
    "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams'>"
)
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def server(prosody: ProsodyServer) -> ProsodyServer:
    """The session server of the plugin (``pytest_plugins`` in conftest), shared with others."""
    return prosody


# -- raw XMPP over the stdlib ------------------------------------------------------------------


def read_until(sock: socket.socket, *ends: bytes, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not any(end in data for end in ends):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def tls_context(server: ProsodyServer, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=server.ca_file)  # verifies chain and hostname
    if maximum is not None:
        context.maximum_version = maximum
    return context


def open_stream(
    server: ProsodyServer,
    domain: str | None = None,
    *,
    direct: bool = False,
    maximum: ssl.TLSVersion | None = None,
) -> tuple[ssl.SSLSocket, bytes]:
    """A TLS stream to ``domain`` (STARTTLS, or direct TLS) and its features after TLS."""
    domain = domain or server.domain
    context = tls_context(server, maximum)
    if direct:
        raw = socket.create_connection((server.host, server.direct_tls_port), timeout=5)
        sock = context.wrap_socket(raw, server_hostname=domain)
    else:
        raw = socket.create_connection((server.host, server.c2s_port), timeout=5)
        raw.sendall(HEADER.format(domain).encode())
        features = read_until(raw, b"</stream:features>")
        assert b"urn:ietf:params:xml:ns:xmpp-tls" in features
        assert b"<mechanism>" not in features  # nothing offered before TLS
        raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        assert b"<proceed" in read_until(raw, b"/>")
        sock = context.wrap_socket(raw, server_hostname=domain)
    sock.sendall(HEADER.format(domain).encode())
    return sock, read_until(sock, b"</stream:features>")


def mechanisms(features: bytes) -> set[str]:
    return {m.decode() for m in re.findall(rb"<mechanism>([^<]+)</mechanism>", features)}


def auth_plain(sock: ssl.SSLSocket, username: str, password: str) -> bytes:
    payload = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    sock.sendall(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{payload}</auth>".encode())
    return read_until(sock, b"</success>", b"<success", b"</failure>")


def auth_scram(sock: ssl.SSLSocket, hash_name: str, username: str, password: str) -> bytes:
    """RFC 5802 SCRAM without channel binding; returns the server's final answer."""
    mechanism = "SCRAM-SHA-1" if hash_name == "sha1" else "SCRAM-SHA-256"
    nonce = secrets.token_urlsafe(18)
    first_bare = f"n={username},r={nonce}"
    payload = base64.b64encode(f"n,,{first_bare}".encode()).decode()
    sock.sendall(f"<auth xmlns='{SASL}' mechanism='{mechanism}'>{payload}</auth>".encode())
    challenge = read_until(sock, b"</challenge>", b"</failure>")
    match = re.search(rb"<challenge[^>]*>([^<]+)</challenge>", challenge)
    assert match, challenge
    server_first = base64.b64decode(match.group(1)).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    assert fields["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac(
        hash_name, password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = base64.b64encode(
        bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    ).decode()
    final = base64.b64encode(f"{without_proof},p={proof}".encode()).decode()
    sock.sendall(f"<response xmlns='{SASL}'>{final}</response>".encode())
    answer = read_until(sock, b"</success>", b"</failure>")
    if b"<success" in answer:
        server_key = hmac.new(salted, b"Server Key", hash_name).digest()
        expected = hmac.new(server_key, auth_message, hash_name).digest()
        verifier = re.search(rb"<success[^>]*>([^<]+)</success>", answer)
        assert verifier and base64.b64decode(verifier.group(1)).decode() == (
            "v=" + base64.b64encode(expected).decode()
        )
    return answer


def listening_ports(pid: int) -> set[tuple[str, int]]:
    """The TCP (v4 and v6) sockets process ``pid`` listens on, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with_target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed since listdir (a short-lived connection)
            continue
        if with_target.startswith("socket:["):
            inodes.add(with_target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                    address, port = cols[1].split(":")
                    if len(address) == 8:
                        address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
                    found.add((address, int(port, 16)))
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purposes
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def connect_refused(server: ProsodyServer, port: int) -> bool:
    try:
        socket.create_connection((server.host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# -- tests --------------------------------------------------------------------------------------


def test_start_stop_removes_everything() -> None:
    server = ProsodyServer(anonymous_domain=None, muc_domain=None)
    with server:
        assert server.running and os.path.isdir(server.directory)
        pid, directory = server.pid, server.directory
        assert pid is not None
        ports = {server.c2s_port, server.direct_tls_port}
        assert listening_ports(pid) == {("127.0.0.1", p) for p in ports}  # no s2s, http, ...
        if os.geteuid() == 0:
            assert os.stat(f"/proc/{pid}").st_uid != 0  # runs as the prosody user
        assert server.startup_seconds < 10
    assert not server.running
    assert not pid_alive(pid)
    assert not os.path.exists(directory)
    assert all(connect_refused(server, port) for port in ports)
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.directory  # noqa: B018


def test_features_and_certificate_over_starttls(server: ProsodyServer) -> None:
    sock, features = open_stream(server)
    with sock:
        cert = sock.getpeercert()
        assert ("DNS", "localhost") in cert["subjectAltName"]
        assert {"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"} <= mechanisms(features)


def test_channel_binding_variants_need_tls12(server: ProsodyServer) -> None:
    """Prosody 0.12 only knows tls-unique: -PLUS is offered on TLS 1.2 alone, no XEP-0440."""
    sock, features = open_stream(server, maximum=ssl.TLSVersion.TLSv1_2)
    with sock:
        assert sock.version() == "TLSv1.2"
        assert {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"} <= mechanisms(features)
        assert b"urn:xmpp:sasl-cb:0" not in features


def test_direct_tls_port_handshakes_immediately(server: ProsodyServer) -> None:
    sock, features = open_stream(server, direct=True)
    with sock:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert b"xmpp-tls" not in features  # already encrypted: no STARTTLS offered
        assert "PLAIN" in mechanisms(features)
        assert b"<success" in auth_plain(sock, "alice", DEFAULT_ACCOUNTS["alice"])


def test_200_accounts_quickly_and_plain_login(server: ProsodyServer) -> None:
    started = time.monotonic()
    jids = [server.add_account(f"Load{i}", f"pw-{i}") for i in range(200)]  # while running
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"200 accounts took {elapsed:.2f} s"
    assert jids[7] == "load7@localhost" == server.jid("LOAD7")  # prepared like Prosody does
    sock, _ = open_stream(server)
    with sock:
        assert b"<success" in auth_plain(sock, "load199", "pw-199")
    sock, _ = open_stream(server)
    with sock:
        assert b"not-authorized" in auth_plain(sock, "load199", "wrong")


def test_scram_login_and_odd_passwords(server: ProsodyServer) -> None:
    password = 'qu"ote\\back slash é€ \U0001f600'  # the account file is Lua: escaping matters
    server.add_account("odd", password)
    sock, _ = open_stream(server)
    with sock:
        assert b"<success" in auth_plain(sock, "odd", password)
    sock, _ = open_stream(server)
    with sock:
        assert b"<success" in auth_scram(sock, "sha256", "bob", DEFAULT_ACCOUNTS["bob"])


def test_anonymous_host(server: ProsodyServer) -> None:
    assert server.anonymous_domain is not None
    sock, features = open_stream(server, server.anonymous_domain)
    with sock:
        assert mechanisms(features) == {"ANONYMOUS"}
        sock.sendall(f"<auth xmlns='{SASL}' mechanism='ANONYMOUS'/>".encode())
        assert b"<success" in read_until(sock, b"</success>", b"<success", b"</failure>")


def test_internal_hashed_accounts_do_scram() -> None:
    with ProsodyServer(
        authentication="internal_hashed", accounts={"dave": "dave-pw"}, muc_domain=None
    ) as server:
        sock, features = open_stream(server)
        with sock:
            assert mechanisms(features) == {"PLAIN", "SCRAM-SHA-1"}
            assert b"<success" in auth_scram(sock, "sha1", "dave", "dave-pw")
        sock, _ = open_stream(server)
        with sock:
            assert b"not-authorized" in auth_scram(sock, "sha1", "dave", "wrong")


def test_certificate_for_another_name_does_not_verify() -> None:
    with ProsodyServer(cert_hostnames=["other.example"], anonymous_domain=None) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="other.example|mismatch"):
            open_stream(server)
        with pytest.raises(ssl.SSLCertVerificationError):
            open_stream(server, direct=True)
        # the chain itself verifies: only the name is wrong (Prosody refuses an unknown SNI name,
        # so ask for the domain and leave the name check out)
        context = tls_context(server)
        context.check_hostname = False
        raw = socket.create_connection((server.host, server.direct_tls_port), timeout=5)
        with context.wrap_socket(raw, server_hostname=server.domain) as sock:
            assert sock.getpeercert()["subjectAltName"] == (("DNS", "other.example"),)


def test_bad_config_fails_clearly() -> None:
    server = ProsodyServer(extra_config="this is not lua", startup_timeout=10)
    with pytest.raises(ProsodyStartupError, match="exited") as info:
        server.start()
    assert "prosody.out" in str(info.value)  # the message carries Prosody's own output
    assert not server.running


def test_port_in_use_fails_clearly() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = ProsodyServer(c2s_port=port, startup_timeout=10)
        started = time.monotonic()
        with pytest.raises(ProsodyStartupError, match="Failed to open server port"):
            server.start()
        assert time.monotonic() - started < 5
        assert not server.running


def test_missing_prosody_says_how_to_install() -> None:
    with pytest.raises(ProsodyNotFound, match="apt-get install prosody"):
        ProsodyServer(prosody="/nonexistent/prosody").start()


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_exit_without_stop_cleans_up() -> None:
    result = run_python(
        """
        from fastxmpp.testing import ProsodyServer
        server = ProsodyServer().start()
        print(server.pid, server.directory, flush=True)
        """
    )
    pid, directory = result.stdout.split()
    assert not os.path.exists(directory), result.stderr
    assert not pid_alive(int(pid))


def test_killed_parent_takes_prosody_down() -> None:
    result = run_python(
        """
        import os, signal
        from fastxmpp.testing import ProsodyServer
        server = ProsodyServer().start()
        print(server.pid, server.directory, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    pid, directory = result.stdout.split()
    try:
        deadline = time.monotonic() + 5
        while pid_alive(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(int(pid))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if pid_alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)


def test_pytest_plugin(tmp_path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["fastxmpp.testing"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import socket

            def test_fixtures(prosody, prosody_account):
                assert prosody.running and prosody.jid("alice") == "alice@localhost"
                one, two = prosody_account(), prosody_account("x")
                assert one.jid != two.jid and two.jid.startswith("x-")
                assert one.jid in {prosody.jid(u) for u in prosody.accounts}
                socket.create_connection((prosody.host, prosody.c2s_port)).close()
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
