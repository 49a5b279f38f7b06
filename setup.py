"""Build script: the package, plus the compiled hot path when a C compiler is at hand.

``FASTXMPP_NO_EXTENSIONS=1`` (or no Cython, or a failing compiler) installs the pure-Python
package, which behaves identically; ``fastxmpp.EXTENSIONS`` tells at run time which one is in use.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = os.environ.get("FASTXMPP_NO_EXTENSIONS", "") not in ("", "0")


class optional_build_ext(build_ext):
    """Build the extensions if possible; otherwise say so loudly and install pure Python."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, no Python headers, ...
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        print(
            "*" * 72 + f"\nfastxmpp: could not build the C extensions ({exc});\n"
            "installing the pure-Python implementation (same behaviour, slower).\n" + "*" * 72,
            file=sys.stderr,
        )


def extensions():
    if NO_EXTENSIONS:
        print("fastxmpp: FASTXMPP_NO_EXTENSIONS is set: pure-Python install", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("fastxmpp: Cython is not installed: pure-Python install", file=sys.stderr)
        return []
    modules = [
        # the Element/serializer module is plain Python, compiled as is (see _xmlcore_c.pxd)
        Extension("fastxmpp._xmlcore_c", ["fastxmpp/_xmlcore.py"]),
        # the same for stanza dispatch (see _dispatch_c.pxd)
        Extension("fastxmpp._dispatch_c", ["fastxmpp/_dispatch.py"]),
        Extension(
            "fastxmpp._parser_c",
            ["ext/_parser_c.pyx"],
            include_dirs=["ext"],
            depends=["ext/_nametab.h", "ext/_skip.h", "ext/_bytes.h"],
        ),
        Extension(
            "fastxmpp._writer_c",
            ["ext/_writer_c.pyx"],
            include_dirs=["ext"],
            depends=["ext/_escape.h", "ext/_bytes.h"],
        ),
    ]
    return cythonize(
        modules,
        include_path=["."],
        build_dir="build/cython",
        compiler_directives={"language_level": "3", "embedsignature": True},
        quiet=True,
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": optional_build_ext})
