"""What a file says of itself (engine/facts.py): read from real files as cameras and
Lightroom leave them, only as far as a recipe needs, never decoding a pixel; sidecars
and packets are data."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.engine import facts, iptc
from hotfolder.engine.errors import InputError
from hotfolder.engine.fingerprint import content_hash, file_hash
from hotfolder.recipes.facts import Need
from tests import sources

EVERYTHING = Need(header=True, exif=True, exif_tags=frozenset({"FNumber", "ExposureTime", "LensModel"}), xmp=True,
                  mtime=True)
FORMATS = ("jpeg", "png", "webp", "tiff", "heic", "raw")


def read(path: Path, need: Need = EVERYTHING, sidecar: Path | None = None, notes: list[str] | None = None):
    return facts.read(path, need, accepted_formats=FORMATS, max_image_pixels=10**8, sidecar=sidecar, notes=notes)


def test_a_camera_jpeg_with_lightroom_s_xmp_and_iptc(tmp_path):
    iim = iptc._app13(iptc.serialise([(1, 90, b"\x1b%G"), (2, 25, b"Hafen"), (2, 25, b"portfolio"),
                                      (2, 120, "Boote im Hafen, früh".encode())]), False)
    src = sources.camera_jpeg(tmp_path / "IMG_0001.jpg", (1200, 800), exif=sources.camera_exif(orientation=6),
                              xmp=sources.xmp_packet(rating=4, label="Red", keywords=("Portfolio", "beach"),
                                                     title="Sunset"))
    with Image.open(src) as im:  # the same file with an IPTC-IIM block, as Photo Mechanic writes one
        im.save(src, "JPEG", quality=90, exif=im.info["exif"], xmp=im.info["xmp"], extra=iim)
    photo = read(src)
    assert (photo.format, photo.width, photo.height, photo.orientation) == ("jpeg", 800, 1200, "portrait")
    assert (photo.make, photo.model, photo.camera, photo.lens, photo.iso) == (
        "Canon", "Canon EOS R5", "Canon EOS R5", "RF50mm F1.2 L USM", 400)
    assert photo.taken == dt.datetime(2024, 5, 1, 14, 3, 22, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert photo.taken_from == "exif"
    assert (photo.rating, photo.label, photo.title) == (4, "Red", "Sunset")
    assert photo.keywords == ("Portfolio", "beach", "Hafen")  # XMP's, then IIM's not already there
    assert photo.description == "Boote im Hafen, früh"
    assert dict(photo.exif) == {"FNumber": "1.2", "ExposureTime": "1/250", "LensModel": "RF50mm F1.2 L USM"}
    assert photo.read == ("header", "exif", "xmp", "iptc")


def test_only_what_is_needed_is_read(tmp_path):
    src = sources.camera_jpeg(tmp_path / "a.jpg", xmp=sources.xmp_packet(rating=5))
    photo = read(src, Need(header=True))
    assert photo.width == 1200 and photo.make is None and photo.rating is None and photo.read == ("header",)
    photo = read(src, Need(xmp=True))
    assert photo.rating == 5 and photo.width is None and photo.read == ("xmp", "iptc")
    assert read(src, Need()).read == ()


def test_a_sidecar_is_the_newer_word(tmp_path):
    src = sources.camera_jpeg(tmp_path / "IMG_0002.jpg", xmp=sources.xmp_packet(rating=2, keywords=("beach",),
                                                                                  title="In camera"))
    side = tmp_path / "IMG_0002.xmp"
    side.write_bytes(sources.xmp_packet(rating=5, label="Green", keywords=("portfolio", "Beach")))
    photo = read(src, Need(xmp=True), sidecar=side)
    assert (photo.rating, photo.label, photo.title) == (5, "Green", "In camera")
    assert photo.keywords == ("portfolio", "Beach")  # once each, case aside; the sidecar's first
    assert photo.sidecar.rating == 5 and photo.sidecar.title is None
    assert read(src, Need(), sidecar=side).rating == 5  # a sidecar is read even when no condition asks


@pytest.mark.parametrize("content, note", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>', "DTD"),
    (b"\x00\x01 not xml at all", "not valid XML"),
    (b"<html><body>hi</body></html>", "no x:xmpmeta"),
])
def test_a_hostile_or_broken_sidecar_is_data(tmp_path, content, note):
    src = sources.camera_jpeg(tmp_path / "a.jpg")
    side = tmp_path / "a.xmp"
    side.write_bytes(content)
    notes: list[str] = []
    photo = read(src, Need(xmp=True), side, notes)
    assert photo.rating is None and photo.keywords == ()
    assert len(notes) == 1 and "the XMP sidecar a.xmp cannot be read" in notes[0] and note in notes[0]


def test_a_sidecar_that_is_a_link_a_fifo_or_huge_is_not_read(tmp_path):
    src = sources.camera_jpeg(tmp_path / "a.jpg")
    secret = tmp_path / "secret.xmp"
    secret.write_bytes(sources.xmp_packet(rating=5, keywords=("leaked",)))
    (tmp_path / "link.xmp").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo.xmp")
    (tmp_path / "huge.xmp").write_bytes(b" " * (facts.SIDECAR_LIMIT + 1))
    for name, said in (("link.xmp", "cannot be read"), ("fifo.xmp", "not a regular file"),
                       ("huge.xmp", "larger than")):
        notes: list[str] = []
        photo = read(src, Need(xmp=True), tmp_path / name, notes)
        assert photo.keywords == () and said in notes[0], (name, notes)


def test_a_dng_s_camera_and_size_come_from_libraw_and_its_preview(tmp_path):
    photo_px = Image.new("RGB", (600, 400), (120, 140, 160))
    src = sources.dng(tmp_path / "IMG_0003.dng", photo_px, orientation=6,
                      preview_exif=sources.camera_exif(make="Hotfolder", model="Test DNG"))
    photo = read(src)
    assert (photo.format, photo.width, photo.height, photo.orientation) == ("raw", 400, 600, "portrait")
    assert photo.camera == "Hotfolder Test DNG"


def test_a_raw_whose_preview_has_no_exif_is_dated_by_the_raw_not_by_its_copy(tmp_path):
    """A wedding card's RAWs copied with `cp -r` (the copies' mtime is the copy's): the
    preview carries no EXIF, so LibRaw makes one from the RAW's tags, and it puts the shot's
    time in IFD0's DateTime, not DateTimeOriginal; {taken} read the copy's mtime instead,
    and the RAW and its camera JPEG got names hours apart."""
    src = sources.dng(tmp_path / "IMG_0001.dng", Image.new("RGB", (600, 400), (120, 140, 160)),
                      exif={36867: (2, "2026:06:13 14:02:10")})
    bare = sources.dng(tmp_path / "IMG_0002.dng", Image.new("RGB", (600, 400), (120, 140, 160)), preview_scale=None,
                       exif={36867: (2, "2026:06:13 14:02:10")})  # no preview: its own tags, as its outputs
    for path in (src, bare):
        photo = read(path)
        assert photo.taken is not None and photo.taken.replace(tzinfo=None) == dt.datetime(2026, 6, 13, 14, 2, 10)
        assert photo.taken_from == "exif" and photo.camera == "Hotfolder Test DNG", path


def test_a_raw_with_no_date_is_dated_by_its_file_not_by_the_epoch_libraw_writes(tmp_path):
    """A RAW that says nothing of when it was taken (a converter's DNG without dates): LibRaw's
    EXIF of its preview says DateTime 1970:01:01 00:00:00 (its timestamp 0, in local time),
    which 6702a37 took for the shot's time: {taken} named it 1970/0101-000000_…, and its
    outputs said they were taken in 1970. It is dated by the file, as before."""
    src = sources.dng(tmp_path / "IMG_0009.dng", Image.new("RGB", (600, 400), (120, 140, 160)))
    os.utime(src, (1781359330, 1781359330))  # 2026-06-13 14:02:10 UTC
    for zone in ("UTC", "Europe/Berlin", "America/New_York"):  # LibRaw writes the epoch in local time
        os.environ["TZ"] = zone
        time.tzset()
        try:
            photo = read(src)
        finally:
            os.environ.pop("TZ")
            time.tzset()
        assert photo.taken_from == "mtime" and photo.taken is not None and photo.taken.year == 2026, (zone, photo)


def test_a_heic_is_upright_by_libheif_and_a_png_has_no_camera(tmp_path):
    heic = sources.heic(tmp_path / "a.heic", Image.new("RGB", (64, 32), "red"), exif=sources.camera_exif(orientation=6))
    photo = read(heic)
    assert (photo.format, photo.width, photo.height) == ("heic", 32, 64) and photo.camera == "Canon EOS R5"
    png = tmp_path / "b.png"
    Image.new("RGB", (30, 20)).save(png)
    os.utime(png, (1_700_000_000, 1_700_000_000))
    photo = read(png)
    assert (photo.format, photo.width, photo.camera, photo.taken_from) == ("png", 30, None, "mtime")
    assert photo.taken == dt.datetime.fromtimestamp(1_700_000_000).astimezone()


def test_a_file_dated_past_year_9999_has_no_date_taken_and_says_why():
    """`explain` printed a traceback for it (`{taken}` read from the mtime: an attack round);
    tmpfs keeps such a time, ext4 does not."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        png = Path(tmp) / "far.png"
        Image.new("RGB", (30, 20)).save(png)
        os.utime(png, (99_999_999_999_999, 99_999_999_999_999))
        if os.stat(png).st_mtime < 10**13:
            pytest.skip("this file system cannot keep a time past year 9999")
        notes: list[str] = []
        photo = read(png, Need(header=True, mtime=True), notes=notes)
    assert photo.taken is None and any("not a date" in n for n in notes), notes


def test_a_file_that_is_no_image_says_so_as_a_render_would(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(InputError, match="not an image in an accepted format"):
        read(bad)
    assert read(bad, Need()).read == ()  # nothing needed: nothing opened


def test_a_files_hash_is_the_content_hash_of_its_bytes(tmp_path):
    """`{hash}` of `hotfolder explain` (the file hashed in chunks) is the one the worker
    computes of the bytes it read once, and the duplicates index keys on: BLAKE3-256."""
    from blake3 import blake3

    data = os.urandom(9 << 20) + b"tail"  # more than two chunks
    (tmp_path / "x").write_bytes(data)
    assert file_hash(tmp_path / "x") == content_hash(data) == blake3(data).hexdigest()


def test_reading_a_recipe_s_fields_costs_at_most_2_percent_of_its_render(tmp_path):
    """Issue 22's bound, on a 12 MP camera-like JPEG with a Lightroom-sized XMP packet: the
    fields the README's studio recipe reads, against the example recipe's render of the
    same file (fit 1600 JPEG with a watermark, fill 400 WebP), measured interleaved so that
    the machine's load moves both alike (bench/features.py reports the same figure)."""
    import statistics
    import time

    from hotfolder.config.model import Rendition, Watermark
    from hotfolder.engine import pipeline

    keywords = tuple(f"keyword {i}" for i in range(40))
    src = sources.camera_jpeg(tmp_path / "big.jpg", (4000, 3000), xmp=sources.xmp_packet(
        rating=4, keywords=keywords, title="A title", extra="".join(f"<crs:S{i}>{i}</crs:S{i}>" for i in range(300))))
    fit = Rendition(name="web", width=1600, height=1600, format="jpeg", watermark=Watermark(text="© Studio"))
    fill = Rendition(name="thumb", operation="fill", width=400, height=400, format="webp", quality=80)
    need = Need(header=True, exif=True, xmp=True, mtime=True)
    pipeline.warm_up()
    renders, reads = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        pipeline.render(src, (fit, fill), accepted_formats=("jpeg",), max_image_pixels=10**8)
        renders.append(time.perf_counter() - t0)
        for _ in range(7):
            t0 = time.perf_counter()
            read(src, need)
            reads.append(time.perf_counter() - t0)
    ratio = statistics.median(reads) / statistics.median(renders)
    assert ratio <= 0.02, f"reading the fields took {ratio:.1%} of the render"


def test_an_exif_of_garbage_leaves_its_fields_empty_and_is_said(tmp_path):
    """It failed the file where a folder's templates or `when:` read the EXIF (a fuzz round)."""
    src = tmp_path / "garbage.png"
    Image.new("RGB", (40, 30)).save(src, exif=b"\xbe\x88" + bytes(range(200)))
    notes: list[str] = []
    photo = read(src, EVERYTHING, notes=notes)
    assert photo.camera is None and photo.format == "png"
    assert any("EXIF cannot be read" in note for note in notes), notes


def test_exif_text_parted_by_a_nul_keeps_each_part(tmp_path):
    """EXIF's Copyright is "photographer NUL editor": both are kept, a space between (a
    review: cut at the first NUL, `exif: {Copyright: "*Editor*"}` no longer matched)."""
    exif = Image.Exif()
    exif[0x8298], exif[0x010F] = "(c) Ann Smith\0(c) Editor Bob\0", "Canon\0\0\0"
    src = tmp_path / "a.jpg"
    Image.new("RGB", (32, 24)).save(src, exif=exif)
    photo = read(src, Need(exif=True, exif_tags=frozenset({"Copyright"})))
    assert photo.exif_tag("Copyright") == "(c) Ann Smith (c) Editor Bob" and photo.make == "Canon"
    # Bytes (UNDEFINED: Windows' UTF-16 XP tags) keep their NULs dropped: "T i t l e" was a review's find.
    assert facts._text("Title".encode("utf-16-le")) == "Title"


def test_exif_text_written_in_utf8_is_read_as_utf8(tmp_path):
    """A Make of `Sõny Café` written as UTF-8 (as tools do) was read as Latin-1: `SÃµny CafÃ©` in
    names and messages (an attack round). Latin-1 bytes that are no UTF-8 stay as they are."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Sõny Café".encode(), "Mod\xe8le".encode("latin-1")
    src = tmp_path / "a.jpg"
    Image.new("RGB", (32, 24)).save(src, exif=exif)
    photo = read(src, Need(exif=True))
    assert photo.make == "Sõny Café" and photo.model == "Modèle"


def test_an_iso_of_two_values_is_its_first_for_conditions_as_for_names(tmp_path):
    """ISOSpeedRatings may hold two values (cameras write `400 0`): `exif: {ISO: "400"}` did
    not match the "400 0" the condition read, though `{iso}` named it 400 (a review)."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x8827] = (400, 0)
    src = tmp_path / "a.jpg"
    Image.new("RGB", (32, 24)).save(src, exif=exif)
    photo = read(src, Need(exif=True, exif_tags=frozenset({"ISOSpeedRatings"})))
    assert photo.exif_tag("ISOSpeedRatings") == "400" and photo.iso == 400


def test_a_file_the_daemon_may_not_read_says_whose_permission_to_change(tmp_path):
    """A file written with umask 077 by another user (a Samba or SFTP upload) failed with a
    raw `PermissionError: … processing/private.jpg`, saying nothing to do (an attack round).
    Run without the capabilities that let root read anything (as the unit's User= runs)."""
    import shutil
    import subprocess
    import sys

    src = sources.camera_jpeg(tmp_path / "private.jpg")
    src.chmod(0)
    code = ("import sys; from pathlib import Path; from hotfolder.engine import fingerprint\n"
            "from hotfolder.engine.errors import InputError\n"
            "try:\n    fingerprint.read_original(Path(sys.argv[1]))\n"
            "except InputError as exc:\n    print(exc.step, exc.reason)\n")
    argv = [sys.executable, "-c", code, str(src)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's read-anything capabilities")
        argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("read the daemon's user (") and "may not read the file: make it readable" in out.stdout
    assert "requeue" in out.stdout and "processing" not in out.stdout, out.stdout


def test_a_wire_photo_s_byline_credit_and_copyright_are_fields_for_names_and_captions(tmp_path):
    # A picture desk's audit: names and captions could use the caption and headline but not
    # who made the photo or whose it is: `{credit|slug}/{stem}` (a folder per agency) and
    # `description: "{description} (Foto: {artist})"` had no field to say it.
    from hotfolder.recipes.facts import Facts
    from hotfolder.recipes.templates import fill, parse

    iim = iptc._app13(iptc.serialise([(1, 90, b"\x1b%G"), (2, 80, "Łukasz Żółć/dpa".encode()),
                                      (2, 110, b"dpa"), (2, 116, "© dpa".encode())]), False)
    src = tmp_path / "wire.jpg"
    exif = Image.Exif()
    exif[0x013B] = "Camera Owner"
    Image.new("RGB", (60, 40)).save(src, exif=exif.tobytes(), extra=iim)
    photo = read(src, Need(xmp=True))
    assert (photo.artist, photo.credit, photo.copyright) == ("Łukasz Żółć/dpa", "dpa", "© dpa")
    values = Facts("wire.jpg", photo=photo).values()
    assert fill(parse("{credit|slug}/{artist}_{stem}.{ext}"), {**values, "ext": "jpg"}, as_path=True) == \
        "dpa/Łukasz Żółć_dpa_wire.jpg"
    plain = tmp_path / "staff.jpg"
    Image.new("RGB", (60, 40)).save(plain, exif=exif.tobytes())
    assert read(plain, Need(xmp=True)).artist == "Camera Owner"  # the camera's Artist when nothing else says
    for word, meant in (("byline", "artist"), ("creator", "artist"), ("caption", "description")):
        with pytest.raises(ValueError, match=rf"unknown field {{{word}}}; use {{{meant}}}"):
            parse(f"{{{word}}}_{{stem}}.{{ext}}")
