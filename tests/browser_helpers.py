"""What the browser tests share: where Debian's chromium is and how it is started, and the steps they take on the
app's page (open a tab, type a number, wait for a new picture, bring one on screen, save a screenshot)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from app_helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = ROOT / "screenshots"
TIMEOUT_MS = 120_000


@contextmanager
def app_page(url: str, timeout_ms: int = TIMEOUT_MS, cpu_slowdown: int = 1, **page_kw):
    """The app at `url` in a page of its own browser (`page_kw`: new_page's viewport, device_scale_factor), loaded:
    tab 1's first picture shown. page.errors: the uncaught errors thrown in it, for the tests that check none was.
    cpu_slowdown: Chromium's own throttle, the page run as on a CPU that many times slower (from its load on)."""
    from playwright.sync_api import sync_playwright  # (a test file skips without it, before it gets here)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(**page_kw)
        page.set_default_timeout(timeout_ms)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        if cpu_slowdown > 1:
            page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": cpu_slowdown})
        page.goto(url)
        page.wait_for_selector("#forward-xt img")
        yield page
        browser.close()


def image_src(page, elem_id: str) -> str:
    return page.eval_on_selector(f"#{elem_id} img", "img => img.src")


def scroll_to(page, elem_id: str) -> None:
    """Bring the component on screen: Gradio's pictures load lazily, and one left far from the screen (how far
    depends on the page's layout and on Chromium's guess of the network) stays 0 x 0 px, unloaded, as Playwright's
    "hidden" (CI failed so once, on a machine whose layout put tab 1's loss view further down)."""
    page.locator(f"#{elem_id}").evaluate("e => e.scrollIntoView({block: 'center'})")  # once it is there


def wait_for_new_image(page, elem_id: str, old_src: str) -> None:
    """Wait until the component shows a different, fully loaded image."""
    scroll_to(page, elem_id)
    page.wait_for_function("""([sel, old]) => { const img = document.querySelector(sel);
                             return img && img.src !== old && img.complete && img.naturalWidth > 0; }""",
                           arg=[f"#{elem_id} img", old_src])


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    if not tab.count():  # on a narrow screen, under the tab bar's "More tabs" menu (⋯)
        page.get_by_role("button", name="More tabs").click()
        tab = page.locator(".overflow-dropdown button", has_text=name)
    tab.click()


def set_number(page, elem_id: str, value) -> None:
    """Type into a gr.Number, or into the number box of a gr.Slider, and commit it."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def close_toasts(page) -> None:
    """Close every toast on show (a refusal's message), so that a later wait for one finds only its own."""
    for close in page.locator("[data-testid=toast-body] .toast-close").all():
        close.click()


def stroke(page, canvas, start: tuple[float, float], step: tuple[float, float], moves: int = 10) -> None:
    """Drag the mouse across the canvas from `start` by `moves` moves of `step`, each a fraction of its width and
    height, as a hand draws a stroke. The canvas's box is read here: the waits and clicks before scroll the page."""
    b = canvas.bounding_box()
    at = lambda k: (b["x"] + b["width"] * (start[0] + step[0] * k), b["y"] + b["height"] * (start[1] + step[1] * k))
    page.mouse.move(*at(0))
    page.mouse.down()
    for k in range(1, moves + 1):
        page.mouse.move(*at(k))
    page.mouse.up()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
