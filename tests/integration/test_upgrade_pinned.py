"""A daemon started from a symlinked install keeps its own code when the link moves.

systemd/install.sh installs each release into its own venv and switches the symlink
/opt/hotfolder/venv to it. Python keeps the unresolved path in sys.path and in a
package's __path__, so a daemon started through the link would follow it: a forkserver
started again, or a lazy import, loaded the new release's modules into the old one
(ImportError: the file being rendered failed; the forkserver's workers died, exit 3).
Here the package is a copy of the source in a directory reached through a symlink on
PYTHONPATH (two copies: 0.2 s; two venvs: 24 s, pip alone, before the
dependencies: `python3 -m venv`, 12 s each on this 2-core machine under load); the
release the link moves to raises ImportError from every module.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.harness import REPO, wait_for
from tests.harness.procs import parent_of, workers_of

NEW_RELEASE = "the release the link moved to was imported"


def _copy_package(dst: Path) -> Path:
    shutil.copytree(REPO / "daemon" / "hotfolder", dst / "hotfolder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _switch(link: Path, target: Path) -> None:
    """As install.sh does: a new symlink renamed over the old one (atomic)."""
    tmp = link.with_name(link.name + ".new")
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _drop(d, name: str) -> None:
    inbox = d.root / "var" / "inbox"
    Image.new("RGB", (400, 300), (len(name) * 9 % 256, 90, 40)).save(inbox / f".{name}.part", format="PNG")
    os.rename(inbox / f".{name}.part", inbox / name)


def _wait_output(d, stem: str) -> None:
    wait_for(lambda: (d.root / "var" / "output" / f"{stem}_web.jpg").exists() or not d.running(), 30,
             what=f"{stem}'s rendition")
    d.check_alive()
    assert (d.root / "var" / "output" / f"{stem}_web.jpg").exists(), d.log.tail()


def test_a_daemon_keeps_its_release_when_the_install_link_moves(daemon_factory, tmp_path):
    old = _copy_package(tmp_path / "releases" / "1")
    new = _copy_package(tmp_path / "releases" / "2")
    for module in (new / "hotfolder").rglob("*.py"):
        module.write_text(f"raise ImportError({NEW_RELEASE!r} + ': ' + __name__)\n")
    current = tmp_path / "current"
    current.symlink_to(old)

    d = daemon_factory(workers=2)
    d.start(env={"PYTHONPATH": str(current), "PYTHONDONTWRITEBYTECODE": "1"})
    _drop(d, "before.png")
    _wait_output(d, "before")

    _switch(current, new)
    # a worker killed: replaced by the forkserver, which has the old release loaded
    workers = wait_for(lambda: workers_of(d.proc.pid) if len(workers_of(d.proc.pid)) == 2 else None, 30,
                       what="two workers")
    forkserver = parent_of(workers[0])
    os.kill(workers[0], signal.SIGKILL)
    _drop(d, "after_worker.png")
    _wait_output(d, "after_worker")
    # the forkserver killed: started again, a new interpreter, which imports what
    # sys.path (the main process's) names: the old release's real directory
    assert forkserver is not None
    os.kill(forkserver, signal.SIGKILL)
    for pid in workers_of(d.proc.pid):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(workers_of(d.proc.pid)) == 2 or not d.running(), 30, what="the workers replaced")
    _drop(d, "after_forkserver.png")
    _wait_output(d, "after_forkserver")
    assert NEW_RELEASE not in d.log_text(), d.log.tail()
    assert d.stop() == 0, d.log.tail()


def test_a_process_started_through_a_linked_venv_resolves_it(tmp_path):
    """sys.executable (what the forkserver is started with) and sys.path name the venv the
    link pointed to at the start, not the link: `venv/bin/python -m hotfolder` as a deploy
    tool's `current/` link would run it."""
    venv = Path(sys.prefix)
    assert venv != Path(sys.base_prefix), "run the tests from a venv"
    link = tmp_path / "venv"
    link.symlink_to(venv)
    code = ("import sys, hotfolder, multiprocessing.spawn as spawn; "
            "print(sys.executable); print(spawn.get_executable().decode()); print('\\n'.join(sys.path))")
    r = subprocess.run([str(link / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    executable, forkserver_exe, *path = r.stdout.splitlines()
    assert executable == forkserver_exe == str(Path(os.path.realpath(venv / "bin")) / Path(sys.executable).name)
    assert not [p for p in path if p.startswith(str(link))], path
    assert any(p.startswith(os.path.realpath(venv)) for p in path), path
