"""Which OS errors are the folder's problem (claiming pauses), not the file's, and how
each is said: where (the path, the folder and its key), and what to change.
"""
from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from pathlib import Path

from hotfolder.shown import display
from hotfolder.spool import space

# Writing an output failed for a reason of the output folder, not of the file: every
# other file would fail the same way, so the file waits in the inbox instead.
OUTPUT_PROBLEMS = {
    errno.ENOSPC: "no space left on the output file system: free some space",
    errno.EDQUOT: "the disk quota of the output file system is used up: raise it or free some space",
    errno.EACCES: "the output folder is not writable by the daemon's user: fix its permissions",
    errno.EPERM: "the output folder is not writable by the daemon's user: fix its permissions "
                 "(or output_group names a group the daemon is not in)",
    errno.EROFS: "the output file system is read-only: remount it read-write",
    errno.ENOTCONN: "the output share is not connected: check the mount",
    errno.ESTALE: "the output share went stale: check the mount",
    errno.ENOMEDIUM: "the output folder is on a share that is not mounted (spool/shares.py): mount it; the folder "
                     "pauses until it is back",
    errno.EIO: "input/output error on the output file system: check the disk or share",
    errno.ENOTDIR: "a file stands where a folder of this folder's config should be: move it away",
    errno.ELOOP: "a folder of this folder's config is reached through a symbolic link now (swapped?): "
                 "put the real folder back; nothing is moved there meanwhile",
}


def read_only_advice(exc: OSError, path: str) -> str:
    """What to change when a folder cannot be made for a read-only file system ("" for any
    other error): under systemd, the sandbox's (ProtectSystem=strict), granted per path in
    a drop-in that applies at the service's next start, not at a reload. Said at a start
    and at a reload alike (folders.ensure_dirs): README's recipe ends in a restart, and a
    forgotten drop-in read only `Read-only file system` there."""
    if exc.errno != errno.EROFS:
        return ""
    return (f"; under systemd the service may write only under /var/lib/hotfolder and where its unit grants: "
            f"`systemctl edit hotfolder`, [Service] ReadWritePaths={display(path)} (or a folder above it), then "
            "`systemctl restart hotfolder` (a drop-in applies at a start, not at a reload); "
            "elsewhere its file system is mounted read-only")


