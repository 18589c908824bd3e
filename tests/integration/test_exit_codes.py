"""How a command ends: one line on stderr and an exit code per kind of problem, never a traceback.

In-process (cli.main) where the command stays in this process; as `python -m hotfolder`
where it starts workers, takes the instance lock or sets up logging for its process.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.cli import commands
from hotfolder.config import locate as configfile
from hotfolder.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
state_dir: var/state
workers: 1
folders:
  - name: photos
    inbox: var/inbox
    output: var/output
    archive: var/archive
    failed: var/failed
    renditions:
      - {name: web, size: 64, format: jpeg}
"""

# A broken install as a worker meets it: its renderer cannot be loaded. Only workers call
# pipeline.warm_up (never the main process, nor the forkserver), so only they fail.
BROKEN_RENDERER = '''
from hotfolder.engine import pipeline


def _broken() -> None:
    raise ImportError("libvips cannot be loaded (a broken install, made by tests/test_exit_codes.py)")


pipeline.warm_up = _broken
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "hotfolder.yaml").write_text(textwrap.dedent(CONFIG))
    Image.new("RGB", (120, 80), (200, 40, 40)).save(tmp_path / "a.jpg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(configfile.ENV, raising=False)
    return tmp_path


def hotfolder(home: Path, *argv: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "hotfolder", *argv], cwd=home, env=env,
                          capture_output=True, text=True, timeout=90)


def said_once(stderr: str, prefix: str) -> str:
    """The one line of ours on stderr: it starts with `prefix`, and no traceback came with it."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), stderr
    return lines[0]


# --- the codes ------------------------------------------------------------------

def test_every_exit_code_is_documented_and_the_documented_ones_kept():
    """The README's table names each code there is, and nothing else; the codes the
    README gave before they had names keep their values (scripts test for them)."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("Exit codes"):].split("\n\n")[1]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}, table
    assert (ExitCode.OK, ExitCode.FAILED, ExitCode.CONFIG_ERROR, ExitCode.NOT_RUNNING, ExitCode.USAGE) == (
        0, 1, 1, 1, 2)


# --- in this process ------------------------------------------------------------

def test_a_config_error_is_said_and_exits_1_from_any_command(home, capsys):
    (home / "bad.yaml").write_text(textwrap.dedent(CONFIG).replace("size: 64", "size: -3"))
    for argv in (["check-config", "bad.yaml"], ["requeue", "-c", "bad.yaml"]):
        assert commands.main(argv) == ExitCode.CONFIG_ERROR == 1, argv
        line = said_once(capsys.readouterr().err, "hotfolder: config error: ")
        assert "bad.yaml:" in line and "size" in line, line


def test_a_folder_not_in_the_config_is_a_usage_error(home, capsys):
    assert commands.main(["process", "-c", "hotfolder.yaml", "--folder", "nope", "a.jpg"]) == ExitCode.USAGE == 2
    said_once(capsys.readouterr().err, "hotfolder: no folder named 'nope'")


def test_process_of_only_a_missing_path_exits_1_as_documented(home, capsys):
    """It exited 2 ("nothing to process"), where the README says a path that does not exist
    is 1 (a new user's walkthrough); nothing given at all stays 2."""
    assert commands.main(["process", "-c", "hotfolder.yaml", "nope.jpg"]) == ExitCode.FAILED == 1
    (home / "empty").mkdir()
    assert commands.main(["process", "-c", "hotfolder.yaml", "empty"]) == ExitCode.USAGE == 2


def test_process_of_a_folder_with_nothing_to_render_says_what_it_left_out(home, capsys):
    """It said "nothing to process", no more, of a folder holding a sidecar and a .DS_Store
    (a new user's walkthrough): now what was left out and what to give."""
    (home / "card").mkdir()
    (home / "card" / ".DS_Store").write_bytes(b"x")
    (home / "card" / "IMG_1.xmp").write_bytes(b"<x/>")
    assert commands.main(["process", "-c", "hotfolder.yaml", "card"]) == ExitCode.USAGE == 2
    line = said_once(capsys.readouterr().err, "hotfolder: nothing to process")
    assert "hidden and temp names are left out, and XMP sidecars" in line, line
    assert "give image files, or folders that hold them" in line, line


# --- as a process of its own ------------------------------------------------------

def test_python_m_hotfolder_says_a_config_it_cannot_find_in_one_line(home):
    done = hotfolder(home, "status", "-c", "missing.yaml")
    assert done.returncode == ExitCode.NOT_RUNNING, done.stdout + done.stderr  # status reads no config: not running
    done = hotfolder(home, "check-config", "missing.yaml")
    assert done.returncode == ExitCode.CONFIG_ERROR, done.stderr
    said_once(done.stderr, "hotfolder: config error: ")


def test_a_state_dir_that_cannot_hold_the_lock_ends_run_in_one_line(home):
    """Was a traceback (IsADirectoryError) and exit 1, then the path and the system's word:
    now a start refused (2) as of any lock path that is no regular file (test_lock_path.py)."""
    (home / "var" / "state" / "hotfolder.lock").mkdir(parents=True)
    done = hotfolder(home, "run", "-c", "hotfolder.yaml")
    assert done.returncode == ExitCode.USAGE, done.stderr
    line = said_once(done.stderr, "hotfolder run: ")
    assert line.startswith(f"hotfolder run: {home / 'var' / 'state' / 'hotfolder.lock'} is a directory, not a "
                           "lock file: no daemon can start on this config while it is there; remove it"), line


def test_an_output_folder_that_cannot_be_made_ends_process_in_one_line(home):
    """Was a traceback (NotADirectoryError from mkdir): now the path and the system's word."""
    (home / "plain-file").write_text("not a folder")
    done = hotfolder(home, "process", "-c", "hotfolder.yaml", "-o", "plain-file/out", "a.jpg")
    assert done.returncode == ExitCode.FAILED, done.stderr
    line = said_once(done.stderr, "hotfolder process: ")
    assert line == f"hotfolder process: {home / 'plain-file' / 'out'}: Not a directory", line
    assert not (home / "var" / "output").exists()


def test_a_second_daemon_on_a_held_lock_says_so_and_exits_1(home):
    lock = home / "var" / "state" / "hotfolder.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        held.write("4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running daemon holds it
        done = hotfolder(home, "run", "-c", "hotfolder.yaml")
    assert done.returncode == ExitCode.ALREADY_RUNNING == 1, done.stderr
    line = said_once(done.stderr, "hotfolder run: hotfolder is already running on this config (pid 4242")
    assert "stop it first" in line


@pytest.mark.integration
def test_workers_that_cannot_start_end_process_with_exit_3_and_one_line_of_ours(home, tmp_path_factory):
    """Was the main process's traceback (BootFailure) and exit 1. The workers' own
    tracebacks stay: they say why the install is broken ("see the worker errors above")."""
    broken = tmp_path_factory.mktemp("broken-install")
    (broken / "sitecustomize.py").write_text(BROKEN_RENDERER)
    done = hotfolder(home, "process", "-c", "hotfolder.yaml", "a.jpg", pythonpath=broken)
    assert done.returncode == ExitCode.BOOT_FAILURE == 3, done.stderr
    assert "libvips cannot be loaded" in done.stderr  # the workers' words, above
    assert "BootFailure" not in done.stderr, done.stderr  # no traceback of the main process
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"hotfolder process: \d+ workers died before they were ready; see the worker errors above",
                        last), done.stderr
    assert not list((home / "var" / "output").rglob("*.jpg"))


@pytest.mark.integration
def test_workers_that_cannot_start_end_run_with_exit_3(home, tmp_path_factory):
    broken = tmp_path_factory.mktemp("broken-install")
    (broken / "sitecustomize.py").write_text(BROKEN_RENDERER)
    done = hotfolder(home, "run", "-c", "hotfolder.yaml", pythonpath=broken)
    assert done.returncode == ExitCode.BOOT_FAILURE == 3, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [e for e in events if e["event"] == "workers_fail_at_boot"], done.stderr
    assert "BootFailure" not in done.stderr, done.stderr


def _taken_further(state: Path, part) -> int:
    """state's database with `part`'s tables one version past this release's, as a newer
    hotfolder would leave them; that version."""
    from hotfolder.state import db

    conn = db.connect(state)
    db.ensure(conn, part.PART, part.MIGRATIONS)
    newer = len(part.MIGRATIONS) + 1
    conn.execute("UPDATE schema SET version = ? WHERE part = ?", (newer, part.PART))
    conn.close()
    return newer


def test_a_database_a_newer_hotfolder_took_further_refuses_the_start_in_one_line(home):
    """A downgrade: the older daemon read and wrote tables a newer one had changed, unsaid.
    Now it starts nothing and says which file, what to run, and how to go back."""
    from hotfolder.state import db, originals

    state = home / "var" / "state"
    newer = _taken_further(state, originals)
    done = hotfolder(home, "run", "-c", "hotfolder.yaml", "--log-format", "json")
    assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    refused = [json.loads(line) for line in done.stderr.splitlines() if '"start_refused"' in line]
    assert len(refused) == 1, done.stderr
    reason = refused[0]["reason"]
    assert reason.startswith(f"{state / 'hotfolder.db'} was last used by a newer hotfolder "
                             f"(its 'originals' tables are at version {newer}; hotfolder "), reason
    assert f"knows up to {newer - 1}): run the newer version again" in reason
    assert "move that file (with its -wal and -shm) away" in reason
    with db.read_only(state) as conn:  # nothing was migrated back or written
        assert conn is not None and db.version(conn, originals.PART) == newer


@pytest.mark.parametrize("command", ["process", "rerender"])
def test_process_and_rerender_refuse_a_database_a_newer_hotfolder_took_further_in_one_line(home, command):
    """`run` refused it at its start; `process` failed its first `{seq}` file in each worker
    ("StateTooNew: …") and wrote the next one's number into the newer tables, and `rerender`
    noted its outputs in them. Now both refuse before any worker starts, as `run` does."""
    from hotfolder.recipes import sequence

    state = home / "var" / "state"
    _taken_further(state, sequence)
    if command == "rerender":
        (home / "var" / "archive").mkdir(parents=True)
        (home / "a.jpg").rename(home / "var" / "archive" / "a.jpg")
    done = hotfolder(home, command, "-c", "hotfolder.yaml", *(["a.jpg"] if command == "process" else []))
    assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
    line = said_once(done.stderr, f"hotfolder {command}: ")
    assert f"{state / 'hotfolder.db'} was last used by a newer hotfolder (its 'sequence' tables" in line, line
    assert not (home / "var" / "output").exists() or not any((home / "var" / "output").iterdir())


def test_rerender_dry_run_refuses_a_database_a_newer_hotfolder_took_further_as_rerender_does(home):
    """A README audit: `rerender` refused such a database (exit 2) but `rerender --dry-run`
    read the newer index as it was and printed its plan (exit 0): what it said of each output
    (replaced, new, …) came from tables this version may misread. It refuses as rerender does."""
    from hotfolder.state import originals

    done = _refused_with_an_archived_photo(home, originals, "rerender", "--dry-run")
    assert done.stdout == "", done.stdout  # no plan printed


def test_index_rebuild_refuses_a_database_a_newer_hotfolder_took_further_before_it_writes(home):
    """`index rebuild` opened only the index's tables: with another part a newer hotfolder took
    further (its clips' rows) it indexed the archive into the newer database, then met that part
    (it notes the clips too) and exited 2 halfway. Now it refuses first, as `run` does."""
    from hotfolder.state import db, originals, passed

    _refused_with_an_archived_photo(home, passed, "index", "rebuild")
    with db.read_only(home / "var" / "state") as conn:  # nothing was written: the index's tables were not even made
        assert conn is not None and db.version(conn, originals.PART) == 0


def _refused_with_an_archived_photo(home, part, *command):
    """`command` on a database whose `part` a newer hotfolder took further, a.jpg archived:
    refused in one line, exit 2; the finished process."""
    state = home / "var" / "state"
    _taken_further(state, part)
    (home / "var" / "archive").mkdir(parents=True)
    (home / "a.jpg").rename(home / "var" / "archive" / "a.jpg")
    done = hotfolder(home, *command, "-c", "hotfolder.yaml")
    assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
    line = said_once(done.stderr, f"hotfolder {command[0]}: ")
    assert f"{state / 'hotfolder.db'} was last used by a newer hotfolder (its '{part.PART}' tables" in line, line
    return done


def test_a_listing_piped_into_a_reader_that_stopped_ends_quietly(home):
    """`hotfolder check-config | head -1`, `hotfolder duplicates | head`: the reader closed the
    pipe before the command had said all; it said "hotfolder duplicates: Broken pipe" and
    exited 1 as a failure (a review). It ends as a shell tool does, quietly: SIGPIPE's code."""
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", "--config", "hotfolder.yaml"],
                              cwd=home, stdout=w, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 128 + 13, (done.returncode, done.stderr)


# The console script's own lines (pip writes them), with a real SIGINT sent by the process
# to itself when Python first looks for hotfolder.cli.commands: Ctrl-C during the imports.
CTRL_C_WHILE_IMPORTING = """
import os, signal, sys


class CtrlCAtImport:
    def find_spec(self, name, path=None, target=None):
        if name == "hotfolder.cli.commands":
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, CtrlCAtImport())
from hotfolder.cli import main
sys.exit(main({argv}))
"""


@pytest.mark.parametrize("argv", [["status"], ["--version"]])
def test_ctrl_c_while_the_command_is_still_importing_exits_130_without_a_traceback(home, argv):
    done = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_IMPORTING.format(argv=argv)], capture_output=True,
                          text=True, timeout=60, cwd=home)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == ExitCode.INTERRUPTED, (done.returncode, done.stderr)
