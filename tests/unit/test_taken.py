"""When a photo was taken (engine/taken.py), as `{taken}`, the manifest and `{year}` read it:
EXIF DateTimeOriginal, else the XMP's or IPTC's date created, else DateTimeDigitized;
never IFD0's DateTime (when software last saved the file). A studio's week on real photos
found an AP wire photo, shot in 2003 with its date only in IPTC and saved by Photoshop in
2008, filed under the day it was copied and stamped `© 2008`."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine import facts, iptc, pipeline, source_facts, taken
from hotfolder.engine.metadata import read_metadata
from hotfolder.recipes.facts import Need
from tests import sources

UTC, PLUS2 = dt.UTC, dt.timezone(dt.timedelta(hours=2))
SAVED_2008 = {0x0132: "2008:03:14 10:00:00", 0x0131: "Adobe Photoshop CS3 Windows"}  # IFD0 only: no capture date
WIRE_IIM = iptc._app13(iptc.serialise([(1, 90, b"\x1b%G"), (2, 55, b"20030501"), (2, 60, b"140322+0200"),
                                       (2, 80, b"AP Photo/Ann Smith")]), False)


def wire_photo(path: Path, xmp: bytes | None = None, exif: dict | None = None) -> Path:
    """A wire photo as an agency's desk leaves it: EXIF from Photoshop, the date in IPTC."""
    made = Image.Exif()
    for tag, value in (SAVED_2008 if exif is None else exif).items():
        made[tag] = value
    extra = {"xmp": xmp} if xmp else {}
    Image.new("RGB", (320, 240), (90, 120, 150)).save(path, "JPEG", quality=90, exif=made.tobytes(),
                                                      extra=WIRE_IIM, **extra)
    return path


def read(path: Path):
    return facts.read(path, Need(exif=True, mtime=True), accepted_formats=("jpeg",), max_image_pixels=10**8)


@pytest.mark.parametrize("text, when", [
    ("2003-05-01T14:03:22+02:00", dt.datetime(2003, 5, 1, 14, 3, 22, tzinfo=PLUS2)),
    ("2003-05-01T14:03:22.45Z", dt.datetime(2003, 5, 1, 14, 3, 22, tzinfo=UTC)),
    ("2003-05-01T14:03", dt.datetime(2003, 5, 1, 14, 3)),
    ("2003-05-01", dt.datetime(2003, 5, 1)),
    (" 2003-05-01T14:03:22+0200 ", dt.datetime(2003, 5, 1, 14, 3, 22, tzinfo=PLUS2)),
    ("2003-05", None), ("2003", None),  # no day: not a date to file by
    ("2003-02-31", None), ("0000-00-00T00:00:00", None), ("yesterday", None), ("", None), (None, None),
])
def test_an_xmp_date(text, when):
    assert taken.xmp_stamp(text) == when


@pytest.mark.parametrize("date, time, when", [
    (b"20030501", b"140322+0200", dt.datetime(2003, 5, 1, 14, 3, 22, tzinfo=PLUS2)),
    (b"20030501", b"140322", dt.datetime(2003, 5, 1, 14, 3, 22)),
    (b"20030501", None, dt.datetime(2003, 5, 1)),
    (b"20030500", b"140322", None),  # IIM's "day unknown": no date
    (b"2003-05-01", None, None), (None, b"140322", None), (b"", b"", None),
])
def test_an_iim_date(date, time, when):
    assert taken.iim_stamp(date, time) == when


def test_a_wire_photo_is_taken_when_its_iptc_says_not_when_photoshop_saved_it(tmp_path):
    photo = read(wire_photo(tmp_path / "AP_0501.jpg"))
    assert (photo.taken, photo.taken_from) == (dt.datetime(2003, 5, 1, 14, 3, 22, tzinfo=PLUS2), "iptc")


def test_the_xmp_date_created_comes_before_the_iptc_and_the_exif_capture_date_before_both(tmp_path):
    packet = sources.xmp_packet(extra='<photoshop:DateCreated xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
                                      '2003-04-30T09:00:00Z</photoshop:DateCreated>')
    photo = read(wire_photo(tmp_path / "lr.jpg", xmp=packet))
    assert (photo.taken, photo.taken_from) == (dt.datetime(2003, 4, 30, 9, 0, tzinfo=UTC), "xmp")
    camera = read(sources.camera_jpeg(tmp_path / "cam.jpg", exif=sources.camera_exif()))
    assert camera.taken_from == "exif" and camera.taken.year == 2024


def test_digitized_is_the_last_word_of_the_file_and_its_modification_time_after_it(tmp_path):
    digitized = wire_photo(tmp_path / "scan.jpg")
    with Image.open(digitized) as im:  # a scan: when it was digitized, and no IPTC
        made = Image.Exif()
        made[0x0132] = "2008:03:14 10:00:00"
        made.get_ifd(0x8769)[0x9004] = "1999:12:24 18:00:00"
        im.save(digitized, "JPEG", exif=made.tobytes())
    assert (read(digitized).taken, read(digitized).taken_from) == (dt.datetime(1999, 12, 24, 18, 0), "exif")
    bare = tmp_path / "bare.jpg"
    made = Image.Exif()
    made[0x0132] = "2008:03:14 10:00:00"
    Image.new("RGB", (32, 32)).save(bare, "JPEG", exif=made.tobytes())
    photo = read(bare)  # only when software saved it: the file's time, as before, never DateTime
    assert photo.taken_from == "mtime" and photo.taken.year != 2008


def test_the_manifest_says_the_wire_photo_s_date(tmp_path):
    src = wire_photo(tmp_path / "AP_0501.jpg")
    with Image.open(src) as im:
        meta = read_metadata(im)
        found = source_facts.of(im.size, meta)
    assert found.taken == "2003-05-01T14:03:22+02:00"


def test_the_copyright_year_is_the_year_it_was_taken(tmp_path):
    """`© {year}` on the wire photo: 2003 (its IPTC), not 2008 (when Photoshop saved it)."""
    rendition = Rendition(name="web", operation="fit", width=200, height=200, format="jpeg", quality=85,
                          metadata="copyright-only", set_metadata=SetMetadata(copyright="© {year} AP"))
    (output,) = pipeline.render(wire_photo(tmp_path / "AP_0501.jpg"), (rendition,), accepted_formats=("jpeg",),
                                max_image_pixels=10**8)
    with Image.open(io.BytesIO(output.data)) as im:
        assert im.getexif().get(0x8298) == "(c) 2003 AP"
    # the last save's year where the file says nothing else, as before
    assert taken.year_of(Image.new("RGB", (1, 1)).getexif().tobytes()) is None
    made = Image.Exif()
    made[0x0132] = "2008:03:14 10:00:00"
    assert taken.year_of(made.tobytes()) == 2008
