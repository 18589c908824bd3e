"""A file whose next opens wait for the test: fanotify's permission event (FAN_OPEN_PERM).

The kernel holds every open(2) of the marked file, whoever makes it (O_NONBLOCK or not),
until this process answers; so a daemon's thread reading a real file is held mid-way,
deterministically, without a mock, a timing guess or a slow file system. Closing the
fanotify descriptor (the test's end, or its failure) lets every held open go on.
Needs root (CAP_SYS_ADMIN): the test is skipped, saying so, otherwise.
"""
from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from pathlib import Path

import pytest

FAN_CLOEXEC, FAN_CLASS_CONTENT = 0x1, 0x4
FAN_MARK_ADD = 0x1
FAN_OPEN_PERM = 0x10000
FAN_ALLOW = 0x1
AT_FDCWD = -100
_EVENT = struct.Struct("IBBHQii")  # fanotify_event_metadata: event_len, vers, reserved, metadata_len, mask, fd, pid
_RESPONSE = struct.Struct("iI")  # fanotify_response: fd, response


class HeldOpen:
    """`with HeldOpen(path) as held:` opens of `path` wait until `held.release()` (or the end)."""

    def __init__(self, path: Path):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
        self.fd = libc.fanotify_init(FAN_CLOEXEC | FAN_CLASS_CONTENT, os.O_RDONLY)
        if self.fd < 0:
            pytest.skip(f"no fanotify permission events here (needs root): {os.strerror(ctypes.get_errno())}")
        if libc.fanotify_mark(self.fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, os.fsencode(path)) != 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            pytest.skip(f"cannot mark {path} for fanotify here: {os.strerror(err)}")
        self.waiting: list[int] = []  # the event fds of the opens held now

    def wait_open(self, timeout: float) -> int:
        """Wait until a process opens the file (held now); its pid. AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.fd], [], [], left)[0]:
                break
            data = os.read(self.fd, 4096)
            pid = 0
            for at in range(0, len(data), _EVENT.size):
                _, _, _, _, _, event_fd, pid = _EVENT.unpack_from(data, at)
                self.waiting.append(event_fd)
            if pid:
                return pid
        raise AssertionError(f"nothing opened the held file within {timeout} s")

    def release(self) -> None:
        """Let the held opens go on (a later open is held again until `close`)."""
        for event_fd in self.waiting:
            os.write(self.fd, _RESPONSE.pack(event_fd, FAN_ALLOW))
            os.close(event_fd)
        self.waiting.clear()

    def close(self) -> None:
        if self.fd >= 0:
            self.release()
            os.close(self.fd)  # the kernel allows whatever is still held
            self.fd = -1

    def __enter__(self) -> HeldOpen:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
