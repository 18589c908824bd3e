"""Upright outputs (engine/orient.py): orient."""
from __future__ import annotations

from hotfolder.config.keys import Key, Step
from hotfolder.config.values import Bool

KEYS = (
    Key("orient", Bool(), True, "apply the EXIF orientation, so the output is upright (and its tag reset)"),
)

STEP = Step("orient", KEYS)
