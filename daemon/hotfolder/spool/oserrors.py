"""Which OS errors are the folder's problem (claiming pauses), not the file's.
"""
from __future__ import annotations

import errno

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
    errno.EIO: "input/output error on the output file system: check the disk or share",
    errno.ENOTDIR: "a file stands where a folder of this folder's config should be: move it away",
    errno.ELOOP: "a folder of this folder's config is reached through a symbolic link now (swapped?): "
                 "put the real folder back; nothing is moved there meanwhile",
}


def output_problem(exc: BaseException) -> str | None:
    """What to fix when writing an output failed because of the output folder."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return OUTPUT_PROBLEMS.get(exc.errno)
    return None
