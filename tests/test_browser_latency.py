"""The app on a phone's slow link: each request held 400 ms (Chromium's emulated latency), so that the page's
events reach the server round trips after the learner made them. Headless Debian Chromium, as test_browser.py
(which it skips with)."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from browser_helpers import app_page, close_toasts, image_src, open_tab, set_number, stroke, wait_for_new_image
from ddpm.demo.digit_input import DRAWING_ID_JS
from test_browser import sync_api  # noqa: F401 (skipped as test_browser.py is: no chromium or playwright)

LATENCY_MS = 400


@pytest.fixture(scope="module")
def far_page(tiny_app):  # the app test_browser.py runs, in a page of its own (conftest.py)
    with app_page(tiny_app, viewport={"width": 1400, "height": 1000}) as page:
        page.context.new_cdp_session(page).send("Network.emulateNetworkConditions", {
            "offline": False, "latency": LATENCY_MS, "downloadThroughput": -1, "uploadThroughput": -1})
        yield page


def bound_beside_a_canvas(page):
    """Tab 1 with the bound's accordion open (it may be, from a test before) and a drawing as the source: its canvas.
    Opened after the canvas shows, the accordion's scroll moved the canvas under a stroke already aimed."""
    open_tab(page, "1. Forward")
    if not page.locator("#bits-go").is_visible():
        page.get_by_text("The bound L_simple stands in for").click()
        page.locator("#bits-go").wait_for()
    page.locator("#forward-source").get_by_text("drawing").click()
    canvas = page.locator("#forward-sketch canvas").first
    canvas.wait_for(state="visible")
    page.locator("#forward-sketch .empty.wrap").wait_for(state="detached")
    return canvas


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


def test_a_drawing_is_sent_once_and_moves_of_t_send_none_of_it(far_page):
    """A drawing as tab 1's source, then t moved five times: Gradio's page sent the drawing's images again (3
    requests) for every view that read it, and for every server's event that ever had it as an input or an output,
    each time any event's progress moved: 228 uploads for the five moves, the views 11 s behind the last. The page's
    events now read the drawing from a State, read once by the id its images were sent ahead under, and the source
    shows its input in the page alone (digit_input)."""
    page = far_page
    page.locator("#forward-source").get_by_text("drawing").click()
    canvas = page.locator("#forward-sketch canvas").first
    canvas.wait_for(state="visible")
    page.locator("#forward-sketch .empty.wrap").wait_for(state="detached")
    assert page.locator("#forward-index").is_hidden() and page.locator("#forward-upload").is_hidden()
    sent = []
    page.on("request", lambda r: sent.append(r.url.split("/gradio_api/")[-1]) if r.method == "POST" else None)
    stroke(page, canvas, (0.5, 0.2), (0, 0.06))
    text = "() => document.querySelector('#forward-text').innerText"
    page.wait_for_function(f"() => !({text})().includes('drawing is empty')")
    page.wait_for_timeout(3000)
    assert sum(url.startswith("upload") for url in sent) == 3, sent  # background, composite, layer: once
    sent.clear()
    for t in (30, 31, 32, 33, 34):
        set_number(page, "forward-t", t)
        page.wait_for_timeout(100)
    page.wait_for_function(f"() => ({text})().includes('t = 34')")
    page.wait_for_function("() => document.querySelector('#objective-text').innerText.includes('Loss at t = 34')")
    page.wait_for_timeout(3000)
    assert not [url for url in sent if url.startswith("upload")], sent
    page.locator("#forward-source").get_by_text("MNIST").click()
    page.locator("#forward-index").wait_for(state="visible")
    page.locator("#forward-sketch").wait_for(state="hidden", timeout=10_000)


