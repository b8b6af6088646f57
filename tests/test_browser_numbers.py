"""Numbers typed into the app's boxes, in a real browser (headless Debian Chromium, as test_browser.py, which it
skips with): a refused seed, t or digit's number is said and goes back to the last good one, an emptied box waits
for the number typed, and one typed past the end stays as typed until Enter or the box is left (page.SNAP_BACK_JS,
TYPING_JS). The tests share one page of the suite's tiny app and run in file order."""
from __future__ import annotations

import pytest

from browser_helpers import app_page, close_toasts, image_src, open_tab, scroll_to, set_number, wait_for_new_image
from test_browser import sync_api  # noqa: F401 (skipped as test_browser.py is: no chromium or playwright)


@pytest.fixture(scope="module")
def page(tiny_app):
    with app_page(tiny_app, viewport={"width": 1400, "height": 1000}) as page:
        yield page


def test_1_a_refused_seed_or_t_keeps_both_views(page):
    """A refused setting (a seed below 0, a t past the slider's end) is said, and both of tab 1's views stay as they
    were: the loss view used to empty while the forward view above it kept its pictures."""
    scroll_to(page, "objective-panel")
    page.locator("#objective-panel img").wait_for(state="attached")  # only its src is compared below
    page.wait_for_function("() => document.querySelector('#objective-text').innerText.includes('Loss at t')")
    before = image_src(page, "forward-xt"), image_src(page, "objective-panel")
    set_number(page, "forward-seed", -1)
    message = page.locator("[data-testid=toast-body] .toast-message-item", has_text="seed must be")
    message.first.wait_for()
    page.wait_for_timeout(1500)  # the loss view's event has run by now too
    assert message.count() == 1 and (image_src(page, "forward-xt"), image_src(page, "objective-panel")) == before
    # the box goes back to the seed on show, so that the next move of t is not refused for the seed again
    page.wait_for_function("() => document.querySelector('#forward-seed input[type=number]').value === '0'")
    page.locator("[data-testid=toast-body] .toast-close").first.click()
    page.locator("[data-testid=toast-body]").first.wait_for(state="detached")
    set_number(page, "forward-seed", 0)
    page.wait_for_timeout(1000)
    before = image_src(page, "forward-xt"), image_src(page, "objective-panel")
    t_box = page.locator("#forward-t input[type=number]")
    good_t = t_box.input_value()
    set_number(page, "forward-t", 5000)  # past the slider's end: said in the app's words (widgets.Slider)
    message = page.locator("[data-testid=toast-body] .toast-message-item", has_text="t must be between 0 and 100")
    message.first.wait_for()
    page.wait_for_timeout(1500)  # the loss view's event has run by now too: it reads t too, and stays quiet
    assert message.count() == 1 and (image_src(page, "forward-xt"), image_src(page, "objective-panel")) == before
    # and the box goes back to its last good t, so the next move of another control is not refused for it again
    page.wait_for_function(f"() => document.querySelector('#forward-t input[type=number]').value === '{good_t}'")
    old = image_src(page, "forward-xt")
    set_number(page, "forward-seed", 1)
    wait_for_new_image(page, "forward-xt", old)  # the new seed's eps, at the last good t
    assert message.count() == 1  # not said again
    close_toasts(page)
    set_number(page, "forward-seed", 0)
    set_number(page, "forward-t", 70)


def test_1_a_box_emptied_to_type_a_new_number_waits(page):
    """Erasing tab 1's t to type another: the box stays empty while it has the focus, with no toast, and the number
    typed is the one run (it was put back to the last good t at once, so 70, Backspace twice, 3 ran t = 73); left
    empty, it goes back to its last good t when it loses the focus."""
    t_box, empty = page.locator("#forward-t input[type=number]"), page.locator(".toast-message-item", has_text="empty")
    assert t_box.input_value() == "70"
    t_box.click()
    t_box.press("End")
    shows = "() => /\\bt = {}\\b/.test(document.querySelector('#forward-text').innerText)"  # that t's run has answered
    t_box.press("Backspace")  # 70 -> 7, run live
    page.wait_for_function(shows.format(7))
    t_box.press("Backspace")  # -> empty
    page.wait_for_timeout(800)
    assert t_box.input_value() == ""
    t_box.press("3")
    t_box.press("Enter")
    page.wait_for_function(shows.format(3))
    assert t_box.input_value() == "3"
    t_box.click()
    t_box.press("End")
    t_box.press("Backspace")
    page.wait_for_timeout(800)
    assert t_box.input_value() == ""
    page.locator("#forward-text").click()  # the focus elsewhere: back to t = 3
    page.wait_for_function("() => document.querySelector('#forward-t input[type=number]').value === '3'")
    page.wait_for_timeout(800)
    assert empty.count() == 0 and "t = 3" in page.locator("#forward-text").inner_text()
    # typed key by key past the end, the number stays as typed while the box has the focus (it was put back to 50 at
    # 500's refusal, so the next 0 made 500 again); Enter puts back the t before the typing began (it was 50, the
    # last t the view ran on)
    t_box.click()
    t_box.press("Control+A")
    for key, t in (("5", 5), ("0", 50)):
        t_box.press(key)
        page.wait_for_function(shows.format(t))
    t_box.press("0")
    page.locator(".toast-message-item", has_text="not 500").first.wait_for()
    page.wait_for_timeout(800)
    assert t_box.input_value() == "500"
    t_box.press("0")
    page.locator(".toast-message-item", has_text="not 5000").first.wait_for()
    page.wait_for_timeout(800)
    assert t_box.input_value() == "5000"
    t_box.press("Enter")
    page.wait_for_function("() => document.querySelector('#forward-t input[type=number]').value === '3'")
    page.wait_for_function(shows.format(3))
    close_toasts(page)
    set_number(page, "forward-t", 70)


def test_4_a_number_refused_as_typed_then_the_run_pressed_runs_on_the_digit_shown(page):
    """A digit's number typed past the end stays in the box, refused, until the box is left (page.TYPING_JS); left
    for the run's button, it is put back to the number before the typing (not 50, or 5 on a busy machine, the
    last the view ran on), and the run, pressed, waits for that change: it was sent first, and the change, 14 ms
    later, stopped it ("Stopped as the digit's inputs changed")."""
    open_tab(page, "4. Your digit")
    page.locator("#roundtrip-source").get_by_text("MNIST").click()
    set_number(page, "roundtrip-index", 7)
    page.wait_for_timeout(1500)
    box = page.locator("#roundtrip-index input[type=number]")
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("500", delay=80)  # 5, 50, 500: each a change
    page.locator("[data-testid=toast-body] .toast-message-item", has_text="not 500").first.wait_for()
    page.wait_for_timeout(800)
    assert box.input_value() == "500"
    page.locator("#roundtrip-go").click()
    page.locator("#roundtrip-main img").wait_for()
    assert box.input_value() == "7" and page.locator("#roundtrip-text").inner_text().startswith("Noised to t")
    close_toasts(page)
