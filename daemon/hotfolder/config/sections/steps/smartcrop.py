"""Which part of the image a fill keeps (engine/smartcrop.py): crop."""
from __future__ import annotations

from typing import Any

from hotfolder.config.choices import Crop, Operation
from hotfolder.config.keys import Key, Step
from hotfolder.config.reader import Reader, recorded
from hotfolder.config.values import Choice

KEYS = (
    Key("crop", Choice(Crop, aliases={"centre": "center", "smart": "attention", "face": "attention"}), Crop.CENTER,
        "`fill` only: which part is kept. `attention` (the most salient region: skin tones, saturated colour, "
        "edges — a subject off the centre), `entropy` (the most detailed region); libvips' smartcrop"),
)


def check(r: Reader, values: dict[str, Any]) -> None:
    with recorded():
        if r.has("crop") and r.ok("operation") and values["operation"] != Operation.FILL:
            r.fail("crop", f"only applies to operation fill (operation {values['operation']} crops nothing): "
                          "remove it, or use operation: fill")


STEP = Step("smartcrop", KEYS, check)
