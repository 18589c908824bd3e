"""A new studio admin's first steps, as the README gives them (issue 26, item 17):
`hotfolder init` writes a config of their own (the tracked example stays untouched), and
`hotfolder run` from that folder, on a terminal, speaks to people — also when systemd or
`kill` stops it, where there is no Ctrl-C to press.
"""
from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests import corpus as c
from tests.harness import files_under, hotfolder, wait_for


class Terminal:
    """A command on a real pseudo-terminal (stdin, stdout, stderr), its screen read as it comes."""

    def __init__(self, argv: list[str], cwd: Path):
        main, child = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child, cwd=cwd, close_fds=True)
        os.close(child)
        self._main = main
        self.screen = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._main, 65536)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            self.screen += chunk.decode("utf-8", "replace")

    def says(self, text: str, timeout: float = 30) -> None:
        wait_for(lambda: text in self.screen or self.proc.poll() is not None, timeout, what=repr(text))
        assert text in self.screen, self.screen

    def end(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        os.close(self._main)
        return code


def test_init_then_run_on_a_terminal_as_the_readme_says(tmp_path):
    init = hotfolder("init", "studio", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    studio = tmp_path / "studio"
    inbox = studio / "var" / "photos" / "inbox"
    assert f"drop photos into   {inbox}" in init.stdout
    assert sorted(p.name for p in (studio / "var" / "photos").iterdir()) == [
        "archive", "failed", "inbox", "output", "processing"]
    check = hotfolder("check-config", cwd=studio)
    assert check.returncode == 0 and "using config/hotfolder.yaml" in check.stderr, check.stderr

    term = Terminal([sys.executable, "-m", "hotfolder", "run"], studio)
    try:
        term.says(f"ready: watching {inbox} with")
        c.write(tmp_path / "IMG_0001.jpg", c.jpeg_bytes((1600, 1200)))
        shutil.move(tmp_path / "IMG_0001.jpg", inbox / "IMG_0001.jpg")
        term.says("done IMG_0001.jpg → web, thumb")
        assert hotfolder("status", cwd=studio).returncode == 0
    finally:
        term.proc.send_signal(signal.SIGTERM)  # as systemd stops it, or `kill`
    assert term.end() == 0, term.screen
    assert '{"' not in term.screen, "JSON lines on a terminal"
    stopping = next(line for line in term.screen.splitlines() if "stopping (SIGTERM)" in line)
    assert "a second SIGTERM stops at once" in stopping and "Ctrl-C" not in stopping, stopping
    assert files_under(studio / "var" / "photos" / "output") == ["IMG_0001_thumb.webp", "IMG_0001_web.jpg"]


def test_init_never_replaces_a_config(tmp_path):
    assert hotfolder("init", str(tmp_path / "studio")).returncode == 0
    config = tmp_path / "studio" / "config" / "hotfolder.yaml"
    config.write_text(config.read_text() + "# my edit\n")
    again = hotfolder("init", str(tmp_path / "studio"))
    assert again.returncode == 1
    assert f"{config} exists already" in again.stderr and "nothing was changed" in again.stderr, again.stderr
    assert config.read_text().endswith("# my edit\n")


def test_a_second_sigterm_stops_at_once(tmp_path):
    """What the first SIGTERM's line promises."""
    assert hotfolder("init", "studio", cwd=tmp_path).returncode == 0
    studio = tmp_path / "studio"
    big = c.write(tmp_path / "big.png", b"")
    from PIL import Image
    Image.effect_noise((6000, 4000), 60).convert("RGB").save(big, "PNG", compress_level=0)
    term = Terminal([sys.executable, "-m", "hotfolder", "run"], studio)
    try:
        term.says("ready: watching")
        shutil.move(big, studio / "var" / "photos" / "inbox" / "big.png")
        wait_for(lambda: files_under(studio / "var" / "photos" / "processing"), 30, what="big.png to be claimed")
    finally:
        term.proc.send_signal(signal.SIGTERM)
    term.says("a second SIGTERM stops at once")
    term.proc.send_signal(signal.SIGTERM)
    assert term.end(20) == 0, term.screen
    assert "stopping now (SIGTERM)" in term.screen
    assert files_under(studio / "var" / "photos" / "inbox") == ["big.png"], "the file in flight went back"
