"""The speed ratios the goals are stated in, with the contenders measured in turn, round by round.

pytest-benchmark runs one benchmark after the other, so two rows of its table can be minutes
apart; on a shared VM whose speed drifts by tens of percent from one minute to the next, the
ratio of two such rows moves with the drift (fastxmpp against slixmpp ranged from 12x to 37x
over one day). Here each round runs every contender of a group once, one after the other, on the
same input as the benchmarks (``test_parse.py``, ``test_serialize.py``: the same code), and a
ratio is taken within the round. The table gives each contender's median rate and each ratio's
median over the rounds, with its range.

Run::

    python benchmarks/ratios.py              # 5 rounds
    python benchmarks/ratios.py --rounds 9 --group parse

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


def _parse_contenders(loop):
    """[(name, setup, target)] of the parse group: one round parses the whole corpus."""
    import fastxmpp.xml as fx

    if fx.StreamParserC is None:
        sys.exit("the compiled parser is not available: build the extension first")
    chunks = corpus_mod.get_corpus().chunks
    fastxmpp = (
        lambda: (fx.StreamParserC(), corpus_mod.Tally()),
        test_parse._fastxmpp_target(chunks, fx.Element),
    )
    return [
        ("fastxmpp StreamParserC + handler", *fastxmpp),
        ("pyexpat + counting callback", *test_parse.pyexpat_round(chunks)),
        ("slixmpp XMLStream + handlers", *test_parse.slixmpp_xmlstream_round(chunks, loop, [])),
    ]


def _serialize_contenders(loop):
    """[(name, setup, target)] of the serialize group: one round writes all the messages."""
    import slixmpp

    import fastxmpp.xml as fx

    specs = corpus_mod.message_specs(test_serialize.N_MESSAGES)
    rounds = [
        ("fastxmpp message() + chat state", test_serialize.stanza_builder_round(fx, specs)),
        ("xml.etree.ElementTree", test_serialize.etree_round(specs)),
        ("slixmpp Message + str()", test_serialize.slixmpp_round(slixmpp, specs, loop)),
    ]
    return [(name, lambda: None, lambda _state, fn=fn: fn()) for name, fn in rounds]


GROUPS = {
    # group: (contenders, items per round, unit)
    "parse": (_parse_contenders, lambda: corpus_mod.get_corpus().n_stanzas, "stanzas"),
    "serialize": (_serialize_contenders, lambda: test_serialize.N_MESSAGES, "messages"),
}


def measure(contenders, rounds: int) -> list[list[float]]:
    """Seconds per round: ``times[i][r]`` for contender i in round r. Each round runs every
    contender once; the order turns by one each round, so that none is always first."""
    times: list[list[float]] = [[] for _ in contenders]
    for _, setup, target in contenders:  # warm-up: imports, caches, the first allocations
        target(setup())
    for r in range(rounds):
        for k in range(len(contenders)):
            i = (k + r) % len(contenders)
            _, setup, target = contenders[i]
            state = setup()
            gc.collect()
            start = time.perf_counter()
            target(state)
            times[i].append(time.perf_counter() - start)
    return times


def report(group: str, rounds: int) -> None:
    make, count, unit = GROUPS[group]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        contenders = make(loop)
        n = count()
        times = measure(contenders, rounds)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    print(f"\n{group}: {rounds} rounds, each contender once per round, {n:,} {unit} a round\n")
    print(f"| contender | {unit}/s (median) | fastxmpp is (median, range) |")
    print("|---|---:|---:|")
    first = times[0]
    for (name, _, _), mine in zip(contenders, times, strict=True):
        rate = n / statistics.median(mine)
        if mine is first:
            print(f"| {name} | {rate:,.0f} | |")
            continue
        ratios = [theirs / ours for ours, theirs in zip(first, mine, strict=True)]
        print(
            f"| {name} | {rate:,.0f} | {statistics.median(ratios):.1f}x "
            f"({min(ratios):.1f}-{max(ratios):.1f}x) |"
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
