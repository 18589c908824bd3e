"""hotfolder's build identity: its release and a digest of its own code (`0.1.0+3f2a9c1b7d4e`).

The release alone said 0.1.0 for commits days apart, so a cluster's head and a node of
other code were told apart only when their config models differed. The digest covers every
`*.py` of the installed package (its path inside the package and its bytes; `__pycache__`
and hidden folders left out): any change to the code changes it, whatever the release says,
and the same files give the same digest on every machine. Read once, when first asked
(~2 MB in ~270 files: measured in DESIGN.md), then kept.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DIGITS = 12


def digest_of(package: Path) -> str:
    """The digest of a package's source files (DIGITS hex digits)."""
    found = []
    for folder, dirs, files in os.walk(package):  # links to folders are not followed
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        found += [Path(folder, f) for f in files if f.endswith(".py") and not f.startswith(".")]
    h = hashlib.sha256()
    for path in sorted(found, key=lambda p: p.relative_to(package).as_posix()):
        data = path.read_bytes()
        # name and length before the bytes: moving code from one file to the next changes it too
        h.update(f"{path.relative_to(package).as_posix()}\0{len(data)}\0".encode() + data)
    return h.hexdigest()[:DIGITS]


@functools.cache
def digest() -> str:
    """This hotfolder's digest; "unreadable" when a source file cannot be read (never at random)."""
    try:
        return digest_of(PACKAGE)
    except OSError:
        return "unreadable"


def identity() -> str:
    """The release and the digest, as a PEP 440 local version: `0.1.0+3f2a9c1b7d4e`."""
    from hotfolder import __version__

    return f"{__version__}{'.' if '+' in __version__ else '+'}{digest()}"


def commit() -> str:
    """The git commit of a checkout this package runs from (`61a075f4c2e1`, `…, modified`),
    or "" when installed (a wheel in site-packages) or git is not at hand. Runs git: for
    `--version` only, never at a start."""
    import subprocess

    if {"site-packages", "dist-packages"} & set(PACKAGE.parts):
        return ""  # a virtualenv inside a checkout: that checkout's commit is not this code's
    try:
        head = subprocess.run(["git", "-C", str(PACKAGE), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(PACKAGE), "status", "--porcelain", "--", "."],
                                 capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head}, modified" if changed else head
