"""Every bench module imports against today's daemon: a rename in the daemon (a private
helper moved to its own module) once broke `python -m bench`'s duplicates section, which
only the full benchmark would have found."""
from __future__ import annotations

import importlib

import pytest

from tests.harness import REPO

MODULES = sorted(p.stem for p in (REPO / "bench").glob("*.py") if p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_the_bench_module_imports(name):
    importlib.import_module(f"bench.{name}")
