"""What the FFmpeg path needs of a HEIF's boxes (ISO/IEC 23008-12, 14496-12), read from its
`meta` box only: the primary image's coded items (one `hvc1` image, or a `grid` of `hvc1`
tiles in row-major order) and where each one's bitstream lies (`iloc`), their `hvcC`, the
grid's output size, the crop (`clap`) and the turn (`irot`, `imir`) as an EXIF orientation,
and the colour code (`nclx`).

FFmpeg 8 reads HEIF grids, but PyAV exposes no stream groups: it shows one stream per tile,
and the tile positions, the crop and the turn are out of reach (measured with PyAV 18). So
the boxes are read here and each tile's bytes go to one HEVC decoder (decoders/hevc).

Bounded and conservative: the `meta` box is read whole only up to 4 MiB (a phone's is
5-30 KB, a 200 MP Samsung's ~30 KB), the `mdat` is never read here, and anything not
known to be handled (an essential property, an overlay, alpha, tiles of several sizes or
coding parameters, a tile with a transform, tiles reaching a tile or more past the output)
raises `Unsupported`: the caller decodes with libheif, as before. libheif has opened the
file (and applied its limits to the header) before this runs.
"""
from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

MAX_META = 4 * 2**20
MAX_TILES = 256 * 256  # a grid's rows and columns are one byte each
# A HEIF's meta box follows its ftyp (a phone's: the second box). Past this many boxes the
# walk stops and libheif decodes: 10,000,000 empty boxes before it (80 MB) cost 9 s of
# reads here (an attack round).
MAX_BOXES_BEFORE_META = 16
# Properties that say nothing about the pixels of a coded image, or that this path reads.
UNDERSTOOD = {"ispe", "pixi", "colr", "hvcC", "auxC", "rloc", "lsel", "clap", "irot", "imir"}
ALPHA_AUX = ("urn:mpeg:hevc:2015:auxid:1", "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")

# The file: an open descriptor, or its bytes when the worker read them already (engine/fingerprint)
File = int | bytes


def pread(file: File, length: int, offset: int) -> bytes:
    """`length` bytes of the file at `offset` (fewer at its end)."""
    if isinstance(file, int):
        return os.pread(file, length, offset)
    return file[offset:offset + length]


class Unsupported(Exception):
    """Not for this path: libheif decodes the file."""


@dataclass(frozen=True)
class Prop:
    kind: str
    value: Any  # what `_property` makes of its kind: a size, a turn, a clap, an nclx, an hvcC
    essential: bool


@dataclass(frozen=True)
class Item:
    id: int
    type: str
    extents: tuple[tuple[int, int], ...]  # (offset, length): in the file, or in idat (construction 1)
    construction: int
    props: tuple[Prop, ...]

    def prop(self, kind: str) -> Any:
        return next((p.value for p in self.props if p.kind == kind), None)


@dataclass(frozen=True)
class Boxes:
    primary: int
    items: Mapping[int, Item]
    refs: Mapping[str, Mapping[int, tuple[int, ...]]]  # reference type -> from item -> to items
    idat: bytes


@dataclass(frozen=True)
class Layout:
    """The primary image as coded: tiles (one for an `hvc1` image) of one size and one `hvcC`,
    `width` × `height` (the grid's output, or the image's `ispe`) before the crop and turn."""

    width: int
    height: int
    rows: int
    columns: int
    tile_size: tuple[int, int]
    tiles: tuple[Item, ...]
    hvcc: bytes
    crop: tuple[int, int, int, int] | None  # (left, top, right, bottom) of the clean aperture
    orientation: int  # irot/imir as the EXIF orientation (1-8) that shows the cropped pixels upright
    nclx: tuple[int, int, int, bool] | None  # primaries, transfer, matrix, full range
    idat: bytes = field(default=b"", repr=False)  # the meta box's item data (where a tile may lie)

    @property
    def stored_size(self) -> tuple[int, int]:
        """The size of the pixels as decoded (after the crop, before the turn)."""
        if self.crop is None:
            return self.width, self.height
        left, top, right, bottom = self.crop
        return right - left, bottom - top


def read_layout(file: File) -> Layout:
    """The primary image's layout, or `Unsupported`."""
    try:
        return layout(parse(_meta_box(file)), file)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, ZeroDivisionError):
        raise Unsupported("a box this reader cannot parse") from None


def primary_props(file: File) -> tuple[Prop, ...] | None:
    """The primary item's properties, whatever it codes (an AVIF's `av01` too), or None when
    the boxes cannot be read."""
    try:
        boxes = parse(_meta_box(file))
    except (Unsupported, struct.error, IndexError, ValueError, UnicodeDecodeError, ZeroDivisionError):
        return None
    prim = boxes.items.get(boxes.primary)
    return prim.props if prim is not None else None


