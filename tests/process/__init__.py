"""Process tests: the pool, ledger and service in-process, with real worker processes."""
