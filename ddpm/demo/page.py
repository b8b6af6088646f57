"""What the browser runs and shows besides Gradio's own: the page's CSS and theme, and the small scripts the app's
events run in the page (widgets.py, digit_input.py and wiring.py attach them)."""
import gradio as gr
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from .limits import MAX_UPLOAD_BYTES


def check_gradio(version: str) -> None:
    """The app is written for Gradio 6 (api_visibility, buttons=, launch's css and theme): an older one installed
    first (a notebook's, an old image's) failed in a traceback part way through building the page. Checked here,
    before the theme below is built, as every module of the app's own components imports this one."""
    if int(version.split(".")[0]) < 6:
        raise SystemExit(f"app.py needs Gradio 6 (requirements.txt pins 6.31.0), not {version}: pip install -r "
                         "requirements.txt")


check_gradio(gr.__version__)

# Gradio 6's sketchpad starts with no tool ("select the draw tool to start"): click its brush for the
# user once the sketchpad is shown, retrying while it renders (its prompt is the .empty.wrap element)
PICK_BRUSH_JS = """() => { let n = 0; const tick = () => {
    const root = document.querySelector('SKETCH');
    const prompt = root && root.querySelector('.empty.wrap');
    const brush = root && root.querySelector('button[aria-label=Brush]');
    if (prompt && brush) brush.click();
    if (n++ < 30 && (!root || prompt)) setTimeout(tick, 200); };
  setTimeout(tick, 100); }"""
# the digit's work in the page, per tab (KEY: its source radio's elem_id): a drawing's read, the digit's move and its
# change (wiring.on_new_inputs) each count themselves in as they are sent and out (a tenth of a second after they end,
# for the next to count in) once done; a run pressed waits, at most 10 s, until none is left, so that it runs on the
# digit shown and is not stopped by that digit's own change coming late (a stroke, or a number typed, then the
# button pressed at once; on a 400 ms link the drawing's read comes 3 round trips after the stroke). A stroke begun
# (STROKES_JS) counts too, until its change comes (digit_input.DRAWING_ID_JS) or for 5 s: the editor sends the drawing
# ahead, a round trip, before it says it changed. One the editor has not begun to send 2 s after the pointer was let
# go drew nothing: a press made at once had waited 5 s for a change that never came (a pointer pressed on the canvas
# and let go off it, a drag of the Pan tool); a drawing's send began 0.5 to 0.8 s after it, on any link, CPU 8x slower.
# A number put back in its box (SNAP_BACK_JS) counts for half a second, until its change counts itself in: put back
# as the press took the focus, its change came 14 ms after the run was sent, and stopped it
COUNT_IN_JS = "const b = (window.__digitBusy = window.__digitBusy || {}); b['KEY'] = (b['KEY'] || 0) + 1;"
DIGIT_BUSY_JS = "(...args) => { " + COUNT_IN_JS + " return args; }"
DIGIT_DONE_JS = ("() => { setTimeout(() => { const b = window.__digitBusy || {}; "
                 "b['KEY'] = Math.max(0, (b['KEY'] || 0) - 1); }, 100); }")
DIGIT_WAIT_JS = """async (...args) => { const stroke = () => (window.__strokes || {})['KEY'] || 0;
  const sent = () => ((window.__strokeSends || {})['KEY'] || 0) >= stroke();  // since the stroke's last note
  const busy = () => ((window.__digitBusy || {})['KEY'] || 0) + (Date.now() - stroke() < (sent() ? 5000 : 2000))
    + (Date.now() - (window.__putBack || 0) < 500);
  for (let i = 0; i < 200 && busy() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return args; }"""
# a stroke on a drawing's canvas, noted by its tab's key (DIGIT_WAIT_JS) as it begins and again as it ends, wherever
# the pointer is let go: a slow stroke's change came 4.4 s after it began, on a 400 ms link (its send: SENT_JS)
STROKES_JS = """() => { let down = null;
  const note = (key) => { (window.__strokes = window.__strokes || {})[key] = Date.now(); };
  document.addEventListener('pointerdown', (e) => {
    const sketch = e.target.tagName === 'CANVAS' && e.target.closest('[id$="-sketch"]');
    down = sketch ? sketch.id.replace(/-sketch$/, '-source') : null;
    if (down) note(down); }, true);
  document.addEventListener('pointerup', () => { if (down) note(down); down = null; }, true); }"""
