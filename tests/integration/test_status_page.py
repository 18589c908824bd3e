"""The status page in a real browser (headless Chromium from Debian, driven by Selenium
through Debian's chromedriver), and its guards over plain HTTP.

CI sets HOTFOLDER_REQUIRE_BROWSER=1: there a missing chromium is a failure, not a skip.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests.harness import files_under, http_url, wait_for

TOKEN = "studio-token-0123456789"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
needs_browser = pytest.mark.skipif(not HAVE_BROWSER and not os.environ.get("HOTFOLDER_REQUIRE_BROWSER"),
                                   reason="chromium and chromium-driver are not installed (apt-get install "
                                          "chromium chromium-driver)")


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("HOTFOLDER_REQUIRE_BROWSER"):
            raise
        pytest.skip("selenium is not installed (pip install -e '.[test]')")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    os.environ["SE_AVOID_STATS"] = "true"  # Selenium Manager is not used: the driver's path is given
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "driver.log")),
                              options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()  # chromedriver and every chromium process; the leak check verifies it


def small_limit_daemon(daemon_factory, token: str | None = TOKEN):
    """A daemon whose max_image_pixels fails a 40x30 image: the admin raises it, then
    someone requeues the file from the page."""
    http = f'http: {{listen: "127.0.0.1:0", token: "{token}"}}' if token else 'http: {listen: "127.0.0.1:0"}'
    return daemon_factory(extra=f"max_image_pixels: 1000\n{http}")


def drop(d, name: str, size=(40, 30)) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 100, 40)).save(d.root / name, "JPEG")
    os.rename(d.root / name, d.inbox / name)


def raise_the_limit(d) -> None:
    d.config.write_text(d.config.read_text().replace("max_image_pixels: 1000", "max_image_pixels: 100000000"))
    reloads = len(d.events("reloaded"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reloaded")) > reloads, 10, what="the reload")


def text_of(driver, element_id: str) -> str:
    """The text of an element of the page now ("" while the next page loads)."""
    from selenium.common.exceptions import WebDriverException

    try:
        return driver.find_element("id", element_id).text
    except WebDriverException:
        return ""


def click(driver, find, what: str) -> None:
    """Click what `find(driver)` returns; the page reloads itself every few seconds, so
    an element may go stale between finding and clicking: find it again."""
    from selenium.common.exceptions import WebDriverException

    def attempt():
        try:
            element = find(driver)
            if element is None:
                return False
            element.click()
            return True
        except WebDriverException:
            return False

    wait_for(attempt, 15, what=f"to click {what}")


def failed_row(driver, name: str):
    for row in driver.find_elements("css selector", "tr.failed"):
        if name in row.text:
            return row
    return None


@needs_browser
def test_a_studio_member_sees_a_failure_logs_in_and_requeues_it(daemon_factory, browser):
    d = small_limit_daemon(daemon_factory).start()
    url = http_url(d)
    drop(d, "portrait.jpg")
    wait_for(lambda: (d.failed / "portrait.jpg").exists(), 20, what="the file to fail")

    browser.get(url)
    row = wait_for(lambda: failed_row(browser, "portrait.jpg"), 15, what="the failed file on the page")
    reason = row.find_element("css selector", ".reason").text  # the reason, from its record
    assert "more than max_image_pixels (1,000)" in reason
    assert not row.find_elements("css selector", "button"), "no Requeue button before logging in"
    assert browser.find_element("id", "count-failed").text.startswith("1")

    click(browser, lambda b: b.find_element("id", "login"), "Log in")
    browser.find_element("id", "token").send_keys("not the token at all")
    browser.find_element("id", "submit").click()
    wait_for(lambda: "Wrong token" in text_of(browser, "error"), 10, what="the login to be refused")
    browser.find_element("id", "token").send_keys(TOKEN)
    browser.find_element("id", "submit").click()
    wait_for(lambda: "Logged in" in text_of(browser, "flash"), 10, what="the login")
    cookie = browser.get_cookie("hf_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    raise_the_limit(d)
    click(browser, lambda b: failed_row(b, "portrait.jpg").find_element("css selector", "button"), "Requeue")
    wait_for(lambda: "Requeued" in text_of(browser, "flash"), 10, what="the requeue")
    wait_for(lambda: "portrait.jpg" in files_under(d.archive), 20, what="the requeued file rendered")
    # The page reloads itself: no refresh from here.
    done = wait_for(lambda: [r for r in browser.find_elements("css selector", "tr.done") if "portrait.jpg" in r.text],
                    20, interval=0.25, what="the file under Done")[0]
    assert "portrait_web.jpg" in done.text and "portrait_thumb.webp" in done.text
    assert failed_row(browser, "portrait.jpg") is None
    click(browser, lambda b: b.find_element("id", "logout"), "Log out")
    wait_for(lambda: "Logged out" in text_of(browser, "flash"), 10, what="the logout")
    assert not browser.find_elements("css selector", "tr.failed button")
    assert d.stop() == 0


@needs_browser
def test_without_a_token_the_page_is_read_only(daemon_factory, browser):
    d = small_limit_daemon(daemon_factory, token=None).start()
    url = http_url(d)
    drop(d, "a.jpg")
    wait_for(lambda: (d.failed / "a.jpg").exists(), 20, what="the file to fail")
    browser.get(url)
    wait_for(lambda: failed_row(browser, "a.jpg"), 15, what="the failed file on the page")
    assert "read-only" in browser.find_element("id", "readonly").text
    assert not browser.find_elements("css selector", "button")
    browser.get(url + "/login")
    wait_for(lambda: "read-only" in text_of(browser, "error"), 10, what="the read-only note")
    assert d.stop() == 0


# ---------------------------------------------------------------------- plain HTTP


def call(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def failed_ids(url: str) -> dict[str, str]:
    status, _, body = call(url + "/api/status")
    assert status == 200
    return {f["file"]: f["id"] for f in json.loads(body)["failed"]}


def test_requeue_needs_the_token_and_takes_only_what_the_daemon_lists(daemon_factory):
    d = small_limit_daemon(daemon_factory).start()
    url = http_url(d)
    drop(d, "b.jpg")
    # A user's own file named like a record: an original like any other.
    (d.root / "notes.error.json").write_text('{"not": "ours"}')
    os.rename(d.root / "notes.error.json", d.inbox / "notes.error.json")
    wait_for(lambda: {"b.jpg", "notes.error.json"} <= set(failed_ids(url)), 20, what="both files listed as failed")
    ids = failed_ids(url)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    status, headers, _ = call(url + "/requeue", "POST", f"id={ids['b.jpg']}".encode(), form)
    assert status == 303 and headers["Location"].startswith("/login"), "a browser without a session logs in first"
    status, headers, _ = call(url + "/requeue", "POST", f"id={ids['b.jpg']}".encode(),
                              {**form, "Authorization": "Bearer wrong-token-wrong-token"})
    assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"

    # Logged in, but the form's CSRF field missing, or the POST from another site: refused.
    status, headers, page = call(url + "/login")
    pre = headers["Set-Cookie"].split("hf_pre=")[1].split(";")[0]
    csrf = page.decode().split('name="csrf" value="')[1].split('"')[0]
    status, _, _ = call(url + "/login", "POST", f"token={TOKEN}".encode(), {**form, "Cookie": f"hf_pre={pre}"})
    assert status == 403, "a login without its form's CSRF field"
    status, headers, _ = call(url + "/login", "POST", f"csrf={csrf}&token={TOKEN}".encode(),
                              {**form, "Cookie": f"hf_pre={pre}"})
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("hf_session="))
    assert status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = cookie.split("hf_session=")[1].split(";")[0]
    status, _, _ = call(url + "/requeue", "POST", f"id={ids['b.jpg']}".encode(),
                        {**form, "Cookie": f"hf_session={session}"})
    assert status == 403, "no CSRF field"
    status, _, page = call(url + "/", headers={"Cookie": f"hf_session={session}"})
    csrf = page.decode().split('name="csrf" value="')[1].split('"')[0]
    status, _, _ = call(url + "/requeue", "POST", f"csrf={csrf}&id={ids['b.jpg']}".encode(),
                        {**form, "Cookie": f"hf_session={session}", "Origin": "http://evil.example"})
    assert status == 403, "a POST from another site"
    assert (d.failed / "b.jpg").exists()

    # Names are not ids: nothing from a request reaches the file system.
    bearer = {**form, "Authorization": f"Bearer {TOKEN}"}
    for not_an_id in ("b.jpg", "../failed/b.jpg", str(d.failed / "b.jpg"), "/etc/passwd"):
        status, _, body = call(url + "/requeue", "POST", f"id={not_an_id}".encode(), bearer)
        assert status == 404 and json.loads(body)["code"] == "gone", not_an_id
    assert (d.failed / "b.jpg").exists()

    status, _, body = call(url + "/requeue", "POST", f"csrf={csrf}&id={ids['b.jpg']}".encode(),
                           {**form, "Cookie": f"hf_session={session}"})
    assert status == 303
    status, _, body = call(url + "/requeue", "POST", json.dumps({"id": ids["notes.error.json"]}).encode(),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body)["file"] == "notes.error.json"
    assert len(d.events("requeued")) == 2
    wait_for(lambda: len([e for e in d.events("file_failed") if "failed" in e]) == 4, 20,
             what="both back through the inbox, and failed again (the limit is still low)")
    wait_for(lambda: set(failed_ids(url)) == {"b.jpg", "notes.error.json"}, 10, what="both listed again")
    status, _, body = call(url + "/requeue", "POST", f"id={ids['b.jpg']}".encode(), bearer)
    assert status == 200, "the same file failed again keeps its id"
    assert d.stop() == 0


def test_the_page_guards_itself(daemon_factory):
    d = daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: "{TOKEN}"}}').start()
    url = http_url(d)
    status, headers, body = call(url + "/")
    assert status == 200 and b'http-equiv="refresh"' in body and b"<script" not in body
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    status, _, _ = call(url + "/", headers={"Host": "evil.example:80"})
    assert status == 421, "a name pointed at 127.0.0.1 by another site (DNS rebinding)"
    assert call(url + "/nothing-here")[0] == 404
    assert call(url + "/requeue")[0] == 405
    assert call(url + "/healthz")[0] == 200
    assert d.stop() == 0


def test_the_status_answers_as_soon_as_the_daemon_says_ready(daemon_factory):
    """`ready` (and READY=1) comes after the first status is published: a client that reads
    the line and asks at once had a 503 "starting" while the first status was taken (a test
    under load; here a failed/ folder of 5,000 files makes that first walk long)."""
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}')
    d.failed.mkdir(parents=True)
    for i in range(5_000):
        (d.failed / f"f{i:05d}.jpg").touch()
    d.start(timeout=60)
    status, _, body = call(http_url(d) + "/api/status")
    assert status == 200, body
    assert json.loads(body)["status"]["in_failed"] == 5_000
