"""Workers -> pool messages, written synchronously, read with a deadline.

A `multiprocessing.Queue` hands `put()` to a feeder thread: a worker SIGKILLed a
moment after `put(Starting(slot, job_id))` may die with the message still in its memory,
and the pool would not know which file killed it. Here `put()` returns only once
the message is in the pipe.

Each message is framed (4-byte length, then the pickle) and written with the write
lock held. A message under PIPE_BUF is one atomic write; a larger one (a result with
many long output names) may reach the pipe in pieces, and a writer killed between
two pieces leaves half a message. So the reader never blocks on a message: it reads
what has arrived and gives a message `COMPLETE_WITHIN` seconds to complete, else it
raises `Broken` and the pool rebuilds the mailbox. A writer killed while holding the
lock leaves the lock held: `lock_free()` lets the pool notice.
"""
from __future__ import annotations

import os
import pickle
import queue
import select
import struct
import time

from hotfolder.backend import Wake
from hotfolder.errors import HotfolderError
from hotfolder.workers.messages import Message

HEADER = struct.Struct("!I")
COMPLETE_WITHIN = 2.0  # seconds a started message may take to arrive whole
MAX_MESSAGE = 16 << 20  # a length above this is garbage, not a message


class Broken(HotfolderError):
    """The pipe holds half a message (its writer died mid-write) or garbage."""


class Mailbox:
    def __init__(self, ctx):
        self._reader, self._writer = ctx.Pipe(duplex=False)
        self._lock = ctx.Lock()
        self._buffer = bytearray()

    # -- the workers' side
    def put(self, message: Message) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        frame = HEADER.pack(len(data)) + data
        fd = self._writer.fileno()
        with self._lock:
            view = memoryview(frame)
            while view:
                view = view[os.write(fd, view):]

    # -- the pool's side
    def get(self, timeout: float, wake: Wake | None = None) -> Message:
        """The next message; raises queue.Empty after `timeout` s (or sooner, when `wake`,
        the watcher's Waker, is woken), Broken on half a message."""
        message = self._take()
        if message is not None:
            return message
        fd = self._reader.fileno()
        if wake is not None:
            readable, _, _ = select.select([fd, wake.fd], [], [], max(0.0, timeout))
            if wake.fd in readable:
                wake.drain()
            if fd not in readable:
                raise queue.Empty
        elif not self._wait_readable(fd, timeout):
            raise queue.Empty
        deadline = time.monotonic() + COMPLETE_WITHIN
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise Broken("the mailbox's writers are all gone")
            self._buffer += chunk
            message = self._take()
            if message is not None:
                return message
            if not self._wait_readable(fd, deadline - time.monotonic()):
                raise Broken(f"a message stayed incomplete for {COMPLETE_WITHIN:g} s: its writer died mid-write")

    def _take(self) -> Message | None:
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > MAX_MESSAGE:
            raise Broken(f"a message claims {size} bytes: the pipe is corrupted")
        if len(self._buffer) < HEADER.size + size:
            return None
        data = bytes(self._buffer[HEADER.size:HEADER.size + size])
        del self._buffer[:HEADER.size + size]
        try:
            return pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupted stream
            raise Broken(f"a message could not be read: {exc!r}") from None

    @staticmethod
    def _wait_readable(fd: int, timeout: float) -> bool:
        if timeout <= 0:
            timeout = 0
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)

    def lock_free(self, timeout: float = 0.5) -> bool:
        """Whether the write lock can be taken: a healthy writer holds it for microseconds."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
