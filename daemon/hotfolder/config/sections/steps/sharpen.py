"""The unsharp mask after resizing (engine/sharpen.py): sharpen, a preset or a mapping."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotfolder.config.keys import Key, Step, read_keys
from hotfolder.config.model import SHARPEN_PRESETS, Sharpen
from hotfolder.config.reader import Context, Reader, kind, section
from hotfolder.config.values import Float, Int, Kind, suggestion

_LIKE = SHARPEN_PRESETS["standard"]  # what a key left out of the mapping reads as

MAPPING_KEYS = (
    Key("radius", Float(lo=0.1, hi=5.0), _LIKE.radius, "the Gaussian's radius (sigma) in output pixels, 0.1–5"),
    Key("amount", Float(lo=0.01, hi=5.0), _LIKE.amount, "how strong: 1.0 = Photoshop's 100 %, 0.01–5"),
    Key("threshold", Int(lo=0, hi=255), _LIKE.threshold,
        "0–255 levels: smaller differences from the blurred image are left alone"),
)


@section
def read_mapping(ctx: Context, data: Any, path: str) -> Sharpen:
    r = Reader(ctx, data, path)
    values = read_keys(r, MAPPING_KEYS)
    r.done()
    return Sharpen(**values)


@dataclass(frozen=True)
class Sharpening(Kind):
    """`sharpen: none | low | standard | high`, or `{radius, amount, threshold}`."""

    def read(self, r: Reader, name: str, default: Any) -> Sharpen | None:
        value = r.raw(name)
        value = value.strip().lower() if isinstance(value, str) else value  # `Standard`
        if value is None or value is False or value == "none":  # `sharpen: off` is YAML's false
            return None
        if isinstance(value, str) and value in SHARPEN_PRESETS:
            return SHARPEN_PRESETS[value]
        if isinstance(value, dict):
            return read_mapping(r.ctx, value, r.key(name))
        meant = suggestion(value, ("none", *SHARPEN_PRESETS)) if isinstance(value, str) else None
        r.fail(name, f"must be one of: none, {', '.join(SHARPEN_PRESETS)}, or a mapping "
                     f"{{radius, amount, threshold}}, not {kind(value)}"
                     + (f" (did you mean {meant!r}?)" if meant else ""))

    def shown(self, default: Any) -> str:
        return "`none`"


KEYS = (
    Key("sharpen", Sharpening(), None,
        "`low`, `standard`, `high`, or `{radius, amount, threshold}` (Photoshop's unsharp mask: the mapping's "
        "keys below; keys left out are `standard`'s). Applied to the luminance after resizing, before the "
        "watermark, in full after a downscale by 4 or more, less after a smaller one (a quarter when not "
        "reduced): see [DESIGN.md](DESIGN.md#the-engine) for the presets' values and what they compare with"),
)

STEP = Step("sharpen", KEYS)
