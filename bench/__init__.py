"""Benchmarks (`python -m bench`): see bench/README.md."""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the daemon runs (hotfolder/cli): one BLAS thread a process
