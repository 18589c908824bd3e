"""Integration tests: the daemon as a subprocess; files dropped, signals sent, folders checked;
a real redis-server and a real Chromium."""
