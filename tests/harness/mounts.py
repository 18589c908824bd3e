"""A small tmpfs to fill up: the disk-full tests (root and CAP_SYS_ADMIN, or a skip saying so)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def mount_tmpfs(where: Path, size: str) -> None:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {proc.stderr.strip()}")


def umount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# A file system that does not tell case apart, as a studio's Windows share or exFAT disk: exFAT
# through FUSE (exfat-fuse) on a loop device. This kernel's own vfat, and ext4's and tmpfs's
# casefold (CONFIG_UNICODE), are not to be counted on; FUSE is.
EXFAT_TOOLS = {"mkfs.exfat": "exfatprogs", "mount.exfat-fuse": "exfat-fuse", "losetup": "mount"}


def mount_exfat(image: Path, where: Path, size: str = "64M") -> str:
    """An exFAT of `size` made in the file `image`, mounted at `where` through FUSE; the loop
    device it is on (for umount_exfat). Skips saying what is missing: root, /dev/fuse, a
    package (CI's .ci/run installs them), a free loop device."""
    import os
    import shutil

    missing = [pkg for tool, pkg in EXFAT_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no exFAT through FUSE here: apt-get install {' '.join(missing)}")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("no exFAT through FUSE here: needs root (a loop device) and /dev/fuse")
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkfs.exfat", str(image)], check=True, capture_output=True, timeout=60)
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, timeout=30)
    if loop.returncode != 0:
        pytest.skip(f"no loop device for an exFAT image here: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount.exfat-fuse", device, str(where)], capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        subprocess.run(["losetup", "-d", device], capture_output=True, timeout=30)
        pytest.skip(f"exfat-fuse could not mount here: {mounted.stderr.strip()}")
    return device


def umount_exfat(where: Path, device: str) -> None:
    umount(where)
    subprocess.run(["losetup", "-d", device], capture_output=True, timeout=30)
