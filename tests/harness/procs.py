"""The process tree from /proc (no psutil): what a test started, what it left behind, and
which of a daemon's processes are its workers."""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our children (workers of a killed daemon) are re-parented to us, so the
    leak check (conftest.py) still sees them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(pid: int) -> set[int]:
    """Every live descendant of pid, from a scan of /proc: ~2 ms, and unlike the
    /proc/PID/task/*/children files it misses no child re-parented during the walk."""
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


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process has used so far, of all its threads: what a
    test measures the cost of work by, as it does not grow with the machine's load the way
    the wall clock does."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def is_ours(pid: int) -> bool:
    """Ours to account for: a daemon and its workers, and the browser tests' chromium and
    chromedriver."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except OSError:
        return False
    return b"hotfolder" in cmd or b"multiprocessing" in cmd or b"chrom" in cmd


def workers_of(main: int) -> list[int]:
    """A daemon's worker processes: forked by its forkserver, so its grandchildren."""
    return sorted(pid for pid in descendants(main) if parent_of(pid) not in (main, None))


def resume(pid: int) -> None:
    """SIGCONT a process a test SIGSTOPped (a render held exactly as long as the test needs),
    if it is still there (killed meanwhile: the test's assertions say so)."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
