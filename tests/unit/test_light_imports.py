"""The shared data types and the supervisor's side import no decoder.

Finding (issue 21): `Job` and `Result` lived in the worker's module, which imports the
pipeline, so importing the backend protocol loaded pyvips, Pillow and pi-heif (0.25 s)
in the ledger, the service and the cluster head; the ledger's recipe check loaded
Pillow and libvips too. The pool imported the worker's module for its Process target, so
the main process loaded the engine (~0.2 s) before starting the forkserver, which loads
it again (workers/forks.py). Each module is imported in a fresh interpreter, alone.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("PIL", "pyvips", "pi_heif", "rawpy", "numpy")
LIGHT = ("hotfolder.jobs", "hotfolder.backend", "hotfolder.status", "hotfolder.supervisor.ledger",
         "hotfolder.supervisor.service", "hotfolder.workers.pool", "hotfolder.cli.commands",
         "hotfolder.cluster.backend", "hotfolder.cli.places")


@pytest.mark.parametrize("module", LIGHT)
def test_importing_loads_no_decoder(module):
    if module.startswith("hotfolder.cluster"):
        pytest.importorskip("celery")  # the cluster extra
    code = (f"import sys, {module}; "
            f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules); "
            f"assert not heavy, f'{module} loaded {{heavy}}'")
    _in_a_fresh_interpreter(code)


def test_the_backends_are_found_by_name_and_imported_only_then():
    code = ("import sys; from hotfolder import backend; "
            "assert 'hotfolder.workers.pool' not in sys.modules and 'hotfolder.cluster.backend' not in sys.modules; "
            "pool = backend.backend_class('local'); "
            "assert pool.__module__ == 'hotfolder.workers.pool' and pool.__name__ == 'LocalPool', pool; "
            "assert 'hotfolder.cluster.backend' not in sys.modules; "
            "assert sorted(backend.BACKENDS) == ['cluster', 'local'], backend.BACKENDS")
    _in_a_fresh_interpreter(code)


def test_a_command_line_is_parsed_before_any_command_s_module_is_imported():
    """`hotfolder status`, called often by scripts and monitors, paid for every command's
    imports (explain's recipes, structlog, the package metadata of --version): ~0.17 s."""
    code = ("import sys; from hotfolder.cli import commands; "
            "commands._parser().parse_args(['status']); "
            "loaded = sorted(m for m in ('structlog', 'importlib.metadata', 'hotfolder.cli.explain', "
            "'hotfolder.cli.status', 'hotfolder.cli.run') if m in sys.modules); "
            "assert not loaded, loaded; "
            "assert commands._command('status').__module__ == 'hotfolder.cli.status'")
    _in_a_fresh_interpreter(code)


def _in_a_fresh_interpreter(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
