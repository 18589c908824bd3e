"""XMP sidecars and their images in an inbox: held until they can be claimed together.

Of the paths the inbox found ready (closed, quiet), `arrange` says which to claim now,
each image with its sidecar if it has one (`partner`), and which to hold back:

  - a sidecar whose image is in the inbox travels with it: it waits for the image,
    however long the image's own writing takes (its rules bound that);
  - a sidecar alone waits `sidecar_wait` seconds for its image, then is handed out
    alone (the ledger archives it, with a note: it is never a failure);
  - an image whose sidecar is there but not yet ready (still being written) waits up
    to `sidecar_wait` for it, then goes alone; an image with no sidecar goes at once
    (so a folder without sidecars waits for nothing).

The pairing rules are sidecars.py's (names only).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hotfolder.sidecars import find_image, find_sidecar, is_sidecar

HOLD_RECHECK = 0.1  # seconds between two looks at a held path (a sidecar is small: written in milliseconds)

Stamp = tuple[int, int] | None  # (size, mtime_ns) of a path now; None when it is gone


class Pairs:
    def __init__(self) -> None:
        self.since: dict[Path, float] = {}  # path -> when it was first held (monotonic)
        self.quiet: dict[Path, Stamp] = {}  # sidecars found ready and held: their stamp then
        self.partners: dict[Path, Path] = {}  # image to claim -> its sidecar

    def arrange(self, ready: list[Path], now: float, wait: float, stamp: Callable[[Path], Stamp],
                look: Callable[[Path], bool] = lambda side: False) -> tuple[list[Path], list[Path]]:
        """(paths to claim now, paths to hold back) of `ready`; `look(sidecar)`: whether an
        image's sidecar that is not among `ready` is ready now all the same (the inbox's
        look stopped at its limit before it)."""
        out: list[Path] = []
        held: list[Path] = []
        ready_now = set(ready)
        for path in ready:
            if is_sidecar(path.name):
                self.quiet[path] = stamp(path)
                image = find_image(path.parent, path.name)
                if image is not None:
                    if path.parent / image not in ready_now:
                        held.append(path)  # its image is still being written
                    continue  # else it goes with its image, below
                if now - self.since.setdefault(path, now) < wait:
                    held.append(path)
                    continue
                self.forget(path)
                out.append(path)  # alone: the ledger archives it
                continue
            name = find_sidecar(path.parent, path.name)
            side = path.parent / name if name is not None else None
            if side is not None and (side in ready_now or (side in self.quiet and self.quiet[side] == stamp(side))
                                     or look(side)):
                self.partners[path] = side
                self.forget(side)
            elif side is not None and now - self.since.setdefault(path, now) < wait:
                held.append(path)  # its sidecar is there, still being written
                continue
            self.since.pop(path, None)
            out.append(path)
        return out, held

    def partner(self, image: Path) -> Path | None:
        """The sidecar to claim with `image` (once: it is forgotten)."""
        return self.partners.pop(image, None)

    def forget(self, path: Path) -> None:
        self.since.pop(path, None)
        self.quiet.pop(path, None)
