"""Each item of `notify:`: where to send which events."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from hotfolder import redact
from hotfolder.config.choices import NOTIFY_EVENTS, NotifyEvent
from hotfolder.config.keys import Key, read_keys
from hotfolder.config.model import DEFAULT_NOTIFY_EVENTS, NotifyTarget
from hotfolder.config.reader import Context, Reader, recorded, section
from hotfolder.config.values import Choices, Text


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _url_problem(url: str) -> str | None:
    if "://" not in url and "@" not in url:  # not quoted: it may be a token alone where its URL was due
        return (f"is not a URL: it does not start with a scheme (https://, mailto://, …); what is written there "
                f"({len(url)} characters) is not shown, as it may be a token; e.g. "
                "https://hooks.example.com/hotfolder, mailto://user:password@example.com, ntfy://topic")
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", _scheme(url)):
        return (f"{redact.url(url)[:60]!r} is not a URL; e.g. https://hooks.example.com/hotfolder, "
                "mailto://user:password@example.com, ntfy://topic")
    return redact.password_cut_short(url)


KEYS = (
    Key("url", Text(strip=True, env=True), None,
        "required. `http://` or `https://`: a JSON POST (`user:password@` in it is sent as HTTP Basic auth). Any "
        "other scheme goes through [apprise](https://github.com/caronc/apprise/wiki): `mailto://`, `slack://`, "
        "`ntfy://`, `matrix://`, `tgram://`, … (`check-config` asks apprise whether it knows the URL). `${VAR}` "
        "is taken from the environment. A password holding `/`, `?` or `#` is written percent-encoded (`%2F`, "
        "`%3F`, `%23`)", required=True, check=_url_problem, env=True),
    Key("events", Choices(NotifyEvent, f"must be a non-empty list of: {', '.join(NOTIFY_EVENTS)}"),
        DEFAULT_NOTIFY_EVENTS,
        "any of `failed` (a file went to failed/), `paused` (claiming paused: the output folder is unusable, or a "
        "folder's watermark image or colour profile), `reload_refused`, `worker_lost` (a worker died or hung "
        "while rendering a file; the file is retried), `recovered` (the daemon started and its recovery ran, or "
        "claiming resumed after a pause), `duplicate` (an original with the same bytes as an earlier one: skipped, "
        "failed or rendered again), `similar` (a look-alike of an earlier one: flagged or skipped), `done` (a "
        "file's outputs are written: their names, and the folder's manifest when it writes one; one event per "
        "file, so ask for it where a page or shop imports them)"),
    Key("secret", Text(secret=True, env=True), "",
        "http(s) only: the body is signed with HMAC-SHA256, in `X-Hotfolder-Signature: sha256=<hex>`. `${VAR}` "
        "is taken from the environment.", shown="—", env=True),
)


@section
def read(ctx: Context, data: Any, path: str) -> NotifyTarget:
    r = Reader(ctx, data, path)
    values = read_keys(r, KEYS)
    r.done()
    target = NotifyTarget(**values)
    if not r.ok("url"):
        return target
    with recorded():
        if target.is_webhook:
            parts = urlsplit(target.url)
            if not parts.hostname:
                r.fail("url", f"{target.shown} has no host name")
            try:
                parts.port  # noqa: B018 - urllib checks it when asked: every send failed on it (a review)
            except ValueError:
                r.fail("url", f"{target.shown}: its port is not a number from 0 to 65535")
        else:
            if target.secret and r.ok("secret"):
                r.fail("secret", "only applies to http:// and https:// URLs (signing the JSON body), not "
                                 f"{_scheme(target.url)}://")
            _check_apprise_url(r, target.url, _scheme(target.url))
    return target


def _check_apprise_url(r: Reader, url: str, scheme: str) -> None:
    """Other schemes go through apprise: it must be installed and know the URL."""
    apprise = redact.apprise_module()  # silenced: it logs the URLs it refuses, tokens and all
    if apprise is None:
        r.fail("url", f"{scheme}:// URLs are sent through apprise, which is not installed (pip install apprise)")
    if apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(storage_mode="memory")) is None:
        r.fail("url", f"apprise does not accept this {scheme}:// URL; see https://github.com/caronc/apprise/wiki "
                      "for the form of each service's URL")
