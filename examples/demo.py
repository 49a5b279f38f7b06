"""fastxmpp's main demo: two accounts on a throwaway local Prosody, talking to each other.

Starts Prosody on loopback (a temporary directory, a generated certificate, free ports), logs
alice and bob in over STARTTLS with certificate checks and SCRAM, then shows a subscription
(alice asks, bob's policy approves, the roster and presence follow), messages both ways, an IQ
round trip with a handler answering it, service discovery, and the message rate one client
reaches through the server. Everything is cleaned up at the end. Run it with ``make demo`` or
``python examples/demo.py [number-of-messages]``.
"""

from __future__ import annotations

import sys
import threading
import time

import fastxmpp
from fastxmpp.testing import ProsodyServer
from fastxmpp.xml import E, iq

VERSION = "jabber:iq:version"
BODY = "{jabber:client}body"


def main(count: int = 20_000) -> None:
    print(f"fastxmpp {fastxmpp.__version__}, compiled extension in use: {fastxmpp.EXTENSIONS}")
    with ProsodyServer(accounts={"alice": "alice-pw", "bob": "bob-pw"}) as server:
        print(f"Prosody started on 127.0.0.1:{server.c2s_port} ({server.startup_seconds:.1f} s)")
        options = {"host": server.host, "port": server.c2s_port, "ca_file": server.ca_file}

        # bob approves every subscription request (auto_approve); both send initial presence
        bob = fastxmpp.IMConnection(server.jid("bob"), "bob-pw", auto_approve=True, **options)
        mechanisms = []
        bob.on("authenticated", mechanisms.append)
        inbox: list[str] = []
        first = threading.Event()
        all_in = threading.Event()

        @bob.on("message", type="chat")
        def on_message(msg: fastxmpp.Message) -> None:
            inbox.append(msg.body or "")
            if len(inbox) == 1:
                first.set()
            if len(inbox) == count + 1:
                all_in.set()

        @bob.on("iq", type="get", namespace=VERSION)
        def version(request: fastxmpp.xml.Element) -> fastxmpp.xml.Element:
            return E(f"{{{VERSION}}}query", E(f"{{{VERSION}}}name", "demo-bot"))

        with fastxmpp.connect(server.jid("alice"), "alice-pw", **options) as alice, bob.connect():
            print(f"alice is {alice.jid}, bob is {bob.jid} (SASL {mechanisms[0]}, TLS verified)")

            with alice.events("subscribed", "presence_update", timeout=10) as events:
                alice.subscribe(bob.jid.bare)
                for name, args in events:  # wait until bob approved and alice sees him online
                    if name == "presence_update" and args[2].jid == bob.jid and args[2].available:
                        break
            contact = alice.roster.get(bob.jid.bare)
            assert contact is not None
            print(
                f"alice subscribed to bob: roster says {contact.subscription!r},"
                f" bob is {'online' if alice.presence_of(bob.jid.bare) else 'offline'}"
            )

            alice.send_message(bob.jid.bare, "Hello Bob!")
            first.wait(5)
            print(f"bob got: {inbox[0]!r}")
            reply = alice.messages(timeout=5)
            bob.send_message(alice.jid, "Hi Alice, loud and clear.")
            print(f"alice got: {next(reply).findtext(BODY)!r}")

            started = time.perf_counter()
            result = alice.request(iq("get", E(f"{{{VERSION}}}query"), to=bob.jid), timeout=5)
            elapsed = (time.perf_counter() - started) * 1000
            name = result.findtext(f"{{{VERSION}}}query/{{{VERSION}}}name")
            print(
                f"IQ round trip alice -> bob -> alice: bob's software is {name!r}"
                f" ({elapsed:.1f} ms)"
            )

            try:
                alice.request(iq("get", E("{urn:example:nothing}query"), to=bob.jid), timeout=5)
            except fastxmpp.IQError as exc:
                print(f"an IQ nobody handles is answered with an error: {exc.condition}")

            info = alice.disco.info(bob.jid)
            identity = info.identities[0]
            print(
                f"disco#info of bob: {identity.category}/{identity.type},"
                f" {len(info.features)} features (ping: {info.has_feature('urn:xmpp:ping')})"
            )

            cpu0, started = time.process_time(), time.perf_counter()
            for i in range(count):
                alice.send_message(bob.jid, f"message {i}")
            if not all_in.wait(120):
                raise SystemExit(f"only {len(inbox) - 1} of {count} messages arrived")
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            print(
                f"{count:,} messages alice -> Prosody -> bob in {wall:.2f} s: "
                f"{count / wall:,.0f} messages/s, {cpu / count * 1e6:.1f} µs of client CPU per"
                " message (sending and receiving, both in this process)"
            )
            assert inbox[1:] == [f"message {i}" for i in range(count)], "lost or reordered"
            print("every message arrived, in order")
    print("closed both connections and stopped Prosody")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
