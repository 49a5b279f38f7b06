"""Deterministic per-stanza cost of the stream parsers: instructions (callgrind) and memory.

Wall-clock timings of a shared or small VM vary by tens of percent from run to run; the number
of instructions executed does not, so this is the figure to compare two versions of the parser
by. For each configuration the script runs itself under ``valgrind --tool=callgrind`` twice,
on ``N1`` and ``N2`` stanzas of the same corpus (``corpus.generate(mix=...)``, written to a file
beforehand), fed in 4 KiB reads to a new parser, counting only the parse (inside a call of
``functools.reduce``: start-up and imports are left out), and reports

    (instructions(N2) - instructions(N1)) / (N2 - N1)

so that what a parse costs once (a new parser, the first names in its caches) cancels out. The
cyclic GC stays on (fewer container objects per stanza means fewer collections), but what was
allocated before the parse is frozen (``gc.freeze()``), so that its cost does not depend on
start-up. Configurations:

* ``elements``: ``parser.feed(chunk)`` only; the stanzas are counted and dropped (the benchmarks'
  "elements only counted" row);
* ``handler``: every stanza goes to the benchmarks' handler (``get("from")``, and for messages
  ``findtext("{jabber:client}body")``), then is dropped.

``--memory`` adds what the stanzas of a parse hold while all are kept alive, per stanza (the
same difference): the bytes and blocks tracemalloc sees (Python's allocators; memory a C
extension takes with ``malloc`` is not seen), and the bytes glibc's ``malloc`` has handed out
in a run with ``PYTHONMALLOC=malloc`` (everything, each block with malloc's own overhead; 0
where ``mallinfo2`` is missing). Run::

    python benchmarks/callgrind_parse.py                  # compiled parser, basic mix
    python benchmarks/callgrind_parse.py --parser py --memory
    python benchmarks/callgrind_parse.py --mix rich --n 2000 6000

Needs valgrind for the instruction counts (``--no-callgrind`` skips them).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import os
import pickle
import re
import subprocess
import sys
import tempfile
import tracemalloc
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from corpus import Tally  # noqa: E402 (benchmarks/ is on sys.path from here on)
from test_parse import make_element_handler  # noqa: E402 (the handler the benchmarks use)


def _parser_class(which: str):
    import fastxmpp.xml as fx

    if which == "c":
        if fx.StreamParserC is None:
            sys.exit("the compiled parser is not available (extension not built?)")
        return fx.StreamParserC, fx.Element
    return fx.StreamParserPy, fx.Element


def _run(chunks: list[bytes], which: str, config: str, keep: list | None = None) -> Tally:
    cls, element = _parser_class(which)
    parser = cls()
    tally = Tally()
    feed = parser.feed
    if config == "elements":
        for chunk in chunks:
            items = feed(chunk)
            tally.other += len(items)
            if keep is not None:
                keep.extend(items)
        return tally
    handle = make_element_handler(tally)
    for chunk in chunks:
        for item in feed(chunk):
            if isinstance(item, element):  # as benchmarks/test_parse.py tests it
                handle(item)
                if keep is not None:
                    keep.append(item)
            else:
                tally.other += 1
    return tally


def _worker(path: str, which: str, config: str) -> None:
    """Under valgrind: parse the chunks stored in ``path``, counted inside functools.reduce."""
    with open(path, "rb") as f:
        chunks, n = pickle.load(f)
    _run(chunks[:2], which, config)  # imports done, code compiled: none of it is counted
    # the objects made so far are left out of the collector's generations, so that what its runs
    # cost depends on what the parse makes, not on what start-up left behind
    gc.collect()
    gc.freeze()
    tally = functools.reduce(lambda _, __: _run(chunks, which, config), (None,), Tally())
    got = tally.other - 1 if config == "elements" else tally.stanzas
    if got != n:
        sys.exit(f"saw {got} stanzas, expected {n}")


def _write_corpus(directory: str, n: int, mix: str) -> str:
    import corpus as corpus_mod

    c = corpus_mod.generate(n, mix=mix)
    path = os.path.join(directory, f"corpus-{mix}-{n}.pickle")
    with open(path, "wb") as f:
        pickle.dump((c.chunks, n), f)
    return path


def count_instructions(script: str, args: list[str], env: dict[str, str] | None = None) -> int:
    """Instructions executed inside the one call of functools.reduce that ``script`` (run with
    ``--worker`` and ``args``) makes around what it measures, under callgrind. Start-up,
    imports and compiling .pyc files vary from run to run and are left out."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--collect-atstart=no",
        "--toggle-collect=functools_reduce",
        sys.executable,
        os.path.abspath(script),
        "--worker",
        *args,
    ]
    env = dict(os.environ, PYTHONHASHSEED="0", **(env or {}))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"valgrind run failed:\n{done.stderr[-2000:]}")
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        sys.exit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def add_layouts_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--layouts",
        type=int,
        default=1,
        metavar="K",
        help="count in K memory layouts (environment sizes) and report the median and range",
    )


