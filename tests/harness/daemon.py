"""A real daemon: `hotfolder run` as a subprocess in its own folder, with its log file; and
the other commands (`hotfolder status`, `check-config`, ...) run once. Shared by the tests
(conftest.daemon_factory) and the benchmark (bench/run.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.harness.folders import ends, files_under, settled
from tests.harness.logs import LogFile
from tests.harness.procs import descendants, workers_of
from tests.harness.waiting import wait_for

# The environment systemd gives the process that runs the tests: a daemon of ours must
# not answer the runner's service manager (a test that wants it sets it again).
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")

# TMPDIR of the processes started here, in a test run (conftest's children_tmpdir: a short
# folder of the run's own, removed at its end). A daemon killed (the crash tests' SIGKILL,
# daemon_factory's kill of one a test left running) cannot remove its multiprocessing temp
# folder (pymp-*: its forkserver's socket), and /tmp held ~300 of them. Not the test's
# tmp_path: the socket's path must fit AF_UNIX's 108 bytes, and tmp_path takes ~80 of them
# (the forkserver failed to start: "AF_UNIX path too long"). None: inherited (the benchmark).
_children_tmpdir: str | None = None


def use_tmpdir(path: str | None) -> None:
    """Start the processes launched from now on with TMPDIR=`path` (None: the caller's own)."""
    global _children_tmpdir
    _children_tmpdir = path


RENDITIONS = """
    - name: web
      operation: fit
      size: 320x320
      format: jpeg
      quality: 85
    - name: thumb
      operation: fill
      size: 64x64
      format: webp
"""


class DaemonFailed(AssertionError):
    """The daemon exited, was not ready in time, or did not stop in time (the log's tail said)."""


def hotfolder(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess:
    """`hotfolder ARGS...` once, to its end: its exit code, stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "hotfolder", *args], capture_output=True, text=True,
                          cwd=cwd, env=_environ(env), timeout=timeout)


def _given(text: str, defaults: dict[str, str]) -> list[str]:
    """The default lines whose keys `text` (YAML keys at its own top level) does not give."""
    keys = {line.split(":", 1)[0] for line in textwrap.dedent(text).splitlines()
            if line and not line[0].isspace() and ":" in line}
    return [line for key, line in defaults.items() if key not in keys]


def launch(args: Sequence[str], log: Path, cwd: Path, *, env: Mapping[str, str] | None = None,
           launcher: Sequence[str] = (), stdout: int | None = None, new_session: bool = False,
           preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """Start `[LAUNCHER...] hotfolder ARGS...`, its output appended to `log` (or, with
    stdout=subprocess.PIPE, to a pipe the caller reads), stdin from /dev/null."""
    with open(log, "ab") as out:
        return subprocess.Popen([*launcher, sys.executable, "-m", "hotfolder", *args],
                                stdout=out if stdout is None else stdout, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=_environ(env),
                                start_new_session=new_session, preexec_fn=preexec_fn)


def _environ(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
    if _children_tmpdir is not None:  # a test's own TMPDIR (`env`) comes after
        env["TMPDIR"] = _children_tmpdir
    env.update(extra or {})
    return env


class Daemon:
    """`hotfolder run` on one folder's places under ROOT/var, its config at ROOT/hotfolder.yaml
    and its log at ROOT/daemon.log (every start appends to it)."""

    def __init__(self, root: Path):
        self.root = root
        self.var = root / "var"
        self.config = root / "hotfolder.yaml"
        self.inbox = self.var / "inbox"
        self.output = self.var / "output"
        self.archive = self.var / "archive"
        self.failed = self.var / "failed"
        self.processing = self.var / "processing"
        self.log_path = root / "daemon.log"
        self.log = LogFile(self.log_path)
        self.proc: subprocess.Popen | None = None
        self.started = 0.0  # time.perf_counter() at the last start
        self._readies = 0  # "ready" lines in the log before the last start (earlier runs')
        root.mkdir(parents=True, exist_ok=True)

    def write_config(self, extra: str = "", renditions: str | None = None, workers: int = 2,
                     folder_extra: str = "", on_duplicate: str | None = "process") -> Daemon:
        """The tests' config: one folder, `test`, quick to see files (quiet_period 0.2 s),
        two renditions (web 320 px JPEG, thumb 64 px WebP) unless `renditions` says;
        `extra` adds top-level keys, `folder_extra` the folder's. `on_duplicate`: the tests of
        other features (and the benchmark) drop the same bytes under many names and expect
        each rendered, so duplicates are rendered again (`process`); the duplicate tests pass
        None (the product's default, `skip`)."""
        # A key of `extra` or `folder_extra` replaces the default's line: a key written twice
        # in one mapping is a config error.
        top = _given(extra, {"workers": f"workers: {workers}", "state_dir": "state_dir: var/state",
                             "drain_timeout": "drain_timeout: 20"})
        folder = _given(folder_extra, {"quiet_period": "quiet_period: 0.2", "rescan_interval": "rescan_interval: 2",
                                       "on_duplicate": f"on_duplicate: {on_duplicate}" if on_duplicate else ""})
        lines = [
            *top,
            textwrap.dedent(extra),
            "folders:",
            "  - name: test",
            "    inbox: var/inbox",
            "    output: var/output",
            "    archive: var/archive",
            "    failed: var/failed",
            "    processing: var/processing",
            *(f"    {line}" for line in folder if line),
            textwrap.indent(textwrap.dedent(folder_extra), "    "),
            "    renditions:",
            textwrap.indent(textwrap.dedent(renditions or RENDITIONS), "      "),
        ]
        self.config.write_text("\n".join(lines) + "\n")
        return self

    # --- the process ------------------------------------------------------------------

    def start(self, *args: str, wait_ready: bool = True, with_config: bool = True,
              env: Mapping[str, str] | None = None, launcher: Sequence[str] = (), stdout: int | None = None,
              preexec_fn: Callable[[], None] | None = None, new_session: bool = False,
              timeout: float = 30) -> Daemon:
        """`hotfolder run --config CONFIG ARGS...` (without --config if not `with_config`:
        it finds its own); `env`: variables to set; `launcher`: a command that runs it (e.g.
        systemd-socket-activate); `preexec_fn`: run in the child first (e.g. a lower
        RLIMIT_NOFILE); `new_session`: in a process group of its own (whose id is its pid).
        Waits for this start's own "ready" unless told not to."""
        self._readies = len(self.events("ready"))
        run = ["run", *(["--config", str(self.config)] if with_config else []), *args]
        self.started = time.perf_counter()
        self.proc = launch(run, self.log_path, self.root, env=env, launcher=launcher, stdout=stdout,
                           preexec_fn=preexec_fn, new_session=new_session)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from the last start to its own "ready" line (the log keeps earlier runs')."""
        try:
            wait_for(lambda: len(self.events("ready")) > self._readies or not self.running(), timeout,
                     interval=0.02, what="the daemon to be ready")
        except AssertionError:
            raise DaemonFailed(f"not ready after {timeout:g} s:\n{self.log.tail()}") from None
        self.check_alive()
        return time.perf_counter() - self.started

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise DaemonFailed(f"`hotfolder run` exited with {self.proc.returncode}:\n{self.log.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` and wait for the exit code; past the timeout, kill the daemon and all
        its processes and fail."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise DaemonFailed(f"the daemon did not stop within {timeout:g} s:\n{self.log.tail(40)}") from None

    def kill(self) -> None:
        """SIGKILL to the daemon and every process under it (its workers would outlive it)."""
        if self.proc is None:
            return
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(5)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc) -> None:
        """Stopped, whatever happened in the block (and killed if it will not stop)."""
        if self.running():
            try:
                self.stop(timeout=60)
            except DaemonFailed:
                pass  # killed, with its tree

    def descendants(self) -> list[int]:
        return sorted(descendants(self.proc.pid)) if self.proc is not None else []

    def move_output(self) -> Path:
        """The output folder copied to another disk with `cp -a` (its files' times and modes
        kept), the old one removed and the config pointed at the copy (the daemon stopped):
        the name records, keyed by the outputs' paths, no longer name their owners."""
        moved = self.var / "disk2" / "output"
        moved.parent.mkdir()
        subprocess.run(["cp", "-a", str(self.output), str(moved)], check=True, timeout=30)
        shutil.rmtree(self.output)
        self.config.write_text(self.config.read_text().replace("output: var/output", "output: var/disk2/output"))
        self.output = moved
        return moved

    # --- what it said and did -------------------------------------------------------------

    def log_text(self) -> str:
        return self.log.text()

    def events(self, name: str | None = None) -> list[dict]:
        return self.log.events(name)

    def event(self, name: str) -> dict | None:
        found = self.events(name)
        return found[-1] if found else None

    def status(self) -> subprocess.CompletedProcess:
        return hotfolder("status", "--json", "--config", str(self.config))

    def status_json(self) -> dict:
        return json.loads(self.status().stdout)

    def outputs(self) -> list[str]:
        return files_under(self.output)

    def ends(self) -> int:
        return ends(self)

    def settled(self, n: int) -> bool:
        """Exactly n originals reached an end (archive or failed) and none is being rendered."""
        return settled(self, n)


def http_url(d: Daemon, timeout: float = 20) -> str:
    """Where the daemon's http listener answers (it logs the port it got for listen: ...:0)."""
    return wait_for(lambda: d.event("http_listening"), timeout, what="the http listener")["url"]


def worker_pids(d: Daemon) -> list[int]:
    """The daemon's worker processes (not its forkserver or resource tracker)."""
    return workers_of(d.proc.pid) if d.proc is not None else []