def ends_early(layout: Layout, file: File) -> bool:
    """Whether a tile of the primary image lies (in part) past the end of the file: a copy
    cut short. libheif paints such tiles green and says nothing (a fuzz round)."""
    size = len(file) if isinstance(file, bytes) else os.fstat(file).st_size
    return any(offset + length > size for tile in layout.tiles if tile.construction == 0
               for offset, length in tile.extents)


def item_data(item: Item, idat: bytes, file: File) -> bytes:
    """An item's bytes (a tile's length-prefixed NAL units, a grid's descriptor)."""
    if item.construction not in (0, 1):
        raise Unsupported("an item built from another item's data")
    parts = []
    for offset, length in item.extents:
        if item.construction == 1:
            chunk = idat[offset:offset + length]
        else:
            chunk = pread(file, length, offset)
        if len(chunk) != length:
            raise Unsupported("an item's data runs past the end of the file")
        parts.append(chunk)
    return b"".join(parts)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, content start, end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            size, head = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise Unsupported(f"box {kind!r} overruns its parent")
        yield kind.decode("latin-1"), pos + head, pos + size
        pos += size


def _meta_box(file: File) -> bytes:
    pos = 0
    for _ in range(MAX_BOXES_BEFORE_META):
        head = pread(file, 16, pos)
        if len(head) < 8:
            raise Unsupported("no meta box")
        size, kind = struct.unpack_from(">I4s", head)
        hl = 8
        if size == 1 and len(head) == 16:
            size, hl = struct.unpack_from(">Q", head, 8)[0], 16
        if kind == b"meta":
            if not hl + 4 <= size <= MAX_META:
                raise Unsupported("meta box too large")
            data = pread(file, size - hl, pos + hl)
            if len(data) != size - hl:
                raise Unsupported("meta box cut short")
            return data
        if size < hl:
            raise Unsupported("no meta box before the data")
        pos += size
    raise Unsupported(f"no meta box among the first {MAX_BOXES_BEFORE_META} boxes")


def _sized(data: bytes, pos: int, n: int) -> tuple[int, int]:
    """An unsigned big-endian field of n bytes (0, 2, 4 or 8) at pos; (value, next pos)."""
    if n == 0:
        return 0, pos
    if n not in (2, 4, 8):
        raise Unsupported(f"a field of {n} bytes")
    return int.from_bytes(data[pos:pos + n], "big"), pos + n


def _iloc(data: bytes, s: int) -> dict[int, tuple[int, tuple[tuple[int, int], ...]]]:
    version = data[s]
    pos = s + 4
    off_size, len_size, base_size = data[pos] >> 4, data[pos] & 15, data[pos + 1] >> 4
    idx_size = data[pos + 1] & 15 if version in (1, 2) else 0
    count, pos = _sized(data, pos + 2, 2 if version < 2 else 4)
    out = {}
    for _ in range(count):
        iid, pos = _sized(data, pos, 2 if version < 2 else 4)
        construction = 0
        if version in (1, 2):
            construction, pos = data[pos + 1] & 15, pos + 2
        base, pos = _sized(data, pos + 2, base_size)  # + data_reference_index
        n, pos = _sized(data, pos, 2)
        extents = []
        for _ in range(n):
            _, pos = _sized(data, pos, idx_size)
            off, pos = _sized(data, pos, off_size)
            length, pos = _sized(data, pos, len_size)
            extents.append((base + off, length))
        out[iid] = (construction, tuple(extents))
    return out


def _iinf(data: bytes, s: int, e: int) -> dict[int, str]:
    pos = s + (6 if data[s] == 0 else 8)
    types = {}
    for kind, bs, _ in _boxes(data, pos, e):
        if kind != "infe" or data[bs] < 2:
            continue
        iid, p = _sized(data, bs + 4, 2 if data[bs] == 2 else 4)
        types[iid] = data[p + 2:p + 6].decode("latin-1")  # after the protection index
    return types


def _iref(data: bytes, s: int, e: int) -> dict[str, dict[int, tuple[int, ...]]]:
    width = 2 if data[s] == 0 else 4
    refs: dict[str, dict[int, tuple[int, ...]]] = {}
    for kind, bs, _ in _boxes(data, s + 4, e):
        src, p = _sized(data, bs, width)
        n, p = _sized(data, p, 2)
        refs.setdefault(kind, {})[src] = tuple(_sized(data, p + i * width, width)[0] for i in range(n))
    return refs


