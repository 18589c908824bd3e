"""The test suite; tests/harness.py holds what the tests share."""
