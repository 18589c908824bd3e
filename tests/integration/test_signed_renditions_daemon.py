"""The keys of issue 13 through the real daemon: photos dropped, outputs read back."""
from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET

from PIL import Image

from tests.harness import files_under, wait_for
from tests.imaging import photo, stored_as

SIGNED = """
- name: web
  operation: fit
  size: 800x800
  format: jpeg
  quality: 92
  max_bytes: 120KB
  progressive: true
  sharpen: standard
  metadata: strip-gps
  set_metadata:
    artist: Zoë Ångström
    copyright: "© {year} Zoë Ångström, {folder}"
  watermark: {text: "© Zoë", opacity: 0.6, size: 0.3}
- name: thumb
  operation: fill
  size: 200x200
  format: webp
  crop: attention
  metadata: copyright-only
"""
TOO_SMALL_A_LIMIT = """
- name: tiny
  operation: fit
  size: 2000x2000
  format: jpeg
  max_bytes: 1KB
"""
DC_RIGHTS = "{http://purl.org/dc/elements/1.1/}rights"


def test_a_dropped_photo_comes_out_signed_smart_cropped_and_within_its_limit(daemon_factory, tmp_path):
    d = daemon_factory(renditions=SIGNED).start()
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Canon"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 12:00:00"
    staging = tmp_path / "staging"
    staging.mkdir()
    stored_as(photo((1600, 2400)), 6).save(staging / "IMG_0001.jpg", quality=95, exif=exif,
                                          xmp=b"<x:xmpmeta><rdf:RDF> not closed")
    os.rename(staging / "IMG_0001.jpg", d.inbox / "IMG_0001.jpg")
    wait_for(lambda: d.settled(1), 30, what="the photo to be done")
    assert d.stop() == 0
    assert sorted(d.outputs()) == ["IMG_0001_thumb.webp", "IMG_0001_web.jpg"]
    web_bytes = (d.output / "IMG_0001_web.jpg").read_bytes()
    assert len(web_bytes) <= 120_000
    web = Image.open(io.BytesIO(web_bytes))
    assert web.size == (533, 800) and web.info.get("progressive")  # upright portrait
    assert web.getexif()[0x013B] == "Zoe Angstrom" and web.getexif()[0x8298] == "(c) 2021 Zoe Angstrom, test"
    rights = ET.fromstring(web.info["xmp"]).find(f".//{DC_RIGHTS}")
    assert [li.text for li in rights.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")] == \
        ["© 2021 Zoë Ångström, test"]
    thumb = Image.open(d.output / "IMG_0001_thumb.webp")
    assert thumb.size == (200, 200) and dict(thumb.getexif()) == {}  # copyright-only: no camera, no date
    notes = {e["rendition"]: e["note"] for e in d.events("rendition_note")}
    assert set(notes) == {"web", "thumb"} and all("cannot be read" in n for n in notes.values())
    # strip-gps cannot clean a packet it cannot parse: left out, then set_metadata writes its own
    assert "left out, since its location could not be removed" in notes["web"]
    assert "left out" in notes["thumb"]


def test_a_photo_that_cannot_fit_its_limit_goes_to_failed_naming_the_rendition(daemon_factory, tmp_path):
    d = daemon_factory(renditions=TOO_SMALL_A_LIMIT).start()
    staging = tmp_path / "staging"
    staging.mkdir()
    photo((1600, 1200)).save(staging / "big.jpg", quality=95)
    os.rename(staging / "big.jpg", d.inbox / "big.jpg")
    wait_for(lambda: (d.failed / "big.jpg.error.json").exists(), 30, what="big.jpg to fail")
    assert d.stop() == 0
    record = json.loads((d.failed / "big.jpg.error.json").read_text())
    assert record["step"] == "encode"
    assert "rendition tiny" in record["error"] and "max_bytes 1,000 bytes" in record["error"]
    assert "quality 30" in record["error"] and files_under(d.output) == []
