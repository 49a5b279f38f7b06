"""A throwaway Prosody server on loopback, for tests, demos and users' own test suites.

``ProsodyServer`` writes a config, a throwaway CA and a server certificate into a fresh temporary
directory, starts ``prosody -F`` on free ports of 127.0.0.1 and removes everything on ``stop()``
(also when the server object is collected or the interpreter exits, and, should the Python process
be killed outright, Prosody notices within 0.1 s and shuts down by itself, removing the
directory: a crashed run leaves nothing behind)::

    with ProsodyServer(accounts={"alice": "secret"}) as server:
        server.c2s_port, server.direct_tls_port, server.ca_file, server.jid("alice")
        server.add_account("bob", "pw")  # a file write: works while running, ~0.1 ms each

Pytest: ``pytest_plugins = ["fastxmpp.testing"]`` in a conftest gives the session fixture
``prosody`` (a started server with the accounts in ``DEFAULT_ACCOUNTS``) and ``prosody_account``
(a factory of fresh accounts, unique per call). A missing Prosody makes those fixtures ERROR,
never skip, unless ``FASTXMPP_ALLOW_NO_SERVER=1``.

What Prosody 0.12 offers (probed over STARTTLS and direct TLS, Debian 0.12.3):

- ``authentication="internal_plain"`` (default here; passwords stored in clear): PLAIN,
  SCRAM-SHA-1, SCRAM-SHA-256, and SCRAM-SHA-1-PLUS, SCRAM-SHA-256-PLUS only when the TLS session
  is TLS 1.2: the only channel binding in 0.12 is ``tls-unique``, undefined for TLS 1.3 (the
  default negotiation here), so a client must cap TLS at 1.2 to be offered -PLUS. No
  ``tls-exporter``, no ``tls-server-end-point``, no XEP-0440 ``<sasl-channel-binding/>``
  feature.
- ``authentication="internal_hashed"``: PLAIN and SCRAM-SHA-1 (+ SCRAM-SHA-1-PLUS on TLS 1.2)
  only, or SHA-256 instead with ``password_hash="SHA-256"``. Accounts are written with SCRAM
  keys (4096 iterations).
- The anonymous host (``anonymous_domain``): ANONYMOUS only.
- No mechanism is offered before TLS (``c2s_require_encryption``); DIGEST-MD5 is disabled.

``add_account`` writes Prosody's account file directly (``data/<host>/accounts/<user>.dat``,
what ``mod_storage_internal`` reads on every login, uncached), so hundreds of accounts take
milliseconds; ``prosodyctl register`` starts Lua each time, about 0.12 s per account.

Root: Prosody refuses to run as root, so as root it is started as the ``prosody`` user
(``subprocess`` ``user=``/``group=``, equivalent to ``runuser -u prosody``) and the directory is
handed to that user; the temporary directory's parent must be traversable by it (``/tmp`` is).
As any other user it runs as that user. The system Prosody service (Debian starts one on 5222)
is neither needed nor disturbed: our instances use their own ports, pid file and data.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from fastxmpp._scripted_server import ClientLink, ScriptedServer

__all__ = [
    "DEFAULT_ACCOUNTS",
    "Account",
    "ProsodyNotFound",
    "ProsodyServer",
    "ProsodyStartupError",
    "ClientLink",
    "ScriptedServer",
    "find_prosody",
]

DEFAULT_ACCOUNTS: Mapping[str, str] = {
    "alice": "alice-password",
    "bob": "bob-password",
    "carol": "carol-password",
}

INSTALL_HINT = (
    "Prosody (the XMPP server the test suite runs against) is not installed: install it with "
    "'apt-get install prosody' (Debian/Ubuntu; the system service it starts is not needed) or "
    "see https://prosody.im/download; FASTXMPP_ALLOW_NO_SERVER=1 turns server tests into skips"
)

_SCRAM_ITERATIONS = 4096
_FAILED_PORT = "Failed to open server port"


class ProsodyNotFound(RuntimeError):
    """The ``prosody`` executable is not installed (or not where it was said to be)."""


class ProsodyStartupError(RuntimeError):
    """Prosody did not come up; the message ends with the tail of its log."""


class Account(NamedTuple):
    """A test account: ``jid`` is the bare JID string."""

    username: str
    password: str
    jid: str


def find_prosody(executable: str | None = None) -> str:
    """Path of the prosody executable, or raise ``ProsodyNotFound`` saying how to install it."""
    if executable is not None:
        found = shutil.which(executable)
        if not found:
            raise ProsodyNotFound(f"{executable!r} is not an executable. {INSTALL_HINT}")
        return found
    found = shutil.which("prosody") or shutil.which("prosody", path="/usr/bin:/usr/local/bin")
    if not found:
        raise ProsodyNotFound(INSTALL_HINT)
    return found


class _Resources:
    """What must be released on stop or at exit; held apart from the server for the finalizer."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None

    def release(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _lua_string(value: str) -> str:
    """A Lua string literal for ``value`` (UTF-8 bytes; anything but printable ASCII escaped)."""
    out = ['"']
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _path_encode(value: str) -> str:
    """Prosody's datamanager file-name encoding: every byte but ASCII alphanumerics as %xx."""
    return "".join(
        chr(b) if chr(b).isascii() and chr(b).isalnum() else f"%{b:02x}"
        for b in value.encode("utf-8")
    )


def _process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): a pid plus this names a process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


