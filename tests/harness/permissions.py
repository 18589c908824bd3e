"""A daemon bound by folder permissions as its user would be: the tests run as root, whom
`chmod 555` does not stop. As root, the daemon runs without CAP_DAC_OVERRIDE (setpriv), or
the test is skipped saying why."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

DROP = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")


def bound_by_permissions() -> tuple[str, ...]:
    """The launcher (Daemon.start(launcher=...)) that makes modes apply to the daemon."""
    if os.geteuid() != 0:
        return ()
    if shutil.which(DROP[0]) is None:
        pytest.skip("setpriv (util-linux) is not installed: root ignores folder modes without it")
    proc = subprocess.run([*DROP, "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"setpriv cannot drop CAP_DAC_OVERRIDE here: {proc.stderr.strip()}")
    return DROP
