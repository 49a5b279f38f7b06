"""The ``fastxmpp`` command (also ``python -m fastxmpp``): everyday XMPP jobs from a shell.

    fastxmpp send --jid JID [--host H] [--port P] [--ca-file F] TO MESSAGE
    fastxmpp listen --jid JID [...]          print incoming stanzas until Ctrl-C
    fastxmpp roster --jid JID [...]          show the roster
    fastxmpp disco info|items --jid JID [...] ENTITY [--node NODE]
    fastxmpp version --jid JID [...] ENTITY  software version of an entity (XEP-0092)
    fastxmpp bench [--server] [--full]       measure this machine

The password comes from ``FASTXMPP_PASSWORD`` or a prompt, never from the command line (other
users can read a process's arguments). ``--jid`` may also come from ``FASTXMPP_JID``. Errors are
one line on stderr and a non-zero exit status: 1 for a failure, 2 for bad usage, 130 after
Ctrl-C where stopping is not the normal way to end.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import fastxmpp
from fastxmpp.errors import StanzaError, XMPPError

__all__ = [
    "Progress",
    "UsageError",
    "connect_from_args",
    "connection_arguments",
    "connection_from_args",
    "main",
]

CLIENT_NS = "jabber:client"
MESSAGE_TYPES = ("chat", "normal", "headline", "groupchat")


class UsageError(ValueError):
    """Bad usage found after argument parsing: no JID, no password (exit status 2)."""


# -- output helpers ---------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a terminal (nothing when ``stream`` is not a terminal).

    ``enabled`` forces it on or off.
    """

    def __init__(
        self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= 0.1 or done >= self.total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        width = 30
        filled = int(width * min(self.done, self.total) / self.total)
        rate = self.done / max(now - self._start, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:,.0f}/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _print(*parts: object) -> None:
    print(*parts, flush=True)


# -- connecting -------------------------------------------------------------------------------


def _password(jid: str) -> str:
    password = os.environ.get("FASTXMPP_PASSWORD")
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise UsageError("no password: set FASTXMPP_PASSWORD or run from a terminal for a prompt")
    return getpass.getpass(f"Password for {jid}: ")


def connection_from_args(args: argparse.Namespace, **im_options: Any) -> Any:
    """An unconnected :class:`fastxmpp.IMConnection` for the options of
    :func:`connection_arguments`, the password from ``FASTXMPP_PASSWORD`` or a prompt.

    Register handlers on it, then call ``connect()``: nothing that arrives in between is
    missed. ``im_options`` go to the connection (``roster=``, ``priority=``, ...).
    """
    if not args.jid:
        raise UsageError("give the account with --jid JID (or set FASTXMPP_JID)")
    password = _password(args.jid)
    return fastxmpp.IMConnection(
        args.jid,
        password,
        host=args.host,
        port=args.port,
        ca_file=args.ca_file,
        tls=args.tls,
        verify=not args.insecure,
        resource=args.resource,
        timeout=args.timeout,
        **im_options,
    )


def connect_from_args(args: argparse.Namespace, **im_options: Any) -> Any:
    """:func:`connection_from_args`, connected (returns once the session is ready)."""
    return connection_from_args(args, **im_options).connect()


def _stanza_line(stanza: Any) -> str:
    """One readable line for a message or presence stanza."""
    tag = stanza.tag.rpartition("}")[2]
    sender = stanza.get("from") or "(server)"
    if tag == "message":
        kind = stanza.get("type") or "normal"
        text = stanza.findtext(f"{{{CLIENT_NS}}}body")
        if kind == "error":
            return f"message error from {sender}: {_error_text(stanza)}"
        if text is None:
            payload = [child.tag for child in stanza]
            return f"message {kind} from {sender}: (no body; {', '.join(payload) or 'empty'})"
        return f"message {kind} from {sender}: {text}"
    if tag == "presence":
        kind = stanza.get("type") or "available"
        show = stanza.findtext(f"{{{CLIENT_NS}}}show")
        status = stanza.findtext(f"{{{CLIENT_NS}}}status")
        line = f"presence {kind} from {sender}"
        if show:
            line += f" ({show})"
        if status:
            line += f": {status}"
        return line
    return f"{tag} from {sender}"


def _error_text(stanza: Any) -> str:
    from fastxmpp.stream import parse_stanza_error

    error = parse_stanza_error(stanza, StanzaError)
    return f"{error.condition}" + (f" ({error.text})" if error.text else "")


def _tostring(stanza: Any) -> str:
    from fastxmpp.xml import tostring

    element = getattr(stanza, "stanza", stanza)  # a Message wraps its Element
    return tostring(element, default_namespace=CLIENT_NS).decode("utf-8")


# -- the commands -----------------------------------------------------------------------------


def cmd_send(args: argparse.Namespace) -> int:
    """Send a message (``--repeat N`` times); fail when the server bounces it."""
    if args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    bounced: list[str] = []
    conn = connect_from_args(args, roster=False, priority=None)
    try:
        conn.on("message", lambda stanza: bounced.append(_error_text(stanza)), type="error")
        with Progress(args.repeat, "sending", enabled=args.progress) as progress:
            start = time.perf_counter()
            for n in range(args.repeat):
                conn.send_message(args.to, args.message, type=args.type, subject=args.subject)
                if n % 256 == 0 or n + 1 == args.repeat:
                    progress.update(n + 1)
    finally:
        conn.close(timeout=args.timeout)  # the server's close comes after any bounce
    took = time.perf_counter() - start
    if bounced:
        raise XMPPError(f"the message to {args.to} was refused: {bounced[0]}")
    if args.repeat > 1:
        _print(f"sent {args.repeat} messages to {args.to} in {took:.2f} s")
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    """Print incoming messages (and presences) until Ctrl-C, ``--count`` or ``--for``."""
    box: queue.Queue[Any] = queue.Queue()
    conn = connect_from_args(args, roster=False, priority=args.priority)
    try:
        conn.on("message", box.put)
        if args.presence:
            conn.on("presence", box.put)
        conn.on("disconnected", lambda reason: box.put(_Ended(reason)))
        _print(f"listening as {conn.jid} (Ctrl-C to stop)")
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        seen = 0
        while args.count is None or seen < args.count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                break
            try:
                item = box.get(timeout=wait)
            except queue.Empty:
                break
            if isinstance(item, _Ended):
                if item.reason is None:
                    return 0
                raise XMPPError(f"disconnected: {item.reason}")
            _print(_tostring(item) if args.xml else _stanza_line(item))
            seen += 1
    except KeyboardInterrupt:
        return 0  # the normal way to stop listening
    finally:
        conn.close()
    return 0


class _Ended:
    def __init__(self, reason: BaseException | None) -> None:
        self.reason = reason


def cmd_roster(args: argparse.Namespace) -> int:
    """Show the account's roster: JID, name, subscription, groups."""
    conn = connect_from_args(args, roster=True, priority=None)
    try:
        contacts = sorted(conn.roster, key=lambda c: str(c.jid))
    finally:
        conn.close()
    if args.json:
        rows = [
            {
                "jid": str(c.jid),
                "name": c.name,
                "subscription": c.subscription,
                "ask": bool(c.ask),
                "groups": sorted(c.groups),
            }
            for c in contacts
        ]
        _print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not contacts:
        _print("the roster is empty")
        return 0
    table = [
        (
            str(c.jid),
            c.name or "",
            c.subscription + (" (asked)" if c.ask else ""),
            ", ".join(sorted(c.groups)),
        )
        for c in contacts
    ]
    _print_table(("JID", "NAME", "SUBSCRIPTION", "GROUPS"), table)
    return 0


def cmd_disco(args: argparse.Namespace) -> int:
    """Service discovery (XEP-0030): an entity's identities and features, or its items."""
    conn = connect_from_args(args, roster=False, priority=None)
    try:
        if args.what == "info":
            info = conn.disco.info(args.entity, node=args.node, timeout=args.timeout)
        else:
            items = conn.disco.items(args.entity, node=args.node, timeout=args.timeout)
    finally:
        conn.close()
    if args.what == "info":
        identities = [
            {"category": i.category, "type": i.type, "name": i.name} for i in info.identities
        ]
        if args.json:
            data = {"identities": identities, "features": sorted(info.features)}
            _print(json.dumps(data, indent=2, ensure_ascii=False))
            return 0
        for ident in identities:
            name = f" {ident['name']}" if ident["name"] else ""
            _print(f"identity: {ident['category']}/{ident['type']}{name}")
        for feature in sorted(info.features):
            _print(f"feature: {feature}")
        return 0
    if args.json:
        rows = [{"jid": str(i.jid), "node": i.node, "name": i.name} for i in items]
        _print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not items:
        _print(f"{args.entity} lists no items")
        return 0
    _print_table(("JID", "NODE", "NAME"), [(str(i.jid), i.node or "", i.name or "") for i in items])
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    """Software version (XEP-0092) of an entity."""
    conn = connect_from_args(args, roster=False, priority=None)
    try:
        version = conn.version.query(args.entity, timeout=args.timeout)
    finally:
        conn.close()
    if args.json:
        data = {"name": version.name, "version": version.version, "os": version.os}
        _print(json.dumps(data, ensure_ascii=False))
        return 0
    line = f"{version.name or '(no name)'} {version.version or '(no version)'}"
    _print(line + (f" on {version.os}" if version.os else ""))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure the parser and the serializer here (``--server``: also a local server's rate).

    ``--full`` runs the whole pytest-benchmark suite of a source checkout (``make bench``).
    """
    if args.full:
        return _bench_full(args.pytest_args)
    from fastxmpp import bench

    results = []
    for name, run in bench.quick_benchmarks(args.count):
        with Progress(args.count, f"{name:<24}", enabled=args.progress) as progress:
            results.append((name, run(progress.update)))
    if args.server:
        with Progress(args.count, f"{'local server round trip':<24}", enabled=args.progress) as p:
            results.append(
                ("local server round trip", bench.server_roundtrip(args.count, p.update))
            )
    impl = "compiled" if fastxmpp.EXTENSIONS else "pure Python"
    _print(f"fastxmpp {fastxmpp.__version__} ({impl}), {args.count:,} per run")
    _print_table(
        ("BENCHMARK", "PER SECOND", "µS EACH"),
        [(name, f"{rate:,.0f}", f"{1e6 / rate:.2f}") for name, rate in results],
    )
    return 0


def _bench_full(pytest_args: Sequence[str]) -> int:
    checkout = Path(fastxmpp.__file__).resolve().parent.parent
    suite = checkout / "benchmarks"
    if not suite.is_dir():
        raise UsageError(
            "--full runs the benchmark suite of a source checkout (benchmarks/ next to the"
            " package); this installation has none"
        )
    command = [sys.executable, "-m", "pytest", str(suite), "--benchmark-only"]
    command += ["--benchmark-group-by=group", "--benchmark-columns=median,ops,rounds"]
    return subprocess.call([*command, *pytest_args], cwd=checkout)


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        _print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- the parser -------------------------------------------------------------------------------


def _general_options() -> argparse.ArgumentParser:
    general = argparse.ArgumentParser(add_help=False)
    general.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv: the XML as well)"
    )
    progress = general.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", action="store_true", default=None, help="always show progress bars"
    )
    progress.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show progress bars"
    )
    return general


def connection_arguments() -> argparse.ArgumentParser:
    """The connection options of the command as an argparse parent parser.

    Scripts can take the same options: ``argparse.ArgumentParser(parents=[
    connection_arguments()])``, then :func:`connect_from_args`.
    """
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--jid",
        default=os.environ.get("FASTXMPP_JID"),
        help="the account (default: $FASTXMPP_JID); the password comes from"
        " $FASTXMPP_PASSWORD or a prompt",
    )
    group.add_argument("--host", help="connect to this host instead of asking DNS")
    group.add_argument("--port", type=_port, help="connect to this port")
    group.add_argument("--ca-file", help="trust this CA certificate (PEM) instead of the system's")
    group.add_argument(
        "--tls",
        choices=("required", "direct", "starttls", "disabled"),
        default="required",
        help="TLS mode (default: required)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do NOT check the server's certificate: anyone on the path can read and change"
        " everything, including the password",
    )
    group.add_argument("--resource", help="the resource to ask for")
    group.add_argument(
        "--timeout", type=_positive, default=30.0, help="seconds for connecting and for answers"
    )
    return common


def _checked(
    convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str, rule: str
) -> Callable[[str], Any]:
    """An argparse ``type=``: ``convert`` the text, then insist on ``ok(value)``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} {rule}")
        return value

    return parse


_port = _checked(int, lambda v: 0 < v < 65536, "a port number", "is out of range (1-65535)")
_positive = _checked(float, lambda v: v > 0, "a number", "must be positive")
_count = _checked(int, lambda v: v >= 1, "a whole number", "must be at least 1")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastxmpp`` command."""
    parser = argparse.ArgumentParser(
        prog="fastxmpp",
        description="Everyday XMPP jobs with the fastxmpp library.",
    )
    parser.add_argument("--version", action="version", version=f"fastxmpp {fastxmpp.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    general = _general_options()
    conn = connection_arguments()

    send = commands.add_parser("send", parents=[general, conn], help="send a message")
    send.add_argument("to", metavar="TO", help="the recipient's JID")
    send.add_argument("message", metavar="MESSAGE", help="the text to send")
    send.add_argument("--type", choices=MESSAGE_TYPES, default="chat", help="default: chat")
    send.add_argument("--subject", help="a subject line")
    send.add_argument("--repeat", type=_count, default=1, help="send it N times (a load test)")
    send.set_defaults(run=cmd_send)

    listen = commands.add_parser("listen", parents=[general, conn], help="print incoming stanzas")
    listen.add_argument("--count", type=_count, help="stop after N stanzas")
    listen.add_argument(
        "--for", dest="seconds", type=_positive, help="stop after this many seconds"
    )
    listen.add_argument("--presence", action="store_true", help="print presences too")
    listen.add_argument("--xml", action="store_true", help="print the raw XML")
    listen.add_argument(
        "--priority", type=int, default=0, help="presence priority announced (default: 0)"
    )
    listen.set_defaults(run=cmd_listen)

    roster = commands.add_parser("roster", parents=[general, conn], help="show the roster")
    roster.add_argument("--json", action="store_true", help="print JSON")
    roster.set_defaults(run=cmd_roster)

    disco = commands.add_parser(
        "disco", parents=[general, conn], help="service discovery (XEP-0030)"
    )
    disco.add_argument("what", choices=("info", "items"), help="info or items")
    disco.add_argument("entity", metavar="ENTITY", help="the JID to ask")
    disco.add_argument("--node", help="the node to ask about")
    disco.add_argument("--json", action="store_true", help="print JSON")
    disco.set_defaults(run=cmd_disco)

    version = commands.add_parser(
        "version", parents=[general, conn], help="software version of an entity (XEP-0092)"
    )
    version.add_argument("entity", metavar="ENTITY", help="the JID to ask")
    version.add_argument("--json", action="store_true", help="print JSON")
    version.set_defaults(run=cmd_version)

    bench = commands.add_parser(
        "bench", parents=[general], help="measure the parser, serializer and a local server"
    )
    bench.add_argument("--count", type=_count, default=50_000, help="items per benchmark")
    bench.add_argument(
        "--server", action="store_true", help="also a round trip through a local Prosody"
    )
    bench.add_argument(
        "--full",
        action="store_true",
        help="run the pytest-benchmark suite of a source checkout (make bench)",
    )
    bench.add_argument("pytest_args", nargs="*", help="extra pytest arguments for --full")
    bench.set_defaults(run=cmd_bench)
    return parser


def _setup_logging(verbose: int) -> None:
    import logging

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        logging.getLogger("fastxmpp.xml").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status (0 success, 1 failure, 2 usage, 130 Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.run(args))
    except UsageError as exc:
        parser.exit(2, f"fastxmpp: error: {exc}\n")
    except KeyboardInterrupt:
        sys.stderr.write("fastxmpp: interrupted\n")
        return 130
    except (XMPPError, OSError, ValueError) as exc:
        sys.stderr.write(f"fastxmpp: error: {_one_line(exc)}\n")
        return 1
    except Exception as exc:  # a bug: still one line, the traceback with -v
        if args.verbose:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"fastxmpp: internal error (run with -v for details): {_one_line(exc)}\n")
        return 1
    return 0  # pragma: no cover - parser.exit() does not return


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__module__ == "builtins" else text


def run() -> None:
    """The console-script entry point: exit with :func:`main`'s status, SIGPIPE-safe."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fastxmpp listen | head` ends quietly
    sys.exit(main())
