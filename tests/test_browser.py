"""The app in a real browser: headless Debian Chromium driven by Playwright opens every tab, runs its
main action, checks that a new image appears, and saves screenshots to screenshots/.

Needs `apt-get install chromium` (Playwright's own browser download needs the network). Uses a tiny
random model unless DDPM_TEST_MODEL names a real one (for screenshots that show digits).

The tests share one page (one app start, as a visitor's session) and run in file order, each where the one before
left the app: run the file whole, not one test picked with -k.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from app_helpers import running_app
from browser_helpers import (CHROMIUM, SHOTS, TIMEOUT_MS, app_page, close_toasts, image_src, open_tab, scroll_to,
                             set_number, shot, stroke, wait_for_new_image)
from ddpm.data import load_sample
from ddpm.demo.forward import MARKER_COLOR as GREY  # the chosen t's line

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def app_url(request):
    """The suite's tiny app (test_browser_projector.py's too), or one of DDPM_TEST_MODEL for screenshots."""
    if model := os.environ.get("DDPM_TEST_MODEL"):
        with running_app(model) as url:
            yield url
    else:
        yield request.getfixturevalue("tiny_app")


@pytest.fixture(scope="module")
def page(app_url):
    SHOTS.mkdir(exist_ok=True)
    with app_page(app_url, viewport={"width": 1400, "height": 1000}) as page:
        yield page


def test_1_forward_slider_and_drawing(page):
    open_tab(page, "1. Forward")
    old = image_src(page, "forward-xt")
    set_number(page, "forward-t", 70)
    wait_for_new_image(page, "forward-xt", old)
    page.wait_for_function("() => document.querySelector('#forward-text').innerText.includes('t = 70')")
    page.wait_for_function("() => document.querySelector('#objective-text').innerText.includes('Loss at t = 70')")
    shot(page, "1-forward")
    assert page.eval_on_selector("#forward-strip", "e => getComputedStyle(e, '::after').content") == "none"  # phones'
    # draw a digit: switch the source, drag on the sketchpad's canvas, see the preprocessed x_0 change
    old, old_objective = image_src(page, "forward-x0"), image_src(page, "objective-panel")
    page.locator("#forward-source").get_by_text("drawing").click()
    canvas = page.locator("#forward-sketch canvas").first
    canvas.wait_for(state="visible")
    page.locator("#forward-sketch .empty.wrap").wait_for(state="detached")  # app.py picked the brush for us
    # nothing drawn yet: the views empty and say what to do, instead of showing the MNIST digit as if drawn
    for view in ("forward", "objective"):  # two events: the loss view's, on a queue of its own, may come second
        page.wait_for_function(f"() => document.querySelector('#{view}-text').innerText.includes('drawing is empty')")
    assert page.locator("#forward-x0 img").count() == 0 and page.locator("#objective-panel img").count() == 0
    stroke(page, canvas, (0.5, 0.2), (0, 0.06))  # a 1, down the middle
    wait_for_new_image(page, "forward-x0", old)
    wait_for_new_image(page, "objective-panel", old_objective)  # the loss view follows the drawing too
    shot(page, "1-forward-drawing")
    # cleared, the canvas takes a new drawing at once: the brush is picked again, as when the source switched
    page.locator("#forward-sketch button[aria-label='Clear canvas']").click()
    page.wait_for_function("() => document.querySelector('#forward-text').innerText.includes('drawing is empty')")
    page.locator("#forward-sketch .empty.wrap").wait_for(state="detached")
    assert page.locator("#forward-xt img").count() == 0  # emptied, the view waits for the new drawing
    stroke(page, canvas, (0.3, 0.5), (0.04, 0))  # a bar across
    scroll_to(page, "forward-xt")
    page.locator("#forward-xt img").wait_for()
    # the notation's equations are typeset, offline, by the KaTeX Gradio ships (none left as raw $$ or in red)
    page.get_by_text("Notation: beta_t").click()
    page.wait_for_function("() => document.querySelectorAll('.katex-display').length >= 8")
    assert page.locator(".katex-error").count() == 0 and "$$" not in page.locator(".katex-display").first.inner_text()


def test_1_a_bad_upload_is_reported_once(page, tmp_path):
    """Tab 1's two views (forward, loss) read the same upload; only the first one reports what is wrong with it, and
    both empty (test_browser_slow.py: on a slow page too)."""
    (fake := tmp_path / "digit.png").write_text("not a picture")
    errors = len(page.errors)
    page.locator("#forward-source").get_by_text("upload").click()
    try:
        for view in ("forward", "objective"):  # as a person would: the switch's own events have run, with no file yet
            page.wait_for_function(
                f"() => document.querySelector('#{view}-text').innerText.includes('No image uploaded')")
        page.locator("#forward-upload input[type=file]").set_input_files(str(fake))
        message = page.locator("[data-testid=toast-body] .toast-message-item", has_text="not an image")
        message.first.wait_for()
        # the views empty, saying why, rather than go on showing the MNIST digit as if it were the upload; once both
        # say it, both events have run, and only one of them made a toast
        page.wait_for_function("() => document.querySelector('#forward-text').innerText.includes('not an image')")
        page.wait_for_function("() => document.querySelector('#objective-text').innerText.includes('not an image')")
        counts = []
        for _ in range(10):  # for 5 s: a repeat of the same inputs coming late is counted too (a toast lasts 10 s)
            counts.append(message.count())  # Gradio stacks repeats in one toast ("Error (3)"): count its messages
            page.wait_for_timeout(500)
        assert max(counts) == 1, counts
        assert page.locator("#forward-x0 img").count() == 0 and page.locator("#objective-panel img").count() == 0
        assert page.errors[errors:] == []  # the emptied loss plot threw "reading 'offsetWidth'" when set to None
    finally:  # the tests after it start from the MNIST digit, as they would had it passed
        close = page.locator("[data-testid=toast-body] .toast-close")
        if close.count():  # so that it hides no later screenshot (more than one: the rest go by in 10 s)
            close.first.click()
        page.locator("[data-testid=toast-body]").first.wait_for(state="detached")
        page.locator("#forward-source").get_by_text("MNIST test digit").click()


def test_2_generate(page):
    open_tab(page, "2. Generate")
    old = image_src(page, "generate-grid")
    set_number(page, "generate-seed", 1)  # the default seed's grid is already on show
    page.locator("#generate-go").click()
    wait_for_new_image(page, "generate-grid", old)
    page.wait_for_function("() => document.querySelector('#generate-status').innerText.includes('Done')")
    # ... and a screen reader hears the caption, without the command's code block (its live region, out of sight)
    said = "() => (document.getElementById('app-announce') || {}).textContent || ''"
    page.wait_for_function(f"() => ({said})().startsWith('Done in')")
    assert "python -m ddpm.sample" not in page.evaluate(said)
    assert page.locator("#app-announce").bounding_box()["width"] <= 1
    shot(page, "2-generate")
    # the line that draws the grid wraps rather than run off the caption's edge (cut off at a laptop's width)
    assert page.eval_on_selector("#generate-status pre", "e => e.scrollWidth <= e.clientWidth")
    page.locator("#generate-go").click()  # again, nothing changed: the same grid at once, said so
    page.wait_for_function("() => document.querySelector('#generate-status').innerText.includes('Drawn before')")
    assert page.locator("#generate-grid img").count() == 1
    page.wait_for_function(f"() => ({said})().startsWith('Drawn before')")
    # a control that would change nothing is greyed out: w without a class, DDIM's steps and eta under DDPM
    disabled = lambda name: page.locator(f"#generate-{name} input[type=range]").is_disabled()  # noqa: E731
    assert disabled("guidance") and not disabled("eta")
    page.locator("#generate-sampler").get_by_text("DDPM", exact=False).click()
    page.wait_for_function("() => document.querySelector('#generate-eta input[type=range]').disabled")
    page.locator("#generate-sampler").get_by_text("DDIM", exact=False).click()
    page.wait_for_function("() => !document.querySelector('#generate-eta input[type=range]').disabled")
    # a refused setting: a warning says why, and the last grid and its caption stay, with no error badge on them
    grid, status = image_src(page, "generate-grid"), page.inner_text("#generate-status")
    set_number(page, "generate-seed", -5)
    page.evaluate("() => { document.getElementById('app-announce').textContent = ''; }")
    page.locator("#generate-go").click()
    page.locator("[data-testid=toast-body] .toast-message-item", has_text="seed must be").first.wait_for()
    page.wait_for_timeout(1000)
    assert image_src(page, "generate-grid") == grid and page.inner_text("#generate-status") == status
    assert page.evaluate(said) == ""  # the warning toast is heard; the old caption is not said again
    assert "Error" not in page.inner_text("#generate-grid") + page.inner_text("#generate-status")
    page.locator("[data-testid=toast-body] .toast-close").first.click()
    page.locator("[data-testid=toast-body]").first.wait_for(state="detached")
    set_number(page, "generate-seed", 1)


def test_3_trajectory_and_scrub(page):
    open_tab(page, "3. x0-hat")
    old = image_src(page, "trajectory-panel")
    set_number(page, "trajectory-seed", 2)
    errors = len(page.errors)
    # the last run's plot is put away while this one runs: hidden (visible=False), it was taken out of the page, and
    # on a 400 ms link each of its redraws' size watchers threw once it was gone (1 to 16 errors in 3 of 5 runs)
    page.evaluate("""() => { const plot = [...document.querySelectorAll('.block')]
        .find((b) => b.innerText.startsWith('When is the digit decided')), seen = (window.__plotSeen = []);
      new MutationObserver(() => seen.push([plot.classList.contains('put-away'), !!plot.querySelector('.vega-embed')]))
        .observe(document.body, {subtree: true, childList: true, attributes: true}); }""")
    page.locator("#trajectory-go").click()
    wait_for_new_image(page, "trajectory-panel", old)  # x_t | x0_hat | eps_hat while it denoises, then the last frame
    page.wait_for_function("() => document.querySelector('#trajectory-status').innerText.includes(' frames (')")
    seen = page.evaluate("window.__plotSeen")
    assert [True, True] in seen and [False, True] == seen[-1] and all(kept for _, kept in seen), seen[-5:]
    assert image_src(page, "trajectory-gif").endswith(".gif")  # the run loops in the page, not only as a download
    for state in ("hidden", "visible"):  # closed, out of view and still (it moves past 5 s: WCAG 2.2.2); open again
        page.get_by_text("The run as a looping GIF: close this to stop it").click()
        page.locator("#trajectory-gif img").wait_for(state=state)
    assert page.errors[errors:] == []  # the last run's plot, emptied while this one ran, threw in the page
    old = image_src(page, "trajectory-panel")
    line = f"() => [...document.querySelectorAll('path[stroke=\"{GREY}\"]')].map(p => p.getAttribute('d')).join()"
    at_0 = page.evaluate(line)  # the decision plot's grey line at the slider's t
    set_number(page, "trajectory-frame", 10)
    wait_for_new_image(page, "trajectory-panel", old)
    page.wait_for_function(f"() => ({line})() !== {at_0!r}")  # the plot's line follows the slider ...
    page.wait_for_function("() => document.querySelector('#trajectory-decided').innerText"  # ... and so do its words
                           ".startsWith('At t = 10 the classifier reads')")
    shot(page, "3-trajectory")
    # an arrow key moves it one kept frame (50 DDIM steps of T = 100: 2 t apart), not one t (it showed no change)
    old = image_src(page, "trajectory-panel")
    page.locator("#trajectory-frame input[type=range]").press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#trajectory-frame input[type=number]').value === '12'")
    wait_for_new_image(page, "trajectory-panel", old)  # its frame shown (and 12 noted as good) before the next
    set_number(page, "trajectory-frame", 5000)  # refused, said, and the box goes back to the t on show
    page.locator("[data-testid=toast-body] .toast-message-item", has_text="not 5000").first.wait_for()
    page.wait_for_function("() => document.querySelector('#trajectory-frame input[type=number]').value === '12'")
    close_toasts(page)


def test_4_noise_and_denoise_an_uploaded_digit(page, tmp_path):
    open_tab(page, "4. Your digit")
    # a test digit's number typed past its end is said and goes back to the last good one: the browser set it to
    # the end (#299) as the button took the focus, a digit change that cancelled the press
    set_number(page, "roundtrip-index", 5000)
    page.locator("[data-testid=toast-body] .toast-message-item", has_text="not 5000").first.wait_for()
    page.wait_for_function("() => document.querySelector('#roundtrip-index input[type=number]').value === '0'")
    close_toasts(page)
    page.wait_for_timeout(1500)  # the digit's change events (the typo's, the snap back's) have run
    # the last run's pictures and caption stay: the digit is the one they show (a typo wiped them, an 18 s DDPM run)
    assert page.locator("#roundtrip-main img").count() == 1
    assert page.evaluate("() => document.querySelector('#roundtrip-text').innerText").startswith("Drawn as the app")
    # another digit puts them away (a number typed over passes through others: 0 -> 1 -> 12 -> 1 -> 0), and the
    # digit they show brings them back
    set_number(page, "roundtrip-index", 12)
    page.locator("#roundtrip-main img").wait_for(state="detached")
    set_number(page, "roundtrip-index", 0)
    scroll_to(page, "roundtrip-main")
    page.locator("#roundtrip-main img").wait_for()
    page.wait_for_function("() => document.querySelector('#roundtrip-text').innerText.startsWith('Drawn as the app')")
    # DDPM reads no DDIM steps: the slider greys, as tabs 2 and 3's do (it stayed live, changing nothing)
    steps_off = "() => document.querySelector('#roundtrip-steps input[type=range]').disabled"
    assert not page.evaluate(steps_off)
    page.locator("#roundtrip-sampler label", has_text="DDPM,").click()
    page.wait_for_function(steps_off)
    page.locator("#roundtrip-sampler label", has_text="DDIM,").click()
    page.wait_for_function(f"() => !({steps_off})()")
    scan = tmp_path / "scan.png"
    Image.fromarray(255 - np.kron(load_sample()[0][7], np.ones((9, 9), np.uint8))).save(scan)  # dark on light
    old = image_src(page, "roundtrip-x0")
    page.locator("#roundtrip-source").get_by_text("upload").click()
    # as a learner's file picker does, the file comes after the switch's own answer: set at once, the two events
    # raced (both unqueued) and the switch's "No image uploaded", arriving last, could stay
    page.wait_for_function("() => document.querySelector('#roundtrip-text').innerText.includes('No image uploaded')")
    page.locator("#roundtrip-upload input[type=file]").set_input_files(str(scan))
    wait_for_new_image(page, "roundtrip-x0", old)  # the preview shows the upload, MNIST-style
    # the last run's pictures, of another digit, are gone: none is read as the upload's
    page.locator("#roundtrip-main img").wait_for(state="detached")
    # (the source's switch said "No image uploaded" first; the file's own change then says to press the button)
    page.wait_for_function("() => document.querySelector('#roundtrip-text').innerText.includes('The digit changed')")
    set_number(page, "roundtrip-seed", 3)
    page.locator("#roundtrip-go").click()
    page.locator("#roundtrip-main img").wait_for()
    shot(page, "4-roundtrip")


def test_5_about(page):
    open_tab(page, "5. About")
    page.wait_for_function("() => document.querySelector('#about').innerText.includes('parameters')")
    page.wait_for_function("() => document.querySelector('#about-loss-text').innerText.includes('The logged loss goes from')")
    page.locator("#about-loss canvas, #about-loss svg").first.wait_for()  # the plot itself is drawn
    shot(page, "5-about")


def test_6_on_a_phone(page):
    """A 390 px wide phone: two tabs show (with long names, only the first did) and the rest open from the ⋯ menu;
    a table (tab 1's, About's) scrolls sideways instead of squeezing its columns; the loss plot and its text stack;
    an output image carries only the full-screen button (the full toolbar covered the titles drawn into the
    panels) and its label as alt text; a strip of frames scrolls sideways at a height its labels can be read at (twice that for two rows);
    a slider with the keyboard focus shows it."""
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.set_default_timeout(TIMEOUT_MS)
    try:
        phone.goto(page.url)
        phone.locator("#objective-panel img").scroll_into_view_if_needed()  # loaded lazily, once near the screen
        phone.wait_for_selector("#objective-panel img")
        buttons = phone.eval_on_selector_all("#objective-panel button[aria-label]", "bs => bs.map(b => b.ariaLabel)")
        assert buttons == ["Fullscreen"], buttons
        assert phone.eval_on_selector("#objective-panel img", "img => img.alt").startswith("x_t | eps | eps_hat")
        assert phone.locator("#objective-text").bounding_box()["width"] > 300  # beside the plot: a strip a word wide
        table = phone.eval_on_selector("#forward-text table",
                                       "t => [getComputedStyle(t).overflowX, t.getBoundingClientRect().right]")
        assert table[0] == "auto" and table[1] <= 390, table  # About's quality table has the same style
        strip = phone.eval_on_selector("#forward-strip img", "i => [i.clientHeight, i.parentElement.scrollWidth, "
                                                              "i.parentElement.clientWidth]")
        assert strip[0] >= 100 and strip[1] > strip[2], strip  # the strip's t labels stay legible: it scrolls instead
        hint = "e => getComputedStyle(e, '::after').content"  # and says so: a phone shows no scrollbar until touched
        assert "scroll sideways" in phone.eval_on_selector("#forward-strip", hint)
        # the strip, a Tab stop of the browser's own as it scrolls, is named as its picture (a bare group before);
        # on a laptop, where it fits, it is not (the picture's alt says it)
        phone.wait_for_function("() => document.querySelector('#forward-strip .image-frame[role=group]')?.ariaLabel "
                                "=== 'x_t across t (same eps)'")
        phone.set_viewport_size({"width": 1400, "height": 844})
        phone.wait_for_function("() => !document.querySelector('#forward-strip .image-frame').hasAttribute('role')")
        phone.set_viewport_size({"width": 390, "height": 844})
        natural_size = "i => !!i && i.clientHeight == i.naturalHeight && i.parentElement.scrollWidth > i.parentElement.clientWidth"
        # the five panels at their own size, scrolling: shrunk to the phone's width, their titles were 6 px tall
        assert phone.eval_on_selector("#objective-panel img", natural_size)
        shot(phone, "6-phone-forward")
        phone.locator("#forward-t input[type=range]").focus()  # as the Tab key would: the slider shows its focus
        assert phone.eval_on_selector("#forward-t input[type=range]", "e => getComputedStyle(e).outlineStyle") == "solid"
        phone.get_by_text("Notation: beta_t").click()  # each typeset equation fits the phone, or scrolls: none cut off
        phone.wait_for_function("() => document.querySelectorAll('.katex-display').length >= 8")
        wide = phone.eval_on_selector_all(".katex-display", "ds => ds.filter(d => d.scrollWidth > d.clientWidth && "
                                                            "getComputedStyle(d).overflowX !== 'auto').length")
        assert wide == 0, wide
        open_tab(phone, "3. x0-hat")  # the animation's titled panels too, and tab 4's; scrolled to x0_hat (LAUNCH's js)
        scroll_to(phone, "trajectory-panel")  # near the screen, so that it loads (lazily)
        phone.wait_for_function(f"() => ({natural_size})(document.querySelector('#trajectory-panel img')) && document"
                                ".querySelector('#trajectory-panel .image-frame').scrollLeft > 0")
        gif = phone.eval_on_selector("#trajectory-gif", "b => [b.querySelector('button').getBoundingClientRect()"
                                                       ".bottom, b.querySelector('img').getBoundingClientRect().top]")
        assert gif[0] <= gif[1], gif  # the GIF's download and full-screen buttons above its titles, not on them
        open_tab(phone, "4. Your digit")  # a strip of two titled rows gets twice the height
        assert phone.eval_on_selector("#roundtrip-strip img", "i => i.clientHeight") >= 200
        scroll_to(phone, "roundtrip-main")
        phone.wait_for_function(f"() => ({natural_size})(document.querySelector('#roundtrip-main img'))")
        shot(phone, "6-phone-roundtrip")
        phone.get_by_text("Interpolate to another digit").click()  # its three rows fill the place kept for them
        phone.locator("#interpolate-go").click()  # (a laptop's 480 px left 90 px blank under them)
        phone.locator("#interpolate-image img").wait_for()
        phone.wait_for_function("() => { const b = document.querySelector('#interpolate-image'), i = b.querySelector('img');"
                                " return i.complete && b.clientHeight - i.clientHeight < 74; }")  # + swipe line, button
        open_tab(phone, "2. Generate")  # a press brings the grid into view as the run starts, not when it ends
        phone.locator("#generate-sampler").get_by_text("DDPM", exact=False).click()
        phone.locator("#generate-go").scroll_into_view_if_needed()
        phone.wait_for_timeout(500)
        phone.evaluate("() => { window.__seenAtScroll = null; addEventListener('scroll', () => { window.__seenAtScroll "
                       "??= document.querySelector('#generate-status').innerText; }); }")
        phone.locator("#generate-go").click()
        phone.wait_for_function("() => document.querySelector('#generate-status').innerText.startsWith('Done in')")
        seen = phone.evaluate("() => window.__seenAtScroll")
        assert seen is not None and seen != phone.inner_text("#generate-status"), seen
        open_tab(phone, "5. About")
        phone.wait_for_function("() => document.querySelector('#about').innerText.includes('parameters')")
        shot(phone, "6-phone-about")
    finally:
        phone.close()
