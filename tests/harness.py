"""What the tests share: waiting with a deadline, reading the JSON logs, the process
tree, and a real daemon (`hotfolder run` as a subprocess) on folders under a temp dir.

Imported as `from tests.harness import ...`; conftest.py holds only the fixtures.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Orphans of our children (workers of a killed daemon) are re-parented to us,
    so the leak check below still sees them."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)



def _reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _descendants(pid: int) -> set[int]:
    """Every live descendant of pid, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _is_hotfolder(pid: int) -> bool:
    """Ours to account for: the daemon and its workers, and the browser tests' chromium
    and chromedriver."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except OSError:
        return False
    return b"hotfolder" in cmd or b"multiprocessing" in cmd or b"chrom" in cmd


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def log_events(text: str, name: str | None = None) -> list[dict]:
    """The JSON log records in `text` (other lines skipped), those of event `name` if given."""
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (name is None or record.get("event") == name):
            out.append(record)
    return out


def http_url(d, timeout: float = 20) -> str:
    """Where the daemon's http listener answers (it logs the port it got for listen: ...:0)."""
    return wait_for(lambda: d.event("http_listening"), timeout, what="the http listener")["url"]


def files_under(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


class Daemon:
    """`hotfolder run` as a real subprocess on folders under a temp dir."""

    def __init__(self, root: Path, extra: str = "", renditions: str | None = None, workers: int = 2,
                 folder_extra: str = ""):
        self.root = root
        self.var = root / "var"
        self.config = root / "hotfolder.yaml"
        self.inbox = self.var / "inbox"
        self.output = self.var / "output"
        self.archive = self.var / "archive"
        self.failed = self.var / "failed"
        self.processing = self.var / "processing"
        self.log_path = root / "daemon.log"
        self.proc: subprocess.Popen | None = None
        renditions = renditions or """
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
        root.mkdir(parents=True, exist_ok=True)
        lines = [
            f"workers: {workers}",
            "state_dir: var/state",
            "drain_timeout: 20",
            textwrap.dedent(extra),
            "folders:",
            "  - name: test",
            "    inbox: var/inbox",
            "    output: var/output",
            "    archive: var/archive",
            "    failed: var/failed",
            "    processing: var/processing",
            "    quiet_period: 0.2",
            "    rescan_interval: 2",
            textwrap.indent(textwrap.dedent(folder_extra), "    "),
            "    renditions:",
            textwrap.indent(textwrap.dedent(renditions), "      "),
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, wait_ready: bool = True, preexec_fn=None) -> "Daemon":
        """`preexec_fn`: run in the child before the daemon starts (e.g. a lower RLIMIT_NOFILE)."""
        readies = len(self.events("ready"))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotfolder", "run", "--config", str(self.config)],
            stdout=self._log, stderr=self._log, cwd=self.root, preexec_fn=preexec_fn,
        )
        if wait_ready:
            # the log may hold an earlier run's "ready": wait for this run's own
            wait_for(lambda: len(self.events("ready")) > readies or self._dead(), 30, what="the daemon to be ready")
            assert self.proc.poll() is None, f"daemon exited at start:\n{self.log_text()}"
        return self

    def _dead(self) -> bool:
        return self.proc.poll() is not None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, name: str | None = None) -> list[dict]:
        return log_events(self.log_text(), name)

    def event(self, name: str) -> dict | None:
        found = self.events(name)
        return found[-1] if found else None

    def status(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hotfolder", "status", "--json", "--config", str(self.config)],
                              capture_output=True, text=True, timeout=30)

    def status_json(self) -> dict:
        return json.loads(self.status().stdout)

    def worker_pids(self) -> list[int]:
        return sorted(_descendants(self.proc.pid))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"daemon did not stop within {timeout} s:\n{self.log_text()[-3000:]}")
        finally:
            self._log.close()
        return code

    def outputs(self) -> list[str]:
        return files_under(self.output)

    def settled(self, n: int) -> bool:
        """n originals have reached an end (archive or failed) and nothing is in flight."""
        ends = len(files_under(self.archive)) + len([p for p in files_under(self.failed)
                                                     if not p.endswith(".error.json")])
        return ends >= n


def noise_jpeg(path: Path, size=(1600, 1200), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3)).save(path, quality=90)
    return path


def drop_burst(d, tmp_path: Path, n: int, size=(1600, 1200)) -> list[str]:
    """Write n distinct JPEGs to a staging folder, then move them in at once."""
    staging = tmp_path / "staging"
    template = noise_jpeg(staging / "template.jpg", size)
    data = template.read_bytes()
    names = []
    for i in range(n):
        name = f"burst{i:04d}.jpg"
        # distinct files with the same pixels: append a JPEG comment-free trailer byte
        (staging / name).write_bytes(data + bytes([i % 256]))
        names.append(name)
    for name in names:
        os.rename(staging / name, d.inbox / name)
    return names


def ends(d) -> int:
    return len(files_under(d.archive)) + len([p for p in files_under(d.failed) if not p.endswith(".error.json")])


def worker_pids(d) -> list[int]:
    """The worker processes: forked by the forkserver, so grandchildren of the daemon."""
    pids = []
    for pid in d.worker_pids():
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid != d.proc.pid:
            pids.append(pid)
    return pids