# PR_SET_PDEATHSIG does not reach Prosody (measured), so a killed parent would leave it running:
# this global module polls the parent's /proc entry and shuts Prosody down (and removes the
# directory) once the process that started it is gone. Linux only; elsewhere only atexit cleans.
_WATCHDOG_LUA = """\
-- Generated by fastxmpp.testing: stop when the Python process that started this server is gone.
module:set_global();
local parent_pid = module:get_option_number("fastxmpp_parent_pid");
local parent_start = module:get_option_string("fastxmpp_parent_start");
local directory = module:get_option_string("fastxmpp_directory");

local function start_time(pid)
	local f = io.open("/proc/" .. pid .. "/stat", "r");
	if not f then return nil; end
	local stat = f:read("*a");
	f:close();
	local fields = {};
	for field in (stat:match("%)%s+(.*)$") or ""):gmatch("%S+") do
		fields[#fields + 1] = field;
	end
	return fields[20];
end

local parent_gone = false;

module:hook("server-stopped", function ()
	-- removing the directory earlier would break the shutdown (it writes there)
	if parent_gone and directory and directory:match("^/[%w%-%./_]+$") then
		os.execute("rm -rf '" .. directory .. "'");
	end
end);

if parent_pid and parent_start then
	module:add_timer(0.1, function ()
		if start_time(parent_pid) == parent_start then return 0.1; end
		module:log("warn", "The process that started this server is gone: shutting down");
		parent_gone = true;
		prosody.main_thread:run(function () -- as mod_posix does for SIGTERM
			prosody.unlock_globals();
			prosody.shutdown("fastxmpp parent process gone");
			prosody.lock_globals();
		end);
	end);
end
"""


