"""The page's scripts for a number typed into a slider's or a seed's box: a refused one goes back to the last good
(widgets.snap_back), once the view was sent it (page.SENT_JS); one past a slider's ends is kept as typed when the
box loses focus, for the app to refuse in words (page.KEEP_TYPED_JS). Each in a bare page of Debian's chromium."""
from ddpm.demo import page


def snap_back_js(lo=0, hi=100, step=5, start=50, between: tuple = ()) -> str:
    """The script widgets.snap_back attaches to a live view's slider #k of these ends, step and first value (the
    view, event 0, reads a box before it: the slider is its input 1)."""
    import gradio as gr

    from ddpm.demo.widgets import snap_back

    with gr.Blocks() as demo:
        box, slider = gr.Number(), gr.Slider(lo, hi, value=start, step=step)
        snap_back(gr.Button().click(lambda a, b: None, [box, slider]), {"k": slider}, between_steps=between)
    [js] = [f.js for f in demo.fns.values() if f.js]
    return js


def test_snap_back_keeps_every_good_value_and_puts_back_a_refused_one(bare):
    """Both ends and each step are good and remembered; past an end or between steps, the last good one comes back
    (the slider's first value before any), as it does for a box emptied that has not the focus."""
    js, tab = snap_back_js(), bare("<div id=k><input type=number></div>")
    assert [tab.evaluate(js, v) for v in (500, 0, 7, 100, -5, 105, 35, 36)] == [50, 0, 0, 100, 100, 100, 35, 35]
    assert tab.evaluate(js, None) == 35


def test_snap_back_counts_steps_from_the_low_end_and_keeps_a_fractional_step(bare):
    """A slider from 1 in steps of 2 takes 3, not 4; one in steps of 0.1 takes 0.3 (0.3 / 0.1 is no whole number
    in floating point, so it was snapped back)."""
    tab = bare("<div id=k><input type=number></div>")
    odd, tenths = snap_back_js(lo=1, hi=9, step=2, start=5), snap_back_js(lo=0, hi=1, step=0.1, start=0.5)
    assert [tab.evaluate(odd, v) for v in (3, 4, 9)] == [3, 3, 9]
    assert [tab.evaluate(tenths, v) for v in (0.3, 0.35, 0.7)] == [0.3, 0.3, 0.7]
    whole = snap_back_js(lo=0, hi=9, step=1, start=5)  # whole steps exactly: the server refuses 3.0000000001
    assert [tab.evaluate(whole, v) for v in (3, 3.0000000001, 4)] == [3, 3, 4]
    frames = snap_back_js(lo=0, hi=100, step=20, start=0, between=("k",))  # tab 3's frame slider: any whole t
    assert [tab.evaluate(frames, v) for v in (40, 45, 45.5, 101)] == [40, 45, 45, 45]


def test_snap_back_leaves_a_number_typed_since_its_view_was_sent(bare):
    """A view's answer may come back after a number past the end was typed (a 400 ms link): that number, not yet
    sent to the view (page.SENT_JS notes what was), stays for the view's own run to refuse aloud; once sent, it
    goes back. A page that noted nothing (another Gradio's requests) puts it back at once, as before."""
    js, tab = snap_back_js(), bare("<div id=k><input type=number></div>")
    assert tab.evaluate(js, 20) == 20
    tab.evaluate("window.__sent = {0: [null, 5]}")
    assert tab.evaluate(js, 500) == 500
    tab.evaluate("window.__sent = {0: [null, 500], 1: [20, 20]}")
    assert tab.evaluate(js, 500) == 20


def test_the_page_notes_the_inputs_it_sends_each_event(bare):
    """page.SENT_JS: Gradio's queue/join request, read as it goes, by its event's number; other requests and a body
    that is no JSON pass untouched."""
    tab = bare()
    tab.evaluate("window.fetch = async (what, init) => (init && init.body) || String(what)")  # no network
    tab.evaluate(f"({page.SENT_JS})()")
    went = tab.evaluate("""async () => [
        await fetch('/gradio_api/queue/join?x', {method: 'POST', body: JSON.stringify({fn_index: 7, data: [1, 500]})}),
        await fetch('/gradio_api/queue/join', {method: 'POST', body: 'not json'}), await fetch('/file=a.png'),
        await fetch('/upload', {method: 'POST', body: JSON.stringify({fn_index: 8, data: [2]})})]""")
    assert went[1:3] == ["not json", "/file=a.png"] and '"fn_index":7' in went[0]
    assert tab.evaluate("window.__sent") == {"7": [1, 500]}


