"""Send one message and exit (Net::XMPP2's ``sendmsg`` sample).

    FASTXMPP_PASSWORD=secret python examples/send_message.py --jid alice@example.org \
        bob@example.org "Hello Bob"

The password comes from FASTXMPP_PASSWORD or a prompt. Add --host/--port/--ca-file to reach a
server DNS does not know (the local test server, for example).
"""

import argparse
import sys

import fastxmpp
from fastxmpp.cli import connect_from_args, connection_arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[connection_arguments()])
    parser.add_argument("to", help="the recipient's JID")
    parser.add_argument("text", help="the message")
    args = parser.parse_args()

    # roster=False and priority=None: a one-shot sender needs neither roster nor presence
    with connect_from_args(args, roster=False, priority=None) as conn:
        message_id = conn.send_message(args.to, args.text)
        print(f"sent {message_id} from {conn.jid} to {args.to}")
    # leaving the block closes the stream politely: the server has the message by then


if __name__ == "__main__":
    try:
        main()
    except (fastxmpp.XMPPError, OSError, ValueError) as exc:
        sys.exit(f"send_message: {exc}")
