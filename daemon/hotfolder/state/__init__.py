"""State that must survive restarts and is more than a folder can hold (a counter, an
index): one embedded SQLite database in state_dir (db.py), shared by every process of
the daemon; in cluster mode, Redis holds what the nodes must agree on."""
