"""The engine's attacks (tests/unit/test_attacks_engine.py) through a running daemon: the
bombs reach failed/ with their reasons worded, and the file beside them is rendered."""
from __future__ import annotations

import json
import struct

from PIL import Image

from tests import attack_files as af
from tests import sources
from tests.harness import files_under, wait_for


def test_the_daemon_fails_the_bombs_with_worded_reasons_and_renders_the_rest(daemon_factory, tmp_path):
    d = daemon_factory(extra="accepted_formats: [jpeg, png, heic]").start()
    staging = tmp_path / "staging"
    staging.mkdir()
    af.scan_bomb(staging / "scans.jpg", (2000, 1500), 3000)
    heic = sources.heic(staging / "limit.heic", Image.new("RGB", (64, 48), (200, 10, 10)))
    data = heic.read_bytes()
    at = data.index(b"ispe") + 8
    heic.write_bytes(data[:at] + struct.pack(">II", 70000, 70000) + data[at + 8:])
    Image.new("RGB", (64, 48), (200, 30, 30)).save(staging / "link.jpg", icc_profile=af.device_link_icc())
    for p in sorted(staging.iterdir()):
        p.rename(d.inbox / p.name)
    wait_for(lambda: d.settled(3), 60, what="the three files to reach an end")
    assert files_under(d.archive) == ["link.jpg"]
    reasons = {name: json.loads((d.failed / f"{name}.error.json").read_text())["error"]
               for name in ("scans.jpg", "limit.heic")}
    assert reasons["scans.jpg"].startswith("The image could not be decoded: the JPEG has more than 500 scans")
    assert reasons["limit.heic"] == ("The image could not be decoded: the HEIF is over a libheif security limit "
                                     "(image size 70000x70000 exceeds the maximum image size 1073741824)")
    assert d.stop() == 0
