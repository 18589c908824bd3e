"""A rename that never replaces what is at its destination (renameat2 RENAME_NOREPLACE).

The moves pick a free name (spool/moves._unique) and then rename; a file someone made
under that name in between was replaced: a requeue overwrote a file a user had just
dropped into the inbox under the name it picked (an attack round with a co-user: 322 of
322). With NOREPLACE the kernel refuses instead (FileExistsError), and the caller picks
again. Where the call or the file system lacks it (an old glibc, some FUSE and network
file systems: EINVAL), the plain rename, as before.
"""
from __future__ import annotations

import ctypes
import errno
import os

RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    _renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    _renameat2.restype = ctypes.c_int


def rename(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
    """`src` (in src_dir_fd) renamed to `dst` (in dst_dir_fd); FileExistsError if `dst` exists."""
    if _renameat2 is not None:
        if _renameat2(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(code, os.strerror(code), src, None, dst)
    os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)  # no NOREPLACE here: as before
