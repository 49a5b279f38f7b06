"""Deterministic per-message cost of the send side: instructions (callgrind) per chat message
built and serialized.

The counterpart of ``callgrind_parse.py`` (see there for why instructions, and for the method):
for each configuration the script runs itself under ``valgrind --tool=callgrind`` on ``N1`` and
``N2`` messages of ``corpus.message_specs()`` and reports the difference per message, counting
only inside one call of ``functools.reduce`` around the loop. Configurations, each what a row of
``test_serialize.py`` does per message:

* ``chat_state``: ``tostring(message(to, body, id=..., chat_state="active"),
  default_namespace="jabber:client")``;
* ``plain``: the same without the chat state;
* ``append``: ``message(to, body, id=...)``, then ``append(E(chat-state tag))``, serialized;
* ``maker``: ``ElementMaker`` for the message, its body and the chat state, serialized;
* ``bytes``: ``message_bytes(to, body, "chat", id, "active")``, what ``send_message`` writes.

Run::

    python benchmarks/callgrind_serialize.py                 # compiled, all configurations
    python benchmarks/callgrind_serialize.py --impl py --config chat_state

Needs valgrind.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from callgrind_parse import (  # noqa: E402 (benchmarks/ is on sys.path)
    add_layouts_argument,
    count_instructions,
    per_item,
)
from corpus import NS_CHATSTATES, message_specs  # noqa: E402

CONFIGS = ("chat_state", "plain", "append", "maker", "bytes")


def _module(impl: str):
    if impl == "py":
        import fastxmpp._xmlcore as core

        return core, core.message_bytes
    import fastxmpp
    import fastxmpp.xml as fx

    if not fastxmpp.EXTENSIONS:
        sys.exit("the compiled extension is not available (not built, or disabled)")
    from fastxmpp import _writer_c

    return fx, _writer_c.message_bytes


def _round(impl: str, config: str):
    """A function that builds and serializes the messages of a list of specs."""
    fx, message_bytes = _module(impl)
    message, tostring, ns = fx.message, fx.tostring, "jabber:client"
    if config == "chat_state":
        return lambda specs: [
            tostring(message(s.to, s.body, id=s.id, chat_state="active"), default_namespace=ns)
            for s in specs
        ]
    if config == "plain":
        return lambda specs: [
            tostring(message(s.to, s.body, id=s.id), default_namespace=ns) for s in specs
        ]
    if config == "append":
        E, active = fx.E, f"{{{NS_CHATSTATES}}}active"

        def run(specs):
            out = []
            for s in specs:
                msg = message(s.to, s.body, id=s.id)
                msg.append(E(active))
                out.append(tostring(msg, default_namespace=ns))
            return out

        return run
    if config == "maker":
        C, CS = fx.ElementMaker(ns), fx.ElementMaker(NS_CHATSTATES)
        return lambda specs: [
            tostring(
                C.message(C.body(s.body), CS.active(), to=s.to, type="chat", id=s.id),
                default_namespace=ns,
            )
            for s in specs
        ]
    return lambda specs: [message_bytes(s.to, s.body, "chat", s.id, "active") for s in specs]


def _worker(n: int, impl: str, config: str) -> None:
    """Under valgrind: build and serialize ``n`` messages, counted inside functools.reduce."""
    specs = message_specs(n)
    run = _round(impl, config)
    run(specs[:2])  # imports done, names cached: none of it is counted
    gc.collect()
    gc.freeze()
    out = functools.reduce(lambda _, __: run(specs), (None,), None)
    if len(out) != n or not all(isinstance(x, bytes) and x.startswith(b"<message") for x in out):
        sys.exit("wrong output")


def _instructions(n: int, impl: str, config: str, layout: int = 0) -> int:
    # ``layout`` pads the environment, which moves where objects land: the writer's cache of
    # names is keyed on their addresses, and its collisions move the count by up to a few
    # hundred instructions (see --layouts)
    pad = {"FASTXMPP_CALLGRIND_LAYOUT": "x" * (64 * layout)}
    return count_instructions(__file__, [str(n), impl, config], pad)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impl", choices=("c", "py"), default="c")
    ap.add_argument("--n", type=int, nargs=2, default=(1000, 5000), metavar=("N1", "N2"))
    ap.add_argument("--config", choices=CONFIGS, action="append")
    add_layouts_argument(ap)
    args = ap.parse_args()
    n1, n2 = args.n
    if not 0 <= n1 < n2:
        ap.error("need 0 <= N1 < N2")
    print(f"impl={args.impl} N={n1},{n2} (per message: difference / {n2 - n1})")
    for config in args.config or CONFIGS:

        def count(k: int, config: str = config) -> float:
            return (
                _instructions(n2, args.impl, config, k) - _instructions(n1, args.impl, config, k)
            ) / (n2 - n1)

        print(f"{config:10}  " + per_item(count, args.layouts, "message"), flush=True)


if __name__ == "__main__":
    main()
