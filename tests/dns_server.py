"""A throwaway DNS server for tests: dnsmasq on 127.0.0.1 at a free port, serving only what the
test gives it (SRV and A/AAAA records), with no upstream and nothing read from the system.

    with DNSServer(srv=[("_xmpp-client._tcp.example.test", "xmpp.example.test", 5222, 0, 0)],
                   hosts=[("xmpp.example.test", "127.0.0.1")]) as server:
        resolve("example.test", resolver=server.resolver())

Names under ``local_domains`` (default: ``test``) that were not given get an authoritative
NXDOMAIN. A missing dnsmasq raises ``RuntimeError``: DNS tests fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from typing import IO

import dns.resolver

__all__ = ["DNSServer"]

_CANDIDATES = ("/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq")


def _find_dnsmasq() -> str:
    path = os.environ.get("DNSMASQ") or shutil.which("dnsmasq")
    if not path:
        path = next((p for p in _CANDIDATES if os.access(p, os.X_OK)), None)
    if not path:
        raise RuntimeError(
            "dnsmasq is needed for the DNS tests and was not found (install the 'dnsmasq' "
            "package, e.g. `apt-get install dnsmasq-base`, or set DNSMASQ=/path/to/dnsmasq)"
        )
    return path


def _free_port() -> int:
    """A port that is free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP port on 127.0.0.1")


class DNSServer:
    """dnsmasq serving the given records on 127.0.0.1; a context manager.

    ``srv``: ``(name, target, port, priority, weight)``; a target of ``"."`` or ``""`` gives the
    RFC 2782 "service decidedly not available" record. ``hosts``: ``(name, address)``, IPv4 or
    IPv6 (several entries for one name give several records).
    """

    def __init__(
        self,
        srv: Iterable[tuple[str, str, int, int, int]] = (),
        hosts: Iterable[tuple[str, str]] = (),
        *,
        local_domains: Sequence[str] = ("test",),
        startup_timeout: float = 10.0,
    ) -> None:
        self.srv = list(srv)
        self.hosts = list(hosts)
        self.local_domains = list(local_domains)
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _args(self, dnsmasq: str, port: int) -> list[str]:
        args = [
            dnsmasq,
            "--keep-in-foreground",
            "--conf-file=/dev/null",  # no /etc/dnsmasq.conf, no /etc/dnsmasq.d
            "--no-resolv",
            "--no-poll",
            "--no-hosts",
            "--no-negcache",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            f"--port={port}",
            "--pid-file=",  # no pid file
            "--log-facility=-",  # stderr (read on failure)
        ]
        if os.geteuid() == 0:
            args.append("--user=root")  # else it drops to "nobody"; nothing needs that here
        args += [f"--local=/{domain}/" for domain in self.local_domains]
        for name, target, srv_port, priority, weight in self.srv:
            if target in ("", "."):
                args.append(f"--srv-host={name}")  # no target: SRV with target "."
            else:
                args.append(f"--srv-host={name},{target},{srv_port},{priority},{weight}")
        args += [f"--host-record={name},{address}" for name, address in self.hosts]
        return args

    def start(self) -> DNSServer:
        dnsmasq = _find_dnsmasq()
        last_error = ""
        for _ in range(5):  # the free port can be taken between probing and binding: retry
            port = _free_port()
            log = tempfile.TemporaryFile()  # a file, not a pipe: nothing can fill up and block
            proc = subprocess.Popen(
                self._args(dnsmasq, port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except OSError:
                    time.sleep(0.02)
                    continue
                self.port, self._proc, self._log = port, proc, log
                return self
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
            log.seek(0)
            last_error = log.read().decode(errors="replace").strip()
            log.close()
            if "in use" not in last_error:
                break
        raise RuntimeError(f"dnsmasq did not start: {last_error or 'no output'}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def resolver(self, *, lifetime: float = 5.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks this server only."""
        if self._proc is None:
            raise RuntimeError("the DNS server is not running")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.lifetime = lifetime
        resolver.timeout = lifetime
        return resolver

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