def per_item(count: Callable[[int], float], layouts: int, what: str) -> str:
    """``instructions/<what> <median>`` over ``count(k)`` for the layouts k, with the range
    when there are several."""
    counts = sorted(count(k) for k in range(layouts))
    line = f"instructions/{what} {counts[len(counts) // 2]:9.1f}"
    if len(counts) > 1:
        line += f" ({counts[0]:.1f}..{counts[-1]:.1f})"
    return line


def _instructions(path: str, which: str, config: str, layout: int = 0) -> int:
    # ``layout`` pads the environment, which moves the stack and hence where objects land: a
    # cache keyed on addresses (the parser's name cache) may then collide differently
    pad = {"FASTXMPP_CALLGRIND_LAYOUT": "x" * (64 * layout)}
    return count_instructions(__file__, [path, which, config], pad)


def _mallinfo_bytes() -> int | None:
    """glibc's count of bytes in use (heap + mmap'd blocks), or None elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def _memory_worker(path: str, which: str, config: str) -> None:
    """Print what the stanzas of one parse hold while kept alive: with PYTHONMALLOC=malloc,
    the bytes glibc has handed out (everything, C-level malloc included); else the bytes and
    blocks tracemalloc sees (Python's allocators)."""
    with open(path, "rb") as f:
        chunks, _ = pickle.load(f)
    _run(chunks[:2], which, config)  # imports, caches of names
    gc.collect()
    gc.disable()
    keep: list = [None] * 1_000_000  # no growth of ``keep`` during the run
    del keep[:]
    if os.environ.get("PYTHONMALLOC") == "malloc":
        heap0 = _mallinfo_bytes()
        _run(chunks, which, config, keep)
        heap1 = _mallinfo_bytes()
        print(0 if heap0 is None or heap1 is None else heap1 - heap0, 0)
        return
    tracemalloc.start()
    _run(chunks, which, config, keep)
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    traces = [t for t in snapshot.traces if t.size]
    print(sum(t.size for t in traces), len(traces))


def _memory(path: str, which: str, config: str) -> tuple[int, int, int]:
    """(traced bytes, traced blocks, heap bytes) the stanzas of one parse of ``path`` hold."""
    result = []
    for malloc in (False, True):
        env = dict(os.environ, PYTHONHASHSEED="0")
        env.pop("PYTHONMALLOC", None)
        if malloc:
            env["PYTHONMALLOC"] = "malloc"
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-worker", path, which, config]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            sys.exit(f"memory run failed:\n{done.stderr[-2000:]}")
        result.append([int(x) for x in done.stdout.split()])
    return result[0][0], result[0][1], result[1][0]


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-worker":
        _memory_worker(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parser", choices=("c", "py"), default="c")
    ap.add_argument("--mix", choices=("basic", "rich"), default="basic")
    ap.add_argument("--n", type=int, nargs=2, default=(1000, 5000), metavar=("N1", "N2"))
    ap.add_argument("--config", choices=("elements", "handler"), action="append")
    ap.add_argument("--memory", action="store_true", help="also bytes allocated per stanza")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    add_layouts_argument(ap)
    args = ap.parse_args()
    configs = args.config or ["elements", "handler"]
    n1, n2 = args.n
    if not 0 <= n1 < n2:
        ap.error("need 0 <= N1 < N2")
    with tempfile.TemporaryDirectory() as tmp:
        path1 = _write_corpus(tmp, n1, args.mix)
        path2 = _write_corpus(tmp, n2, args.mix)
        d = n2 - n1
        print(f"parser={args.parser} mix={args.mix} N={n1},{n2} (per stanza: difference / {d})")
        for config in configs:
            line = f"{config:9}"
            if not args.no_callgrind:

                def count(k: int, config: str = config) -> float:
                    return (
                        _instructions(path2, args.parser, config, k)
                        - _instructions(path1, args.parser, config, k)
                    ) / d

                line += "  " + per_item(count, args.layouts, "stanza")
            if args.memory:
                t1, b1, h1 = _memory(path1, args.parser, config)
                t2, b2, h2 = _memory(path2, args.parser, config)
                line += f"  traced bytes/stanza {(t2 - t1) / d:6.1f}"
                line += f" in {(b2 - b1) / d:5.2f} blocks"
                if h2:
                    line += f"  heap bytes/stanza {(h2 - h1) / d:6.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
