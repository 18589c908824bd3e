"""`hotfolder process` on a real terminal, as a person runs it: the bar and the lines apart."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from hotfolder.runtime.progress import CLEAR


def run_on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run with stderr on a real pseudo-terminal, as in a person's shell."""
    main, child = pty.openpty()
    proc = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child, cwd=cwd, close_fds=True)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    return proc.wait(60), out.decode("utf-8", "replace")


def test_process_counts_a_missing_path_and_keeps_the_bar_apart(home):
    batch = home / "batch"
    batch.mkdir()
    for i in range(3):
        Image.new("RGB", (320, 240), (i * 60, 80, 120)).save(batch / f"IMG_{i}.jpg")
    (batch / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    code, screen = run_on_a_terminal([sys.executable, "-m", "hotfolder", "process", "batch", "missing.jpg"], home)
    assert code == 1, screen
    lines = [ln for ln in screen.replace(CLEAR, "\n").replace("\r", "\n").splitlines() if ln.strip()]
    bars = [ln for ln in lines if ln.startswith("[")]
    said = [ln for ln in lines if not ln.startswith("[")]
    assert bars and bars[-1].startswith("[" + "#" * 30 + "] 4/4"), lines
    assert all(re.fullmatch(r"\[[#.]{30}\] \d/4  [\d.]+ files/s", b) for b in bars), bars  # nothing else on them
    assert said[0].startswith("hotfolder: using config/hotfolder.yaml")
    assert re.fullmatch(r"\d\d:\d\d:\d\d (\x1b\[33m)?failed missing\.jpg: no such file or folder(\x1b\[0m)?", said[1])
    assert re.fullmatch(r"\d\d:\d\d:\d\d (\x1b\[33m)?failed bad\.jpg: .*", said[2]), said
    assert re.fullmatch(r"processed 3 of 5 file\(s\) in .* into .*; 1 failed, 1 not found", said[3]), said
    assert len(said) == 4, screen  # nothing else: the interpreter's own lines neither (forks.TRACKER_WARNINGS)


def test_process_refuses_to_write_into_an_inbox_and_shows_names_escaped(home):
    """`process --output var/inbox` wrote outputs a running daemon then took as originals,
    and the commands printed a name's escape sequences raw (a review)."""
    batch = home / "batch"
    batch.mkdir()
    Image.new("RGB", (80, 60), (10, 80, 120)).save(batch / "a.jpg")
    (home / "var" / "inbox").mkdir(parents=True)
    refused = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--output", "var/inbox", "batch"],
                             cwd=home, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert "is inside folder 'photos''s inbox" in refused.stderr and not list((home / "var" / "inbox").iterdir())
    archived = home / "var" / "archive"
    archived.mkdir(parents=True)
    hostile = "ok\x1b[32mGREEN\x1b[0m\nfound.jpg"
    Image.new("RGB", (80, 60), (10, 80, 120)).save(archived / hostile, "JPEG")
    for argv in (["process", "--output", "out", str(archived / hostile)], ["rerender", "--dry-run"],
                 ["explain", str(archived / hostile)], ["explain", "/nowhere/\x1b[31mx.jpg"],
                 ["rerender", "/nowhere/\x1b[31mx.jpg"]):
        run = subprocess.run([sys.executable, "-m", "hotfolder", *argv], cwd=home, capture_output=True,
                             text=True, timeout=60)
        shown = run.stdout + run.stderr
        assert "\x1b" not in shown and "\\x1b" in shown, (argv, shown)
        assert not any(line.startswith("found.jpg") for line in shown.splitlines()), (argv, shown)


def test_process_into_a_folder_of_its_own_keeps_its_names_across_a_daemon_start(daemon_factory, tmp_path):
    """`process --output DIR` kept who owns DIR's names among the daemon's records, which the
    daemon pruned at its next start (those outputs are not in its output folder): the same
    `process` again then wrote `a_web~jpg.jpg` beside `a_web.jpg` (a new user's finding)."""
    d = daemon_factory()
    batch, out = tmp_path / "batch", tmp_path / "out"
    batch.mkdir()
    Image.new("RGB", (320, 240), (10, 80, 120)).save(batch / "a.jpg")
    Image.new("RGB", (320, 240), (120, 80, 10)).save(batch / "a.png")  # a name clash of its own: ~png or ~jpg

    def process() -> list[str]:
        run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--config", str(d.config), "--output",
                              str(out), str(batch)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return sorted(p.name for p in out.iterdir())

    first = process()
    assert len(first) == 4 and sum("~" in name for name in first) == 2, first
    d.start()  # the daemon prunes the records of outputs gone from its folders as it starts
    assert d.stop() == 0
    assert process() == first, "a second set of outputs beside the first"


def test_process_never_replaces_a_dropped_original_s_outputs(daemon_factory, tmp_path):
    """`process elsewhere/a.jpg` (another photo) into the folder's output was taken for the
    drop of `a.jpg`, and replaced the daemon's a_web.jpg (an attack round). A processed file
    owns its outputs as itself: another name's clash is suffixed, and the same file processed
    again replaces its own."""
    from tests.harness import wait_for

    d = daemon_factory().start()
    staged = tmp_path / "staged.jpg"
    Image.new("RGB", (320, 240), (220, 20, 20)).save(staged)
    staged.rename(d.inbox / "a.jpg")
    wait_for(lambda: (d.output / "a_web.jpg").exists() and not any(d.inbox.iterdir()), 30, what="a.jpg rendered")
    assert d.stop() == 0
    dropped = (d.output / "a_web.jpg").read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.new("RGB", (320, 240), (20, 20, 220)).save(elsewhere / "a.jpg")
    for _ in range(2):
        run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--config", str(d.config),
                              str(elsewhere / "a.jpg")], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert (d.output / "a_web.jpg").read_bytes() == dropped, "the dropped original's output was replaced"
        assert sorted(p.name for p in d.output.glob("a_web*")) == ["a_web.jpg", "a_web~jpg.jpg"]


