"""`format: tiff` through the real daemon: a camera JPEG with EXIF (GPS), XMP and IPTC-IIM
(places in each) dropped, its TIFF read back under strip-gps: the tags, the ICC profile,
the dpi, and no location anywhere."""
from __future__ import annotations

import io
import os

import tifffile
from PIL import Image

from hotfolder.engine import iptc
from hotfolder.engine.colour import srgb_icc
from tests.harness import wait_for
from tests.unit.test_tiff import COPYRIGHT, GPS_IFD, MAKE, source_with_places

PRINT = """
- name: print
  operation: fit
  size: 300x300
  format: tiff
  metadata: strip-gps
- name: lab
  operation: fit
  size: 200x200
  format: tiff
  compression: lzw
  metadata: keep
"""


def test_a_dropped_camera_jpeg_comes_out_a_tiff_with_its_tags_and_no_location(daemon_factory, tmp_path):
    d = daemon_factory(renditions=PRINT).start()
    staging = tmp_path / "staging"
    staging.mkdir()
    source_with_places(staging / "IMG_0001.jpg")
    os.rename(staging / "IMG_0001.jpg", d.inbox / "IMG_0001.jpg")
    wait_for(lambda: d.settled(1), 30, what="the photo to be done")
    assert d.stop() == 0
    assert sorted(d.outputs()) == ["IMG_0001_lab.tif", "IMG_0001_print.tif"]

    data = (d.output / "IMG_0001_print.tif").read_bytes()
    for place in (b"Hometown", b"Freedonia", b"GPSLatitude", b"48,51"):
        assert place not in data, place
    with Image.open(io.BytesIO(data)) as out:
        out.load()
        tags = out.getexif()
        assert out.format == "TIFF" and out.size == (300, 225) and out.info["compression"] == "tiff_adobe_deflate"
        assert tags[MAKE] == "Camera Maker" and tags[COPYRIGHT] == "(c) Ann" and GPS_IFD not in tags
        assert out.info["dpi"] == (240.0, 240.0)  # the source EXIF's density
        assert out.info["icc_profile"] == srgb_icc()  # the Adobe RGB photo converted (color_profile: srgb)
        assert b"Agency" in out.tag_v2[700]  # the XMP, less its location
        assert iptc.datasets(iptc.of_image(out).data) == [(2, 80, b"Ann Byline")]
    with tifffile.TiffFile(d.output / "IMG_0001_print.tif") as tf:
        page = tf.pages[0]
        assert page.shape == (225, 300, 3) and "GPSTag" not in page.tags and "InterColorProfile" in page.tags

    with Image.open(d.output / "IMG_0001_lab.tif") as lab:
        assert lab.info["compression"] == "tiff_lzw" and lab.getexif().get_ifd(GPS_IFD)[1] == "N"
        assert (2, 90, b"Hometown") in iptc.datasets(iptc.of_image(lab).data)  # keep keeps the places