def _property(kind: str, data: bytes, s: int, e: int) -> Any:
    if kind == "ispe":
        return struct.unpack_from(">II", data, s + 4)
    if kind in ("irot", "imir"):
        return data[s] & (3 if kind == "irot" else 1)
    if kind == "clap":
        wn, wd, hn, hd, hon, hod, von, vod = struct.unpack_from(">IIIIiIiI", data, s)
        return Fraction(wn, wd), Fraction(hn, hd), Fraction(hon, hod), Fraction(von, vod)
    if kind == "colr":
        if data[s:s + 4] != b"nclx":
            return None
        primaries, transfer, matrix = struct.unpack_from(">HHH", data, s + 4)
        return primaries, transfer, matrix, bool(data[s + 10] >> 7)
    if kind == "hvcC":
        return bytes(data[s:e])
    if kind == "auxC":
        return data[s + 4:e].split(b"\0")[0].decode("latin-1")
    return None


def _ipma(data: bytes, s: int) -> dict[int, list[tuple[int, bool]]]:
    version, wide = data[s], data[s + 3] & 1
    n, pos = _sized(data, s + 4, 4)
    out: dict[int, list[tuple[int, bool]]] = {}
    for _ in range(n):
        iid, pos = _sized(data, pos, 2 if version < 1 else 4)
        count, pos = data[pos], pos + 1
        for _ in range(count):
            if wide:
                value, pos = _sized(data, pos, 2)
                out.setdefault(iid, []).append((value & 0x7FFF, bool(value >> 15)))
            else:
                value, pos = data[pos], pos + 1
                out.setdefault(iid, []).append((value & 0x7F, bool(value >> 7)))
    return out


def parse(meta: bytes) -> Boxes:
    primary = None
    types: dict[int, str] = {}
    locs: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}
    refs: dict[str, dict[int, tuple[int, ...]]] = {}
    idat = b""
    ipco: list[tuple[str, Any]] = []
    ipma: dict[int, list[tuple[int, bool]]] = {}
    for kind, s, e in _boxes(meta, 4, len(meta)):  # meta is a full box: 4 bytes of version and flags
        if kind == "pitm":
            primary = _sized(meta, s + 4, 2 if meta[s] == 0 else 4)[0]
        elif kind == "iinf":
            types = _iinf(meta, s, e)
        elif kind == "iloc":
            locs = _iloc(meta, s)
        elif kind == "iref":
            refs = _iref(meta, s, e)
        elif kind == "idat":
            idat = bytes(meta[s:e])
        elif kind == "iprp":
            for k2, s2, e2 in _boxes(meta, s, e):
                if k2 == "ipco":
                    ipco = [(k3, _property(k3, meta, s3, e3)) for k3, s3, e3 in _boxes(meta, s2, e2)]
                elif k2 == "ipma":
                    for iid, assoc in _ipma(meta, s2).items():
                        ipma.setdefault(iid, []).extend(assoc)
    if primary is None:
        raise Unsupported("no primary item")
    items = {}
    for iid, itype in types.items():
        construction, extents = locs.get(iid, (0, ()))
        props = tuple(Prop(*ipco[idx - 1], ess) for idx, ess in ipma.get(iid, ()) if 0 < idx <= len(ipco))
        items[iid] = Item(iid, itype, extents, construction, props)
    return Boxes(primary, items, refs, idat)


def layout(boxes: Boxes, file: File) -> Layout:
    prim = boxes.items.get(boxes.primary)
    if prim is None:
        raise Unsupported("the primary item is not listed")
    if any(p.essential and p.kind not in UNDERSTOOD for p in prim.props):
        raise Unsupported("an essential property this path does not apply")
    for src, to in boxes.refs.get("auxl", {}).items():
        aux = boxes.items.get(src)
        if prim.id in to and aux is not None and str(aux.prop("auxC") or "").startswith(ALPHA_AUX):
            raise Unsupported("alpha")  # libheif composes it (rare in photos)
    tiles: tuple[Item, ...]
    if prim.type == "hvc1":
        tiles, (width, height), (rows, cols) = (prim,), _ispe(prim), (1, 1)
    elif prim.type == "grid":
        tiles, (width, height), (rows, cols) = _grid(boxes, prim, file)
    else:
        raise Unsupported(f"a primary image of type {prim.type}")  # iovl overlays, av01, ...
    sizes = {_ispe(t) for t in tiles}
    hvccs = {t.prop("hvcC") for t in tiles}
    if len(sizes) != 1 or len(hvccs) != 1 or None in hvccs:
        raise Unsupported("tiles of several sizes or coding parameters")
    tw, th = sizes.pop()
    # Tiles must cover the output and reach less than a tile past it: a grid of huge tiles
    # around a small output would be a decoding bomb the pixel limit (of the output) misses.
    if not ((cols - 1) * tw < width <= cols * tw and (rows - 1) * th < height <= rows * th):
        raise Unsupported("tiles that do not fit the output")
    if prim.type == "grid" and any(p.essential and p.kind not in UNDERSTOOD - {"clap", "irot", "imir"}
                                   for t in tiles for p in t.props):
        raise Unsupported("a tile with a transform")
    crop, orientation = transforms(prim.props, width, height)
    nclx = next((p.value for p in prim.props if p.kind == "colr" and p.value is not None), None)
    if nclx is None:
        nclx = next((p.value for p in tiles[0].props if p.kind == "colr" and p.value is not None), None)
    return Layout(width, height, rows, cols, (tw, th), tiles, hvccs.pop(), crop, orientation, nclx, boxes.idat)