def test_a_stroke_or_a_number_and_a_run_pressed_at_once_run_on_that_digit(far_page):
    """Tab 4: a digit drawn, or its number typed, and Noise and denoise pressed at once (the press's blur commits
    the number), as a learner does. The run read the digit before the stroke (a first drawing: "The drawing is
    empty"), as the drawing's State is filled round trips after it, or ran on the new one and was stopped by its
    change, round trips late ("The digit changed"); tab 1's bound alike. A run pressed now waits for the digit's
    work going in the page (page.DIGIT_BUSY_JS): the run is of the digit shown, and nothing stops it."""
    page = far_page
    open_tab(page, "4. Your digit")
    text = "() => document.querySelector('#roundtrip-text').innerText"
    toasts = page.locator("[data-testid=toast-body]")

    def press_and_see_it_run():
        old = image_src(page, "roundtrip-main") if page.locator("#roundtrip-main img").count() else ""
        page.get_by_role("button", name="Noise and denoise").click()
        try:
            wait_for_new_image(page, "roundtrip-main", old)
        except Exception as e:  # (Playwright's timeout): what the tab says instead
            raise AssertionError(f"{page.evaluate(text)} | {toasts.all_inner_texts()}") from e
        page.wait_for_timeout(4000)  # the digit's change, had it come late, would have put the run away by now
        assert page.evaluate(text).startswith("Noised to t") and page.locator("#roundtrip-main img").count() == 1
        assert toasts.count() == 0, toasts.all_inner_texts()

    set_number(page, "roundtrip-index", 7)
    page.locator("#roundtrip-index input[type=number]").fill("5")  # typed, not committed: the press's blur commits it
    press_and_see_it_run()
    assert page.locator("#roundtrip-index input[type=number]").input_value() == "5"
    page.locator("#roundtrip-source").get_by_text("drawing").click()
    canvas = page.locator("#roundtrip-sketch canvas").first
    canvas.wait_for(state="visible")
    page.locator("#roundtrip-sketch .empty.wrap").wait_for(state="detached")
    page.wait_for_timeout(4000)  # the switch's own events have come and gone
    for start in ((0.5, 0.2), (0.3, 0.5)):  # a first drawing, then a second stroke on it
        stroke(page, canvas, start, (0, 0.06) if start[0] == 0.5 else (0.04, 0))
        press_and_see_it_run()
    canvas = bound_beside_a_canvas(page)
    page.wait_for_timeout(4000)
    stroke(page, canvas, (0.5, 0.2), (0, 0.06))
    page.locator("#bits-go").click()
    bits = "() => document.querySelector('#bits-text').innerText"
    try:
        page.wait_for_function(f"() => ({bits})().includes('bits per pixel for this digit')", timeout=60_000)
    except Exception as e:  # (Playwright's timeout): what the bound says instead
        raise AssertionError(f"{page.evaluate(bits)} | {toasts.all_inner_texts()} | "
                             f"{page.evaluate('() => JSON.stringify([window.__digitBusy, window.__strokes])')}") from e
    page.wait_for_timeout(4000)
    assert "bits per pixel for this digit" in page.evaluate(bits) and toasts.count() == 0


def test_quick_presses_while_the_digit_settles_run_once(far_page):
    """A number typed, then Noise and denoise pressed four times quickly: the press waits in the page for the
    digit's work going (page.DIGIT_WAIT_JS), and Gradio's "once" drops a press only while a run it sent is going;
    the wait, in the run's own event, came before any was sent, so each press waited and each sent a run (4 runs
    on the shared CPU, the cancel of a new digit reaching only the last). The wait is now a listener of its own
    before the run's, and the presses that wait with it reach a run already sent."""
    import json
    import urllib.request
    page = far_page
    names = {d["id"]: d.get("api_name") for d in json.load(urllib.request.urlopen(page.url + "config"))["dependencies"]}
    open_tab(page, "4. Your digit")
    page.locator("#roundtrip-source").get_by_text("MNIST").click()
    page.wait_for_timeout(4000)
    runs = []
    page.on("request", lambda r: runs.append(1) if r.method == "POST" and "queue/join" in r.url and names.get(
        json.loads(r.post_data or "{}").get("fn_index")) == "roundtrip_ui" else None)
    set_number(page, "roundtrip-index", 11)
    for _ in range(4):
        page.get_by_role("button", name="Noise and denoise").click()
        page.wait_for_timeout(150)
    page.wait_for_timeout(8000)
    assert len(runs) == 1, runs


def test_a_press_after_a_gesture_on_the_canvas_that_draws_nothing_waits_briefly(far_page):
    """The pointer pressed on the drawing's canvas and let go off it draws nothing, and no change comes to clear the
    stroke it notes (page.STROKES_JS): Measure the bound pressed at once waited 5 s for it (4.9 s to the run's
    request). A stroke the editor has not begun to send 2 s after it ends now counts no more (page.DIGIT_WAIT_JS)."""
    import json
    import time
    page = far_page
    names = {d["id"]: d.get("api_name") for d in page.evaluate("() => window.gradio_config.dependencies")}
    canvas = bound_beside_a_canvas(page)
    stroke(page, canvas, (0.5, 0.2), (0, 0.06))
    page.wait_for_timeout(6000)  # the stroke's change has come and gone
    sent = []
    page.on("request", lambda r: sent.append(time.monotonic()) if r.method == "POST" and "queue/join" in r.url
            and names.get(json.loads(r.post_data or "{}").get("fn_index")) == "bits_ui" else None)
    canvas.scroll_into_view_if_needed()
    b = canvas.bounding_box()
    page.mouse.move(b["x"] + b["width"] * 0.1, b["y"] + b["height"] * 0.9)
    page.mouse.down()
    page.mouse.move(b["x"] - 60, b["y"] + b["height"] * 0.9)  # off the canvas at once: nothing drawn
    page.mouse.up()
    pressed = time.monotonic()
    page.locator("#bits-go").click()
    page.wait_for_timeout(6000)
    # at most 2 s waited now (5 s before): 4 s leaves room for a busy machine
    assert sent and sent[0] - pressed < 4, (sent and sent[0] - pressed, page.evaluate(
        "() => JSON.stringify([window.__digitBusy, window.__strokes, window.__strokeSends])"))


