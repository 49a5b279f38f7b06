"""Fetch the roster and print it (Net::XMPP2's ``retrieve_roster`` sample).

    FASTXMPP_PASSWORD=secret python examples/roster.py --jid alice@example.org

connect() returns once the roster is in; ``conn.roster`` holds Contact records.
"""

import argparse
import sys

import fastxmpp
from fastxmpp.cli import connect_from_args, connection_arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[connection_arguments()])
    args = parser.parse_args()

    with connect_from_args(args, priority=None) as conn:  # the roster is fetched by default
        contacts = sorted(conn.roster, key=lambda contact: str(contact.jid))
        print(f"{conn.jid.bare} has {len(contacts)} contact(s)")
        for contact in contacts:
            groups = ", ".join(sorted(contact.groups)) or "no group"
            pending = " (subscription requested)" if contact.ask else ""
            name = f" '{contact.name}'" if contact.name else ""
            print(f"  {contact.jid}{name}: {contact.subscription}{pending} [{groups}]")


if __name__ == "__main__":
    try:
        main()
    except (fastxmpp.XMPPError, OSError, ValueError) as exc:
        sys.exit(f"roster: {exc}")
