"""The source distribution carries what building the extension from it needs."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_sdist_has_the_extension_sources(tmp_path):
    """Without the Cython sources and headers, an sdist would install the pure-Python package
    on every machine (setup.py falls back quietly but for a warning)."""
    env = dict(os.environ, FASTXMPP_NO_EXTENSIONS="1")  # no compiling: only the file list
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)]
        + ["sdist", "--dist-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    (archive,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    needed = [
        *(f"ext/{p.name}" for p in sorted((ROOT / "ext").iterdir()) if p.suffix in (".pyx", ".h")),
        *(f"fastxmpp/{p.name}" for p in sorted((ROOT / "fastxmpp").glob("*.pxd"))),
        "fastxmpp/_xmlcore.py",
        "fastxmpp/_dispatch.py",
        "fastxmpp/py.typed",
        "setup.py",
        "pyproject.toml",
    ]
    assert len(needed) > 8  # the globs found the sources
    assert [name for name in needed if name not in names] == []


def test_the_pure_package_works_without_cython():
    """Without Cython installed, _xmlcore takes its decorators from _cython_shim: building,
    reading and writing stanzas works as with it."""
    code = (
        "import sys\n"
        "sys.modules['cython'] = None  # (import cython raises ImportError)\n"
        "import fastxmpp._xmlcore as core\n"
        "from fastxmpp import _cython_shim\n"
        "assert core.cython is _cython_shim and not core.cython.compiled\n"
        "m = core.message('a@b', 'hi', id='1', chat_state='active')\n"
        "assert m.get('to') == 'a@b' and m.findtext('{jabber:client}body') == 'hi'\n"
        "print(core.tostring(m, default_namespace='jabber:client').decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        '<message to="a@b" type="chat" id="1"><body>hi</body>'
        '<active xmlns="http://jabber.org/protocol/chatstates"/></message>'
    )