# what the page sends, noted by one wrapper of fetch: per event, the inputs it was last sent (Gradio's queue/join
# request: its fn_index and data), as a view's answer may come after a number was typed that the view has not been
# sent, which SNAP_BACK_JS then leaves; and the editor's send of a drawing (its images to the server's accept_blobs,
# a component_server request), noted for each stroke not yet changed (DIGIT_WAIT_JS, digit_input.DRAWING_ID_JS)
SENT_JS = """() => { const fetch = window.fetch;
  window.fetch = function (what, init, ...rest) {
    const url = String((what && what.url) || what);
    if (url.includes('/queue/join') && typeof (init && init.body) === 'string') {
      try { const b = JSON.parse(init.body); (window.__sent = window.__sent || {})[b.fn_index] = b.data; } catch {} }
    if (url.includes('/component_server')) {
      const sends = (window.__strokeSends = window.__strokeSends || {});
      Object.entries(window.__strokes || {}).forEach(([key, at]) => { if (at) sends[key] = Date.now(); }); }
    return fetch(what, init, ...rest); }; }"""
# Gradio's slider sets a number typed past its ends to the nearer end as its box loses focus (a run button pressed):
# on a 400 ms link before the typed number's change was sent, so 500 typed for a digit ran #299 unsaid. The page keeps
# the number typed, as Enter does: its change is refused in words, the box goes back (SNAP_BACK_JS), or a run reading
# it is refused (capturing, before Gradio's own blur). An emptied box too, and one holding text that is no number
# to the browser (1e400, past a float: its value reads ''): Gradio set either to the slider's low end, and a run
# pressed at once ran on it unsaid (#0 for 1e400); kept empty, the run says so, and SNAP_BACK_JS's own blur listener
# (on the same document, so not stopped) or its later run puts back the last good number
KEEP_TYPED_JS = """() => document.addEventListener('blur', (e) => {
  const box = e.target, range = box.closest && box.closest('.block')?.querySelector('input[type=range]');
  if (!range || box.type !== 'number') return;
  const v = Number(box.value);
  if (box.value === '' || v < Number(range.min) || v > Number(range.max)) e.stopPropagation(); }, true)"""
# scrolls an output past the screen's bottom edge, or wholly above its top (a phone shows Generate's grid above its
# settings), just enough to show it (run_button's show); one partly above stays (a laptop's grid beside its button:
# scrolled to, the button left the pointer for a second click to land on another control)
SHOW_OUTPUT_JS = """() => { const el = document.getElementById('ELEM'), r = el && el.getBoundingClientRect();
  const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;  // asked of the system: no glide
  if (r && (r.bottom > window.innerHeight || r.bottom < 0))
    el.scrollIntoView({behavior: still ? 'auto' : 'smooth', block: 'nearest'});
}"""
# a number box is being typed into from a key that changes it until Enter is pressed in it or it loses the focus
# (SNAP_BACK_JS waits), and the number it held as that typing began, and at each pause of a second in it, is noted
# (SNAP_BACK_JS puts back the last good one: 80 typed, looked at, then 500 typed over it goes back to 80); the
# page's own input events (a number put back) are no typing
TYPING_JS = """() => { const number = (e) => e.isTrusted && e.target.type === 'number';
  document.addEventListener('beforeinput', (e) => { const box = e.target;
    if (number(e) && (!box.__typing || Date.now() - box.__keyAt > 1000))
      box.__before = [...(box.__before || []).slice(-7), box.value]; }, true);
  document.addEventListener('input', (e) => {
    if (number(e)) { e.target.__typing = true; e.target.__keyAt = Date.now(); } }, true);
  document.addEventListener('keydown', (e) => { if (number(e) && e.key === 'Enter') e.target.__typing = false; }, true);
  document.addEventListener('blur', (e) => { if (e.target.type === 'number') e.target.__typing = false; }, true); }"""
