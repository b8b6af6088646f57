"""The page's script for a number typed into a slider's or a seed's box: a refused one goes back to the last good
(widgets.snap_back). In a bare page of Debian's chromium (conftest's `bare`)."""


def snap_back_js(lo=0, hi=100, step=5, start=50, between: tuple = ()) -> str:
    """The script widgets.snap_back attaches to a live view's slider #k of these ends, step and first value."""
    import gradio as gr

    from ddpm.demo.widgets import snap_back

    with gr.Blocks() as demo:
        slider = gr.Slider(lo, hi, value=start, step=step)
        snap_back(gr.Button().click(lambda: None), {"k": slider}, between_steps=between)
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
