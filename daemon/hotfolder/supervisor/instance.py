"""The instance lock: one daemon per config, and what `hotfolder status` learns from it.

    state_dir/hotfolder.lock     line 1: the daemon's pid
                                 then NOTE_BYTES reserved at start: a note, when the
                                 status snapshot cannot be written (and why)

The daemon holds an flock on the file for its whole life (the kernel drops it when
the process dies, even by SIGKILL). So the lock, not the snapshot's age, says whether
a daemon runs: a daemon whose state_dir is full cannot replace status.json, and its
status once read "not running". The note is written in place into bytes the daemon
wrote at its start, so a full file system does not stop it (no new block is needed on
ext4, XFS or tmpfs; a copy-on-write file system may still refuse, and then status says
the snapshot is stale without the reason).
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hotfolder.config import state_dir_in, state_dir_of
from hotfolder.errors import HotfolderError
from hotfolder.runtime import log
from hotfolder.shown import printable
from hotfolder.status import daemon_alive, read_snapshot, write_snapshot
from hotfolder.supervisor.lock_path import NotALockFile, open_lock_file
from hotfolder.supervisor.locks import AlreadyRunning

LOCK_NAME = "hotfolder.lock"


NOTE_BYTES = 512  # reserved after the pid line: a note (JSON) and its padding


class InstanceLock:
    """The held lock of the running daemon; keep it for the life of the process."""

    def __init__(self, fd: int, path: Path, note_at: int):
        self.fd, self.path, self._note_at = fd, path, note_at

    def note(self, since: float, reason: str) -> bool:
        """Record that the status snapshot cannot be written since `since`, and why."""
        text = json.dumps({"status_unwritable_since": since, "reason": _cut(reason, NOTE_BYTES - 100)})
        return self._write(text)

    def clear(self) -> bool:
        return self._write("")

    def _write(self, text: str) -> bool:
        data = text.encode().ljust(NOTE_BYTES - 1) + b"\n"
        try:
            os.pwrite(self.fd, data, self._note_at)
        except OSError:
            return False
        return True


class SnapshotWriter:
    """Writes the status snapshot (status.write_snapshot). When it cannot (a full
    state_dir), it says so once per episode, in the log and in the lock's note, and
    `problem` says it for the status page and /metrics."""

    def __init__(self):
        self.lock: InstanceLock | None = None  # the service's, once it holds it
        self.unwritable: tuple[float, str] | None = None  # since, why
        self.log = log.get("service")

    @property
    def problem(self) -> str:
        return f"the status snapshot cannot be written: {self.unwritable[1]}" if self.unwritable else ""

    def write(self, path: Path, status) -> None:
        try:
            write_snapshot(path, status)
        except OSError as exc:
            if self.unwritable is None:
                self.unwritable = (time.time(), str(exc))
                noted = self.lock is not None and self.lock.note(*self.unwritable)
                self.log.error("status_write_failed", path=str(path), reason=str(exc), noted_in_lock=noted,
                               action="free space in state_dir (or fix its permissions); `hotfolder status` "
                                      "reports the daemon from its lock meanwhile")
            return
        if self.unwritable is not None:
            self.unwritable = None
            if self.lock is not None:
                self.lock.clear()
            self.log.info("status_write_recovered", path=str(path))


def lock_instance(state_dir: Path) -> InstanceLock:
    """One daemon per config: a second one's recovery would take files from the first.

    An flock on state_dir/hotfolder.lock; the file is rewritten with our pid and the
    note's reserved bytes (written now, while there is room). NotALockFile when what is
    there is no regular file (a symlink: we would truncate and lock its target)."""
    path = state_dir / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_lock_file(path, os.O_RDWR | os.O_CREAT)  # no O_APPEND: the note is pwritten
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _pid_in(fd)
        os.close(fd)
        raise AlreadyRunning(f"hotfolder is already running on this config (pid {pid}, lock {path}): "
                             "`hotfolder status` shows it, or stop it first (one daemon renders a config's "
                             "folders; a second daemon needs a config with its own state_dir and its own "
                             "folders)") from None
    head = f"{os.getpid()}\n".encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, head + b" " * (NOTE_BYTES - 1) + b"\n", 0)
    except OSError:  # a full disk at start: the lock holds; status cannot name the pid or a note
        pass
    return InstanceLock(fd, path, len(head))


@contextmanager
def stopped(state_dir: Path, to: str) -> Iterator[None]:
    """For a command that must not run beside the daemon (`places --forget`: the daemon keeps
    what it changes in memory, and would write it again): the instance lock held while the
    command runs, so no daemon runs now nor starts meanwhile (one starting in that moment, a
    write of milliseconds, is refused as a second daemon). AlreadyRunning, with the pid the
    lock file names and how to stop it, when it is held (`to`: what needs it stopped). The
    lock file is neither made nor written (made by root, it would keep the service's user
    from starting): with none there, no daemon ever ran on state_dir, or its lock was deleted
    under it (then its fresh snapshot says it runs, as for `status`), and nothing is held: a
    daemon starting in that moment is not refused."""
    path = state_dir / LOCK_NAME
    try:
        # flock takes an exclusive lock on it all the same; O_NONBLOCK: a FIFO there (the daemon
        # opens it read-write and locks it) blocked this open until a writer came
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None
    if fd is None:
        snap = read_snapshot(state_dir / "status.json")
        if snap is not None and daemon_alive(snap):
            raise AlreadyRunning(_running_said(str(snap.get("pid", "?")), path, to))
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(_running_said(_pid_in(fd), path, to)) from None
        yield
    finally:
        os.close(fd)  # the lock goes with it


def _running_said(pid: str, path: Path, to: str) -> str:
    pid = printable(pid)  # the file's word, shown, never obeyed
    kill = f"`kill -TERM {pid}`" if pid.isdigit() else "SIGTERM to its process"
    return (f"hotfolder is running on this config (pid {pid}, lock {path}): {to} only while it is stopped (it "
            f"keeps its records in memory and would write them again); stop it (`systemctl stop hotfolder` for "
            f"the service, else {kill}), run this again, then start it")


@dataclass(frozen=True)
class Holder:
    """What the lock says: `held` True/False, or None when it cannot be told (no
    permission, or no lock file there: `problem` then says what is, and what to do); the
    holder's pid and its note ({} when none)."""

    held: bool | None
    pid: int | None = None
    note: dict = field(default_factory=dict)
    problem: str = ""