# a live view's slider, given a value it refuses (typed past its ends, between its steps), goes back to the number
# its box held before that typing (the last good one TYPING_JS noted), else to its last good value (window.__lastGood:
# per slider, in the page), once the view has said why, so that the next move of another control is not refused for
# it again: the last good value alone was the last the view ran on, a number passed through on the way (50, or 5 on
# a busy machine, when 500 was typed over 25). A box still being typed into (TYPING_JS) keeps a number refused, or
# its emptying, until Enter or the focus leaves it, and goes back then if the number is still refused: put back at
# once, a number typed key by key past the end was cut (70000 for a digit: 700 refused, the box back to 70, its 0
# typed, 700 again, so #70 shown) and an emptied box was filled again (25 -> 2 -> '' -> 3 became 23); left to
# Gradio, an empty box that loses the focus is set to its minimum
SNAP_BACK_JS = """(v) => { const g = (window.__lastGood = window.__lastGood || {});
  const good = (x) => { const k = (x - $LO) / $STEP;  // a good value is LO + k STEP, k whole: exactly for whole
    // steps (3.0000000001 is refused by the server too), within rounding for a fractional one (0.3 of 0.1 steps:
    // 2.9999999999999996)
    const onStep = Number.isInteger($LO) && Number.isInteger($STEP) ? Number.isInteger(k)
      : Math.abs(k - Math.round(k)) < 1e-9;
    return Number.isFinite(x) && x >= $LO && x <= $HI && onStep; };
  if (good(v)) { g['$KEY'] = v; return v; }
  const box = document.querySelector('#$KEY input[type=number]');
  const back = () => {  // read when used: typing may begin again
    const before = ((box && box.__before) || []).filter((b) => b !== '' && good(Number(b))).pop();
    return before !== undefined ? Number(before) : '$KEY' in g ? g['$KEY'] : $START; };
  const sent = (window.__sent || {})[$FN];  // the inputs the view ran on (SENT_JS): a number typed since, its own
  if (sent && JSON.stringify(sent[$POS]) !== JSON.stringify(v)) return v;  // run to come refuses it aloud
  const empty = v === null || v === undefined || v === '';
  if (box && box === document.activeElement && (empty || box.__typing)) {
    if (box.__waits) return v;  // one wait a box
    box.__waits = true;
    const left = (e) => { if (e.target !== box || (e.type === 'keydown' && e.key !== 'Enter')) return;
      document.removeEventListener('blur', left, true);
      document.removeEventListener('keydown', left, true);
      box.__waits = false;
      if (box.value === '' || !good(Number(box.value))) {
        window.__putBack = Date.now(); box.value = back(); box.dispatchEvent(new Event('input', {bubbles: true})); }
    };
    document.addEventListener('blur', left, true);  // capturing: before Gradio's own blur sets the box to its min
    document.addEventListener('keydown', left, true);
    return v; }
  window.__putBack = Date.now();  // its change to come (DIGIT_WAIT_JS)
  return back(); }"""
# a screen reader hears a run's captions once it ends (the app's Markdown outputs, read nowhere else): at the press,
# the page gets one polite live region, kept out of sight, and notes the captions' text; at the end, a changed text
# is put in it (a refused run leaves its captions, and its warning toast is read out already). Code blocks (the
# command that draws a grid) are left out, and a text past 600 characters cut after its last sentence that fits
# (cut mid-sentence, the interpolation's ended "from about T/2 on, the model")
SAY_TEXT = """const said = () => { const all = IDS.map((id) => { const el = document.getElementById(id);
    if (!el) return '';
    const copy = el.cloneNode(true); copy.querySelectorAll('pre, button').forEach((c) => c.remove());
    return copy.innerText.trim(); }).filter(Boolean).join(' ');
    const end = all.length > 600 ? all.lastIndexOf('. ', 599) : -1;
    return all.length <= 600 ? all : end > 0 ? all.slice(0, end + 1) : all.slice(0, 600); };"""
