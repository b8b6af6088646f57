"""The app on a slow device: the page loaded and used with Chromium's CPU slowed 8x (a low-end phone, or CI's
loaded machine). Headless Debian Chromium, as test_browser.py (which it skips with)."""
from __future__ import annotations

import json
import time

import pytest

from browser_helpers import app_page, open_tab, stroke
from test_browser import sync_api  # noqa: F401 (skipped as test_browser.py is: no chromium or playwright)


@pytest.fixture(scope="module")
def slow_page(tiny_app):  # the app test_browser.py runs, in a page of its own (conftest.py)
    with app_page(tiny_app, cpu_slowdown=8, viewport={"width": 1400, "height": 1000}) as page:
        yield page


def draw_a_stroke(page, tab: str, prefix: str) -> None:
    """The tab opened, its source switched to drawing and a stroke drawn: three seconds later, the drawing's own
    events are still going, as a person switches on at once."""
    open_tab(page, tab)
    page.locator(f"#{prefix}-source").get_by_text("drawing").click()
    canvas = page.locator(f"#{prefix}-sketch canvas").first
    canvas.wait_for(state="visible")
    page.locator(f"#{prefix}-sketch .empty.wrap").wait_for(state="detached")
    stroke(page, canvas, (0.5, 0.2), (0, 0.06))
    page.wait_for_timeout(3000)


def test_a_drawing_put_away_then_a_bad_upload_is_said_once(slow_page, tmp_path):
    """A drawing made, then the source switched to upload and a file that is no picture sent: the hidden drawing
    fired its change events again and again with nothing changed (Gradio's image editor, on a slow page), and each
    ran tab 1's views anew, so the upload's refusal was said over and over (five toasts in CI; here up to seven, in
    a third to a half of the runs). A view given the inputs it last ran on now sends nothing (wiring.skip_repeats)."""
    page = slow_page
    draw_a_stroke(page, "1. Forward", "forward")
    page.locator("#forward-source").get_by_text("upload").click()
    for view in ("forward", "objective"):
        page.wait_for_function(f"() => document.querySelector('#{view}-text').innerText.includes('No image uploaded')")
    (fake := tmp_path / "digit.png").write_text("not a picture")
    page.locator("#forward-upload input[type=file]").set_input_files(str(fake))
    for view in ("forward", "objective"):
        page.wait_for_function(f"() => document.querySelector('#{view}-text').innerText.includes('not an image')")
    message = page.locator("[data-testid=toast-body] .toast-message-item", has_text="not an image")
    counts, end = [], time.monotonic() + 12  # longer than a toast lasts (10 s): a repeat would show by then
    while time.monotonic() < end:
        counts.append(message.count())
        page.wait_for_timeout(500)
    assert max(counts) == 1, counts



def test_a_drawing_put_away_stops_no_run_of_tab_4(slow_page):
    """A drawing made in tab 4, then the source switched back to MNIST: the drawing's change event, sent seconds
    late (after its upload) with the source still "drawing", came after the switch's, and tab 4 put its run away
    again for a drawing no longer chosen; and as Gradio cancels a listener's `cancels` with an event of its own on
    each firing of its triggers, it stopped a run just pressed ("Stopped as the digit's inputs changed"). An event
    built before the source's last switch is now skipped, and the digit's change (new_digit) and its cancel follow
    a State that only new inputs move (wiring.on_new_inputs): one switch, one change."""
    page = slow_page
    draw_a_stroke(page, "4. Your digit", "roundtrip")
    ids = "() => window.gradio_config.dependencies.map(d => [d.api_name, d.id])"
    fn_index, switch = (dict(page.evaluate(ids))[name] for name in ("new_digit", "show_source_roundtrip"))
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}").get("fn_index"))
            if r.method == "POST" and "/run/predict" in r.url else None)
    page.locator("#roundtrip-source").get_by_text("MNIST").click()
    page.locator("#roundtrip-main img").wait_for()  # the run put away as the drawing came, shown again
    page.wait_for_timeout(12_000)  # the repeats came within ten seconds of the switch (one or two of them)
    # the drawing's own change may come before the switch (its read is quick now): after the switch, one change
    assert switch in sent and sent[sent.index(switch):].count(fn_index) == 1, sent
    assert page.locator("#roundtrip-main img").count() == 1  # the late drawing put it away again, MNIST chosen
