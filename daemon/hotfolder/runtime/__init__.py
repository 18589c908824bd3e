"""The process's surroundings: systemd notifications, logging, the console and the progress bar.
"""