NOTE_CAPTIONS_JS = """() => { """ + SAY_TEXT + """
  if (!document.getElementById('app-announce')) { const r = document.createElement('div'); r.id = 'app-announce';
    r.setAttribute('role', 'status'); r.setAttribute('aria-live', 'polite'); r.setAttribute('aria-atomic', 'true');
    r.style.cssText = 'position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap';
    document.body.appendChild(r); }
  (window.__captions = window.__captions || {})[IDS.join()] = said(); }"""
ANNOUNCE_JS = """() => { """ + SAY_TEXT + """
  const r = document.getElementById('app-announce'), now = said();
  if (!r || !now || now === (window.__captions || {})[IDS.join()]) return;
  r.textContent = ''; setTimeout(() => { r.textContent = now; }, 50); }"""
# on a phone, titled panels side by side scroll sideways (CSS below), and the result sat off screen: tab 3's x0_hat,
# the middle of x_t | x0_hat | eps_hat (its panel and its GIF), and tab 4's denoised digit, the last of x_0 | x_t |
# denoised (x_0 is shown above it). Each such box, the first time its picture is laid out wider than the box, starts
# scrolled to the result (a share AT of the overflow); a swipe since is kept, through a scrub of t and a run's frames
RESULT_IN_VIEW_JS = """() => {
  const AT = {'trajectory-panel': 0.5, 'trajectory-gif': 0.5, 'roundtrip-main': 1};
  const SEL = Object.keys(AT).map((id) => `#${id} .image-frame`).join(', ');
  const place = (box) => { const spare = box.scrollWidth - box.clientWidth;
    if (box.dataset.placed || !box.clientWidth || spare <= 0) return;
    box.dataset.placed = '1'; box.scrollLeft = spare * AT[Object.keys(AT).find((id) => box.closest('#' + id))]; };
  const sized = new ResizeObserver((seen) => seen.forEach((e) => place(e.target)));  // a tab opened: width at last
  const watch = (box) => { sized.observe(box); place(box); };
  document.querySelectorAll(SEL).forEach(watch);
  document.addEventListener('load', (e) => { const box = e.target.tagName === 'IMG' && e.target.closest(SEL);
    if (box) watch(box); }, true);
  // Gradio wraps each picture in a button for its select event, which no picture here has: a Tab stop that does
  // nothing, 2 or 3 a picture with its full-screen button (5 in tab 1); out of the Tab order as each one appears
  // (found by its first child, not by :has(), which an older browser would throw on, ending this script); only
  // where the page changed: a streaming grid changes it many times a second, and the whole page was searched each time
  const still = (root) => root.querySelectorAll('.picture button').forEach((b) => {
    if (b.tabIndex !== -1 && b.firstElementChild?.classList.contains('image-frame')) b.tabIndex = -1; });
  // a strip that scrolls sideways (a phone, 200% zoom) is a Tab stop of the browser's own: named as its picture,
  // which a screen reader said as an unnamed group; unnamed again where it fits (its picture's alt says it once)
  const name = (f) => { const alt = f.querySelector('img')?.alt;
    if (alt && f.scrollWidth > f.clientWidth) { f.setAttribute('role', 'group'); f.setAttribute('aria-label', alt); }
    else { f.removeAttribute('role'); f.removeAttribute('aria-label'); } };
  const resized = new ResizeObserver((seen) => seen.forEach((e) => name(e.target)));
  const named = (root) => root.querySelectorAll('.strip .image-frame').forEach((f) => { resized.observe(f); name(f); });
  document.addEventListener('load', (e) => {  // (a picture loaded: now it may overflow its box)
    const f = e.target.tagName === 'IMG' && e.target.closest('.strip .image-frame'); if (f) name(f); }, true);
  new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
    if (n.nodeType === 1) { still(n.closest('.picture') || n); named(n.closest('.strip') || n); } })))
    .observe(document.body, {childList: true, subtree: true});
  still(document); named(document);
  // a keyboard on a live view's t slider moves it with the arrow keys, not the page: its picture (tab 1's x_t below
  // it, tab 3's panel above it) comes into view with it, or as much as the screen holds beside it (200% zoom)
  const PIC = {'forward-t': 'forward-xt', 'trajectory-frame': 'trajectory-panel'};
  const SLIDERS = Object.keys(PIC).map((id) => '#' + id).join(', ');
  document.addEventListener('focusin', (e) => {
    const box = e.target.matches('input[type=range]:focus-visible') && e.target.closest(SLIDERS);
    const pic = box && document.getElementById(PIC[box.id]);
    if (pic) requestAnimationFrame(() => { const s = box.getBoundingClientRect(), p = pic.getBoundingClientRect();
      const top = Math.min(s.top, p.top), bottom = Math.max(s.bottom, p.bottom), h = window.innerHeight;
      window.scrollBy(0, bottom - top <= h ? Math.min(top, 0) || Math.max(bottom - h, 0)
                                           : p.top > s.top ? s.top : s.bottom - h); }); }); }"""