def test_a_slider_box_left_past_its_ends_keeps_the_number_typed(bare):
    """page.KEEP_TYPED_JS: Gradio's slider sets a number past its ends to the nearer end as its box loses focus (a
    listener of the box's own here); the page keeps it, for its change to be refused in words. So too an emptied
    box, and 1e400 typed (past a float: no number to the browser, its value ''), which Gradio set to the low end
    (#0 run unsaid). A number within the ends and a box of no slider (a seed) lose the focus as Gradio has them."""
    tab = bare("<div class=block><input type=number id=n><input type=range min=0 max=299></div>"
               "<div class=block><input type=number id=s></div><button id=b>b</button>")
    tab.evaluate(f"""() => {{ window.clamped = [];
        for (const box of document.querySelectorAll('input[type=number]'))
          box.addEventListener('blur', () => window.clamped.push(box.id + ':' + box.value));
        ({page.KEEP_TYPED_JS})(); }}""")
    for box, typed in (("n", "500"), ("n", "-1"), ("n", "120"), ("n", ""), ("n", "1e400"), ("s", "5000")):
        tab.locator(f"#{box}").fill("")
        tab.locator(f"#{box}").press_sequentially(typed)  # (fill refuses 1e400 for a number box)
        tab.locator("#b").focus()
    assert tab.evaluate("window.clamped") == ["n:120", "s:5000"]


def test_a_box_emptied_to_type_in_waits_for_the_number_typed(bare):
    """Emptied while it has the focus, the box stays empty; left empty, it gets the last good value back; left with
    a number typed, it keeps that number."""
    js, tab = snap_back_js(), bare("<div id=k><input type=number></div><button id=b>b</button>")
    box = tab.locator("#k input")
    assert tab.evaluate(js, 20) == 20
    box.focus()
    assert tab.evaluate(js, None) is None
    tab.locator("#b").focus()
    assert box.input_value() == "20"
    box.focus()
    tab.evaluate(js, None)
    box.fill("45")
    tab.locator("#b").focus()
    assert box.input_value() == "45"


def test_a_number_typed_key_by_key_past_the_end_stays_until_enter_or_the_box_is_left(bare):
    """A box being typed into (page.TYPING_JS) keeps a number refused while it has the focus, so that the keys typed
    next add to it (70 then 0 then 0 was put back to 70 at each refusal, the box never past 70; 7 of 75, between
    steps of 5, put back to 20, so 205); Enter, or the box left, puts back the number the box held before the typing
    began, or at its last pause of a second that held a good one (or, with none, the last good one). One committed
    with Enter before its refusal came goes back at once."""
    js, tab = snap_back_js(), bare("<div id=k><input type=number></div><button id=b>b</button>")
    tab.evaluate(f"({page.TYPING_JS})()")
    box = tab.locator("#k input")
    assert tab.evaluate(js, 20) == 20
    box.focus()
    for typed in ("7", "75"):
        box.press(typed[-1])
        assert tab.evaluate(js, int(typed)) == int(typed) and box.input_value() == typed
    box.fill("")
    for typed, kept in (("7", 7), ("70", 70), ("700", 700), ("7000", 7000)):
        box.press(typed[-1])
        assert tab.evaluate(js, int(typed)) == kept and box.input_value() == typed
    box.press("Enter")
    assert box.input_value() == "70"
    box.fill("900")
    assert tab.evaluate(js, 900) == 900
    tab.locator("#b").focus()
    assert box.input_value() == "70"
    box.fill("500")
    box.press("Enter")
    assert tab.evaluate(js, 500) == 70
    box.fill("70")
    box.press("Enter")
    assert tab.evaluate(js, 70) == 70
    box.press("Control+A")  # 900 typed over 70: the view ran on 9 and 90 on the way
    for typed in ("9", "90", "900"):
        box.press(typed[-1])
        assert tab.evaluate(js, int(typed)) == int(typed)
    box.press("Enter")
    assert box.input_value() == "70"  # the number before the typing began, not 90, the last the view ran on
    box.press("Control+A")  # 80 typed over it, looked at for a second, then 900 typed over 80: back to 80
    for typed in ("8", "80"):
        box.press(typed[-1])
        tab.evaluate(js, int(typed))
    tab.wait_for_timeout(1100)
    box.press("Control+A")
    for typed in ("9", "90", "900"):
        box.press(typed[-1])
        tab.evaluate(js, int(typed))
    box.press("Enter")
    assert box.input_value() == "80"
    box.press("Control+A")  # 900 typed over 80, a second's pause, then 9000: 900, refused, is no number to go back to
    for typed in ("9", "90", "900"):
        box.press(typed[-1])
        tab.evaluate(js, int(typed))
    tab.wait_for_timeout(1100)
    box.press("0")
    tab.evaluate(js, 9000)
    box.press("Enter")
    assert box.input_value() == "80"
