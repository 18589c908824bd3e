"""Smart crop for `operation: fill`, on libvips: `crop: attention` keeps the most salient
region (edges, skin tones, saturated colour), `crop: entropy` the most detailed one
(libvips' `smartcrop`); `crop: center` is geometry.plan()'s centred crop.

Which frame it looks at: the whole picture, upright, at the size the crop is cut from
(the full-frame resize that covers the box, which geometry.plan() already sizes). So the
crop comes out at the output size with nothing more to resample, the analysis runs on
that small frame rather than on the decoded one, and the frame joins the ladder that
later renditions resample from (one decode, as for every rendition). Upright, because
libvips breaks ties in scan order (entropy trims the left or top slice first, attention
takes the first maximum): the same photo must crop the same whatever its EXIF
orientation. The turn is Pillow's (bench/stages.py: faster than libvips' rot), on the
small frame.
"""
from __future__ import annotations

from hotfolder.engine.geometry import Plan, as_stored
from hotfolder.engine.orient import upright
from hotfolder.engine.raster import Raster
from hotfolder.engine.resample import Frame, Frames

# What the bands are: new_from_memory() says "multiband" for LA and RGBA.
INTERPRETATION = {"L": "b-w", "LA": "b-w", "RGB": "srgb", "RGBA": "srgb"}


def smart_fill(frames: Frames, p: Plan, turn: int) -> Raster:
    """The output of the fill plan `p` (on the upright frame), cut where libvips'
    smartcrop finds the region of interest; upright, and not shared with any rendition."""
    stored = as_stored(p, turn)
    frame = frames.full_frame((round(stored.frame[0]), round(stored.frame[1])))
    if turn == 1:
        image = frame.vips()
    else:
        image = Frame(upright(frame.pil(), turn)).vips()
    image = image.copy(interpretation=INTERPRETATION[frames.mode])
    width, height = min(p.size[0], image.width), min(p.size[1], image.height)
    cut = image.smartcrop(width, height, interesting=p.rendition.crop)
    return Frame.rendered(cut, frames.mode).take()[0]
