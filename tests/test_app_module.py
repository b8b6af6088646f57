"""app.py imported in-process on tiny models of its own (T = 20, T = 2, T = 100): what it builds at start-up, its
events' queue settings and its handlers called as Gradio calls them, without a server."""
from __future__ import annotations

import importlib
import inspect
import json
import re
import sys

import pytest

from app_helpers import save_tiny
from ddpm.demo.digit_input import DRAWING_ID_JS, SHOW_SOURCE_JS, DigitSketchpad
from ddpm.demo.widgets import OutOfRange
from ddpm.demo.wiring import progress_update

T = 100  # the queue test's model, as test_app_e2e's


def test_the_app_starts_on_a_model_of_fewer_steps_than_ddims_default(tmp_path, monkeypatch):
    """T = 20 < DDIM's default 50 steps: the start-up views use T steps, as the sliders do (it had refused to start);
    a loss.csv of one row gives About a line and no curve. The model's dataset, Fashion-MNIST here, reaches the
    captions: its samples are images and its classes have names."""
    folder = save_tiny(tmp_path / "m", T=20)
    (folder / "loss.csv").write_text("step,loss\n50,0.9\n")
    (folder / "training.json").write_text('{"dataset": "fashion-mnist"}')
    monkeypatch.setenv("DDPM_MODEL", str(folder))
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert "16 images, DDIM, 20 steps" in app.defaults()["sample"][2]
    assert app.demo.title == "DDPM on Fashion-MNIST, from scratch"  # the browser tab's title is the page's
    *_, (_, _, caption, _) = app.sample(0, False, 2, "ddim", 3, "3", 2.0)
    assert "class 3 (Dress), guidance w = 2" in caption
    # tabs 1 and 4 offer its own test images, by its name (the radio's value stays the API's "MNIST test digit")
    by_label = {getattr(b, "label", None): b for b in app.demo.blocks.values()}
    assert {"x_0, preprocessed as Fashion-MNIST", "Draw an item"} <= set(by_label) and "T-shirt/top: #" in by_label[
        "Fashion-MNIST test image #"].info
    radio = next(b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "forward-source")
    assert radio.choices[0] == ("Fashion-MNIST test image", app.EXAMPLE)
    # the grid on show at start is drawn again by a first press, so a learner sees it denoise; a second is not
    first = list(app.sample(0, False, 16, "ddim", 20, "any", app.DEFAULT_GUIDANCE))
    again = list(app.sample(0, False, 16, "ddim", 20, "any", app.DEFAULT_GUIDANCE))
    assert len(first) > 1 and "Drawn before" not in first[-1][2] and again[-1][2].startswith("Drawn before")
    tabs = [b for b in app.demo.blocks.values() if type(b).__name__ == "Tab"]
    assert len(tabs) == 5 and all(type(t.children[0]).__name__ == "Markdown" for t in tabs)  # each opens with words
    # ... under a heading, for a screen reader to jump to (tab 1's second half, and tab 3's film strip, too)
    heads = [b.value.split("\n")[0] for b in app.demo.blocks.values() if type(b).__name__ == "Markdown"
             and (b.value or "").startswith("## ")]
    assert all(t.children[0].value.startswith("## ") for t in tabs) and len(heads) == len(set(heads)) == 8, heads
    def inside(block):
        for child in getattr(block, "children", []):
            yield child
            yield from inside(child)
    for tab in tabs:  # a screen reader names a control by its label: tab 4's two sliders were both "t"
        labels = [b.label for b in inside(tab) if type(b).__name__ in ("Slider", "Number", "Radio", "Dropdown")]
        assert len(labels) == len(set(labels)), (tab.label, labels)
    sys.modules.pop("app", None)


