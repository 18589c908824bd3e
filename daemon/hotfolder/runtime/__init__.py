"""The process's surroundings: systemd's notify protocol (sd_notify), logging, the console and the progress bar.
"""