# a table's cells keep their figures on one line, its headers wrap between words only; on a phone the headers stay
# on one line too and the table scrolls sideways rather than squeeze its columns to a word a line
CSS = (".prose table {display: block; overflow-x: auto} .prose td {white-space: nowrap} "
       ".prose th {overflow-wrap: normal; word-break: normal} "
       ".prose h2 {font-size: 1.3rem; margin: 0.2em 0 0.3em} "  # each tab's headings: for a screen reader, not a banner
       ".katex-display {overflow-x: auto; overflow-y: hidden} "  # an equation wider than a phone scrolls, not cut off
       # every control shows where the keyboard is: Gradio's own rules hide the outline of boxes and checkboxes
       # (a 1 px border, 1.8:1 in pale blue), so this one must win over them
       "input[type=range]:focus-visible, input[type=radio]:focus-visible, input[type=checkbox]:focus-visible, "
       "input[type=number]:focus-visible, input[role=combobox]:focus-visible "
       "{outline: 2px solid var(--color-accent) !important; outline-offset: 2px} "
       ":root .dark {--color-accent: var(--primary-500) !important} "  # THEME's darker orange, on a dark page too dark
       # a chosen option stays filled under the pointer: Gradio's radio hover rule, as specific as its chosen one and
       # later, painted it white, and on a phone a tap's hover stays, so Compare's chosen rows looked unchosen
       "input[type=radio]:checked:hover:not([disabled]) {border-color: var(--checkbox-border-color-selected); "
       "background-color: var(--checkbox-background-color-selected)} "
       # long commands wrap (About's, and Generate's line that draws the grid, cut off at a laptop's width)
       "#about pre, #about pre code, #generate-status pre, #generate-status pre code "
       "{white-space: pre-wrap !important; overflow-wrap: anywhere} "
       # a picture's buttons (full screen; the GIF's download too) above the panels' titles and a grid's top row,
       # not on them: on a phone on x0_hat's title, where a strip starts scrolled to it; on a projector's 853 px (a
       # laptop at 150%) on the strip's "t=1000" and the end of tab 3's "eps_hat (t = 20)"
       # and on a tablet above the top rows of a labelled picture (tab 1's x_0 and x_t, tab 4's digit), as its title
       ".picture .image-frame, .strip .image-frame, #generate-grid .image-frame, #compare-grid .image-frame "
       "{padding-top: 34px} "
       # a strip that scrolls is a Tab stop of its own (the arrow keys scroll it): it shows the inputs' ring there
       ".strip .image-frame:focus-visible {outline: 2px solid var(--color-accent); outline-offset: -2px} "
       # the sketchpad's tools at least 24 px (WCAG 2.5.8; Gradio's are 18), and room before Clear canvas, which no
       # Undo brings back: a tablet's tap meant for Redo, 24 px away, wiped the drawing
       # (from 400 px: on a 360 px phone the wider toolbar covered its "Draw a digit" title)
       "@media (min-width: 400px) {[id$='-sketch'] button.icon-button {min-width: 24px; min-height: 24px} "
       "[id$='-sketch'] button[aria-label='Clear canvas'] {margin-left: 8px}} "
       # a screen under 560 px tall (a projector's 853 x 480, a phone on its side) opens on the tab bar sooner: the
       # header's tour of the tabs, which the tab bar right below it names, gives way (90 px of a 480 px screen);
       # not on a narrow one too (a laptop at 400% zoom, 320 x 450), whose tab bar hides tabs under the ⋯ it explains
       "@media (max-height: 560px) and (min-width: 640px) {#header p:nth-of-type(2) {display: none}} "
       ".put-away {display: none !important} "
       "#interpolate-image {min-height: 480px} "  # its place kept, so run_button's scroll shows the picture that comes
       # and given back once it has (on a projector's 853 px, its three rows shrunk to 350 px left the rest blank)
       "#interpolate-image:has(img) {min-height: 0 !important} "
       ".block.fullscreen .vega-embed {height: calc(100vh - 90px) !important} "  # a full-screen plot keeps its legend
       # a full-screen picture fills the screen (Gradio shows it at its own size there), its pixels kept square and
       # sharp for a projector; on a phone, whole (a strip no longer scrolls there)
       ".block.fullscreen .image-frame {overflow: hidden !important; justify-content: center !important} "
       ".block.fullscreen .image-frame img {width: 100% !important; height: 100% !important; max-width: 100% !important; "
       "object-fit: contain !important; image-rendering: pixelated} "
       # on a phone a wide strip keeps a height its labels can be read at, and scrolls sideways
       "@media (max-width: 640px) {.prose th {white-space: nowrap} "
       # Generate's grid and caption above its settings, not 1,700 px below the button under their help texts
       "#generate-out {order: -1} "
       ".strip .image-frame {overflow-x: auto; justify-content: flex-start} "
       ".strip .image-frame img {height: 120px; width: auto; max-width: none; object-fit: contain} "
       # said under each, as a phone shows no scrollbar until touched (x0_hat, tab 3's middle panel, was off screen)
       ".strip:has(img)::after {content: '\\2190  swipe or scroll sideways for the rest  \\2192'; display: block; "
       "text-align: center; font-size: 12px; padding: 2px 0; color: var(--block-info-text-color)} "
       # titled panels side by side (tab 1's five, tab 3's x_t | x0_hat | eps_hat, tab 4's three) at their own
       # size: shrunk to the phone's width, their titles were 6 px tall
       ".strip.panels .image-frame img {height: auto} "
       ".strip.two-rows .image-frame img {height: 240px} "  # two titled rows: tab 3's film strip, tab 4's strip
       ".strip.three-rows .image-frame img {height: 390px} "  # the interpolation's three titled rows, and the place
       "#interpolate-image {min-height: 446px}}")  # kept for them, a button and the swipe line (480: 90 px blank)
