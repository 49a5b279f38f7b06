"""An echo bot (Net::XMPP2's ``talkbot``): answers every chat message with the same text.

    FASTXMPP_PASSWORD=secret python examples/echo_bot.py --jid bot@example.org

It accepts every subscription request (so people can add it to their roster and see it
online) and runs until Ctrl-C, --for seconds, or --limit answered messages.
"""

import argparse
import sys
import threading

import fastxmpp
from fastxmpp.cli import connection_arguments, connection_from_args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[connection_arguments()])
    parser.add_argument("--for", dest="seconds", type=float, help="stop after this long")
    parser.add_argument("--limit", type=int, help="stop after answering this many messages")
    args = parser.parse_args()

    done = threading.Event()
    answered = 0
    conn = connection_from_args(args, auto_approve=True, status="I repeat what you say")

    # Register handlers before connecting: messages stored while the bot was offline arrive
    # right after login. Handlers run on the callback thread, one at a time, in order.
    @conn.on("message", type="chat")
    def echo(msg: fastxmpp.Message) -> None:
        nonlocal answered
        if msg.body is None:  # a chat state or a receipt, not text
            return
        msg.reply(msg.body)
        answered += 1
        print(f"echoed {msg.body!r} to {msg.sender}", flush=True)
        if args.limit and answered >= args.limit:
            done.set()

    conn.on("disconnected", lambda reason: done.set())
    conn.connect()
    print(f"echo bot online as {conn.jid}", flush=True)
    try:
        done.wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
    if conn.disconnect_reason is not None:
        raise fastxmpp.Disconnected(f"lost the server: {conn.disconnect_reason}")


if __name__ == "__main__":
    try:
        main()
    except (fastxmpp.XMPPError, OSError, ValueError) as exc:
        sys.exit(f"echo_bot: {exc}")
