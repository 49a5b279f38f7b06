"""Fixtures shared by the XML-layer tests.

``parser_cls`` runs a test against every stream-parser implementation (``py``: the pure-Python
``StreamParserPy``; ``c``: the compiled ``StreamParserC``), ``xmlcore`` against every
Element/builder/serializer module (``fastxmpp._xmlcore`` and ``fastxmpp._xmlcore_c``).

A missing compiled implementation is skipped, except when extensions are required: the
environment variable ``CI`` is set (non-empty) or ``FASTXMPP_REQUIRE_EXTENSIONS=1``; then it FAILS,
so that a broken build cannot pass CI silently. ``FASTXMPP_NO_EXTENSIONS=1`` (pure-Python run)
always wins: the compiled implementations are then skipped, never required.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:  # "import helpers" must work whatever pytest's import mode
    sys.path.insert(0, _TESTS_DIR)

from helpers import dump, dumps, et_items  # noqa: E402,F401  (re-exported for convenience)

pytest_plugins = ["fastxmpp.testing"]  # the throwaway Prosody: `prosody`, `prosody_account`


def no_extensions() -> bool:
    return os.environ.get("FASTXMPP_NO_EXTENSIONS", "") not in ("", "0")


def extensions_required() -> bool:
    if no_extensions():
        return False
    return bool(os.environ.get("CI")) or os.environ.get("FASTXMPP_REQUIRE_EXTENSIONS") == "1"


def missing_extension(what: str, why: str = "") -> None:
    """Skip, or fail when the compiled implementations are required."""
    detail = f" ({why})" if why else ""
    if extensions_required():
        pytest.fail(
            f"{what} is not available{detail}, but compiled extensions are required here "
            "(CI is set or FASTXMPP_REQUIRE_EXTENSIONS=1); build them with "
            "'pip install -e . --no-build-isolation' or set FASTXMPP_NO_EXTENSIONS=1",
            pytrace=False,
        )
    pytest.skip(f"{what} is not available{detail}")


def _parser_c():
    import fastxmpp.xml

    cls = fastxmpp.xml.StreamParserC
    if cls is None:
        why = "FASTXMPP_NO_EXTENSIONS=1" if no_extensions() else "extension not built"
        missing_extension("fastxmpp.xml.StreamParserC", why)
    return cls


@pytest.fixture(scope="session", params=["py", "c"])
def parser_cls(request):
    """Each available StreamParser implementation."""
    if request.param == "py":
        import fastxmpp.xml

        return fastxmpp.xml.StreamParserPy
    return _parser_c()


@pytest.fixture(scope="session")
def parser_pair():
    """(StreamParserPy, StreamParserC), for tests that compare the two implementations."""
    import fastxmpp.xml

    return fastxmpp.xml.StreamParserPy, _parser_c()


@pytest.fixture(scope="session", params=["core_py", "core_c", "xml"])
def xmlcore(request):
    """Each available Element/builder/serializer implementation, as a module-like namespace.

    ``core_py``: fastxmpp._xmlcore; ``core_c``: its compiled twin fastxmpp._xmlcore_c; ``xml``:
    the public fastxmpp.xml (the active Element with the active serializer, which may be a
    separate compiled writer).
    """
    if request.param == "core_py":
        module = importlib.import_module("fastxmpp._xmlcore")
    elif request.param == "xml":
        module = importlib.import_module("fastxmpp.xml")
    else:
        if no_extensions():
            missing_extension("fastxmpp._xmlcore_c", "FASTXMPP_NO_EXTENSIONS=1")
        try:
            module = importlib.import_module("fastxmpp._xmlcore_c")
        except ImportError as exc:
            missing_extension("fastxmpp._xmlcore_c", f"ImportError: {exc}")
    return types.SimpleNamespace(
        name=request.param,
        Element=module.Element,
        E=module.E,
        ElementMaker=module.ElementMaker,
        tostring=module.tostring,
        message=module.message,
        presence=module.presence,
        iq=module.iq,
    )


@pytest.fixture(scope="session")
def stream_error():
    from fastxmpp import StreamError

    return StreamError
