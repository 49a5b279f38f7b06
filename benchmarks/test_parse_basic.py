"""The receive-side benchmarks of ``test_parse.py`` on the plain mix the issue describes.

Same parsers, handler and checks, group ``parse-basic``: chat messages with a body and a chat
state, presences with a status and caps, empty IQ results (``corpus.generate(mix="basic")``),
fed in 4 KiB reads. The richer default corpus (receipts, avatars, disco#info and roster
results) is in group ``parse``.
"""

from __future__ import annotations

import corpus as corpus_mod
import pytest
from test_parse import (  # noqa: F401  (collected here again, with this module's corpus)
    test_fastxmpp_compiled,
    test_fastxmpp_compiled_no_handler,
    test_fastxmpp_pure,
    test_pyexpat_callbacks,
)

pytestmark = pytest.mark.benchmark(group="parse-basic")


@pytest.fixture(scope="module")
def corpus() -> corpus_mod.Corpus:
    return corpus_mod.get_corpus(mix="basic")
