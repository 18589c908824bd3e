"""The command line as a new user meets it: finding the config, requeue by name, process with a bar."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from hotfolder.cli import commands
from hotfolder.config import load, model
from hotfolder.config import locate as configfile
from hotfolder.runtime.progress import CLEAR, Progress
from hotfolder.spool import folders, moves

# --- which config ------------------------------------------------------------

def test_the_config_is_found_in_order(tmp_path):
    here, system = tmp_path / "here.yaml", tmp_path / "system.yaml"
    places = (here, system)
    with pytest.raises(configfile.NoConfig) as info:
        configfile.find(None, {}, places)
    assert "HOTFOLDER_CONFIG" in str(info.value) and str(here) in str(info.value) and "--config" in str(info.value)
    system.write_text("x")
    assert configfile.find(None, {}, places) == configfile.Found(system, "the system's config")
    here.write_text("x")
    assert configfile.find(None, {}, places).path == here
    assert configfile.find(None, {"HOTFOLDER_CONFIG": "/elsewhere.yaml"}, places).path == Path("/elsewhere.yaml")
    assert configfile.find(Path("given.yaml"), {"HOTFOLDER_CONFIG": "/e.yaml"}, places) == \
        configfile.Found(Path("given.yaml"), "")


def test_commands_without_config_say_which_one_they_use(home, capsys, monkeypatch):
    assert commands.main(["check-config"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("hotfolder: using config/hotfolder.yaml (found in the current folder; "
                            "--config FILE for another)\n")
    assert "OK" in captured.out
    other = home / "other.yaml"
    other.write_text("folders: []\n")
    monkeypatch.setenv(configfile.ENV, str(other))
    assert commands.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hotfolder: using {other} (from $HOTFOLDER_CONFIG;")
    assert commands.main(["check-config", "--config", "config/hotfolder.yaml"]) == 0
    assert "using" not in capsys.readouterr().err  # given: nothing to say


def test_no_config_anywhere_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(configfile.ENV, raising=False)
    monkeypatch.setattr(configfile, "PLACES", (Path("config/hotfolder.yaml"), tmp_path / "no-etc.yaml"))
    assert commands.main(["requeue"]) == 2
    assert "hotfolder requeue: no config given and none found" in capsys.readouterr().err


def test_every_command_takes_config_and_log_level_has_help(capsys):
    for command in ("run", "check-config", "status", "process", "requeue", "worker"):
        with pytest.raises(SystemExit):
            commands.main([command, "--help"])
        text = capsys.readouterr().out
        assert "--config FILE" in text and "HOTFOLDER_CONFIG" in text, command
        if command in ("run", "worker"):
            assert "how much to log: info (the default" in text, text
        if command == "process":
            assert "warning: the files that failed (default)" in text, text


@pytest.mark.parametrize("argv, said", [
    (["explain", "--subfolder", "../../etc", "x.jpg"], "'../../etc' is not a path inside the inbox"),
    (["explain", "--subfolder", "/etc", "x.jpg"], "'/etc' is not a path inside the inbox"),
    (["duplicates", "--limit", "-1"], "'-1' is not a whole number from 1 to 1,000,000,000"),
    (["duplicates", "--limit", "99999999999999999999"], "is not a whole number from 1"),  # a traceback (attack)
])
def test_arguments_that_point_outside_or_make_no_sense_are_refused(capsys, argv, said):
    """`explain --subfolder ../../etc` predicted outputs outside the output folder and
    `duplicates --limit -1` was taken (a review)."""
    with pytest.raises(SystemExit) as ended:
        commands.main(argv)
    assert ended.value.code == 2 and said in capsys.readouterr().err


# --- requeue -----------------------------------------------------------------

def failed_files(home: Path, names: list[str]) -> model.Folder:
    folder = load(home / "config" / "hotfolder.yaml").folders[0]
    folders.ensure_dirs(folder)
    for name in names:
        src = folder.processing / name
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(b"junk")
        moves.fail(folder, src, name, error=f"{name} is junk", step="open", attempts=2)
    return folder


def test_requeue_with_nothing_lists_the_failed_files_and_why(home, capsys):
    failed_files(home, ["notes.jpg", "2026/june/a.png"])
    assert commands.main(["requeue"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"photos: 2 failed file(s) in {home / 'var' / 'failed'}"
    assert re.fullmatch(r"  2026/june/a\.png  \S+Z, attempt 2: 2026/june/a\.png is junk", out[1]), out
    assert re.fullmatch(r"  notes\.jpg        \S+Z, attempt 2: notes\.jpg is junk", out[2]), out
    assert "--all" in out[3]


def test_requeue_takes_a_bare_name_a_glob_or_a_path(home, capsys):
    folder = failed_files(home, ["notes.jpg", "b.jpg", "c.png", "2026/d.jpg"])
    assert commands.main(["requeue", "notes.jpg"]) == 0
    assert "1 file(s) requeued" in capsys.readouterr().out
    assert (folder.inbox / "notes.jpg").is_file() and not (folder.failed / "notes.jpg.error.json").exists()
    assert commands.main(["requeue", "*.jpg"]) == 0  # quoted by the user: every .jpg, in subfolders too
    assert "2 file(s) requeued" in capsys.readouterr().out
    assert (folder.inbox / "2026" / "d.jpg").is_file()
    assert commands.main(["requeue", str(folder.failed / "c.png.error.json")]) == 0  # a shell glob names sidecars too
    assert sorted(p.name for p in folder.inbox.rglob("*") if p.is_file()) == ["b.jpg", "c.png", "d.jpg", "notes.jpg"]
    capsys.readouterr()
    failed_files(home, ["e.jpg"])
    assert commands.main(["requeue", "nope.jpg"]) == 1
    err = capsys.readouterr().err
    assert "no failed file matches 'nope.jpg' (failed files: e.jpg;" in err and "`hotfolder requeue` lists" in err


# --- process -----------------------------------------------------------------

def test_lines_written_through_the_bar_go_above_it():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = Progress(4, term)
    bar.update(1)
    bar.write("12:00:00 failed x.jpg: ")  # a line may come in pieces: shown when whole
    assert "failed" not in term.getvalue()
    bar.write("bad\n")
    bar.update(2)
    bar.close()
    screen = term.getvalue()
    assert f"{CLEAR}12:00:00 failed x.jpg: bad\n{CLEAR}[" in screen
    for line in screen.replace(CLEAR, "\n").splitlines():
        assert not ("[" in line and "failed" in line), line  # never on one line


def test_the_version_is_printed_on_stdout(capsys):
    """`$(hotfolder --version)` in a script or a packaging check reads stdout (a review
    found it on stderr once the version was read only when asked)."""
    with pytest.raises(SystemExit) as ended:
        commands.main(["--version"])
    assert ended.value.code == 0
    said = capsys.readouterr()
    assert said.out.startswith("hotfolder ") and said.out.count("\n") == 1 and said.err == ""


def test_a_locked_database_s_reason_names_a_file_changed_under_the_daemon_too(tmp_path):
    """`: > hotfolder.db` under a running daemon answers "database is locked": the reason
    blamed another process only (an attack round)."""
    import sqlite3

    from hotfolder.state import db

    said = db.unusable("the index cannot be written", sqlite3.OperationalError("database is locked"), tmp_path)
    assert "another process holds it, or the file was truncated or replaced" in said and "move that file" in said
