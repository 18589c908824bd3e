"""The one root of hotfolder's own exceptions.

Every error the project raises on purpose derives from `HotfolderError`, so a caller
(the CLI, the service loop) can tell "ours, with a message for the user" from a bug.
Each subclass is one kind of problem, and its message says what to change.
"""
from __future__ import annotations


class HotfolderError(Exception):
    """An error of hotfolder's own, whose message tells the user what to change."""
