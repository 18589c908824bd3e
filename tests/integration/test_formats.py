"""The formats a new user drops, through `hotfolder process` on the example config as it is.
(Each format through the engine: tests/unit/test_formats.py.)"""
from __future__ import annotations

import subprocess
import sys

from PIL import ExifTags, Image

from hotfolder.engine.colour import srgb_icc
from tests import sources
from tests.harness import REPO, log_events
from tests.imaging import RED, camera_exif, marked, photo, stored_as
from tests.rendering import near

GPS = ExifTags.IFD.GPSInfo


def test_the_example_config_renders_heic_raw_and_wide_gamut_files_and_fails_broken_ones(tmp_path):
    """What a new user drops: iPhone HEICs, a DNG and two other RAWs, P3 and Adobe RGB
    files, a corrupt HEIC and a truncated RAW; through `hotfolder process` on the
    example config, as it is."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hotfolder.yaml").write_text((REPO / "config" / "hotfolder.yaml").read_text())
    drops = tmp_path / "drops"
    drops.mkdir()
    upright = marked((900, 600))
    sources.heic(drops / "IMG_1001.HEIC", stored_as(upright, 6), exif=camera_exif(orientation=6),
                 icc=sources.display_p3_icc())
    for name in ("DSC_1002.dng", "DSC_1003.NEF", "DSC_1004.ARW"):
        sources.dng(drops / name, stored_as(upright, 8), orientation=8, preview_exif=camera_exif())
    upright.save(drops / "p3.jpg", quality=95, icc_profile=sources.display_p3_icc(), exif=camera_exif())
    upright.save(drops / "adobe.tif", icc_profile=sources.adobe_rgb_icc())
    corrupt = sources.heic(drops / "corrupt.heic", photo((256, 192)))
    corrupt.write_bytes(corrupt.read_bytes()[:400])
    truncated = sources.dng(drops / "truncated.cr2", photo((480, 320)), preview_scale=None)
    truncated.write_bytes(truncated.read_bytes()[:60000])

    out = tmp_path / "rendered"
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--output", str(out),
                           "--log-format", "json", str(drops)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # two files failed
    made = sorted(p.name for p in out.iterdir())
    stems = ["IMG_1001", "DSC_1002", "DSC_1003", "DSC_1004", "p3", "adobe"]
    assert made == sorted([f"{s}_web.jpg" for s in stems] + [f"{s}_thumb.webp" for s in stems]), made
    for stem in stems:
        with Image.open(out / f"{stem}_web.jpg") as web:
            assert web.size == (900, 600) and web.info["icc_profile"] == srgb_icc(), stem
            assert GPS not in web.getexif() and near(web.convert("RGB").getpixel((3, 3)), RED, 60), stem
        with Image.open(out / f"{stem}_thumb.webp") as thumb:
            assert thumb.size == (400, 400), stem
    failed = {r["file"]: r for r in log_events(proc.stderr, "file_failed")}
    assert set(failed) == {"corrupt.heic", "truncated.cr2"}, proc.stderr
    assert failed["truncated.cr2"]["step"] == "decode" and "LibRaw" in failed["truncated.cr2"]["reason"]