def test_the_app_starts_on_a_model_of_two_steps_without_labels(tmp_path, monkeypatch):
    """T = 2: tab 4's strip held t = 0, a chain of no step, and the app died at start-up. Without labels or a guide
    the texts offer no sweep of w, no autoguidance and nothing to guide toward; tab 4 counts the strip's chains."""
    from ddpm import hub
    from ddpm.config import ModelConfig
    from ddpm.demo.widgets import NotAChoice
    from ddpm.unet import UNet

    cfg = ModelConfig(base_channels=8, channel_mult=(1, 2), attention_resolutions=(), timesteps=2, num_classes=0)
    monkeypatch.setenv("DDPM_MODEL", str(hub.save_pretrained(UNet(cfg), tmp_path / "m")))
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert "DDIM" in app.defaults()["sample"][2]
    texts = [str(getattr(b, k, None) or "") for b in app.demo.blocks.values() for k in ("label", "info")]
    assert not any("sweep of w" in x for x in texts)
    assert "what to compare (one row each, of the seed's first digits: the number above, at most 6)" in texts
    assert any("the strip's 2 more chains (t = 1 to 2) as one batch" in x for x in texts)
    assert any("nothing to guide toward" in x for x in texts)
    label = next(b for b in app.demo.blocks.values() if getattr(b, "label", None) == "digit class")
    assert label.preprocess("3").refusal == ("digit class must be one of 'any', not '3' (this model was trained "
                                             "without labels, so it takes no class)")  # the API's caller hears why
    # the UI's own events, POSTed a value outside the choices, change nothing (Gradio's check used to refuse it)
    toggles = [f.fn for f in app.demo.fns.values() if f.fn is not None and f.fn.__name__ in ("note_source", "<lambda>")]
    skip = type(app.gr.skip())
    assert toggles and all(isinstance(fn(NotAChoice("bogus", "x must be ...")), skip) for fn in toggles)
    sys.modules.pop("app", None)


