"""Unit tests: pure functions, the engine on real files, config parsing (seconds)."""
