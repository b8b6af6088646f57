"""What the page looks like to a learner with low vision or a red-green colour-blind eye: contrast of the theme's
text and of the plots' colours (WCAG 2.1's relative luminance), and where the keyboard is."""
import re
from pathlib import Path

import numpy as np
import pytest
from gradio.themes.utils import colors

from ddpm.demo import forward, objective, page, trajectory

WHITE, DARK = "#ffffff", colors.neutral.c950  # the light page and Gradio's dark one


def luminance(hex_color: str) -> float:
    rgb = [int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_matches_wcag_examples():
    assert contrast("#000000", WHITE) == pytest.approx(21)
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)  # the lightest grey passing 4.5:1


def theme_value(name: str, dark: bool = False) -> str:
    """The light (or dark) theme's colour behind one of its CSS variables, following var(--x) to a hex value."""
    css = page.THEME._get_theme_css()
    if dark:  # the dark page's own value of `name`, where it sets one; the palette's hex values are the light one's
        dark_css = css[css.index(":root .dark {"):]
        name = re.fullmatch(r"var\(--([\w-]+)\)", re.search(rf"--{name}: ([^;]+);", dark_css).group(1)).group(1)
    while True:
        value = re.search(rf"--{name}: ([^;]+);", css).group(1).strip()
        if value.startswith("#"):
            return value
        name = re.fullmatch(r"var\(--([\w-]+)\)", value).group(1)


@pytest.mark.parametrize("name, least", [("color-accent", 4.5), ("body-text-color-subdued", 4.5),
                                         ("block-info-text-color", 4.5), ("button-primary-background-fill", 4.5)])
def test_theme_text_reads_on_white(name, least):
    """The chosen tab's name and the focus outline (the accent), the sliders' ends and the controls' help: axe
    measured Gradio's own at 2.8:1 and 1.9:1."""
    assert contrast(theme_value(name), WHITE) >= least


@pytest.mark.parametrize("name", ["button-primary-background-fill", "button-primary-background-fill-hover"])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_primary_buttons_white_text_reads_on_it_hovered_and_on_a_dark_page(name, dark):
    """Generate's button keeps its white text at 4.5:1 under the pointer and in the dark theme too."""
    assert contrast(theme_value(name, dark), WHITE) >= 4.5


def test_dark_page_keeps_a_lighter_accent():
    assert ":root .dark {--color-accent: var(--primary-500) !important}" in page.CSS
    assert contrast(colors.orange.c500, DARK) >= 4.5


@pytest.mark.parametrize("palette", [trajectory.DIGIT_COLORS, forward.COLORS, objective.COLORS],
                         ids=["decision plot", "tab 1's curves", "tab 1's loss"])
def test_plot_colours_stand_out_on_both_pages(palette):
    """Lines need 3:1 against their background (WCAG 1.4.11); tab10's orange, pink, yellow olive and cyan had 2-2.7."""
    for name, c in palette.items():
        assert contrast(c, WHITE) >= 3 and contrast(c, DARK) >= 3, name


def test_chosen_t_is_not_told_from_a_curve_by_red_and_green():
    """The chosen t's line was red beside the green log-SNR curve: one olive to a deuteranope."""
    grey = forward.MARKER_COLOR
    assert grey[1:3] == grey[3:5] == grey[5:7]  # no hue at all: neither red nor green
    assert forward.COLORS[forward.MARKER] == objective.COLORS[objective.MARKER] == trajectory.DIGIT_COLORS[
        trajectory.NOW] == grey
    assert len(set(trajectory.DIGIT_COLORS.values())) == 11


