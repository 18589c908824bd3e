"""The test suite, by tier (unit/, process/, integration/, system/); tests/harness/ holds what the
tests and the benchmark share, conftest.py the fixtures of every tier."""
