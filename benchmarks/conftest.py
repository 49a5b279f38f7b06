"""Shared fixtures of the fastxmpp benchmark suite (pytest-benchmark).

Run everything::

    python -m pytest benchmarks --benchmark-only --benchmark-columns=mean,ops,rounds \
        --benchmark-group-by=group

then ``python benchmarks/report.py`` (or ``--benchmark-json=FILE`` + ``report.py FILE``) for a
markdown table. Knobs (environment variables):

* ``FASTXMPP_BENCH_STANZAS`` - stanzas per parse round (default 50,000, ~16 MB);
* ``FASTXMPP_BENCH_MESSAGES`` - messages per serialize round (default 10,000);
* ``FASTXMPP_BENCH_ROUNDS`` - force this number of measured rounds on every parse benchmark
  (by default 10 for the fast parsers, 3 for slixmpp, 2 for aioxmpp, whose rounds take seconds).

Parse benchmarks use ``benchmark.pedantic`` with a ``setup`` that builds a fresh parser / stream
object per round (not timed), so ``--benchmark-min-rounds`` and friends do not apply to them; the
serialize benchmarks use plain ``benchmark(...)`` and honour all pytest-benchmark options.
One benchmark *round* processes a whole corpus; ``extra_info["stanzas_per_round"]`` (parse) or
``extra_info["messages_per_round"]`` (serialize) gives the per-round count, so
throughput = count / median round time; it is also stored as ``extra_info["stanzas_per_second"]`` /
``extra_info["messages_per_second"]``.
"""

from __future__ import annotations

import logging
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # make `import corpus` work whatever pytest's import mode is
    sys.path.insert(0, HERE)

import corpus as corpus_mod  # noqa: E402

# Debug logging would make slixmpp/aioxmpp format every stanza; measure them as in production.
for _name in ("slixmpp", "aioxmpp"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def bench_rounds(default: int) -> int:
    value = os.environ.get("FASTXMPP_BENCH_ROUNDS")
    return max(1, int(value)) if value else default


@pytest.fixture(scope="session")
def corpus() -> corpus_mod.Corpus:
    return corpus_mod.get_corpus()


def _record_rate(benchmark, count_key: str, rate_key: str) -> None:
    stats = getattr(benchmark, "stats", None)  # None with --benchmark-disable
    if stats is not None and stats.stats.median:
        benchmark.extra_info[rate_key] = round(benchmark.extra_info[count_key] / stats.stats.median)


@pytest.fixture
def run_parse(benchmark, corpus):
    """``run_parse(label, setup, target, rounds=..., warmup=...)`` -> the last round's result.

    ``setup()`` returns the per-round state (a fresh parser ...), built outside the timing;
    ``target(state)`` feeds ``corpus.chunks`` (4 KiB reads) and returns a :class:`Tally`.
    """

    def run(label, setup, target, *, rounds=10, warmup=1):
        benchmark.extra_info.update(
            label=label,
            stanzas_per_round=corpus.n_stanzas,
            bytes_per_round=corpus.n_bytes,
            chunk_size=corpus_mod.CHUNK_SIZE,
        )
        result = benchmark.pedantic(
            target,
            setup=lambda: ((setup(),), {}),
            rounds=bench_rounds(rounds),
            warmup_rounds=warmup,
        )
        _record_rate(benchmark, "stanzas_per_round", "stanzas_per_second")
        return result

    return run


@pytest.fixture
def run_serialize(benchmark):
    """``run_serialize(label, fn, n)``: ``fn()`` builds and serializes ``n`` messages."""

    def run(label, fn, n):
        benchmark.extra_info.update(label=label, messages_per_round=n)
        result = benchmark(fn)
        _record_rate(benchmark, "messages_per_round", "messages_per_second")
        return result

    return run
