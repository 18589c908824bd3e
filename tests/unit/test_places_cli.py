"""`hotfolder places`: the records of where each folder's place was (state/filesystems.py),
listed and forgotten. In-process: the pure parts on plain values, the command on real
records in a real database (written through the state's own API), with a real instance
lock held by this process as a daemon would hold it."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from hotfolder.arrival.mounts import Mount, mount_of
from hotfolder.cli import commands
from hotfolder.cli.places import NoRecord, matching, standing
from hotfolder.errors import ExitCode
from hotfolder.spool.shares import Look
from hotfolder.state import db, filesystems
from hotfolder.state.filesystems import Seen
from hotfolder.supervisor.instance import lock_instance

NAS, ROOT = 41, 2049  # st_dev of the share, of the local disk
PLACE = Path("/mnt/nas/photos/output")
SHARE = Seen(PLACE, "/mnt/nas", "nfs4", NAS, "photos", "output")
HOSTILE = "/mnt/nas/x\x1b]0;pwned\x07\x1b[2J\nfake line: forgot"
NOT_UTF8 = os.fsdecode(b"/mnt/nas/caf\xe9")


def seen(path: str, folder: str = "photos", key: str = "output") -> Seen:
    return Seen(Path(path), "/mnt/nas", "nfs4", NAS, folder, key)


# --- which record a PATH stands for -------------------------------------------

RECORDS = [seen("/srv/out"), seen(HOSTILE), seen(NOT_UTF8), seen("/mnt/nas/a\x1b"), seen("/mnt/nas/a\\x1b")]


@pytest.mark.parametrize("given, cwd, found", [
    ("/srv/out", "/", "/srv/out"),
    ("/srv/out/", "/", "/srv/out"),  # a shell's completion adds the slash
    ("out", "/srv", "/srv/out"),  # relative to the working directory, as any command's path
    ("./out", "/srv", "/srv/out"),  # as a shell user types it (it was refused: "/srv/./out" is no record)
    ("/srv//out/.", "/", "/srv/out"),  # a doubled slash, a `.`: the same path, as the config's are
    (HOSTILE, "/", HOSTILE),  # its own bytes
    ("/mnt/nas/x\\x1b]0;pwned\\x07\\x1b[2J\\x0afake line: forgot", "/", HOSTILE),  # as listed
    (NOT_UTF8, "/", NOT_UTF8),
    ("/mnt/nas/caf\\xe9", "/", NOT_UTF8),
    # two paths listed alike: the bytes given decide (a real ESC, or a backslash typed)
    ("/mnt/nas/a\x1b", "/", "/mnt/nas/a\x1b"),
    ("/mnt/nas/a\\x1b", "/", "/mnt/nas/a\\x1b"),
])
def test_a_path_is_its_record_by_its_bytes_or_as_listed(given, cwd, found):
    assert matching(RECORDS, given, cwd).path == Path(found)


def test_a_path_of_no_record_is_refused_naming_what_there_is_shown_escaped():
    with pytest.raises(NoRecord) as refused:
        matching(RECORDS, "/srv/elsewhere\x1b[2J", "/")
    said = str(refused.value)
    assert said.startswith("no place's record is /srv/elsewhere\\x1b[2J (recorded: /srv/out, /mnt/nas/x\\x1b]0;"), said
    assert "\x1b" not in said and "\n" not in said and "`hotfolder places` lists them" in said
    with pytest.raises(NoRecord, match="none is recorded"):
        matching([], "/srv/out", "/")
    with pytest.raises(NoRecord, match=r" and 2 more; "):
        matching([seen(f"/p{i}") for i in range(7)], "/q", "/")
    with pytest.raises(NoRecord):  # a parent is not its places' record
        matching(RECORDS, "/srv", "/")
    with pytest.raises(NoRecord):  # `..` is not undone by its text: under a link it is elsewhere
        matching(RECORDS, "/srv/link/../out", "/")


def test_two_records_listed_alike_and_neither_given_by_its_bytes_are_not_guessed():
    """A byte 0x9b that is not UTF-8 and the C1 control U+009B are both listed as `\\x9b`."""
    twins = [seen(os.fsdecode(b"/m/\x9b")), seen("/m/\u009b")]
    with pytest.raises(NoRecord) as refused:
        matching(twins, "/m/\\x9b", "/")
    said = str(refused.value)
    assert said.startswith("/m/\\x9b is how 2 recorded places are listed ('/m/\\x9b', '/m/\\xc2\\x9b'): give the "
                           "path's own bytes"), said
    assert matching(twins, "/m/\u009b", "/") == twins[1]


# --- where a record stands now --------------------------------------------------

def missing(dev: int, point: str, fstype: str = "ext4", holder: str = "/mnt/nas") -> Look:
    return Look(False, Path(holder), Mount(point, fstype), dev)


def there(dev: int, point: str, fstype: str = "nfs4") -> Look:
    return Look(True, PLACE, Mount(point, fstype), dev)


@pytest.mark.parametrize("now, state, said", [
    (there(NAS, "/mnt/nas"), "there", "there, on that file system"),
    (there(58, "/mnt/nas"), "there", "there, on that file system"),  # mounted again: another st_dev
    (there(ROOT, "/mnt/nas/photos", "ext4"), "there", "there, on ext4 mounted at /mnt/nas/photos now"),
    (missing(NAS, "/mnt/nas", "nfs4", "/mnt/nas/photos"), "missing", "missing: made again at the next start"),
    (missing(ROOT, "/"), "waiting", "waits for its share: missing, and /mnt/nas is on ext4 mounted at /; never made"),
    (there(ROOT, "/", "ext4"), "waiting", "waits for its share: the folder there is one of the disk beneath, on ext4"),
    (None, "unknown", "cannot be looked at now"),
])
def test_where_a_record_stands_is_the_daemon_s_own_rule_said(now, state, said):
    found = standing(PLACE, SHARE, now)
    assert found.state == state and found.said.startswith(said), found


def test_a_place_that_was_its_share_s_mount_point_waits_while_nothing_is_mounted_on_it():
    itself = Seen(Path("/mnt/web"), "/mnt/web", "cifs", NAS, "shop", "output")
    empty = Look(True, Path("/mnt/web"), Mount("/", "ext4"), ROOT)
    assert standing(Path("/mnt/web"), itself, empty).said == "waits for its share: nothing is mounted on it"


# --- the command, on a real database --------------------------------------------

@pytest.fixture
def state(home) -> Path:
    return home / "var" / "state"


def record(state: Path, *places: Seen) -> None:
    filesystems.note(state, places)


def recorded(state: Path) -> list[Path]:
    return [seen.path for seen in filesystems.recorded(state) or ()]


def places(home: Path, *args: str) -> int:
    """`hotfolder places ARGS` in this process, its config named (the line saying which one
    was found is not this command's)."""
    return commands.main(["places", "-c", str(home / "config" / "hotfolder.yaml"), *args])


def test_the_listing_says_each_record_and_where_it_stands_with_names_shown_escaped(home, state, capsys):
    output, disk = home / "var" / "output", mount_of(home)  # recorded where the test's folder is
    record(state, Seen(output, disk.point, disk.fstype, os.stat(home).st_dev, "photos", "output"),
           Seen(Path(HOSTILE), "/mnt/nas", "nfs4", NAS, "old\x1b[31m", "inbox"))
    assert places(home) == ExitCode.OK
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, out
    assert not any(line.startswith("fake line") for line in out.splitlines()), out
    lines = out.splitlines()
    assert lines[0] == (f"2 place(s) recorded in {state / 'hotfolder.db'}, each with the file system it was on "
                        "when last seen:")
    at = lines.index(f"  {output}")
    assert lines[at + 1].startswith(f"      folders[photos].output; on {disk.fstype} mounted at {disk.point} when "
                                    "last seen, "), lines
    assert lines[at + 2] == ("      now: missing: made again at the next start (the folder above it is on the file "
                             "system it was on)"), lines
    at = lines.index("  /mnt/nas/x\\x1b]0;pwned\\x07\\x1b[2J\\x0afake line: forgot")
    assert lines[at + 1].startswith("      folders[old\\x1b[31m].inbox (the config names it no more); on nfs4 mounted "
                                    "at /mnt/nas when last seen, "), lines
    assert lines[at + 2].startswith("      now: waits for its share: missing, and "), lines
    assert lines[-1].endswith("hotfolder places --forget PATH...")

    assert places(home, "--json") == ExitCode.OK
    listed = {p["path"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed[str(output)]["named_now"] == ["folders[photos].output"]
    assert listed[str(output)]["now"] == "missing" and listed[HOSTILE]["now"] == "waiting", listed


def test_forget_takes_away_the_named_records_only_and_says_what_the_next_start_does(home, state, capsys):
    keep, inbox = Seen(Path("/mnt/nas/keep"), "/mnt/nas", "nfs4", NAS, "photos", "archive"), home / "var" / "inbox"
    record(state, keep, Seen(inbox, "/mnt/nas", "nfs4", NAS, "photos", "inbox"),
           Seen(Path(NOT_UTF8), "/mnt/nas", "nfs4", NAS, "photos", "output"))
    before = sorted(p.name for p in state.iterdir())
    assert places(home, "--forget", "var/inbox/", "/mnt/nas/caf\\xe9") == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"forgot the record of {inbox} (folders[photos].inbox, on nfs4 mounted at /mnt/nas "
                             "when last seen): the next start takes the path as it finds it: it is made on "), out
    assert out[0].endswith(f", where {home / 'var'} is, and recorded"), out
    assert out[1].startswith("forgot the record of /mnt/nas/caf\\xe9 (folders[photos].output"), out
    assert sorted(p.name for p in state.iterdir()) == before, "nothing but the database is written"
    assert recorded(state) == [keep.path]
    assert not inbox.exists(), "the command never makes a place"


def test_a_path_with_no_record_forgets_nothing_and_says_what_is_recorded(home, state, capsys):
    kept = [Seen(home / "var" / "inbox", "/", "ext4", 1, "photos", "inbox"),
            Seen(home / "var" / "output", "/", "ext4", 1, "photos", "output")]
    record(state, *kept)
    assert places(home, "--forget", str(home / "var" / "inbox"), "/srv/none") == ExitCode.FAILED == 1
    err = capsys.readouterr().err
    assert err == (f"hotfolder places: no place's record is /srv/none (recorded: {home / 'var' / 'inbox'}, "
                   f"{home / 'var' / 'output'}; `hotfolder places` lists them)\n"), err
    assert recorded(state) == [k.path for k in kept], "one PATH without a record: none is forgotten"


def test_without_a_database_nothing_is_listed_forgotten_or_made(home, state, capsys):
    assert places(home) == ExitCode.OK
    assert "no place recorded in" in capsys.readouterr().out
    assert places(home, "--forget", "/srv/out") == ExitCode.FAILED
    assert "none is recorded" in capsys.readouterr().err
    assert not state.exists(), "no state_dir, no database made"


def test_forget_is_refused_while_a_daemon_holds_the_instance_lock(home, state, capsys):
    place = Seen(home / "var" / "output", "/mnt/nas", "nfs4", NAS, "photos", "output")
    record(state, place)
    lock = lock_instance(state)  # this process is the running daemon
    try:
        assert places(home, "--forget", str(place.path)) == ExitCode.ALREADY_RUNNING == 1
        assert places(home) == ExitCode.OK, "listing runs beside the daemon"
    finally:
        os.close(lock.fd)
    err = capsys.readouterr().err
    assert err.startswith(f"hotfolder places: hotfolder is running on this config (pid {os.getpid()}, lock "
                          f"{state / 'hotfolder.lock'}): a place's record can be forgotten only while it is "
                          "stopped"), err
    assert f"`systemctl stop hotfolder` for the service, else `kill -TERM {os.getpid()}`" in err
    assert recorded(state) == [place.path]
    assert places(home, "--forget", str(place.path)) == ExitCode.OK  # stopped: forgotten
    assert recorded(state) == []


def test_a_database_a_newer_hotfolder_took_further_is_neither_read_nor_written(home, state, capsys):
    place = Seen(home / "var" / "output", "/mnt/nas", "nfs4", NAS, "photos", "output")
    record(state, place)
    conn = sqlite3.connect(db.path_in(state))
    conn.execute("UPDATE schema SET version = ? WHERE part = ?", (len(filesystems.MIGRATIONS) + 1, filesystems.PART))
    conn.commit()
    conn.close()
    for args in ((), ("--forget", str(place.path))):
        assert places(home, *args) == ExitCode.USAGE == 2
        err = capsys.readouterr().err
        assert f"{state / 'hotfolder.db'} was last used by a newer hotfolder (its 'filesystems' tables" in err, err
    assert recorded(state) == [place.path]


def test_forget_is_refused_beside_a_daemon_whose_lock_file_was_deleted_under_it(home, state, capsys):
    """No lock file to take (state_dir's lock deleted under the daemon, as `status` knows it):
    the daemon's fresh snapshot says it runs. No lock file is made."""
    place = Seen(home / "var" / "output", "/mnt/nas", "nfs4", NAS, "photos", "output")
    record(state, place)
    now = time.time()
    (state / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid(), "updated": now}))
    assert places(home, "--forget", str(place.path)) == ExitCode.ALREADY_RUNNING
    assert f"hotfolder is running on this config (pid {os.getpid()}, " in capsys.readouterr().err
    assert recorded(state) == [place.path] and not (state / "hotfolder.lock").exists()


def test_records_are_forgotten_all_or_none(home, state):
    """The command checks every PATH first, but the records may change between that read and
    the write (no lock file to hold: a daemon starting then). It deleted the records it found,
    committed, and then refused with 'nothing' said of those it had forgotten."""
    kept = Seen(home / "var" / "inbox", "/", "ext4", 1, "photos", "inbox")
    record(state, kept)
    assert not filesystems.forget(state, [kept.path, home / "var" / "gone meanwhile"])
    assert recorded(state) == [kept.path], "one had no record: none forgotten"
    assert filesystems.forget(state, [kept.path]) and recorded(state) == []
