"""A stanza-pushing XMPP peer in its own process, for the ``receive`` benchmarks.

Run as ``python benchmarks/_pushpeer.py N`` (the benchmarks start it with :func:`start_peer`):
it builds the plain-mix corpus of N stanzas (``corpus.generate(N, mix="basic")``), serializes
it once, starts a :class:`fastxmpp.testing.ScriptedServer` and prints ``PORT <port>`` on
stdout. For every client that connects, the script logs it in (plain text, SASL PLAIN, resource
binding: what :meth:`ClientLink.login` does), then waits for messages from the client: each
``<message><body>go</body></message>`` makes it send, with one ``sendall``, all N stanzas
followed by :data:`SENTINEL` (a message from :data:`SENTINEL_FROM`, so the client knows that
every stanza before it has been processed). The peer stops when its stdin closes.

Why a separate process: ``time.process_time()`` in the benchmark process then counts only the
client (its I/O and callback threads), not the peer pushing the bytes, and the peer does not
compete for the client's GIL.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DOMAIN = "capulet.lit"
SENTINEL_FROM = "sentinel@capulet.lit/end"
SENTINEL = (
    f"<message from='{SENTINEL_FROM}' to='juliet@capulet.lit/balcony' type='chat' id='end'>"
    "<body>end</body></message>"
).encode()


def start_peer(n: int) -> tuple[subprocess.Popen[bytes], int]:
    """Start the peer for ``n`` stanzas per burst; returns the process and its port."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the push peer did not start (said {line!r})")
    return proc, int(line.split()[1])


def stop_peer(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.close()
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(n: int) -> None:
    import corpus as corpus_mod

    from fastxmpp.testing import ScriptedServer
    from fastxmpp.xml import Element, StreamClose

    c = corpus_mod.generate(n, mix="basic")
    burst = c.data[len(c.header) :] + SENTINEL

    def script(link) -> None:
        link.login()
        while True:
            item = link.next()
            if item is None or isinstance(item, StreamClose):
                link.send(b"</stream:stream>")
                return
            if (
                isinstance(item, Element)
                and item.tag == "{jabber:client}message"
                and item.findtext("{jabber:client}body") == "go"
            ):
                link.send(burst)

    with ScriptedServer(script, domain=DOMAIN) as server:
        sys.stdout.write(f"PORT {server.port}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)
        for error in server.errors:
            print(f"push peer: {error!r}", file=sys.stderr)


if __name__ == "__main__":
    main(int(sys.argv[1]))
