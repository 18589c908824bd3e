"""An admin edits the running daemon's config by hand and reloads it: a config with the
mistakes a paste from a word processor makes is refused, the running one keeps serving,
and the log says the line, the key and the text to write; then the forms a person writes
(`format: JPG`, `size: 200 x 200px`, `quiet_period: 200ms`) are taken."""
from __future__ import annotations

import signal

from PIL import Image

from tests.harness import wait_for
from tests.integration.test_reload import drop


def test_a_pasted_config_is_refused_at_reload_and_the_forms_people_write_are_taken(daemon_factory):
    d = daemon_factory().start()
    drop(d, "before.jpg")
    wait_for(lambda: "before_web.jpg" in d.outputs(), 30, what="a file under the first config")
    original = d.config.read_text()

    # Curly quotes from a word processor (YAML kept them in the value) and a k that may be 1000 or 1024.
    pasted = original.replace("format: jpeg\n", "format: “jpeg”\n").replace(
        "        format: webp\n", "        format: webp\n        max_bytes: 500k\n")
    d.config.write_text(pasted)
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 30, what="the refusal")
    lines = pasted.splitlines()
    quoted = next((i + 1, line.index("“") + 1) for i, line in enumerate(lines) if "“jpeg”" in line)
    k = next((i + 1, line.index("max_bytes") + 1) for i, line in enumerate(lines) if "500k" in line)
    assert [p.split(": ", 2)[:2] for p in refused["problems"]] == [
        [f"{d.config}:{quoted[0]}:{quoted[1]}", "folders[test].renditions[web].format"],
        [f"{d.config}:{k[0]}:{k[1]}", "folders[test].renditions[thumb].max_bytes"]], refused
    assert 'write straight quotes, "jpeg"' in refused["problems"][0], refused
    assert "'500k': write 500KB (500,000 bytes) or 500KiB (512,000 bytes)" in refused["problems"][1], refused
    drop(d, "still.jpg")  # the running config still serves: its 320 px web JPEG
    wait_for(lambda: "still_web.jpg" in d.outputs(), 30, what="the previous config still serving")
    with Image.open(d.output / "still_web.jpg") as im:
        assert max(im.size) == 320

    # What an admin writes by hand, all taken now (each was refused before).
    written = original.replace("format: jpeg\n", "format: JPG\n").replace(
        "size: 320x320\n", "size: 200 x 200px\n").replace(
        "quiet_period: 0.2\n", "quiet_period: 200ms\n").replace("quality: 85\n", 'quality: "80%"\n')
    assert written.count("JPG") == 1 and "200ms" in written and "200px" in written and "80%" in written
    d.config.write_text(written)
    d.proc.send_signal(signal.SIGHUP)
    reloaded = wait_for(lambda: d.event("reloaded"), 30, what="the reload")
    # JPG is jpeg and 200ms the 0.2 s it was: no change said of them
    assert reloaded["changes"] == ["test: web: size 320x320 → 200x200", "test: web: quality 85 → 80"], reloaded
    drop(d, "after.jpg")
    wait_for(lambda: "after_web.jpg" in d.outputs(), 30, what="a file under the admin's config")
    with Image.open(d.output / "after_web.jpg") as im:
        assert im.format == "JPEG" and max(im.size) == 200
    assert d.proc.poll() is None
    assert d.stop() == 0