# Gradio's default look, but white on a darker orange, the controls' help (their `info`, where the eta, class
# and guidance are explained) and the sliders' ends in a darker grey, and the accent (the chosen tab's name, the
# focus outline) a darker orange on white: axe measured each below 3:1 on white, too faint for a projector or
# for low vision (the dark theme keeps its lighter orange, which a dark page needs)
THEME = gr.themes.Default().set(
    button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
    block_info_text_color="*neutral_600", body_text_color_subdued="*neutral_600",
    color_accent="*primary_700")
# how app.py launches: show_error gives an unforeseen exception (a bug: every bad input is refused as a gr.Error,
# in words, with or without it) to the page and the caller with its message, not a bare "Error"; ssr_mode=False
# renders the page in the browser, as every test here sees it, also on a Space, whose image sets GRADIO_SSR_MODE
# and would put an untested Node proxy in front of the app's streams and cancels; the gzip middleware compresses
# what Gradio sends bare, the page above all (its HTML carries every component's config: 385,601 bytes, 48,720
# gzipped, 7 s less on a phone's 400 kbit/s link), and the JSON; Starlette leaves a run's event stream (its frames
# would wait in the compressor), the pictures and the pre-compressed scripts as they are
LAUNCH = dict(max_file_size=MAX_UPLOAD_BYTES, show_error=True, css=CSS, theme=THEME,
              js=f"() => {{ ({RESULT_IN_VIEW_JS})(); ({STROKES_JS})(); ({KEEP_TYPED_JS})(); ({TYPING_JS})(); "
                 f"({SENT_JS})(); }}",
              ssr_mode=False, app_kwargs=dict(middleware=[Middleware(GZipMiddleware, minimum_size=1000)]))
