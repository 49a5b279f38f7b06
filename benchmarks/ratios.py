"""The speed ratios the goals are stated in, with the contenders measured in turn, round by round.

pytest-benchmark runs one benchmark after the other, so two rows of its table can be minutes
apart; on a shared VM whose speed drifts by tens of percent from one minute to the next, the
ratio of two such rows moves with the drift (fastxmpp against slixmpp ranged from 12x to 37x
over one day). Here each round runs every contender of a group once, one after the other, on the
same input as the benchmarks (``test_parse.py``, ``test_serialize.py``: the same code), and a
ratio is taken within the round. It prints each contender's median rate, and each ratio's median
over the rounds with its range.

Run::

    python benchmarks/ratios.py              # 5 rounds
    python benchmarks/ratios.py --rounds 9 --group parse-basic

Needs the ``bench`` extra (slixmpp) and the compiled extension.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import corpus as corpus_mod  # noqa: E402 (benchmarks/ is on sys.path from here on)
import test_parse  # noqa: E402
import test_serialize  # noqa: E402


def _parse_group(loop, mix: str):
    """The parse contenders, {name: (setup, target)}, and the ratios to report: one round
    parses the whole corpus of ``mix`` ("basic": the goals' mix of typical stanzas; "rich")."""
    import fastxmpp.xml as fx

    if fx.StreamParserC is None:
        sys.exit("the compiled parser is not available: build the extension first")
    chunks = corpus_mod.get_corpus(mix=mix).chunks
    tally = corpus_mod.Tally
    contenders = {
        "fastxmpp StreamParserC + handler": (
            lambda: (fx.StreamParserC(), tally()),
            test_parse._fastxmpp_target(chunks, fx.Element),
        ),
        "fastxmpp StreamParserPy + handler": (
            lambda: (fx.StreamParserPy(), tally()),
            test_parse._fastxmpp_target(chunks, fx.Element),
        ),
        "pyexpat + counting callback": test_parse.pyexpat_round(chunks),
        "slixmpp XMLStream + handlers": test_parse.slixmpp_xmlstream_round(chunks, loop, []),
    }
    ratios = [
        ("fastxmpp StreamParserC + handler", "pyexpat + counting callback"),
        ("fastxmpp StreamParserC + handler", "slixmpp XMLStream + handlers"),
        ("fastxmpp StreamParserPy + handler", "pyexpat + counting callback"),
    ]
    return contenders, ratios


def _serialize_group(loop):
    """The serialize contenders and ratios: one round writes all the messages."""
    import slixmpp

    import fastxmpp.xml as fx

    specs = corpus_mod.message_specs(test_serialize.N_MESSAGES)
    rounds = {
        "fastxmpp message(chat_state=)": test_serialize.chat_state_keyword_round(fx, specs),
        "fastxmpp message() + append(E())": test_serialize.stanza_builder_round(fx, specs),
        "fastxmpp message_bytes (send_message)": test_serialize.message_bytes_round(specs),
        "xml.etree.ElementTree": test_serialize.etree_round(specs),
        "slixmpp Message + str()": test_serialize.slixmpp_round(slixmpp, specs, loop),
    }
    contenders = {name: (lambda: None, lambda _, fn=fn: fn()) for name, fn in rounds.items()}
    ratios = [
        ("fastxmpp message(chat_state=)", "xml.etree.ElementTree"),
        ("fastxmpp message(chat_state=)", "slixmpp Message + str()"),
    ]
    return contenders, ratios


GROUPS = {
    # group (named as in the benchmarks): (contenders and ratios, items per round, unit)
    "parse-basic": (
        lambda loop: _parse_group(loop, "basic"),
        lambda: corpus_mod.get_corpus(mix="basic").n_stanzas,
        "stanzas",
    ),
    "parse": (
        lambda loop: _parse_group(loop, "rich"),
        lambda: corpus_mod.get_corpus(mix="rich").n_stanzas,
        "stanzas",
    ),
    "serialize": (_serialize_group, lambda: test_serialize.N_MESSAGES, "messages"),
}


def measure(contenders: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per round of each contender. Each round runs every contender once; the order
    turns by one each round, so that none is always first."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for setup, target in contenders.values():  # warm-up: imports, caches, first allocations
        target(setup())
    for r in range(rounds):
        for k in range(len(names)):
            name = names[(k + r) % len(names)]
            setup, target = contenders[name]
            state = setup()
            gc.collect()
            start = time.perf_counter()
            target(state)
            times[name].append(time.perf_counter() - start)
    return times


def report(group: str, rounds: int) -> None:
    make, count, unit = GROUPS[group]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        contenders, ratios = make(loop)
        n = count()
        times = measure(contenders, rounds)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    print(f"\n{group}: {rounds} rounds, each contender once per round, {n:,} {unit} a round\n")
    print(f"| contender | {unit}/s (median round) |")
    print("|---|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {n / statistics.median(seconds):,.0f} |")
    print("\n| ratio (same round) | median | range |")
    print("|---|---:|---:|")
    for a, b in ratios:
        # a's speed over b's: b's time over a's, round by round
        per_round = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
        print(
            f"| {a} / {b} | {statistics.median(per_round):.2f}x "
            f"| {min(per_round):.2f}-{max(per_round):.2f}x |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--group", choices=sorted(GROUPS), action="append")
    args = ap.parse_args()
    for group in args.group or list(GROUPS):
        report(group, args.rounds)


if __name__ == "__main__":
    main()
