"""A folder's keys for the same photo seen again (issue 23): exact duplicates (the same
bytes), look-alikes (a resized, recompressed or turned copy), and how long the index
remembers. Read with the folder's other keys (sections/folder.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotfolder.config.choices import DuplicateScope, OnDuplicate, Similar
from hotfolder.config.keys import Key
from hotfolder.config.reader import Reader, kind
from hotfolder.config.values import Choice, Int, Path_, number_in, seconds_in, time_meant

DAY = 86400


@dataclass(frozen=True)
class Duration:
    """A length of time: `365d`, `12w`, `36h`, `90m`, `30s`, or a number of seconds."""

    lo: float = 1.0
    # A century: past it a window is no length a clock holds (`.inf`, `1e300`: Redis's expiry of a
    # clip's row in cluster mode, in ms, raised at every clip); `.nan` forgot nothing
    hi: float = 36500.0 * DAY

    def read(self, r: Reader, name: str, default: Any) -> float:
        value = r.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            r.fail(name, f"must be a length of time such as 365d, 12w or 36h, not {kind(value)}")
        bare = number_in(value)
        if isinstance(bare, (int, float)):
            seconds = float(bare)
            # `duplicate_window: 30` forgot every original after 30 seconds: meant as days? Warned,
            # not refused: a config that meant seconds (`3600`) keeps working after an upgrade.
            if seconds < DAY:
                r.warn(name, f"{bare:g} has no unit, so it is {bare:g} seconds: write {bare:g}d for {bare:g} days, "
                             f"or {bare:g}s to keep seconds without this warning")
        else:
            taken = seconds_in(str(value))
            if taken is None:
                r.fail(name, f"{kind(value)[len('the text '):]} is not a length of time; write e.g. 365d, 12w, 36h, "
                             "90m or 30s"
                             f"{time_meant(value, 'd')}")
            seconds = taken
        if not math.isfinite(seconds):
            r.fail(name, f"must be a length of time such as 365d, 12w or 36h, not {kind(value)}")
        if seconds < self.lo:
            r.fail(name, f"must be at least {self.lo:g} s, not {seconds:g} s")
        if seconds > self.hi:
            r.fail(name, f"must be at most {self.hi / DAY:g}d (a century), not {value}")
        return seconds

    def shown(self, default: Any) -> str:
        return f"`{default / DAY:g}d`" if default % DAY == 0 else f"`{default:g}s`"


def beside(failed: Path) -> Path:
    """The default duplicates folder: beside failed/, named after it (`failed` ->
    `duplicates`, `failed-print` -> `duplicates-print`, `rejects` -> `rejects-duplicates`), so
    folders whose failed/ share a parent get one each (no two may overlap: nesting.py)."""
    name = failed.name.replace("failed", "duplicates") if "failed" in failed.name else f"{failed.name}-duplicates"
    return failed.parent / name


KEYS = (
    Key("on_duplicate", Choice(OnDuplicate), OnDuplicate.SKIP,
        "an original with the same bytes as an earlier one (a card copied twice, a file sent again, also under "
        "the same name): `skip` (not rendered: moved to `duplicates` with `NAME.duplicate.json` naming the "
        "earlier one), `process` (rendered again; under `similar: skip`, for what its look-alikes of other "
        "bytes did not get, as its first drop was: a rated RAW copied in twice makes its proof again, not a web "
        "size beside its camera JPEG's), or `fail` (to `failed/`)"),
    Key("duplicate_scope", Choice(DuplicateScope), DuplicateScope.AUTO,
        "where an earlier original counts: `folder` (this folder's, any subfolder), `subfolder` (the same "
        "subfolder's only: the same photo for `clients/alice` and `clients/bob` is two deliveries), `all` "
        "(every folder's), or `auto`: `subfolder` for a file in a subfolder a rendition's `subfolder:` names "
        "(`clients/*` names `clients/bob`: a delivery of its own), else `folder`"),
    Key("duplicates", Path_(folder=True), None,
        "where skipped duplicates go (on the inbox's file system; no other folder may overlap it: a config from "
        "before this key whose `archive` is that default, `x/duplicates` beside `x/failed`, is refused with the "
        "`duplicates:` line to add)",
        shown="beside `failed`, named after it: `duplicates` for `failed`"),
    Key("similar", Choice(Similar), Similar.FLAG,
        "a look-alike of an earlier original (resized, recompressed, turned, lightly edited): `flag` (rendered, "
        "and recorded with what it resembles), `skip` (treated as a duplicate), or `off`. A second shot of the "
        "same scene is not one; an exposure bracket may be ([Duplicates](#duplicates))"),
    Key("similar_distance", Int(lo=0, hi=32), 6,
        "bits of the 64-bit perceptual hash in which a look-alike may differ (measured: copies are within 4, "
        "different photos 8 or more apart; distances are even)"),
    Key("duplicate_window", Duration(), 365.0 * DAY,
        "originals older than this are forgotten by the index (`365d`, `12w`, `36h`, `30 days`; a bare number "
        "is seconds, warned of under a day: `30` says to write `30d`, or `30s` to keep seconds): no copy is "
        "matched with them, and a new drop under the name of one gets outputs of its own (`~2`), never "
        "replacing that one's; at most `36500d`"),
)