def test_model_jobs_queue_one_at_a_time_and_views_cannot_fill_the_queue(tmp_path, monkeypatch):
    """A shared 2-vCPU Space: one network job at a time, each a generator (Gradio stops a generator when its tab
    goes, a plain function only when it ends), and views that need no network pass run beside it, a few at a
    time, in a queue long enough that a crowd moving sliders never refuses a Generate."""
    monkeypatch.setenv("DDPM_MODEL", str(save_tiny(tmp_path / "m", T=T)))
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    fns = {f.api_name: f for f in app.demo.fns.values() if f.api_name}
    for name in ("sample", "trajectory", "roundtrip", "compare", "interpolate", "interpolate_ui", "bits",
                 "bits_ui"):
        assert (fns[name].concurrency_id, fns[name].concurrency_limit) == ("model", 1) and fns[name].types_generator
    for name in ("forward", "forward_ui", "preview", "preview_ui", "trajectory_frame"):
        assert (fns[name].concurrency_id, fns[name].concurrency_limit) == ("view", 4)
    for name in ("sample_ui", "compare_ui", "trajectory_ui"):
        assert fns[name].trigger_mode == "always_last", name  # a press while it runs queues a run, not dropped
    # cancelled by a new digit: Gradio would run a queued press after
    for name in ("roundtrip_ui", "interpolate_ui", "bits_ui"):
        assert fns[name].trigger_mode == "once", name
    assert all(inspect.isgeneratorfunction(f) for f in (app.trajectory, app.noise_and_denoise, app.interpolate,
                                                         app.bound))
    # a screen reader hears each run's captions when it ends (they were read nowhere): the press notes them, the end
    # puts them in the page's live region if they changed, in the page's order ("Done in" before "when decided")
    for name, ids in [("sample", ["generate-status"]), ("compare", ["compare-text"]),
                      ("trajectory", ["trajectory-status", "trajectory-decided"]), ("roundtrip", ["roundtrip-text"]),
                      ("interpolate", ["interpolate-text"]), ("bits", ["bits-text"])]:
        ui = fns[f"{name}_ui"]
        ui_id = next(i for i, f in app.demo.fns.items() if f is ui)
        press = [f for f in app.demo.fns.values() if f.fn is None and f.targets == ui.targets and f.js
                 and "__captions" in f.js and "createElement" in f.js]
        end = [f for f in app.demo.fns.values() if f.trigger_after == ui_id and f.js and "app-announce" in f.js]
        assert len(press) == len(end) == 1, name
        assert all(json.dumps(ids) in f.js and "IDS" not in f.js for f in press + end), name
    memo = app.DigitMemo(None)  # tab 4's digit changed as a run went: it ends without a word (it died on r.main)
    for run in (app.noise_and_denoise(app.EXAMPLE, 0, None, None, 5, 0, "ddpm", 5, memo),
                app.interpolate(app.EXAMPLE, 0, None, None, 1, 5, 0, "ddpm", 5, memo)):
        next(run)
        memo.changes[0] += 1
        assert list(run) == []
    # tab 4's digit changed: its runs of the old digit stop (their last outputs would put the old digit back)
    # (both on a State the digit's inputs move: a repeat of the same inputs stops nothing, wiring.on_new_inputs)
    def moved_by(event) -> int:
        """How many inputs' change events move the State whose change runs `event` (and its cancel)."""
        (state, kind), = event.targets
        gate, = [f for f in app.demo.fns.values() if [o._id for o in f.outputs] == [state]]
        assert kind == "change" and gate.fn.__name__ == "moves" and gate.queue and gate.concurrency_limit == 1
        assert gate.trigger_mode == "multiple"  # never put aside: no second view waits on the views' triggers
        assert [i._id for i in gate.inputs] == [t for t, _ in gate.targets]  # it compares what moved it
        return len(gate.targets)
    new_digit, = [f for f in app.demo.fns.values() if f.fn is app.new_digit]
    cancel, = [f for f in app.demo.fns.values() if f.is_cancel_function and f.targets == new_digit.targets]
    assert {app.demo.fns[i].api_name for i in cancel.cancels} == {"roundtrip_ui", "interpolate_ui"}
    assert moved_by(new_digit) == 4  # source, index, upload, drawing
    # tab 1's digit or seed moved: the bound of the one before is emptied, and one being measured stops
    text, = [b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "bits-text"]
    empty, = [f for f in app.demo.fns.values() if [o._id for o in f.outputs] == [text._id] and f.fn is not None
              and {e for _, e in f.targets} == {"change"}]
    assert moved_by(empty) == 5 and empty.fn is app.forget_bound and not empty.queue
    assert app.forget_bound("**4.1 bits per pixel** ...") == text.value == app.waiting(T)
    assert isinstance(app.forget_bound(app.waiting(T)), type(app.gr.skip()))  # none shown: nothing sent
    assert [i._id for i in empty.inputs] == [text._id]
    cancel, = [f for f in app.demo.fns.values() if f.is_cancel_function and f.targets == empty.targets]
    assert {app.demo.fns[i].api_name for i in cancel.cancels} == {"bits_ui"}
    # a trigger with two queued views that wait ("always_last") fired itself again for ever in the page (Gradio puts
    # aside the one not done, and fires the trigger again for both when it is done): one such view a trigger
    waiting = {}
    for f in app.demo.fns.values():
        for target in f.targets if f.queue and f.fn is not None and f.trigger_mode == "always_last" else ():
            waiting.setdefault(target, []).append(f.api_name)
    assert {t: names for t, names in waiting.items() if len(names) > 1} == {}
    assert fns["objective_ui"].trigger_after == fns["forward_ui"]._id  # it follows the forward view's runs
    pictures = [b for b in app.demo.blocks.values() if type(b).__name__ == "Image"]
    assert pictures and all(b.interactive is False for b in pictures)  # outputs, never upload boxes (a phone's 616 px)
    # and no event takes one back as an input: Gradio decodes any image a caller sends there, of any size (tab 4's
    # change of digit did, outside the queue, and kept them in the session); what it puts away is noted on the server
    assert not [f.api_name for f in app.demo.fns.values() if {b._id for b in f.inputs} & {b._id for b in pictures}]
    assert app.demo._queue.max_size >= 100
    # the first captions of Generate, the animation and the round trip: drawn at start-up, without the time a busy
    # start-up took (the animation's once read 27 s and the round trip's 50 s, ten times a press's)
    first = app.defaults()
    assert re.match(r"Drawn as the app started: 16 digits, DDIM, ", first["sample"][2])
    assert re.fullmatch(r"Drawn as the app started: 1 digit, DDIM, .* frames \(every step and the final x_0\)\.",
                        first["trajectory"].status)
    assert first["roundtrip"].text.startswith("Drawn as the app started: Noised to t = ")
    assert " took " not in first["trajectory"].status + first["roundtrip"].text
    # while the animation draws its live panels, the frame slider leaves the panel alone (the state holds no run)
    *live, done = app.trajectory(0, False, 1, "ddim", 4, "any", 1.0)
    assert live and all(update.state is None and update.gif is None for update in live)
    # put away by a CSS class (page.CSS): a plot set to None, emptied or hidden throws in the page
    assert all(update.plot.elem_classes == ["put-away"] for update in live) and done.plot.elem_classes == []
    assert ".put-away {display: none !important}" in app.LAUNCH["css"]
    assert all(update.frame.interactive is False for update in live) and done.frame.interactive  # greyed meanwhile
    assert done.state.frames == 5
    frame_ui = fns["trajectory_frame_ui"]
    assert isinstance(frame_ui.fn(None, 3), type(app.gr.skip()))  # no finished run: the UI waits quietly ...
    with pytest.raises(app.gr.Error, match="this session's /trajectory run is still going, or was stopped: wait, or "
                                           "run it again"):
        fns["trajectory_frame"].fn(None, 3)  # ... and the API hears why (it got three empty updates)
    # a t past the frame slider's end: a warning, the frame kept (no red Error)
    with pytest.warns(UserWarning, match="t must be between"):
        kept = frame_ui.fn(done.state, OutOfRange(5000, "t must be between 0 and 20, not 5000"))
    assert isinstance(kept, type(app.gr.skip()))
    panel, plot, words = app.scrub(done.state, 3)  # the frame nearest t = 3, the plot's line and words at its t
    shown_t = done.state.t[app.nearest_frame(done.state, 3)]
    assert panel is not None and list(plot[plot.digit == "t shown"].t) == [shown_t, shown_t]
    assert words.startswith("At ") and "the classifier reads" in words.split("\n\n")[0]  # the shipped classifier's
    for name, fields in (("trajectory", app.TrajectoryOut._fields), ("roundtrip", app.RoundtripOut._fields)):
        assert len(fns[name].outputs) == len(fields)  # the event's outputs are built from these fields, by name
    with pytest.raises(ValueError, match="has no output"):  # a misspelt output is an error, not a silent skip
        progress_update(app.Progress("x"), app.TrajectoryOut, "staus")
    # tab 1's t, seed and schedule moved before an upload or a drawing: the hint in the view, no red toast (their
    # changes are UI events, where a missing digit is quiet); the API's /forward and /objective refuse it aloud
    for name in ("forward", "objective", "preview"):
        assert {event for _, event in fns[name].targets} == {"click"}, name  # a hidden button's
        ui = fns[f"{name}_ui"]  # (the loss view follows the forward view's runs, moved by the same inputs)
        moved = {block for block, _ in (ui if ui.trigger_after is None else app.demo.fns[ui.trigger_after]).targets}
        assert {block._id for block in fns[f"{name}_ui"].inputs} <= moved, name
        assert not {block._id for block in fns[name].inputs}.intersection(b for b, _ in fns[name].targets)
    # no server's event of the page has a drawing as an input or an output: Gradio's page sends the drawing's
    # images again (3 requests) for each such event's input or output as every later event's progress moves (30
    # requests a move of tab 1's t); the page's events read it from a State, read once as it changes by the id its
    # images were sent ahead under (digit_input.reader); the API's events read the drawing itself
    sketches = {b for b in app.demo.blocks.values() if isinstance(b, DigitSketchpad)}
    assert len(sketches) == 2 and all(isinstance(s.read_in_ui, app.gr.State) for s in sketches)
    server = [f for f in app.demo.fns.values() if f.fn is not None and sketches & {*f.inputs, *f.outputs}]
    assert all(f.api_visibility == "public" and {e for _, e in f.targets} == {"click"} for f in server), server
    assert {f.api_name for f in server} == {"forward", "objective", "bits", "preview", "roundtrip", "interpolate"}
    page = [f for f in app.demo.fns.values() if f.fn is None and sketches & {*f.inputs, *f.outputs}]
    assert sorted(f.js for f in page) == sorted([DRAWING_ID_JS.replace("KEY", f"{tab}-source") for tab in ("forward",
                                                                                                       "roundtrip")]
                                                + [SHOW_SOURCE_JS] * 2)
    visitor, moved = app.gr.Request(session_hash="a visitor"), ("upload", 0, None, None, "linear", 25, 0)
    hint = fns["forward_ui"].fn(visitor, *moved)  # (Gradio passes the UI's events the request: skip_repeats)
    assert hint[:4] == (None, None, None, None) and "No image uploaded" in hint[-1]
    assert isinstance(fns["forward_ui"].fn(visitor, *moved), type(app.gr.skip()))  # the same again: nothing sent
    # a seed typed while Generate, Compare or the animation runs stays in the box: their UI events write the seed
    # they ran back only when "new random seed" drew it (the API's answer always carries it)
    skip = type(app.gr.skip())
    for name, at, extra in (("sample", 3, ()), ("compare", 2, (0.0, 1.0, "samplers")), ("trajectory", 6, ())):
        ui = fns[f"{name}_ui"].fn
        typed = list(ui(7, False, 2, "ddim", 2, "any", 1.0, *extra))
        assert typed and all(isinstance(out[at], skip) for out in typed), name
        last = list(ui(7, True, 2, "ddim", 2, "any", 1.0, *extra))[-1]
        drawn = last[at]  # the seed drawn goes back to the box, and is the one the caption says the run used
        assert isinstance(drawn, int) and any(f"eed {drawn}" in x for x in last if isinstance(x, str)), name


