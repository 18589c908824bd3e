"""Each element of the status page has an id of its own (issue 26, item 17: "in failed/
now" and "in flight" were both `count-in`, so a script or a test reading one got the
other), read in a real browser from a running daemon with a failed file and one in flight.
"""
from __future__ import annotations

from collections import Counter

from tests import corpus as c
from tests.harness import failed_originals, http_url, wait_for
from tests.integration.test_status_page import browser, needs_browser, text_of  # noqa: F401 - the fixture

COUNTS = {"count-processed": "processed", "count-failed": "failed", "count-in-failed": "in failed/ now",
          "count-queued": "queued", "count-in-flight": "in flight", "count-workers": "workers"}


@needs_browser
def test_every_id_on_the_page_is_its_own(daemon_factory, browser):  # noqa: F811 - the fixture
    d = daemon_factory(extra='http: "127.0.0.1:0"').start()
    url = http_url(d)
    c.write(d.inbox / "bad.jpg", b"not an image")
    wait_for(lambda: failed_originals(d) == ["bad.jpg"], 20, what="bad.jpg to fail")
    wait_for(lambda: d.status_json()["in_failed"] == 1, 10, what="the status to count it")
    browser.get(url)
    ids = browser.execute_script("return Array.from(document.querySelectorAll('[id]'), e => e.id)")
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, f"ids used more than once: {twice}"
    for element_id, label in COUNTS.items():
        assert text_of(browser, element_id).endswith(label), (element_id, text_of(browser, element_id))
    assert text_of(browser, "count-in-failed").startswith("1")
    assert d.stop() == 0