class ProsodyServer:
    """A Prosody server on 127.0.0.1 in a temporary directory, for tests.

    ``cert_hostnames``: the DNS names the server certificate is issued for; by default the
    server's own hosts (``domain``, ``anonymous_domain``, ``muc_domain``). Give other names to get
    a server whose certificate does not match its domain. ``anonymous_domain`` and
    ``muc_domain`` (a ``muc`` component) are left out when ``None``. ``extra_config`` is Lua
    appended to the global section; ``extra_modules`` are added to ``modules_enabled``.
    ``c2s_port``/``direct_tls_port`` of 0 pick free ports at ``start()``.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        domain: str = "localhost",
        accounts: Mapping[str, str] | None = None,
        cert_hostnames: Sequence[str] | None = None,
        anonymous_domain: str | None = "anon.localhost",
        muc_domain: str | None = "conference.localhost",
        authentication: str = "internal_plain",
        password_hash: str = "SHA-1",
        log_level: str = "info",
        extra_modules: Sequence[str] = (),
        extra_config: str = "",
        c2s_port: int = 0,
        direct_tls_port: int = 0,
        prosody: str | None = None,
        startup_timeout: float = 20.0,
        directory_parent: str | None = None,
    ) -> None:
        if authentication not in ("internal_plain", "internal_hashed"):
            raise ValueError("authentication must be 'internal_plain' or 'internal_hashed'")
        if password_hash not in ("SHA-1", "SHA-256"):
            raise ValueError("password_hash must be 'SHA-1' or 'SHA-256'")
        self.domain = domain
        self.anonymous_domain = anonymous_domain
        self.muc_domain = muc_domain
        self.cert_hostnames: list[str] = list(
            cert_hostnames if cert_hostnames is not None else self.hosts
        )
        self.authentication = authentication
        self.password_hash = password_hash
        self.log_level = log_level
        self.extra_modules = list(extra_modules)
        self.extra_config = extra_config
        self.startup_timeout = startup_timeout
        self.directory_parent = directory_parent
        self._want_c2s_port = c2s_port
        self._want_direct_tls_port = direct_tls_port
        self._prosody = prosody
        self.c2s_port = 0
        self.direct_tls_port = 0
        self._accounts: dict[str, str] = {}
        self._resources = _Resources()
        # also runs at interpreter exit (weakref.finalize registers with atexit)
        self._finalizer = weakref.finalize(self, self._resources.release, 2.0)
        self._directory: str | None = None
        self.startup_seconds = 0.0
        for username, password in (accounts or {}).items():
            self.add_account(username, password)

    # -- public API ---------------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        """Every host this server serves: the domain, then the anonymous and MUC hosts."""
        return [h for h in (self.domain, self.anonymous_domain, self.muc_domain) if h]

    @property
    def running(self) -> bool:
        process = self._resources.process
        return process is not None and process.poll() is None

    @property
    def pid(self) -> int | None:
        process = self._resources.process
        return process.pid if process is not None else None

    @property
    def directory(self) -> str:
        """The temporary directory holding config, data, certificates, log and pid file."""
        if self._directory is None:
            raise RuntimeError("the server has not been started")
        return self._directory

    @property
    def config_file(self) -> str:
        return os.path.join(self.directory, "prosody.cfg.lua")

    @property
    def ca_file(self) -> str:
        """PEM of the throwaway CA that signed the server certificate: trust it in clients."""
        return os.path.join(self.directory, "certs", "ca.pem")

    @property
    def log_file(self) -> str:
        return os.path.join(self.directory, "prosody.log")

    @property
    def accounts(self) -> dict[str, str]:
        """A copy of the accounts created so far: prepared username -> password."""
        return dict(self._accounts)

    def log_text(self, tail: int | None = None) -> str:
        """Prosody's output on stdout/stderr, then its log (each cut to its last ``tail`` lines)."""
        if self._directory is None:
            return ""
        parts = []
        for name in ("prosody.out", "prosody.log"):
            try:
                with open(os.path.join(self._directory, name), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if text.strip():
                if tail is not None:
                    text = "\n".join(text.splitlines()[-tail:])
                parts.append(f"--- {name} ---\n{text.rstrip()}")
        return "\n".join(parts)

    def jid(self, username: str) -> str:
        """The bare JID of ``username`` on the main domain (prepared, as Prosody sees it)."""
        return f"{self._prepare_username(username)}@{self.domain}"

    def add_account(self, username: str, password: str) -> str:
        """Create (or overwrite) an account; returns its bare JID. Works while running."""
        if not isinstance(password, str) or not password:
            raise ValueError("the password must be a non-empty string")
        if self.authentication == "internal_hashed" and not (
            password.isascii() and password.isprintable()
        ):
            raise ValueError("internal_hashed accounts need a printable ASCII password")
        local = self._prepare_username(username)
        self._accounts[local] = password
        if self._directory is not None:
            self._write_account(local, password)
        return f"{local}@{self.domain}"

    def add_accounts(self, accounts: Mapping[str, str]) -> list[str]:
        """``add_account`` for each item; returns the bare JIDs."""
        return [self.add_account(u, p) for u, p in accounts.items()]

    def start(self) -> ProsodyServer:
        """Write everything, start Prosody and wait until its c2s port answers with features."""
        if self.running:
            return self
        self._resources.release()
        executable = find_prosody(self._prosody)
        started = time.monotonic()
        self._directory = tempfile.mkdtemp(prefix="fastxmpp-prosody-", dir=self.directory_parent)
        self._resources.directory = self._directory
        self.c2s_port = self._want_c2s_port or _free_port(self.host)
        self.direct_tls_port = self._want_direct_tls_port or _free_port(self.host)
        while self.direct_tls_port == self.c2s_port:
            self.direct_tls_port = _free_port(self.host)

        try:
            self._prepare_directory()
            kwargs: dict[str, Any] = {}
            user = self._switch_user() if os.geteuid() == 0 else None
            if user is not None:
                kwargs.update(user=user, group=user, extra_groups=[])
                self._chown_tree(self.directory, user)
            env = dict(os.environ, HOME=os.path.join(self.directory, "data"))
            with open(os.path.join(self.directory, "prosody.out"), "wb") as out:
                self._resources.process = subprocess.Popen(
                    [executable, "-F", "--config", self.config_file],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.directory,
                    env=env,
                    start_new_session=True,
                    **kwargs,
                )
            self._wait_ready(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate Prosody (SIGTERM, SIGKILL after ``timeout``), remove the directory."""
        self._resources.release(timeout)
        self._directory = None

    def __enter__(self) -> ProsodyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"c2s={self.host}:{self.c2s_port}" if self.running else "stopped"
        return f"<ProsodyServer {self.domain} {state}>"

    # -- config -------------------------------------------------------------------------------

    def config_text(self) -> str:
        """The Prosody configuration written at ``start()`` (paths into ``directory``)."""
        d = self.directory
        certs = os.path.join(d, "certs")
        ssl = (
            f"{{ certificate = {_lua_string(os.path.join(certs, 'server.pem'))}; "
            f"key = {_lua_string(os.path.join(certs, 'server.key'))}; }}"
        )
        modules = [
            "roster",  # rosters, with versioning (XEP-0237)
            "saslauth",
            "tls",
            "disco",
            "ping",
            "version",
            "time",
            "private",
            "blocklist",
            "carbons",
            "pep",
            "smacks",
            "csi_simple",
            "uptime",
            "posix",
            "fastxmpp_watchdog",
        ]
        modules += [m for m in self.extra_modules if m not in modules]
        lua_list = "; ".join(_lua_string(m) for m in modules)
        lines = [
            "-- Generated by fastxmpp.testing: a throwaway server on loopback.",
            f"pidfile = {_lua_string(os.path.join(d, 'prosody.pid'))}",
            f"data_path = {_lua_string(os.path.join(d, 'data'))}",
            f"certificates = {_lua_string(certs)}",
            f"plugin_paths = {{ {_lua_string(os.path.join(d, 'plugins'))} }}",
            "log = { { levels = { min = "
            f'{_lua_string(self.log_level)} }}; to = "file"; '
            f"filename = {_lua_string(self.log_file)} }} }}",
            f"interfaces = {{ {_lua_string(self.host)} }}",
            'local_interfaces = { "127.0.0.1" }',
            f"c2s_ports = {{ {self.c2s_port} }}",
            f"c2s_direct_tls_ports = {{ {self.direct_tls_port} }}",
            "s2s_ports = { }",
            "s2s_direct_tls_ports = { }",
            "component_ports = { }",
            "legacy_ssl_ports = { }",
            "http_ports = { }",
            "https_ports = { }",
            f"modules_enabled = {{ {lua_list} }}",
            # no server-to-server, no HTTP; mod_limits (rate limits) is simply not loaded
            'modules_disabled = { "s2s"; "s2s_auth_certs"; "s2s_bidi"; "dialback" }',
            "c2s_require_encryption = true",
            "allow_registration = false",
            f"authentication = {_lua_string(self.authentication)}",
            f"password_hash = {_lua_string(self.password_hash)}",
            f"default_iteration_count = {_SCRAM_ITERATIONS}",
            "c2s_stanza_size_limit = 10 * 1024 * 1024",
            "c2s_timeout = 600",
            'default_storage = "internal"',
            'storage = { archive = "memory"; muc_log = "memory" }',
            f"ssl = {ssl}",
        ]
        parent_start = _process_start_time(os.getpid())
        if parent_start is not None:  # the watchdog's parameters (see _WATCHDOG_LUA)
            lines += [
                f"fastxmpp_parent_pid = {os.getpid()}",
                f"fastxmpp_parent_start = {_lua_string(parent_start)}",
                f"fastxmpp_directory = {_lua_string(d)}",
            ]
        if os.geteuid() == 0 and self._switch_user() is None:
            lines.append("run_as_root = true  -- root, and no 'prosody' user to switch to")
        if self.extra_config:
            lines += ["", "-- extra_config", self.extra_config]
        lines += ["", f"VirtualHost {_lua_string(self.domain)}", f"\tssl = {ssl}"]
        if self.anonymous_domain:
            lines += [
                "",
                f"VirtualHost {_lua_string(self.anonymous_domain)}",
                '\tauthentication = "anonymous"',
                f"\tssl = {ssl}",
            ]
        if self.muc_domain:
            lines += [
                "",
                f'Component {_lua_string(self.muc_domain)} "muc"',
                f"\tssl = {ssl}",
                "\trestrict_room_creation = false",
                "\tmuc_room_default_history_length = 20",
            ]
        return "\n".join(lines) + "\n"

    # -- internals ----------------------------------------------------------------------------

    def _prepare_directory(self) -> None:
        for sub in ("data", "certs", "plugins"):
            os.mkdir(os.path.join(self.directory, sub))
        with open(os.path.join(self.directory, "plugins", "mod_fastxmpp_watchdog.lua"), "w") as f:
            f.write(_WATCHDOG_LUA)
        self._write_certificates()
        with open(self.config_file, "w", encoding="utf-8") as f:
            f.write(self.config_text())
        for local, password in self._accounts.items():
            self._write_account(local, password)

    def _prepare_username(self, username: str) -> str:
        from fastxmpp.jid import JID

        if not username or "@" in username or "/" in username:
            raise ValueError(f"not a username: {username!r}")
        local = JID(f"{username}@{self.domain}").local
        if local is None:
            raise ValueError(f"not a username: {username!r}")
        return local

    def _write_account(self, local: str, password: str) -> None:
        directory = os.path.join(self.directory, "data", _path_encode(self.domain), "accounts")
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
            owner = self._switch_user() if os.geteuid() == 0 else None
            if owner:
                self._chown_tree(os.path.join(self.directory, "data"), owner)
        if self.authentication == "internal_plain":
            record = f'return {{\n\t["password"] = {_lua_string(password)};\n}};\n'
        else:
            name = "sha1" if self.password_hash == "SHA-1" else "sha256"
            salt = secrets.token_hex(16)
            salted = hashlib.pbkdf2_hmac(name, password.encode(), salt.encode(), _SCRAM_ITERATIONS)
            client_key = hmac.new(salted, b"Client Key", name).digest()
            stored_key = hashlib.new(name, client_key).hexdigest()
            server_key = hmac.new(salted, b"Server Key", name).hexdigest()
            record = (
                "return {\n"
                f'\t["iteration_count"] = {_SCRAM_ITERATIONS};\n'
                f'\t["salt"] = {_lua_string(salt)};\n'
                f'\t["server_key"] = {_lua_string(server_key)};\n'
                f'\t["stored_key"] = {_lua_string(stored_key)};\n'
                "};\n"
            )
        path = os.path.join(directory, _path_encode(local) + ".dat")
        scratch = f"{path}.{os.getpid()}~"
        with open(scratch, "w", encoding="ascii") as f:
            f.write(record)
        if os.geteuid() == 0 and (user := self._switch_user()):
            shutil.chown(scratch, user, user)
        os.replace(scratch, path)  # atomic: Prosody never reads half a file

    @staticmethod
    def _switch_user() -> str | None:
        """As root: the user to run Prosody as ('prosody'), or None to run as root."""
        import pwd

        try:
            pwd.getpwnam("prosody")
        except KeyError:
            return None
        return "prosody"

    @staticmethod
    def _chown_tree(top: str, user: str) -> None:
        shutil.chown(top, user, user)
        for root, dirs, files in os.walk(top):
            for name in itertools.chain(dirs, files):
                shutil.chown(os.path.join(root, name), user, user)

    def _write_certificates(self) -> None:
        ca_pem, cert_pem, key_pem = make_certificates(self.cert_hostnames)
        certs = os.path.join(self.directory, "certs")
        for name, data in (("ca.pem", ca_pem), ("server.pem", cert_pem), ("server.key", key_pem)):
            with open(os.path.join(certs, name), "wb") as f:
                f.write(data)

    def _wait_ready(self, deadline: float) -> None:
        header = (
            f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        ).encode()
        delay = 0.01
        while True:
            process = self._resources.process
            assert process is not None
            if process.poll() is not None:
                self._fail(f"Prosody exited with status {process.returncode} during startup")
            log = self.log_text()
            if _FAILED_PORT in log:
                self._fail("Prosody could not open its ports (in use?)")
            if self._c2s_answers(header) and self._port_open(self.direct_tls_port):
                return
            if time.monotonic() > deadline:
                self._fail(f"Prosody did not answer within {self.startup_timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def _fail(self, why: str) -> None:
        tail = self.log_text(tail=40) or "(Prosody wrote no log)"
        raise ProsodyStartupError(
            f"{why}; c2s {self.host}:{self.c2s_port}, direct TLS {self.direct_tls_port}, "
            f"directory {self._directory}\n{tail}"
        )

    def _c2s_answers(self, header: bytes) -> bool:
        """True when the c2s port opens a stream and offers features: Prosody, not a squatter."""
        try:
            with socket.create_connection((self.host, self.c2s_port), timeout=0.5) as sock:
                sock.sendall(header)
                data = b""
                while b"</stream:features>" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                sock.sendall(b"</stream:stream>")
                return True
        except OSError:
            return False

    def _port_open(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.5):
                return True
        except OSError:
            return False


def make_certificates(hostnames: Sequence[str]) -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a server certificate for ``hostnames`` (DNS SANs), as PEM.

    Returns ``(ca_cert, server_cert, server_key)``. EC P-256, valid from a day ago for 30 days,
    with the extensions strict verifiers (Python 3.13's ``VERIFY_X509_STRICT``) require.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fastxmpp throwaway test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    first = hostnames[0] if hostnames else "fastxmpp test server"
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca_cert.public_bytes(pem), cert.public_bytes(pem), key_pem


# -- pytest plugin: pytest_plugins = ["fastxmpp.testing"] ----------------------------------------

_counter = itertools.count(1)


def allow_no_server() -> bool:
    """``FASTXMPP_ALLOW_NO_SERVER=1``: skip (instead of fail) server tests without Prosody."""
    return os.environ.get("FASTXMPP_ALLOW_NO_SERVER", "") not in ("", "0")


def unique_username(prefix: str = "user") -> str:
    """A username no other call in this process (or a concurrent one) returns."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{secrets.token_hex(3)}"


try:
    import pytest
except ImportError:  # pragma: no cover - the module works without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    def start_or_skip(server: ProsodyServer) -> ProsodyServer:
        """Start ``server`` for a test; without Prosody fail, or skip when
        ``FASTXMPP_ALLOW_NO_SERVER=1`` says a missing server is acceptable here."""
        try:
            return server.start()
        except ProsodyNotFound:
            if allow_no_server():
                pytest.skip("Prosody is not installed (FASTXMPP_ALLOW_NO_SERVER=1)")
            raise

    @pytest.fixture(scope="session")
    def prosody() -> Iterator[ProsodyServer]:
        """A started ProsodyServer shared by the session, with ``DEFAULT_ACCOUNTS``."""
        server = start_or_skip(ProsodyServer(accounts=DEFAULT_ACCOUNTS))
        try:
            yield server
        finally:
            server.stop()

    @pytest.fixture
    def prosody_account(prosody: ProsodyServer) -> Any:
        """A factory: ``prosody_account(prefix="user") -> Account``, a fresh account each call."""

        def make(prefix: str = "user", password: str | None = None) -> Account:
            username = unique_username(prefix)
            password = password or secrets.token_urlsafe(12)
            return Account(username, password, prosody.add_account(username, password))

        return make