@pytest.mark.parametrize("sent_at, left", [(1000, 2000), (3000, 0)])
def test_a_drawings_change_leaves_a_stroke_ended_after_its_send_pending(far_page, sent_at, left):
    """Two strokes, the second ended as the first's send had begun (page.STROKES_JS notes each stroke, SENT_JS each
    send): the first's change cleared the stroke noted, so a run pressed at once waited for the first's read alone and
    the second's change, a moment later, stopped it ("The digit changed", 1 of 4 tries on a 40 ms link). The change now
    leaves a stroke that ended after the send it reports pending (page.DIGIT_WAIT_JS), and clears one sent since."""
    page = far_page.context.browser.new_page()  # the app's page keeps its own notes
    try:
        drawn = DRAWING_ID_JS.replace("KEY", "k")
        kept = page.evaluate(f"""() => {{ window.__strokes = {{k: 2000}}; window.__strokeSends = {{k: {sent_at}}};
            const id = ({drawn})({{id: 'new'}}, 'old'); return [id, window.__strokes.k, window.__digitBusy.k]; }}""")
    finally:
        page.close()
    assert kept == ["new", left, 1], kept  # the new id counted in either way


@contextmanager
def interpolate_beside_tab_4(page):
    """Tab 4 on an MNIST digit, Interpolate open, the page's events settled; yields its toasts. After: the toasts
    closed, and the other digit back to 1."""
    open_tab(page, "4. Your digit")
    page.locator("#roundtrip-source").get_by_text("MNIST").click()
    if not page.locator("#interpolate-go").is_visible():
        page.get_by_text("Interpolate to another digit").click()
    page.wait_for_timeout(4000)
    try:
        yield page.locator("[data-testid=toast-body] .toast-message-item")
    finally:
        close_toasts(page)
        set_number(page, "interpolate-other", 1)


def test_a_number_past_the_end_typed_and_a_run_pressed_is_refused_aloud(far_page):
    """A digit's number past the end typed, then its run pressed at once: Gradio's slider set the box to its end as
    the press took the focus, before the number's own change was sent, and the run went on #299 without a word (tab
    4's digit and Interpolate's other). The page keeps the number typed (page.KEEP_TYPED_JS), as Enter does: it is
    refused aloud, and tab 4's box goes back (page.SNAP_BACK_JS, which now leaves a number its view has not been
    sent yet: the first answer came back before the number's own) where Interpolate's keeps it, its run refused."""
    page = far_page
    with interpolate_beside_tab_4(page) as toasts:
        for box, button in (("roundtrip-index", "roundtrip-go"), ("interpolate-other", "interpolate-go")):
            typed = page.locator(f"#{box} input[type=number]")
            typed.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("500", delay=80)  # as a hand types: 5, 50, 500, each a change
            page.locator(f"#{button}").click()
            toasts.filter(has_text="not 500").first.wait_for(timeout=10_000)
            page.wait_for_timeout(4000)
            back = typed.input_value()
            assert back != "299" and (back == "500") == (box == "interpolate-other"), back
        assert page.locator("#interpolate-image img").count() == 0  # refused, not run on #299


def test_a_slider_box_left_with_no_number_and_a_run_pressed_is_refused_aloud(far_page):
    """1e400 typed (past a float: no number to the browser, its box's value '') or the box emptied, then the run
    pressed: Gradio's slider set the box to its low end as the press took the focus, and Interpolate ran on the
    other digit #0, or t = 1, without a word. The page now keeps the box as it is (page.KEEP_TYPED_JS): the run is
    refused, saying it holds no number."""
    page = far_page
    with interpolate_beside_tab_4(page) as toasts:
        refusals = (("interpolate-other", "1e400", "# holds no number"), ("interpolate-t", "", " t holds no number"))
        for box, typed, said in refusals:
            page.locator(f"#{box} input[type=number]").click()
            page.keyboard.press("Control+A")
            if typed:
                page.keyboard.type(typed, delay=80)
            else:
                page.keyboard.press("Backspace")
            page.locator("#interpolate-go").click()
            toasts.filter(has_text=f"{said}: give a number between").first.wait_for(timeout=10_000)
            page.wait_for_timeout(2000)
            assert page.locator("#interpolate-image img").count() == 0  # refused, not run on #0 or t = 1
            set_number(page, box, 1)
