"""The rule of spool/shares.py on plain values: when a place is gone with its share (never
made, its folder waits), and when it is made or used as ever; and the mount table's word."""
from __future__ import annotations

from pathlib import Path

import pytest

from hotfolder.arrival.mounts import Mount, mount_of
from hotfolder.spool.shares import Gone, Look, is_gone
from hotfolder.state.filesystems import Seen

PLACE = Path("/mnt/nas/photos/output")
NAS, ROOT = 41, 2049  # st_dev of the share, of the local disk
SHARE = Seen(PLACE, "/mnt/nas", "nfs4", NAS, "photos", "output")


def missing(dev: int, point: str, fstype: str = "ext4", holder: Path = Path("/mnt/nas")) -> Look:
    return Look(False, holder, Mount(point, fstype), dev)


def there(dev: int, point: str, fstype: str = "nfs4", path: Path = PLACE) -> Look:
    return Look(True, path, Mount(point, fstype), dev)


@pytest.mark.parametrize("was, now, gone", [
    # no record: a first start, or a path the config just took: made as ever
    (None, missing(ROOT, "/"), False),
    # the share is not mounted: its mount point is a folder of the local disk
    (SHARE, missing(ROOT, "/"), True),
    # deleted on the share (`rm -r output`): its nearest folder is on the same file system
    (SHARE, missing(NAS, "/mnt/nas", "nfs4", Path("/mnt/nas/photos")), False),
    # the share mounted again (NFS gives it another st_dev): the same mount point
    (SHARE, missing(57, "/mnt/nas", "nfs4", Path("/mnt/nas/photos")), False),
    # another file system mounted above it now (the share at /mnt instead): not where it was
    (SHARE, missing(57, "/mnt", "nfs4", Path("/mnt")), True),
    # the mount table cannot be read: st_dev alone says it
    (Seen(PLACE, "", "", NAS), missing(ROOT, ""), True),
    (Seen(PLACE, "", "", NAS), missing(NAS, ""), False),
    # there: used, on its share (or mounted again there, another st_dev), or on another disk
    # mounted on the place or below the share's point (moved there by an admin)
    (SHARE, there(NAS, "/mnt/nas"), False),
    (SHARE, there(58, "/mnt/nas"), False),
    (SHARE, there(ROOT, "/mnt/nas/photos", "ext4"), False),
    (None, there(ROOT, "/", "ext4"), False),
    # there, but a folder of the disk beneath the share's point (made there while the share was
    # away, before this guard or by hand): the share is not mounted, what it takes would be hidden
    (SHARE, there(ROOT, "/", "ext4"), True),
    (SHARE, there(57, "/mnt", "nfs4"), True),
    (Seen(PLACE, "", "", NAS), there(ROOT, "", ""), False),  # no mount table: nothing tells
])
def test_the_rule_for_a_place_below_a_mount_point(was, now, gone):
    assert is_gone(PLACE, was, now) is gone


MOUNT_POINT = Path("/mnt/web")  # `output: /mnt/web`, the share mounted on the folder itself
ITSELF = Seen(MOUNT_POINT, "/mnt/web", "cifs", NAS, "shop", "output")


@pytest.mark.parametrize("now, gone", [
    (there(NAS, "/mnt/web", "cifs", MOUNT_POINT), False),  # mounted
    (there(58, "/mnt/web", "cifs", MOUNT_POINT), False),  # mounted again, another st_dev
    (there(ROOT, "/", "ext4", MOUNT_POINT), True),  # the empty folder beneath: it would take the outputs
    (there(ROOT, "", "", MOUNT_POINT), True),  # no mount table: another st_dev, not known to be mounted
])
def test_a_place_that_is_its_share_s_mount_point_is_gone_when_nothing_is_mounted_on_it(now, gone):
    assert is_gone(MOUNT_POINT, ITSELF, now) is gone


def test_what_a_gone_place_says_names_the_folder_its_file_system_and_what_to_do():
    gone = Gone("photos", "output", PLACE, SHARE, missing(ROOT, "/"))
    said = gone.said()
    assert "the output folder /mnt/nas/photos/output is missing" in said
    assert "nfs4 mounted at /mnt/nas" in said and "/mnt/nas is now on ext4 mounted at /" in said
    assert "Is /mnt/nas mounted? Mount it and the folder resumes by itself" in said
    assert "mkdir -p" not in said and "point output at its new place" in said  # a folder made there is gone too
    itself = Gone("shop", "output", MOUNT_POINT, ITSELF, there(ROOT, "/", "ext4", MOUNT_POINT))
    assert "nothing is mounted on the output folder /mnt/web now" in itself.said()
    assert "Is /mnt/web mounted?" in itself.said() and "mkdir" not in itself.said()


def test_a_gone_place_s_advice_names_the_command_that_forgets_its_record_where_that_keeps_the_local_disk():
    """The way to keep the path on the local disk was a raw SQL one-liner of the README's; the
    advice now names `hotfolder places`. Not for a place that was its share's mount point: the
    empty folder beneath is no place to keep (README: mount it again, or point the key elsewhere)."""
    forget = ("or, to use this path on the local disk for good, stop the daemon and forget the records of the "
              "folder's places (`hotfolder places` lists them; `hotfolder places --forget PATH...`)")
    assert gone_missing().said().endswith(forget)
    beneath = Gone("photos", "output", PLACE, SHARE, there(ROOT, "/", "ext4"))
    assert beneath.said().endswith(forget) and "move it out from under /mnt/nas first" in beneath.said()
    itself = Gone("shop", "output", MOUNT_POINT, ITSELF, there(ROOT, "/", "ext4", MOUNT_POINT))
    assert "hotfolder places" not in itself.said()


def gone_missing() -> Gone:
    return Gone("photos", "output", PLACE, SHARE, missing(ROOT, "/"))


def test_the_mount_holding_a_path_is_the_longest_point_and_the_last_mounted_there(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda1 / ext4 rw 0 0\n"
                      "nas:/photos /mnt/nas nfs4 rw 0 0\n"
                      "systemd-1 /mnt/auto autofs rw 0 0\n"
                      "nas:/auto /mnt/auto nfs4 rw 0 0\n")  # an automount point, then what it mounted
    assert mount_of(Path("/mnt/nas/photos/out"), str(mounts)) == Mount("/mnt/nas", "nfs4")
    assert mount_of(Path("/mnt/nasty/out"), str(mounts)) == Mount("/", "ext4")
    assert mount_of(Path("/mnt/auto/x"), str(mounts)) == Mount("/mnt/auto", "nfs4")
    assert mount_of(Path("/x"), str(tmp_path / "none")) == Mount("", "")
