"""Scan the multi-user chat rooms of some servers (Net::XMPP2's room lister, in one script).

    FASTXMPP_PASSWORD=secret python examples/muc_scanner.py --jid alice@example.org \
        example.org example.net

Service discovery (XEP-0030) does all of it: the items of each server; the info of each item,
to find the conference services (identity conference/text); the items of each service (its
rooms); the info (name, occupant count) and items (occupants, where the room lists them) of
each room. Every request goes through a throttle: at most --parallel requests in flight and
--rate requests per second to any one service, so a scan never floods a server.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import fastxmpp
from fastxmpp.cli import connect_from_args, connection_arguments

DATA_FORMS = "jabber:x:data"


class Throttle:
    """Paces requests per target domain: ``parallel`` in flight, ``rate`` starts a second."""

    def __init__(self, rate: float, parallel: int) -> None:
        self.interval = 1.0 / rate
        self.parallel = parallel
        self.started = 0
        self.peak = 0
        self._lock = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._next_start: dict[str, float] = {}

    def start(self, domain: str, request: Callable[[], Future]) -> Future:
        """Wait until ``domain`` may get another request, then start it; return its Future."""
        with self._lock:
            while True:
                wait = self._next_start.get(domain, 0.0) - time.monotonic()
                if self._in_flight.get(domain, 0) < self.parallel and wait <= 0:
                    break
                self._lock.wait(max(wait, 0.005) if wait > 0 else None)
            self._in_flight[domain] = self._in_flight.get(domain, 0) + 1
            self._next_start[domain] = time.monotonic() + self.interval
            self.started += 1
            self.peak = max(self.peak, self._in_flight[domain])
        future = request()
        future.add_done_callback(lambda _: self._finished(domain))
        return future

    def _finished(self, domain: str) -> None:
        with self._lock:
            self._in_flight[domain] -= 1
            self._lock.notify_all()


def outcome(future: Future) -> tuple[object, str | None]:
    """The result of a query, or None and a short reason when it failed."""
    try:
        return future.result(), None
    except fastxmpp.StanzaError as exc:
        return None, exc.condition
    except fastxmpp.XMPPError as exc:
        return None, str(exc)


def occupant_count(info) -> int | None:
    """The occupant count a room announces in its extended info (XEP-0045 muc#roominfo)."""
    for form in info.forms:
        for field in form.iter(f"{{{DATA_FORMS}}}field"):
            if field.get("var") == "muc#roominfo_occupants":
                value = field.findtext(f"{{{DATA_FORMS}}}value")
                return int(value) if value and value.isdigit() else None
    return None


def scan(conn, servers: list[str], throttle: Throttle, timeout: float) -> list[str]:
    """Discover the rooms of ``servers``; return the lines of the summary."""

    def ask(query: Callable[..., Future], jid, node=None) -> Future:
        """Start a disco query through the throttle of the target's domain."""
        domain = fastxmpp.JID(str(jid)).domain
        return throttle.start(domain, lambda: query(jid, node=node, timeout=timeout))

    def info(jid, node=None) -> Future:
        return ask(conn.disco.info_async, jid, node)

    def items(jid, node=None) -> Future:
        return ask(conn.disco.items_async, jid, node)

    lines: list[str] = []
    # 1. every server's items, and the server itself: the candidates for conference services
    candidates: dict[str, Future] = {}
    for server in servers:
        found, problem = outcome(items(server))
        if problem:
            lines.append(f"{server}: no answer to disco#items ({problem})")
        candidates[server] = info(server)
        for item in found or []:
            if item.node is None and str(item.jid) not in candidates:
                candidates[str(item.jid)] = info(item.jid)
    # 2. the candidates whose identity says conference/text are MUC services
    services: list[tuple[str, str]] = []
    for jid, future in candidates.items():
        result, _ = outcome(future)
        for identity in result.identities_of("conference", "text") if result else []:
            services.append((jid, identity.name or jid))
            break
    # 3. the rooms of each service, 4. the info and items of each room (all in flight at once)
    total_rooms = total_occupants = 0
    for service, service_name in services:
        rooms, problem = outcome(items(service))
        if problem:
            lines.append(f"{service} ({service_name}): cannot list rooms ({problem})")
            continue
        queries = [(room, info(room.jid), items(room.jid)) for room in rooms or []]
        lines.append(f"{service} ({service_name}): {len(queries)} room(s)")
        total_rooms += len(queries)
        for room, info_future, items_future in queries:
            room_info, problem = outcome(info_future)
            occupants, _ = outcome(items_future)
            nicks = sorted(o.jid.resource for o in occupants or [] if o.jid.resource)
            count = occupant_count(room_info) if room_info else None
            count = len(nicks) if count is None else count
            total_occupants += count
            title = room.name or room.jid.local
            line = f"  {room.jid}  {title!r}: {count} occupant(s)"
            if nicks:
                line += f": {', '.join(nicks)}"
            if problem:
                line += f" (no room info: {problem})"
            lines.append(line)
    lines.append(
        f"{len(servers)} server(s), {len(services)} conference service(s), {total_rooms}"
        f" room(s), {total_occupants} occupant(s)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[connection_arguments()])
    parser.add_argument("servers", nargs="+", help="the servers to scan")
    parser.add_argument("--rate", type=float, default=10.0, help="requests/s per service")
    parser.add_argument("--parallel", type=int, default=4, help="requests in flight per service")
    args = parser.parse_args()
    if args.rate <= 0 or args.parallel < 1:
        parser.error("--rate must be positive and --parallel at least 1")

    throttle = Throttle(args.rate, args.parallel)
    started = time.monotonic()
    with connect_from_args(args, roster=False, priority=None) as conn:
        for line in scan(conn, args.servers, throttle, args.timeout):
            print(line, flush=True)
    print(
        f"{throttle.started} requests in {time.monotonic() - started:.1f} s (at most"
        f" {throttle.peak} in flight to one service, {args.rate:g}/s each)"
    )


if __name__ == "__main__":
    try:
        main()
    except (fastxmpp.XMPPError, OSError, ValueError) as exc:
        sys.exit(f"muc_scanner: {exc}")
