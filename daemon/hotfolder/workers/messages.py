"""What a worker tells the pool, through the mailbox (one message per line of its life).

    Ready(slot, pid)              booted: codecs loaded, taking jobs
    Starting(slot, job_id)        took a job and renders it now (written before the render,
                                  so a worker that dies rendering is known to hold the job)
    Done(slot, result, counted)   the job's Result; `counted`: the worker counted a final
                                  verdict itself (False: a stuck counter lock refused it)
    Declined(slot, job_id)        took a job after the pool began to drain: not started
    Leaving(slot)                 took a sentinel: it leaves (written before it exits, so a
                                  worker killed while exiting still counts as retired)

Frozen dataclasses: a Starting pickles to 82 bytes, well under PIPE_BUF, so it reaches
the pipe in one write (mailbox.py); a round trip through pickle costs ~3 µs (a tuple's
~1 µs: nothing beside a render's tens of milliseconds).
"""
from __future__ import annotations

from dataclasses import dataclass

from hotfolder.jobs import Result


@dataclass(frozen=True)
class Ready:
    slot: int
    pid: int


@dataclass(frozen=True)
class Starting:
    slot: int
    job_id: int


@dataclass(frozen=True)
class Done:
    slot: int
    result: Result
    counted: bool


@dataclass(frozen=True)
class Declined:
    slot: int
    job_id: int


@dataclass(frozen=True)
class Leaving:
    slot: int


Message = Ready | Starting | Done | Declined | Leaving
