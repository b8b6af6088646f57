"""The app on a phone's slow link: each request held 400 ms (Chromium's emulated latency), so that the page's
events reach the server round trips after the learner made them. Headless Debian Chromium, as test_browser.py
(which it skips with)."""
from __future__ import annotations

import pytest

from browser_helpers import app_page
from test_browser import sync_api  # noqa: F401 (skipped as test_browser.py is: no chromium or playwright)

LATENCY_MS = 400


@pytest.fixture(scope="module")
def far_page(tiny_app):  # the app test_browser.py runs, in a page of its own (conftest.py)
    with app_page(tiny_app, viewport={"width": 1400, "height": 1000}) as page:
        page.context.new_cdp_session(page).send("Network.emulateNetworkConditions", {
            "offline": False, "latency": LATENCY_MS, "downloadThroughput": -1, "uploadThroughput": -1})
        yield page


def test_a_seed_typed_and_the_bound_pressed_at_once_is_measured(far_page):
    """A seed typed and Measure the bound pressed at once (the press's blur commits the seed): the seed's change
    stops the bound's runs and puts its result away, but only round trips later (wiring.on_new_inputs), by when
    the press's run, on that very seed, was going; it was stopped and the page said to press again. A run started
    on the inputs moved to is now theirs (started="bits")."""
    page = far_page
    page.get_by_text("The bound L_simple stands in for").click()
    page.locator("#bits-go").wait_for()
    page.locator("#forward-seed input").fill("3")
    page.locator("#bits-go").click()
    text = "() => document.querySelector('#bits-text').innerText"
    page.wait_for_function(f"() => ({text})().includes('bits per pixel for this digit')")
    page.wait_for_timeout(4000)  # the seed's change, round trips late, has come and gone
    assert "from noise seed 3" in page.evaluate(text), page.evaluate(text)


def test_quick_switches_of_the_source_settle(far_page):
    """The digit's source clicked drawing, MNIST, upload, MNIST, 50 ms apart: each change fired two queued views
    that wait ("always_last"), and Gradio's page, putting aside the one not done and firing the trigger again for
    both when it was, kept firing it for ever (50 to 100 requests in the seconds after, in 2 runs of 5). Each
    trigger now has one such view (the loss view follows the forward view: live's `after`)."""
    page = far_page
    page.locator("#forward-source").scroll_into_view_if_needed()
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and "/upload" not in r.url else None)
    counts = []
    for _ in range(3):
        for source in ("drawing", "MNIST", "upload", "MNIST"):
            page.locator("#forward-source").get_by_text(source).click()
            page.wait_for_timeout(50)
        page.wait_for_timeout(4000)  # the switches' own events have come back (at 400 ms a request)
        before = len(sent)
        page.wait_for_timeout(4000)
        counts.append(len(sent) - before)
    assert counts == [0, 0, 0], counts