def test_the_digits_a_run_hesitates_between_keep_apart_colours_to_a_colour_blind_eye():
    """8 was a gold beside 1's orange and 3's red: to a deuteranope (Machado et al. 2009's full-severity matrices
    on linear RGB) 3 and 8 were 3.5 apart in CIELAB, about a just-seen difference; the default run plots 1 and 8."""
    sim = {"deutan": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
           "protan": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                      [-0.003882, -0.048116, 1.051998]]}

    def lab(hex_colour: str, m) -> np.ndarray:
        c = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
        c = np.clip(np.array(m) @ np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4), 0, 1)
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
        f = np.where((r := xyz / [0.95047, 1, 1.08883]) > 0.008856, np.cbrt(r), 7.787 * r + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    for kind, m in sim.items():
        for a, b in ("38", "18", "49", "35", "58", "79", "17"):  # MNIST's look-alikes
            gap = np.linalg.norm(lab(trajectory.DIGIT_COLORS[a], m) - lab(trajectory.DIGIT_COLORS[b], m))
            assert gap >= 15, (kind, a, b, gap)


@pytest.mark.parametrize("control", ["range", "radio", "checkbox", "number"])
def test_every_kind_of_control_shows_keyboard_focus(control):
    """Gradio's boxes and checkboxes show focus as a 1 px border change (1.8:1); the page's outline must win."""
    rule = re.search(r"([^{}]*)\{outline: 2px solid var\(--color-accent\) !important", page.CSS).group(1)
    assert f"input[type={control}]:focus-visible" in rule and "input[role=combobox]:focus-visible" in rule


# ---------------------------------------------------------------- the page's own CSS and scripts, in a bare Chromium
# (a page of a few elements shaped as Gradio's, not the app: seconds, where test_browser.py takes minutes;
# the fixture `bare`, in conftest.py)

SHAPES = ("<div class=prose><table><tr><th>a long header</th></tr><tr><td>1.30 against 1.10</td></tr></table></div>"
          "<div id=generate-status><pre>python -m ddpm.sample --seed 1</pre></div><div id=interpolate-image></div>"
          "<div class=strip id=s1><div class=image-frame><img></div></div>"
          "<div class='strip two-rows'><div class=image-frame><img id=s2></div></div>"
          "<div id=trajectory-gif class=strip><div class=image-frame id=gif></div></div>"
          "<div id=generate-grid><div class=image-frame id=grid></div></div><div id=generate-out></div>"
          "<div class=picture><div class=image-frame id=titled></div></div>"
          "<div class='block fullscreen'><div class=image-frame><img id=full></div></div>")
STYLE = {"table": (".prose table", "overflowX"), "td": (".prose td", "whiteSpace"),
         "pre": ("#generate-status pre", "whiteSpace"), "place": ("#interpolate-image", "minHeight"),
         "full": ("#full", "imageRendering"), "strip": ("#s1 img", "height"), "two rows": ("#s2", "height"),
         "gif": ("#gif", "paddingTop"), "grid": ("#grid", "paddingTop"), "first": ("#generate-out", "order"),
         "titled": ("#titled", "paddingTop")}


@pytest.mark.parametrize("width, want", [
    (1400, {"table": "auto", "td": "nowrap", "pre": "pre-wrap", "place": "480px", "full": "pixelated",
            "strip": "0px", "two rows": "0px", "gif": "34px", "grid": "34px", "first": "0", "titled": "34px"}),
    (390, {"table": "auto", "td": "nowrap", "pre": "pre-wrap", "place": "446px", "full": "pixelated",
           "strip": "120px", "two rows": "240px", "gif": "34px", "grid": "34px", "first": "-1", "titled": "34px"})],
    ids=["laptop", "phone"])
def test_the_css_reaches_the_elements_it_is_written_for(bare, width, want):
    """Tables scroll sideways, commands wrap, the interpolation keeps its place, a full-screen picture stays sharp,
    pictures' buttons and titles sit above them; on a phone alone, strips keep a legible height and say they scroll
    sideways."""
    tab = bare(SHAPES, width=width)
    got = {k: tab.eval_on_selector(sel, f"e => getComputedStyle(e).{prop}") for k, (sel, prop) in STYLE.items()}
    assert got == want
    after = tab.eval_on_selector("#s1", "e => getComputedStyle(e, '::after').content")
    assert ("swipe or scroll sideways" in after) == (width < 640), after


@pytest.mark.parametrize("width", [390, 853])
def test_the_interpolations_kept_place_is_given_back_once_its_picture_came(bare, width):
    """Its place is kept before the first run (the press's scroll shows where the picture will come); after, a
    picture shrunk to the page's width (a projector's 853 px) left up to 130 px blank under it."""
    tab = bare(f"<div id=interpolate-image class='strip three-rows'><div class=image-frame>{picture(600)}</div></div>",
               width=width)
    assert tab.eval_on_selector("#interpolate-image", "e => getComputedStyle(e).minHeight") == "0px"


def test_the_sketchpads_tools_are_big_enough_to_tap_and_clear_stands_apart(bare):
    """Gradio's are 18 px, 24 px apart, and a tap on a tablet meant for Redo could land on Clear canvas, which Undo
    does not bring back: at least 24 px (WCAG 2.5.8), with room before Clear."""
    tab = bare("<div id=forward-sketch><button class=icon-button aria-label=Redo id=redo></button>"
               "<button class=icon-button aria-label='Clear canvas' id=clear></button></div>", width=768)
    size = "b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height]"
    assert tab.eval_on_selector("#redo", size) == [24, 24] and tab.eval_on_selector("#clear", size) == [24, 24]
    gap = "() => document.querySelector('#clear').getBoundingClientRect().left - " \
          "document.querySelector('#redo').getBoundingClientRect().right"
    assert tab.evaluate(gap) >= 8
    tab.set_viewport_size({"width": 360, "height": 800})  # Gradio's own on a small phone: the title keeps its room
    assert tab.eval_on_selector("#clear", "b => getComputedStyle(b).marginLeft") == "0px"


def test_a_strip_that_scrolls_shows_the_keyboards_ring_and_says_it_scrolls(bare):
    """At 200% zoom (a page 640 px wide or less) a strip wider than the screen is a Tab stop whose arrow keys scroll
    it: it shows the inputs' ring there (a faint 1 px line over its dark picture), and its line names scrolling."""
    tab = bare(f"<style>{page.THEME._get_theme_css()}</style>"  # (the ring's colour is the theme's accent)
               f"<div class=strip id=s><div class=image-frame>{picture(1200)}</div></div>", width=400)
    tab.keyboard.press("Tab")
    ring = "b => [document.activeElement === b, getComputedStyle(b).outlineStyle, getComputedStyle(b).outlineWidth]"
    assert tab.eval_on_selector("#s .image-frame", ring) == [True, "solid", "2px"]
    tab.keyboard.press("ArrowRight")
    tab.wait_for_function("document.querySelector('#s .image-frame').scrollLeft > 0")  # (a smooth scroll)
    assert "swipe or scroll sideways" in tab.eval_on_selector("#s", "e => getComputedStyle(e, '::after').content")


def picture(width: int) -> str:
    """An <img> of a blank picture `width` px wide, 120 high (a strip's height on a phone)."""
    svg = f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='120'/>"
    return f"<img src=\"data:image/svg+xml,{svg.replace('<', '%3C').replace('>', '%3E')}\">"


def test_a_phone_shows_tab_3s_x0_hat_and_tab_4s_denoised_digit_first_and_keeps_a_swipe(bare):
    """On a phone the titled panels scroll sideways, and the result sat off screen: tab 3's box starts at x0_hat,
    the middle panel, and tab 4's at the denoised digit, the last, once its picture has a width there (a tab opened
    later, a run's first picture); a swipe since stays as the next picture comes (a scrub of t, a run's frames)."""
    tab = bare(f"<div id=trajectory-gif class=strip><div class=image-frame>{picture(700)}</div></div>"
               f"<div id=trajectory-panel class=strip><div class=image-frame>{picture(700)}</div></div>"
               "<div id=tab4 style='display: none'><div id=roundtrip-main class=strip><div class=image-frame>"
               f"{picture(600)}</div></div></div>", width=390)
    tab.wait_for_function("() => [...document.images].every((i) => i.complete)")
    tab.evaluate(f"({page.RESULT_IN_VIEW_JS})()")  # as Gradio runs LAUNCH's js once the page is up
    where = "b => [b.scrollLeft, b.scrollWidth - b.clientWidth]"
    for box in ("#trajectory-panel", "#trajectory-gif"):  # x0_hat is the middle of both
        left, spare = tab.eval_on_selector(f"{box} .image-frame", where)
        assert spare > 300 and abs(left - spare / 2) <= 1, box
    tab.eval_on_selector("#tab4", "t => t.style.display = 'block'")  # tab 4 opened: its box gets a width
    tab.wait_for_function("() => { const b = document.querySelector('#roundtrip-main .image-frame');"
                          " return b.scrollLeft > 0 && b.scrollLeft === b.scrollWidth - b.clientWidth; }")
    tab.eval_on_selector("#trajectory-panel .image-frame", "b => b.scrollLeft = 40")  # a swipe, then a new frame
    tab.eval_on_selector("#trajectory-panel img", f"i => i.outerHTML = {picture(720)!r}")
    tab.wait_for_function("() => document.querySelector('#trajectory-panel img').complete")
    assert tab.eval_on_selector("#trajectory-panel .image-frame", where)[0] == 40
    new_box = f"p => p.innerHTML = '<div class=image-frame>' + {picture(700)!r} + '</div>'"  # a new run's, say
    tab.eval_on_selector("#trajectory-panel", new_box)
    tab.wait_for_function("() => document.querySelector('#trajectory-panel .image-frame').scrollLeft > 100")


def test_a_keyboard_on_a_live_t_slider_brings_its_picture_into_view(bare):
    """At 200% zoom a Tab to tab 1's t left x_t below the screen (the arrow keys move the slider, not the page), and
    tab 3's frame slider its panel above it: the picture comes into view with the slider."""
    tab = bare("<div style='height: 900px'></div><div id=forward-t><input type=range id=ft></div>"
               f"<div style='height: 150px'></div><div id=forward-xt>{picture(200)}</div>"
               f"<div style='height: 1500px'></div><div id=trajectory-panel>{picture(200)}</div>"
               "<div style='height: 100px'></div><div id=trajectory-frame><input type=range id=tf></div>"
               "<div style='height: 2000px'></div>", width=640, height=400)
    tab.evaluate(f"({page.RESULT_IN_VIEW_JS})()")
    in_view = "ids => ids.every((id) => { const r = document.getElementById(id).getBoundingClientRect();" \
              " return r.top >= 0 && r.bottom <= innerHeight; })"
    for slider, picture_id in (("ft", "forward-xt"), ("tf", "trajectory-panel")):
        tab.keyboard.press("Tab")
        assert tab.evaluate("document.activeElement.id") == slider
        tab.wait_for_function(in_view, arg=[slider, picture_id])
    errors = []  # a page without the picture (another app's layout) is left as it is, with no script error
    tab.on("pageerror", lambda e: errors.append(e))
    tab.evaluate("document.getElementById('forward-xt').remove(); document.getElementById('ft').focus()")
    tab.wait_for_timeout(200)
    assert tab.evaluate("document.activeElement.matches(':focus-visible')") and not errors


def test_the_sketchpads_brush_is_picked_once_it_is_drawn(bare):
    """Gradio draws the brush a moment after the sketchpad: the script keeps looking until it can click it, and the
    "select the draw tool" prompt goes."""
    tab = bare("<div id=sk><div class='empty wrap'>select the draw tool to start</div></div>")
    tab.evaluate("() => setTimeout(() => { const b = document.createElement('button'); b.ariaLabel = 'Brush';"
                 " b.onclick = () => document.querySelector('#sk .empty').remove();"
                 " document.getElementById('sk').appendChild(b); }, 450)")
    tab.evaluate(page.PICK_BRUSH_JS.replace("SKETCH", "#sk"))
    tab.locator("#sk .empty").wait_for(state="detached")


@pytest.mark.parametrize("where", ["below", "above", "on", "partly above"],
                         ids=["below the screen", "above it", "on screen", "partly above"])
def test_a_pressed_buttons_output_off_the_screen_is_scrolled_into_view(bare, where):
    """run_button's `show`: an output past the screen's bottom edge is brought up to it, one wholly above its top
    (Generate's grid on a phone, over its settings) down to it; one on screen, or partly above (a laptop's grid
    beside the button: the page would move the button from under the pointer), stays put."""
    tab = bare(f"<div style='height: {1200 if where == 'below' else 10}px'></div><div id=out style='height: 200px'>"
               "</div><div style='height: 3000px'></div>", height=800)
    at = {"above": 1000, "partly above": 100}.get(where, 0)  # the button pressed under the output
    tab.evaluate(f"() => window.scrollTo(0, {at})")
    tab.evaluate(page.SHOW_OUTPUT_JS.replace("ELEM", "out"))
    if where in ("on", "partly above"):
        tab.wait_for_timeout(500)
        assert tab.evaluate("() => scrollY") == at
    else:
        tab.wait_for_function("() => { const r = document.getElementById('out').getBoundingClientRect();"
                              " return r.top >= 0 && r.bottom <= innerHeight; }")
    if where == "below":  # asked for less motion (the system's setting), it is there at once: no glide
        tab.evaluate("() => window.scrollTo(0, 0)")
        tab.emulate_media(reduced_motion="reduce")
        tab.evaluate(page.SHOW_OUTPUT_JS.replace("ELEM", "out"))
        assert tab.evaluate("() => document.getElementById('out').getBoundingClientRect().bottom <= innerHeight")


def test_a_screen_reader_hears_a_runs_new_captions_once(bare):
    """At the press one polite live region, out of sight, is made; at the end it says the captions without their
    code block, past 600 characters up to the last whole sentence that fits (or at 600 if none), and only if they
    changed."""
    ids, words = '["cap"]', "Done in 3 s. " + "x" * 700
    tab = bare("<div id=cap><p>Drawn before.</p></div>")
    note, announce = page.NOTE_CAPTIONS_JS.replace("IDS", ids), page.ANNOUNCE_JS.replace("IDS", ids)
    tab.evaluate(note)
    region = tab.eval_on_selector("#app-announce", "r => [r.role, r.ariaLive, r.ariaAtomic, r.offsetWidth]")
    assert region == ["status", "polite", "true", 1]
    tab.evaluate(f"() => document.getElementById('cap').innerHTML = '<pre>python -m ddpm.sample</pre><p>{words}</p>'")
    tab.evaluate(announce)
    tab.wait_for_function("() => document.getElementById('app-announce').textContent !== ''")
    assert tab.eval_on_selector("#app-announce", "r => r.textContent") == "Done in 3 s."
    for text, heard in (("y" * 700, "y" * 600), ("Short. Enough.", "Short. Enough.")):
        tab.evaluate(f"() => document.getElementById('cap').innerHTML = '<p>{text}</p>'")
        tab.evaluate(announce)
        tab.wait_for_function(f"() => document.getElementById('app-announce').textContent === '{heard}'")
    tab.evaluate("() => { document.getElementById('app-announce').textContent = ''; }")
    tab.evaluate(note)
    tab.evaluate(announce)  # the same captions again (a refused run left them): not said again
    tab.wait_for_timeout(300)
    assert tab.eval_on_selector("#app-announce", "r => r.textContent") == ""



def test_a_chosen_option_stays_filled_under_the_pointer(bare):
    """Gradio's radio stylesheet (found by its hover rule) and the theme's colours: its hover rule, as specific as
    the chosen one and later, painted a chosen radio white under the pointer, and a phone keeps a tap's hover, so
    Compare's chosen rows looked unchosen. Gradio loads a component's stylesheet as it mounts: here it comes last."""
    import gradio

    hover = re.compile(r"input\.(svelte-\w+):hover:not\(\[disabled\]\)\{[^}]*checkbox-background-color-hover")
    own = next(css for p in (Path(gradio.__file__).parent / "templates/frontend/assets").glob("*.css")
               if hover.search(css := p.read_text()) and "--radio-circle" in css)
    svelte = hover.search(own).group(1)
    tab = bare(width=390)
    tab.set_content(f"<style>{page.THEME._get_theme_css()}{page.CSS}{own}</style><div style='padding: 40px'>"
                    f"<input type=radio class={svelte} name=r id=a checked> <input type=radio class={svelte} name=r "
                    "id=b></div>")
    fill = "e => getComputedStyle(e).backgroundColor"
    chosen, other = tab.eval_on_selector("#a", fill), tab.eval_on_selector("#b", fill)
    assert chosen != other
    tab.hover("#a")
    assert tab.eval_on_selector("#a", fill) == chosen
