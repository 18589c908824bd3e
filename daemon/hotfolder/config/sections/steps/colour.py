"""The outputs' colours (engine/colour.py): color_profile."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotfolder.config.choices import COLOR_PROFILES
from hotfolder.config.keys import Key, Step
from hotfolder.config.reader import Reader
from hotfolder.config.values import Kind, resolve, text


@dataclass(frozen=True)
class ColourProfile(Kind):
    """`srgb`, `keep`, or an ICC profile file (relative to the config): its absolute path.
    Whether the file is a usable RGB profile is preflight.py's to say."""

    def read(self, r: Reader, name: str, default: Any) -> str:
        value = text(r, name)
        if value is None:
            return default
        if value.strip().lower() in COLOR_PROFILES:  # `sRGB`, as ICC names it, was taken for a file named so
            return value.strip().lower()
        return str(resolve(r, name, value))


KEYS = (
    Key("color_profile", ColourProfile(), "srgb",
        "`srgb` (convert from the source's profile to sRGB and embed a compact sRGB profile; a source without "
        "one is left as it is, unless its camera marked it Adobe RGB: then converted from Adobe RGB), `keep` "
        "(pixels and profile as they are; a camera's Adobe RGB gets the profile its tags stand for), or the "
        "path of an RGB ICC profile to convert to (e.g. a printer's; checked when the config is loaded). A "
        "greyscale picture written in colour (WebP and AVIF have no grey; pad's colour bars) has its Gray "
        "profile converted to this one (`keep`: to sRGB): RGB pixels cannot carry a Gray profile"),
)

STEP = Step("colour", KEYS)