def test_explain_and_process_say_a_fifo_is_no_file(home):
    """A FIFO, a link to a device or a folder was "no such file" (an attack round)."""
    os.mkfifo(home / "pipe.jpg")
    said = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "pipe.jpg"], cwd=home, capture_output=True,
                          text=True, timeout=60)
    assert said.returncode == 1 and "pipe.jpg: not a file (a folder, a FIFO" in said.stderr, said.stderr
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "pipe.jpg"], cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1 and "it is not a file (a FIFO" in run.stderr, run.stderr


def test_process_says_of_a_file_no_rendition_took_that_nothing_was_made_and_why(home):
    """"processed 1 of 1 … 0 failed", exit 0 and no output, the reason only at --log-level
    info (a shop admin's report): the line and the summary say it at the default level.
    No failure (exit 0), as in the daemon, unless the folder says `on_no_rendition: fail`."""
    config = home / "config" / "hotfolder.yaml"
    conditional = "      - {name: web, size: 64, format: jpeg, when: {orientation: portrait}}\n"
    config.write_text(config.read_text().replace("      - {name: web, size: 64, format: jpeg}\n", conditional))
    Image.new("RGB", (80, 60), (10, 80, 120)).save(home / "land.jpg")
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "land.jpg"], cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert re.search(r"nothing made of land\.jpg: no rendition applies \(web: when\.orientation: it is landscape",
                     run.stderr), run.stderr
    assert re.search(r"processed 1 of 1 file\(s\) .*; 0 failed, 1 unmatched \(nothing made: no rendition's `when:` "
                     r"took it\)", run.stderr), run.stderr
    assert not (home / "var" / "output").exists() or not list((home / "var" / "output").rglob("*.jpg"))
    config.write_text(config.read_text().replace("    renditions:", "    on_no_rendition: fail\n    renditions:"))
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "land.jpg"], cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1 and "no rendition applies (on_no_rendition: fail)" in run.stderr, run.stderr
    assert re.search(r"processed 0 of 1 file\(s\) .*; 1 failed$", run.stderr.strip()), run.stderr


def test_process_after_the_output_folder_moved_writes_beside_and_says_why(daemon_factory, tmp_path):
    """The daemon proves a new version's outputs of no record its own by the index of originals
    (workers/provenance.py); `process` keeps no record of what it writes, so after the output
    folder moved it wrote `a_web~jpg.jpg` beside its own a_web.jpg and said nothing at all
    ("processed 1 of 1"). It still writes beside (nothing proves the old one its), and says so."""
    d = daemon_factory()
    batch = tmp_path / "batch"
    batch.mkdir()
    Image.new("RGB", (320, 240), (10, 80, 120)).save(batch / "a.jpg")

    def process() -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--config", str(d.config), str(batch)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run

    process()
    d.move_output()
    run = process()
    assert sorted(p.name for p in d.output.iterdir()) == ["a_thumb.webp", "a_thumb~jpg.webp", "a_web.jpg",
                                                          "a_web~jpg.jpg"]
    assert "a.jpg: a_web.jpg, a_thumb.webp are kept: no record says which original wrote them" in run.stderr, \
        run.stderr
    assert "2 output(s) kept as they were, this run's written beside them" in run.stderr, run.stderr
    assert "`process` keeps no record of their bytes, so one no record names" in run.stderr, run.stderr


