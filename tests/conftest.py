"""The fixtures of every tier: a leak check on child processes, and a real daemon factory;
and each test marked with its tier, the folder it lives in (`pytest -m "unit or process"`).

The helpers they use live in tests/harness/ (`from tests.harness import ...`).
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Daemon
from tests.harness import daemon as harness_daemon
from tests.harness.cluster import Cluster
from tests.harness.procs import become_subreaper, descendants, is_ours, parent_of, reap_zombies
from tests.redis_server import RedisServer

become_subreaper()

TIERS = ("unit", "process", "integration", "system")


def pytest_configure(config: pytest.Config) -> None:
    """The daemon's bytecode, compiled once before any test (in the controller, before the
    xdist workers start). Where PYTHONDONTWRITEBYTECODE is set (this machine sets it) no
    import writes a .pyc, so each of the suite's ~300 `hotfolder run`s compiled the package
    again in its main process and again in its forkserver, and each `hotfolder status` its
    part: ~0.25 s CPU a daemon, ~0.06 s a command (of ~1 s and ~0.2 s; measured). The files
    are what `pip install` compiles too; a .pyc older than its source is compiled again, as
    at any import."""
    if hasattr(config, "workerinput"):  # an xdist worker: its controller did it
        return
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("hotfolder")  # the package the daemons import (PYTHONPATH or the install)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=2)  # nothing said: a read-only install is left as it is


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Marks a test whose body failed, for fixtures that say more at their teardown."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed_in_call = True  # type: ignore[attr-defined]


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
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if parent_of(pid) == os.getpid() and (b"forkserver" in cmd or b"resource_tracker" in cmd):
            mine.add(pid)
    return mine


@pytest.fixture(scope="session", autouse=True)
def children_tmpdir() -> Iterator[Path]:
    """The TMPDIR of every process the harness starts (daemons, cluster nodes, commands), one
    per test process, removed at its end: a daemon killed leaves its multiprocessing folder
    (pymp-*) there, not in /tmp (tests/harness/daemon.py, use_tmpdir). Short: under /tmp, not
    under a test's tmp_path (an AF_UNIX socket's path is made in it)."""
    made = Path(tempfile.mkdtemp(prefix="hotfolder-tests-"))
    harness_daemon.use_tmpdir(str(made))
    yield made
    harness_daemon.use_tmpdir(None)
    shutil.rmtree(made, ignore_errors=True)  # what killed daemons left


@pytest.fixture(autouse=True)
def pillow_pixel_limit_kept():
    """Pillow's decompression-bomb limit is global to a process, and `render()` sets it to the
    max_image_pixels it is given (a worker's is set once): a test rendering at 1,000 pixels
    left it there, and the tests its xdist worker ran next failed at Pillow's check (19 of
    them, in a run whose order another pytest on the machine had changed). Put back after each."""
    from PIL import Image

    kept = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = kept


@pytest.fixture(autouse=True)
def structlog_config_kept():
    """structlog's configuration is global to a process, and a command run in-process sets it
    (`log.setup`: a level filter of `warning`): a later test's `capture_logs` of an info event
    then captured nothing, in one order of the unit tier and not another. Put back after each."""
    import structlog

    kept = structlog.get_config()
    yield
    structlog.configure(**kept)


LOG_TAIL = 200  # lines of a failed test's daemon log printed with its report


@pytest.fixture(autouse=True)
def no_leaked_processes():
    """Fail any test that leaves a child process running (and clean it up)."""
    before = descendants(os.getpid())
    yield
    reap_zombies()
    deadline = time.monotonic() + 10
    leaked = set()
    while time.monotonic() < deadline:
        leaked = {p for p in descendants(os.getpid()) - before - _own_multiprocessing_servers()
                  if is_ours(p)}
        if not leaked:
            return
        time.sleep(0.1)
        reap_zombies()
    for pid in leaked:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pytest.fail(f"test leaked child processes: {sorted(leaked)}")


@pytest.fixture
def daemon_factory(tmp_path, request):
    made: list[Daemon] = []

    def make(**kwargs) -> Daemon:
        d = Daemon(tmp_path / f"d{len(made)}").write_config(**kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.running():
            d.kill()
    if getattr(request.node, "failed_in_call", False):  # a flake must say why (its tmp_path goes): the log's end
        for d in made:
            lines = d.log_text().splitlines() if d.log_path.exists() else []
            print(f"\n=== daemon {d.root}: the last {min(len(lines), LOG_TAIL)} of its {len(lines)} log lines")
            print("\n".join(lines[-LOG_TAIL:]))


@pytest.fixture
def redis_server(tmp_path):
    """A throwaway redis-server; CI sets HOTFOLDER_REQUIRE_REDIS=1, and there a missing one
    is a failure, not a skip."""
    if RedisServer.binary is None and not os.environ.get("HOTFOLDER_REQUIRE_REDIS"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def cluster_factory(tmp_path, redis_server, request):
    """Clusters (tests/harness/cluster.py) on one redis-server, every process stopped after."""
    pytest.importorskip("celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    made: list[Cluster] = []

    def make(**settings) -> Cluster:
        c = Cluster(tmp_path / f"c{len(made)}", redis_server, **settings)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop_all()
    if getattr(request.node, "failed_in_call", False):  # a flake must say why: every process's log
        for c in made:
            print(f"\n=== cluster {c.root}: the logs of its processes\n{c.logs()}")
    for c in made:  # the leak check fails the test on leaks; kill stragglers of the groups we made
        for proc in c.procs.values():
            for pid in descendants(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


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
