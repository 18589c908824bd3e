"""System tests: the service installed in a booted container (systemd-nspawn; root)."""
