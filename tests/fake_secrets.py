"""Secrets for the secrets tests: random, so that a match in a log or a message can only be a
leak, in the forms services use (apprise's URLs, a Telegram bot token)."""
from __future__ import annotations

import secrets


def tok(prefix: str, n: int = 24) -> str:
    """A secret nobody else's text holds: random, so a match can only be a leak."""
    return prefix + secrets.token_hex(n // 2)


def tgram_token() -> str:
    """A bot token of Telegram's form (bot id : 35 characters)."""
    return f"{secrets.randbelow(9 * 10**8) + 10**8}:AA" + secrets.token_urlsafe(32)[:33].replace("-", "x")


def leaks(text: str, values) -> list[str]:
    return [v for v in values if v in text]