def holder(state_dir: Path) -> Holder:
    """Whether a daemon holds the instance lock of `state_dir`, without taking it (a
    daemon starting at that moment must not find it taken): /proc/locks lists every
    flock with its holder's pid and its file's device and inode."""
    path = state_dir / LOCK_NAME
    try:
        fd = open_lock_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return Holder(False)
    except NotALockFile as exc:
        return Holder(None, problem=str(exc))
    except OSError:
        return Holder(None)
    try:
        st, data = os.fstat(fd), os.pread(fd, 64 + NOTE_BYTES, 0)
        first, _, rest = data.partition(b"\n")
        pid = int(first.strip()) if first.strip().isdigit() else None
        held = _flocked(st, pid)
        if held is None:
            held = _probe(fd)
    except OSError:
        return Holder(None)
    finally:
        os.close(fd)  # and with it the shared lock _probe took, if it did
    if not held:
        return Holder(held)
    try:
        note = json.loads(rest.strip() or b"{}")
    except ValueError:
        note = {}
    return Holder(True, pid, note if isinstance(note, dict) else {})


def status_file_of(config: Path) -> Path:
    """Where the daemon of this config keeps its status: the config's state_dir, read
    even if the rest of the file is invalid (`hotfolder status` must work right after a
    refused reload); when the file is gone or not YAML, the state_dir of a daemon
    running on it. ConfigUnreadable when neither is known (a path to a file that is not there)."""
    state_dir = state_dir_of(config)
    if state_dir is None:
        running = running_state_dir(config)
        if running is not None:
            return running / "status.json"
        if not os.path.isfile(config):
            raise ConfigUnreadable(config)
        state_dir = state_dir_in(None, config)
    return (state_dir / "status.json").resolve()


class ConfigUnreadable(HotfolderError):
    def __init__(self, config: Path):
        what = "not a regular file" if os.path.exists(config) else "no such file"  # a FIFO, a folder
        super().__init__(f"cannot read the config file {config}: {what}, and no daemon runs on it "
                         "(--config FILE names the one the daemon was started with)")


def running_state_dir(config: Path) -> Path | None:
    """The state_dir of a running `hotfolder run` on `config`, found through /proc: it
    holds the instance lock `state_dir/hotfolder.lock` open, and the status it keeps
    there names its config (however it found it: --config, $HOTFOLDER_CONFIG, the usual
    places). None if there is none (or /proc does not let us look: another user's)."""
    target = os.path.realpath(config)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"run" not in argv or not any(b"hotfolder" in a for a in argv):
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                held = os.readlink(f"/proc/{entry}/fd/{fd}")
                if held.endswith(f"/{LOCK_NAME}"):
                    state_dir = Path(held).parent
                    status = read_snapshot(state_dir / "status.json") or {}
                    if os.path.realpath(str(status.get("config", ""))) == target:
                        return state_dir
        except (OSError, ValueError):
            continue
    return None


def _flocked(st: os.stat_result, pid: int | None) -> bool | None:
    """Whether /proc/locks shows an flock on this file (None: cannot read it). The
    device may read differently through an overlay: the inode and the pid the file
    names then decide."""
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters have "->" after the index
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        dev, _, ino = fields[5].rpartition(":")
        if ino == str(st.st_ino) and (dev == device or fields[4] == str(pid)):
            return True
    return False


def _probe(fd: int) -> bool | None:
    """Where /proc/locks is not readable: try a shared lock on the open lock file, released at once."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _pid_in(fd: int) -> str:
    """The pid the lock file names (its first line), as text ("?" when none)."""
    return _read(fd).split(b"\n", 1)[0].decode(errors="replace").strip() or "?"


def _read(fd: int) -> bytes:
    try:
        return os.pread(fd, 64, 0)
    except OSError:
        return b""


def _cut(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore") + "…"
