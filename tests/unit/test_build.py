"""The build identity (hotfolder/build.py): a digest of the package's own source files, so
two builds of one release (0.1.0 for commits days apart) are told apart."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotfolder import build


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the installed package's sources, as another machine would have them."""
    copy = tmp_path / "code" / "hotfolder"
    shutil.copytree(build.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_same_files_give_the_same_digest_wherever_they_lie(package):
    assert build.digest_of(package) == build.digest_of(build.PACKAGE) == build.digest()
    assert re.fullmatch(r"[0-9a-f]{12}", build.digest())
    os.utime(package / "jobs.py", (0, 0))  # a copy's times and its place are not the code
    assert build.digest_of(package) == build.digest()


@pytest.mark.parametrize("change", ["a byte", "a file added", "a file renamed", "a file removed", "code moved"])
def test_any_change_to_a_source_file_changes_it(package, change):
    before = build.digest_of(package)
    if change == "a byte":
        text = (package / "engine" / "resample.py").read_text()
        (package / "engine" / "resample.py").write_text(text.replace("def ", "def  ", 1))
    elif change == "a file added":
        (package / "engine" / "extra.py").write_text("X = 1\n")
    elif change == "a file renamed":
        os.rename(package / "likeness.py", package / "likeness2.py")
    elif change == "a file removed":
        os.unlink(package / "likeness.py")
    else:  # the same bytes in all, the end of one file at the start of the next
        a, b = (package / "errors.py"), (package / "filekinds.py")
        tail = a.read_text()[-40:]
        a.write_text(a.read_text()[:-40])
        b.write_text(tail + b.read_text())
    assert build.digest_of(package) != before, change


def test_caches_and_what_is_no_python_source_are_left_out(package):
    before = build.digest_of(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "jobs.cpython-312.pyc").write_bytes(b"\0" * 64)
    (package / "__pycache__" / "stray.py").write_text("X = 2\n")  # not imported from there
    (package / "engine" / "__pycache__").mkdir()
    (package / "engine" / "__pycache__" / "decode.cpython-312.pyc").write_bytes(b"\1" * 64)
    (package / ".hidden").mkdir()
    (package / ".hidden" / "x.py").write_text("X = 3\n")
    (package / "notes.txt").write_text("not code\n")
    assert build.digest_of(package) == before


def test_identity_is_the_release_and_the_digest_as_a_local_version():
    from hotfolder import __version__

    assert build.identity() == f"{__version__}+{build.digest()}" or (
        "+" in __version__ and build.identity() == f"{__version__}.{build.digest()}")


def _version(env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "hotfolder", "--version"], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **(env or {})}, cwd=cwd, check=True)
    return done.stdout.strip()


def test_version_says_the_build_and_a_copy_of_other_code_says_another(package, tmp_path):
    from hotfolder import __version__

    said = _version(cwd=tmp_path)
    assert re.fullmatch(rf"hotfolder {re.escape(__version__)}\+{build.digest()}( \(git [0-9a-f]{{12}}(, modified)?\))?",
                        said), said
    (package / "engine" / "resample.py").write_text((package / "engine" / "resample.py").read_text() + "# a fix\n")
    other = _version({"PYTHONPATH": str(package.parent)}, cwd=tmp_path)
    # the same release, other code; a copy outside any checkout has no commit
    assert re.fullmatch(rf"hotfolder {re.escape(__version__)}\+{build.digest_of(package)}", other), other
    assert build.digest_of(package) != build.digest()