def test_a_slider_counts_a_number_past_a_float_and_keeps_nan_for_an_emptied_box():
    """10**400 through the API met float() in the refusal itself (a traceback in the log); the mend turned the
    emptied box's nan into -inf for a while (a diff read found it)."""
    import math

    from ddpm.demo.widgets import Slider

    steps = Slider(minimum=1, maximum=100, label="DDIM steps")
    assert math.isnan(steps.preprocess(None)) and "holds no number" in steps.preprocess(None).refusal
    for big, said in ((10**400, "a 401-digit number"), (-10**400, "a 401-digit negative number")):
        refused = steps.preprocess(big)
        assert math.isinf(refused) and refused.refusal == f"DDIM steps must be between 1 and 100, not {said}"


@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # Gradio's own use of pandas, not the app's
def test_an_unforeseen_exception_reaches_the_caller_in_its_own_words(tmp_path, monkeypatch):
    """Every bad input is refused as a gr.Error, in words; a bug would raise something else, and app.py's launch
    settings (page.LAUNCH, show_error) give its message to the page and to an API caller to report, not a bare
    "Error"."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from app_helpers import free_port

    monkeypatch.setenv("DDPM_MODEL", str(save_tiny(tmp_path / "m", T=20)))
    sys.modules.pop("app", None)
    app = importlib.import_module("app")

    def broken(*args):
        raise RuntimeError("a bug in the forward view")

    monkeypatch.setattr(app, "forward_view", broken)
    port = free_port()
    app.demo.launch(**app.LAUNCH, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(AppError, match="a bug in the forward view"):
            client.predict("MNIST test digit", 0, None, None, "linear", 5, 0, api_name="/forward")
    finally:
        app.demo.close()
        sys.modules.pop("app", None)


def test_each_input_of_a_digit_counts_in_before_its_other_listeners(tmp_path, monkeypatch):
    """Gradio's page sends a trigger's listeners one after another, each once the one before has ended: tab 1's
    seed was counted in the digit's work after the forward view's listener of its change, a round trip late, and a
    seed typed and the bound pressed at once found nothing going (the run went first; started= alone saved it).
    Every input that moves a digit's State (wiring.on_new_inputs) counts in first (wiring.counts_in)."""
    monkeypatch.setenv("DDPM_MODEL", str(save_tiny(tmp_path / "m", T=T)))
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    fns = list(app.demo.fns.values())  # in the order made: the order the page sends a trigger's listeners
    gates = [f for f in fns if f.fn is not None and f.fn.__name__ == "moves"]
    ids = {b._id: getattr(b, "elem_id", None) for b in app.demo.blocks.values()}
    assert len(gates) == 2 and "forward-seed" in {ids[b] for g in gates for b, _ in g.targets}
    for gate in gates:
        for target in gate.targets:
            first = next(f for f in fns if target in f.targets)
            assert first.fn is None and "__digitBusy" in (first.js or "") and "+ 1" in first.js, ids[target[0]]
    with app.gr.Blocks():  # one made after another listener is refused as the app is built
        box = app.gr.Number(elem_id="late")
        box.change(None, js="() => {}")
        with pytest.raises(ValueError, match="late: counts_in"):
            app.counts_in(box, "tab-source")
    sys.modules.pop("app", None)
