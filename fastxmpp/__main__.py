"""``python -m fastxmpp``: the same as the ``fastxmpp`` command."""

from fastxmpp.cli import run

if __name__ == "__main__":
    run()
