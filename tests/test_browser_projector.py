"""The app on a classroom projector: 1280 x 720 at 150% zoom, a page 853 x 480 CSS px, read from the back of the
room. Headless Debian Chromium, as test_browser.py (which it skips with)."""
from __future__ import annotations

import pytest

from browser_helpers import app_page, open_tab, scroll_to
from test_browser import sync_api  # noqa: F401 (skipped as test_browser.py is: no chromium or playwright)


@pytest.fixture(scope="module")
def projector(tiny_app):  # the app test_browser.py runs in its own page (conftest.py)
    with app_page(tiny_app, 60_000, viewport={"width": 853, "height": 480}, device_scale_factor=1.5) as page:
        yield page


def test_tab_3s_and_tab_4s_results_take_the_page_width_under_their_settings(projector):
    """Beside the settings tab 3's panel was shrunk to half its size (366 px of 747: titles 7 px tall); under them, as
    on a phone, it is shown whole, its frame slider right below it. A laptop's 1400 px keeps them side by side."""
    open_tab(projector, "3. x0-hat")
    scroll_to(projector, "trajectory-panel")
    projector.locator("#trajectory-panel img").wait_for()
    shown, natural = projector.eval_on_selector("#trajectory-panel img", "i => [i.clientWidth, i.naturalWidth]")
    assert shown >= min(natural, 700), (shown, natural)
    below = "(a, b) => document.querySelector(a).getBoundingClientRect().top > " \
            "document.querySelector(b).getBoundingClientRect().bottom"
    assert projector.evaluate(f"({below})('#trajectory-panel', '#trajectory-go')")
    open_tab(projector, "4. Your digit")  # tab 4's results too, its strip (beside, a third of its size) legible
    scroll_to(projector, "roundtrip-strip")  # loaded (lazily), so that its natural width is known
    projector.wait_for_function("() => document.querySelector('#roundtrip-strip img').naturalWidth > 0")
    shown, natural = projector.eval_on_selector("#roundtrip-strip img", "i => [i.clientWidth, i.naturalWidth]")
    assert shown >= min(natural, 700), (shown, natural)
    assert projector.evaluate(f"({below})('#roundtrip-main', '#roundtrip-steps')")
    projector.set_viewport_size({"width": 1400, "height": 1000})
    projector.wait_for_function(f"() => !({below})('#roundtrip-main', '#roundtrip-steps')")
    open_tab(projector, "3. x0-hat")
    projector.wait_for_function(f"() => !({below})('#trajectory-panel', '#trajectory-go')")


def test_a_picture_is_no_tab_stop_of_its_own(projector):
    """Gradio's button around each picture (for a select event none has here) was a Tab stop that did nothing: 5 in
    tab 1 alone for a keyboard user, beside each picture's full-screen button, which stays."""
    open_tab(projector, "1. Forward")
    wrappers = "() => [...document.querySelectorAll('.picture button:has(> .image-frame)')].map((b) => b.tabIndex)"
    projector.wait_for_function(f"() => ({wrappers})().length >= 5 && ({wrappers})().every((i) => i === -1)")
    assert projector.locator("#forward-xt button[aria-label=Fullscreen]").evaluate("b => b.tabIndex") == 0


def test_a_short_screen_opens_on_the_tab_bar_sooner(projector):
    """Under 560 px tall the header's tour of the tabs gives way (the tab bar right below names them): 210 px of a
    480 px screen went to the header before any tab; a laptop's screen still shows the tour, as does a narrow one."""
    top = "() => document.querySelector('[role=tablist]').getBoundingClientRect().top + window.scrollY"
    tour = "() => document.querySelector('#header p:nth-of-type(2)').offsetHeight"
    projector.set_viewport_size({"width": 853, "height": 480})  # (a test before may have left a laptop's)
    projector.wait_for_function(f"() => ({tour})() === 0")
    assert projector.evaluate(top) < 150
    projector.set_viewport_size({"width": 1400, "height": 1000})
    try:
        projector.wait_for_function(f"() => ({tour})() > 0")
        projector.set_viewport_size({"width": 853, "height": 480})
        projector.wait_for_function(f"() => ({tour})() === 0")
        # a laptop at 400% zoom is short and narrow: its tab bar hides tabs under ⋯, which the tour explains
        projector.set_viewport_size({"width": 320, "height": 450})
        projector.wait_for_function(f"() => ({tour})() > 0")
    finally:  # the projector's size again, for the tests after this one
        projector.set_viewport_size({"width": 853, "height": 480})
