"""What the tests and the benchmark share, imported as `from tests.harness import ...`:

- waiting.py   wait_for: every wait has a deadline; wait_for_count: a long batch, failed on a stall
- daemon.py    Daemon (`hotfolder run` as a subprocess, its log, status, stop), launch (the one
               Popen of a `hotfolder` command), hotfolder (a command run to its end), http_url
- folders.py   files_under, entries, and a folder's ends: archived, failed_originals, ends, settled
- logs.py      log_events, LogFile (a JSON log read as it grows)
- procs.py     the process tree from /proc: descendants, workers_of, cpu_seconds, the leak check's helpers
- images.py    noise_jpeg, drop_burst
- configs.py   config texts of several folders (folder_yaml, write_config)
- cluster.py   Cluster: redis-server, the head and `hotfolder worker` processes
- permissions.py  bound_by_permissions: root's daemon without CAP_DAC_OVERRIDE, so modes apply
- held.py      HeldOpen: a file whose opens wait for the test (fanotify), to hold a daemon's read mid-way

The fixtures that use them are in tests/conftest.py.
"""
from pathlib import Path

from tests.harness.configs import check_config, folder_yaml, write_config
from tests.harness.daemon import Daemon, DaemonFailed, hotfolder, http_url, launch, worker_pids
from tests.harness.folders import (
    SIDECAR,
    TEMP_MARK,
    Dirs,
    archived,
    ends,
    entries,
    failed_originals,
    files_under,
    settled,
)
from tests.harness.images import drop_burst, noise_jpeg
from tests.harness.logs import LogFile, log_events
from tests.harness.procs import cpu_seconds, descendants, resume, workers_of
from tests.harness.waiting import wait_for, wait_for_count

REPO = Path(__file__).resolve().parents[2]

__all__ = [
    "REPO", "SIDECAR", "TEMP_MARK", "Daemon", "DaemonFailed", "Dirs", "LogFile", "archived", "check_config",
    "cpu_seconds", "descendants", "drop_burst", "ends", "entries", "failed_originals", "files_under", "folder_yaml",
    "hotfolder", "http_url", "launch", "log_events", "noise_jpeg", "resume", "settled", "wait_for", "wait_for_count",
    "worker_pids", "workers_of", "write_config",
]