def _ispe(item: Item) -> tuple[int, int]:
    ispe = item.prop("ispe")
    if not isinstance(ispe, tuple) or item.type != "hvc1" or item.prop("hvcC") is None:
        raise Unsupported("a coded image without its size or parameters")
    if not (ispe[0] > 0 and ispe[1] > 0):
        raise Unsupported("an empty image")
    return ispe


def _grid(boxes: Boxes, prim: Item, file: File) -> tuple[tuple[Item, ...], tuple[int, int], tuple[int, int]]:
    desc = item_data(prim, boxes.idat, file)
    if len(desc) < 8 or desc[0] != 0:
        raise Unsupported("a grid descriptor of another version")
    rows, cols = desc[2] + 1, desc[3] + 1
    size = struct.unpack_from(">II" if desc[1] & 1 else ">HH", desc, 4)
    ids = boxes.refs.get("dimg", {}).get(prim.id, ())
    if len(ids) != rows * cols or len(ids) > MAX_TILES or any(i not in boxes.items for i in ids):
        raise Unsupported("tiles that do not match the grid")
    return tuple(boxes.items[i] for i in ids), size, (rows, cols)


def transforms(props: tuple[Prop, ...], width: int, height: int) -> tuple[tuple[int, int, int, int] | None, int]:
    """The clean aperture (clap) as a box, and the irot/imir that follow it as an EXIF
    orientation, in the order the item lists them, as libheif applies them."""
    crop, mirrored, turns = None, False, 0
    for p in props:
        if p.kind == "clap":
            if mirrored or turns:
                raise Unsupported("a crop after a turn")  # MIAF forbids it; libheif copes
            crop = _clap_box(p.value, width, height)
        elif p.kind == "irot":
            turns = (turns + p.value) % 4
        elif p.kind == "imir":
            # libheif (1.23) reads axis 1 as a left-right flip and 0 as top-bottom (measured on
            # files it wrote from EXIF 2 and 4). A left-right flip after r quarter turns equals
            # the flip first, then -r turns; top-bottom is left-right then a half turn.
            mirrored, turns = not mirrored, (-turns + (0 if p.value == 1 else 2)) % 4
    return crop, _EXIF[(mirrored, turns)]


# (flipped left-right first, then quarter turns anticlockwise) -> EXIF orientation
_EXIF = {(False, 0): 1, (True, 0): 2, (False, 2): 3, (True, 2): 4,
         (True, 1): 5, (False, 3): 6, (True, 3): 7, (False, 1): 8}


def _clap_box(clap: tuple[Fraction, Fraction, Fraction, Fraction], width: int,
              height: int) -> tuple[int, int, int, int]:
    """ISO 14496-12: the aperture of cw × ch centred at ((w-1)/2 + hoff, (h-1)/2 + voff),
    rounded down as libheif does (checked on 29×100 in 64×100, 16×16 in 64×64, 1001×667 in 1002×668)."""
    cw, ch, hoff, voff = clap
    if cw <= 0 or ch <= 0:
        raise Unsupported("an empty clean aperture")
    left = Fraction(width - 1, 2) + hoff - (cw - 1) / 2
    top = Fraction(height - 1, 2) + voff - (ch - 1) / 2
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1, y1 = min(width, math.floor(left + cw - 1) + 1), min(height, math.floor(top + ch - 1) + 1)
    if x1 <= x0 or y1 <= y0:
        raise Unsupported("a clean aperture outside the image")
    return x0, y0, x1, y1