def test_process_of_two_files_of_one_name_says_no_output_was_kept(home):
    """a.jpg and a.png of one batch: a.png's output is `a_web~png.jpg`, the clash rules' own
    way, as in the daemon, which says no `outputs_kept` where every output kept is another
    original's. `process` said it as a warning, and its summary "1 output(s) kept as they were
    … delete such old ones if unwanted" of a.jpg's output written a moment before."""
    batch = home / "batch"
    batch.mkdir()
    Image.new("RGB", (80, 60), (10, 80, 120)).save(batch / "a.jpg")
    Image.new("RGB", (80, 60), (200, 80, 120)).save(batch / "a.png")
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "batch"], cwd=home, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (home / "var" / "output").iterdir()) == ["a_web.jpg", "a_web~png.jpg"]
    assert "kept" not in run.stderr, run.stderr
    assert re.search(r"processed 2 of 2 file\(s\) .*; 0 failed$", run.stderr.strip()), run.stderr


def test_process_says_a_renditions_note_at_the_default_level(home):
    """A web publisher's `quality_target: 95` WebP rendition: the daemon's log said the target
    was not reached (rendition_note), `hotfolder process` and `rerender` said nothing but
    "processed 1 of 1" (their workers log nothing, for the bar). The main process says each
    output's note again, as it says `outputs_kept`."""
    config = home / "config" / "hotfolder.yaml"
    from tests.imaging import photo

    webp = "      - {name: web, size: 480, format: webp, quality: auto, quality_target: 95}\n"
    config.write_text(config.read_text().replace("      - {name: web, size: 64, format: jpeg}\n", webp))
    photo((720, 480)).save(home / "shoe.jpg", quality=95)  # WebP at quality 100 scores under 90 on a photo
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "shoe.jpg"], cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert re.search(r"shoe\.jpg: web: quality_target 95 not reached: WebP at quality 100", run.stderr), run.stderr
    assert run.stderr.count("quality_target 95") == 1, run.stderr
    # at --log-level debug the workers say it themselves: said once still, not twice
    run = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--log-level", "debug", "--log-format", "json",
                          "shoe.jpg"], cwd=home, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count('"rendition_note"') == 1, run.stderr


def test_explain_reads_no_file_through_a_link_in_a_folder_of_the_daemon(home, tmp_path):
    """inbox/p.jpg a link to a photo elsewhere, or inbox/sub a link to a folder of them: the
    daemon follows neither, yet `explain` (as root) read the photo through them and said what
    it found in it and that `web` applies (an attack round: a file only root may read,
    described to whoever made the link). Said, and not read; the next file is still explained."""
    private = tmp_path / "private"
    private.mkdir()
    Image.new("RGB", (123, 45), (1, 2, 3)).save(private / "secret.jpg")
    inbox = home / "var" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "p.jpg").symlink_to(private / "secret.jpg")
    (inbox / "sub").symlink_to(private)
    Image.new("RGB", (80, 60), (9, 9, 9)).save(inbox / "ok.jpg")
    said = subprocess.run([sys.executable, "-m", "hotfolder", "explain", "var/inbox/p.jpg", "var/inbox/sub/secret.jpg",
                           "var/inbox/ok.jpg"], cwd=home, capture_output=True, text=True, timeout=60)
    assert said.returncode == 1, (said.stdout, said.stderr)
    assert "123x45" not in said.stdout + said.stderr, said.stdout
    assert "var/inbox/p.jpg: a symbolic link" in said.stderr, said.stderr
    assert f"var/inbox/sub/secret.jpg: reached through the symbolic link {inbox / 'sub'}" in said.stderr, said.stderr
    assert "ok.jpg → folder photos" in said.stdout and "80x60" in said.stdout, said.stdout
