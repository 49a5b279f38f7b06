"""Stanza ids (fastxmpp._ids.new_id and the compiled fastxmpp._writer_c.new_id)."""

from __future__ import annotations

import re
import threading

import pytest
from conftest import missing_extension, no_extensions

import fastxmpp._ids
from fastxmpp import _impl


@pytest.fixture(params=["py", "c"])
def new_id(request):
    if request.param == "py":
        return fastxmpp._ids.new_id
    if no_extensions():
        missing_extension("fastxmpp._writer_c", "FASTXMPP_NO_EXTENSIONS=1")
    try:
        from fastxmpp._writer_c import new_id as compiled
    except ImportError as exc:
        missing_extension("fastxmpp._writer_c", f"ImportError: {exc}")
    return compiled


def test_the_form_is_a_prefix_and_a_count(new_id):
    first, second = new_id(), new_id()
    for value in (first, second):
        assert type(value) is str and re.fullmatch(r"[0-9a-f]{8}-[1-9][0-9]*", value), value
    prefix, _, n = first.partition("-")
    assert second == f"{prefix}-{int(n) + 1}"


def test_ids_are_unique_across_threads(new_id):
    seen: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        for _ in range(20000):
            out.append(new_id())

    threads = [threading.Thread(target=make, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for out in seen for value in out]
    assert len(set(every)) == len(every) == 80000


def test_the_two_implementations_never_share_a_prefix():
    if no_extensions():
        missing_extension("fastxmpp._writer_c", "FASTXMPP_NO_EXTENSIONS=1")
    from fastxmpp._writer_c import new_id as compiled

    assert compiled().split("-")[0] != fastxmpp._ids.new_id().split("-")[0]
    assert _impl.new_id is compiled


def test_consecutive_counts_through_digit_carries():
    """The compiled one writes the count's digits itself: 1000 in a row cross x99 -> x00."""
    if no_extensions():
        missing_extension("fastxmpp._writer_c", "FASTXMPP_NO_EXTENSIONS=1")
    from fastxmpp._writer_c import new_id as compiled

    values = [int(compiled().split("-")[1]) for _ in range(1000)]
    assert values == list(range(values[0], values[0] + 1000))
