"""A simple client: connect, send a message, print incoming ones (Net::XMPP2's first sample).

    FASTXMPP_PASSWORD=secret python examples/simple_client.py --jid alice@example.org \
        --to bob@example.org --text "Hi" --for 60

It prints each incoming message and presence as it arrives, from the blocking ``events()``
iterator, until Ctrl-C or --for seconds have passed.
"""

import argparse
import sys
import time

import fastxmpp
from fastxmpp.cli import connect_from_args, connection_arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[connection_arguments()])
    parser.add_argument("--to", help="send a message to this JID first")
    parser.add_argument("--text", default="Hello from fastxmpp", help="the message to send")
    parser.add_argument("--for", dest="seconds", type=float, help="stop after this long")
    args = parser.parse_args()

    with connect_from_args(args) as conn:  # roster fetched, initial presence sent
        print(f"connected as {conn.jid}; {len(conn.roster)} contact(s) in the roster", flush=True)
        # events() collects from this moment on, so nothing that arrives later is missed
        events = conn.events("message", "presence_update", timeout=1.0)
        if args.to:
            conn.send_message(args.to, args.text)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                try:
                    name, payload = next(events)
                except fastxmpp.Timeout:  # a quiet second: check the clock again
                    continue
                except StopIteration:  # the connection ended
                    break
                if name == "message" and payload[0].body is not None:
                    msg = payload[0]
                    print(f"{msg.sender} ({msg.type}): {msg.body}", flush=True)
                elif name == "presence_update":
                    contact, _old, new = payload
                    state = (new.show or "online") if new.available else "offline"
                    print(f"{contact.jid} is {state}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    try:
        main()
    except (fastxmpp.XMPPError, OSError, ValueError) as exc:
        sys.exit(f"simple_client: {exc}")