def output_problem(exc: BaseException) -> str | None:
    """What to fix when writing an output failed because of the output folder."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return OUTPUT_PROBLEMS.get(exc.errno)
    return None


def said_at(exc: OSError, key: str, folder_name: str, place: Path, needed: int = 0) -> str | None:
    """Why writing into `place` (the folder's `key`: output, archive, ...) failed and what to
    change, naming the path written (the system's filename, when it lies in `place`), the
    folder to change and, for a full disk, its file system; None when `exc` is none of the
    errors said here (the caller says it its own way); `needed`: the bytes being written,
    said with what is free (a failed write's part is removed). An admin read "Permission denied:
    '.hf-0cb8416fe9ab.1-a_web.jpg.9494a52b'" (our temp name, no folder, nothing to change),
    and "no space left on the output file system" (which one?)."""
    path = _written(exc, place)
    what = display(str(path)) if path is not None else f"a file in {display(str(place))}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return full(exc, what, f"`{key}` of folder {folder_name}", place, needed)
    if exc.errno not in (errno.EACCES, errno.EPERM):
        return None
    where = path.parent if path is not None and path != place else place
    # No path named: the system did not say which folder refused (a review: said as a fact of `place`)
    folder = (f"the folder {display(str(where))}" if path is not None
              else f"the folder {display(str(where))} or one of its subfolders")
    return (f"{what} could not be written ({exc.strerror}): {folder} (`{key}` of folder "
            f"{folder_name}{_owned(where)}) is not writable by the daemon's user {this_user()}: change that folder's "
            f"permissions or owner (chmod u+w, or chown it to that user; g+w for a group the user is in)"
            + (", or its attributes (lsattr; chattr -i -a), or output_group if it names a group the daemon is "
               "not in" if exc.errno == errno.EPERM else ""))


def unwritable_subfolder(exc: OSError, place: Path) -> str:
    """The subfolder of `place` (relative, as posix) the daemon may not write, when that is
    what `exc` says of a path in it; "" for `place` itself, or any other error: the files
    bound elsewhere may still be written (supervisor/subfolders.py)."""
    path = _written(exc, place)
    if exc.errno not in (errno.EACCES, errno.EPERM) or path is None or path.parent == place:
        return ""
    return path.parent.relative_to(place).as_posix()


def full(exc: OSError, what: str, named: str, place: Path, needed: int = 0) -> str:
    """`what` found no room (ENOSPC, EDQUOT) in `place`, the folder `named` (its key): which
    file system, how much is free there, and what to change."""
    on = space.file_system(place) + (f" (this file's outputs need {space.size(needed)})" if needed else "")
    if exc.errno == errno.EDQUOT:
        return (f"{what} could not be written ({exc.strerror}): the daemon's user {this_user()} has used up its disk "
                f"quota on {on}, which holds {named} ({display(str(place))}): raise that user's quota there "
                "(setquota, edquota) or free some of its files")
    return (f"{what} could not be written ({exc.strerror}): {named} ({display(str(place))}) is on {on}: free some "
            "space there, or give that folder a larger file system")


def not_movable(exc: OSError, src: Path, into: Path) -> str:
    """Why the daemon's user may not move `src` into the folder `into` (EPERM, EACCES), where
    it can be told: the folder of the two it may not write to, with its owner and mode, or a
    sticky folder whose file is another user's; "" where it cannot (an immutable file, ...).
    `into` may not be made yet: its nearest folder that is stands for it."""
    for where in (src.parent, _nearest_folder(into)):
        if where is not None and not os.access(where, os.W_OK | os.X_OK, effective_ids=True):
            return (f"{display(str(where))}{_in_brackets(_owned(where))} is not writable by the daemon's user "
                    f"{this_user()} ({exc.strerror}): give that user write access there (chmod g+w for a group it "
                    "is in, g+s so that subfolders made later keep the group)")
    try:
        folder, st = os.stat(src.parent), os.lstat(src)
    except OSError:
        return ""
    if folder.st_mode & stat.S_ISVTX and os.geteuid() not in (st.st_uid, folder.st_uid):
        return (f"{display(str(src.parent))}{_in_brackets(_owned(src.parent))} is sticky (+t) and the file is "
                f"{_user_name(st.st_uid)}'s: only its owner, the folder's owner or root may move it; drop the sticky "
                "bit (chmod -t) or have the daemon's user own the folder")
    return ""


def _in_brackets(owned: str) -> str:
    """_owned's `; owner ann:studio, mode 555` as ` (owner ann:studio, mode 555)`."""
    return f" ({owned.removeprefix('; ')})" if owned else ""


def _nearest_folder(path: Path) -> Path | None:
    for where in (path, *path.parents):
        if os.path.isdir(where):
            return where
    return None


def _written(exc: OSError, place: Path) -> Path | None:
    """The path the system named, if it is one in `place` (spool/atomic names the final one)."""
    named = exc.filename
    if not isinstance(named, str | bytes):
        return None
    path = Path(os.fsdecode(named))
    return path if path.is_absolute() and path.is_relative_to(place) else None


def _owned(where: Path) -> str:
    """`; owner ann:studio, mode 555` of a folder, as `ls -ld` shows them."""
    try:
        st = os.stat(where)
    except OSError:
        return ""
    return f"; owner {_user_name(st.st_uid)}:{_group_name(st.st_gid)}, mode {stat.S_IMODE(st.st_mode):o}"


def this_user() -> str:
    """This process's user, as `ann (uid 1000)`."""
    uid = os.geteuid()
    return f"{_user_name(uid)} (uid {uid})"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
