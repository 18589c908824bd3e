"""The fixtures of every tier: a leak check on child processes, and a real daemon factory;
and each test marked with its tier, the folder it lives in (`pytest -m "not integration"`).

The helpers they use live in tests/harness.py (`from tests.harness import ...`).
"""
from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from tests.harness import Daemon, _become_subreaper, _descendants, _is_hotfolder, _reap_zombies

_become_subreaper()

TIERS = ("unit", "process", "integration", "system")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the tier's mark must be there by then
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.path).parent.name
        if tier in TIERS:
            item.add_marker(tier)


def _own_multiprocessing_servers() -> set[int]:
    """The forkserver and resource tracker that in-process pool tests start in this
    process: one each for the whole session, by design, not a leak. (A daemon's own
    are its children, not ours, and die with it.)"""
    mine = set()
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and (b"forkserver" in cmd or b"resource_tracker" in cmd):
            mine.add(pid)
    return mine


@pytest.fixture(autouse=True)
def no_leaked_processes():
    """Fail any test that leaves a child process running (and clean it up)."""
    before = _descendants(os.getpid())
    yield
    _reap_zombies()
    deadline = time.monotonic() + 10
    leaked = set()
    while time.monotonic() < deadline:
        leaked = {p for p in _descendants(os.getpid()) - before - _own_multiprocessing_servers()
                  if _is_hotfolder(p)}
        if not leaked:
            return
        time.sleep(0.1)
        _reap_zombies()
    for pid in leaked:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pytest.fail(f"test leaked child processes: {sorted(leaked)}")


@pytest.fixture
def daemon_factory(tmp_path):
    made: list[Daemon] = []

    def make(**kwargs) -> Daemon:
        d = Daemon(tmp_path / f"d{len(made)}", **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)
            for pid in _descendants(d.proc.pid):
                os.kill(pid, signal.SIGKILL)


CHECKOUT_CONFIG = """
state_dir: ../var/state
workers: 1
folders:
  - name: photos
    inbox: ../var/inbox
    output: ../var/output
    archive: ../var/archive
    failed: ../var/failed
    renditions:
      - {name: web, size: 64, format: jpeg}
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A folder laid out like a checkout, the current directory: ./config/hotfolder.yaml
    (folders in ./var), no $HOTFOLDER_CONFIG."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hotfolder.yaml").write_text(textwrap.dedent(CHECKOUT_CONFIG))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOTFOLDER_CONFIG", raising=False)
    return tmp_path
