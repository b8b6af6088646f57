"""ddpm.demo.widgets, digit_input and wiring without a server: the output pictures' props, the refusals' words, the
browser-side snap back's script, and the events live, run_button and progress_update make (their handlers called as
Gradio calls them)."""
from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import pytest

from conftest import ROOT
from ddpm.demo import digit_input, page, widgets, wiring
from ddpm.demo.limits import MAX_SEED, EmptyBox, InputError, MissingInput
from ddpm.demo.progress import Progress
from ddpm.demo.sources import EXAMPLE

SKIP = type(gr.skip())


def events(demo: gr.Blocks) -> dict:
    """The Blocks' events by api_name."""
    return {f.api_name: f for f in demo.fns.values()}


def test_output_pictures_and_plots_show_only_a_full_screen_button():
    """picture: never an upload box, its label as alt text, a PNG with the full-screen button alone (the toolbar
    covered the titles on a phone); line_plot too; no_lines keeps the plot's columns (None throws in the page)."""
    p = widgets.picture(None, "x_0, your digit")
    assert (p.interactive, p.alt_text, p.buttons, p.format) == (False, "x_0, your digit", ["fullscreen"], "png")
    assert widgets.line_plot(None).buttons == ["fullscreen"]
    empty = widgets.no_lines("t", "value", "curve")
    assert list(empty.columns) == ["t", "value", "curve"] and len(empty) == 0


def test_a_sliders_refusals_name_its_value_and_its_ends_low_to_high():
    """Slider.preprocess: past the ends, not a number, True, or a counted huge number, each refused in words that
    name the value by its label's start (before ' (' or ';'); a number in a string is read."""
    steps = widgets.Slider(1, 100, value=5, step=1, label="DDIM steps; fewer is faster")
    assert steps.preprocess(5000).refusal == "DDIM steps must be between 1 and 100, not 5000"
    assert steps.preprocess("abc").refusal == "DDIM steps must be a number between 1 and 100, not 'abc'"
    refused = steps.preprocess(True)  # a bool is no number here (Gradio would take it as 1)
    assert isinstance(refused, widgets.OutOfRange) and "must be a number between" in refused.refusal
    assert steps.preprocess("7") == 7 and not isinstance(steps.preprocess("7"), widgets.OutOfRange)
    assert steps.preprocess(10**21).refusal.endswith("not a 22-digit number")  # limits.COUNTED_FROM itself
    assert steps.preprocess(-10**400) < 0  # -inf, not +inf
    assert widgets.Slider(0, 9, label="t (paper)").preprocess(12).refusal == "t must be between 0 and 9, not 12"


def test_a_choice_outside_says_the_choices_quoted_and_why_a_greyed_control_takes_no_other():
    """Radio and Dropdown refuse a value outside their choices with the choices as repr; only a greyed control adds
    its info, the reason it is greyed."""
    live = widgets.Radio(["ddpm", "ddim"], value="ddim", label="sampler", info="DDIM skips steps")
    assert live.preprocess("DDIM").refusal == "sampler must be one of 'ddpm', 'ddim', not 'DDIM'"
    greyed = widgets.Dropdown(["any"], value="any", label="digit class", info="no labels", interactive=False)
    assert greyed.preprocess("3").refusal == "digit class must be one of 'any', not '3' (no labels)"
    assert live.preprocess("x" * 100_000).refusal.endswith("not 'xxxxxxxxxxxxxxxxxxx...")  # a page of text: cut


def test_snap_back_writes_each_controls_ends_step_and_start_into_its_script():
    """snap_back: a script per control, after the view, in the browser alone (no queue), with that slider's own
    ends, step and start; a gr.Number is a seed box, 0 to MAX_SEED in whole numbers."""
    with gr.Blocks() as demo:
        t = widgets.Slider(1, 50, value=7, step=0.5, label="t")
        seed = gr.Number(3, label="seed")
        view = gr.Button().click(lambda *a: "", [t, seed], gr.Markdown(), api_name="view")
        widgets.snap_back(view, {"tab-t": t, "tab-seed": seed})
    scripts = {f.js.split("g['")[1].split("'")[0]: f for f in demo.fns.values() if f.js}
    assert set(scripts) == {"tab-t", "tab-seed"}
    assert all(f.queue is False and f.trigger_after == 0 for f in scripts.values())
    assert "const k = (x - 1) / 0.5;" in scripts["tab-t"].js and "x >= 1 && x <= 50 && " in scripts["tab-t"].js
    assert "'tab-t' in g ? g['tab-t'] : 7;" in scripts["tab-t"].js
    assert "const k = (x - 0) / 1;" in scripts["tab-seed"].js and f"x >= 0 && x <= {MAX_SEED} && " in \
        scripts["tab-seed"].js
    assert "'tab-seed' in g ? g['tab-seed'] : 3;" in scripts["tab-seed"].js


def live_view(echo: bool):
    """A live view on a digit input, whose handler raises what it is given; its (API, UI) handlers."""
    with gr.Blocks() as demo:
        digit = [gr.Radio(["a"]), gr.Slider(), gr.File(), gr.Image()]
        wiring.live(digit, [], lambda e, *rest: (_ for _ in ()).throw(e), [gr.State(), *digit[1:]], gr.Markdown(),
                     "view", echo=echo, blank=lambda why: f"*{why}*")
    fns = events(demo)
    assert fns["view_ui"].trigger_mode == "always_last"  # the view follows a slider dragged, to where it stops
    ui = fns["view_ui"].fn  # its first argument Gradio's request (skip_repeats): None, no session, runs every call
    return fns["view"].fn, lambda *args: ui(None, *args)


def test_a_live_view_is_quiet_on_a_box_being_typed_into_and_its_echo_on_every_refusal(recwarn):
    """live: its UI waits quietly for an emptied box (EmptyBox, a slider's too) and a digit not given yet, and warns
    of another refusal; echo=True (a view above says them) is quiet on all; the API says each as an error."""
    api, ui = live_view(echo=False)
    _, echo = live_view(echo=True)
    said = lambda: [str(w.message) for w in recwarn.list if "must be" in str(w.message) or "empty" in str(w.message)
                    or "uploaded" in str(w.message)]
    assert isinstance(ui(EmptyBox("t is empty"), 0, None, None), SKIP)
    emptied = widgets.Slider(0, 9, label="t").preprocess(None)  # the slider's own box emptied, refused before fn
    assert isinstance(ui(InputError("never raised"), emptied, None, None), SKIP)
    assert ui(MissingInput("No image uploaded"), 0, None, None) == "*No image uploaded*"  # blank: the view emptied
    assert isinstance(echo(InputError("seed must be between 0 and 9"), 0, None, None), SKIP)
    assert said() == []
    ui(InputError("seed must be between 0 and 9"), 0, None, None)
    assert said() == ["seed must be between 0 and 9"]
    with pytest.raises(gr.Error, match="t is empty"):
        api(EmptyBox("t is empty"), 0, None, None)


def test_a_run_button_scrolls_to_its_output_and_warns_of_a_refusal_in_the_ui():
    """run_button: a press first brings `show` into view (in the browser); a refused setting is a warning in the UI,
    the outputs kept (gr.skip), and an error through the API."""
    def job(seed):
        raise InputError("seed must be between 0 and 9")
        yield

    with gr.Blocks() as demo:
        go = gr.Button()
        wiring.run_button(go, job, [gr.Number()], [gr.Markdown(elem_id="job-text")], "job", show="job-grid")
    fns = events(demo)
    assert any(f.js and "job-grid" in f.js and f.queue is False for f in demo.fns.values())
    with pytest.warns(UserWarning, match="seed must be"):
        assert [type(x) for x in fns["job_ui"].fn(12)] == [SKIP]
    with pytest.raises(gr.Error, match="seed must be"):
        list(fns["job"].fn(12))


def test_progress_keeps_a_picture_it_has_none_for_and_skips_the_other_outputs():
    """progress_update: p.text in its field, a Progress without a picture leaves the picture shown (gr.skip, not
    None), and each field not named is skipped."""
    class Out(NamedTuple):
        picture: object
        text: object
        other: object

    out = wiring.progress_update(Progress("step 3 of 20"), Out, "text", "picture")
    assert out.text == "step 3 of 20" and isinstance(out.picture, SKIP) and isinstance(out.other, SKIP)


def test_a_seed_run_passes_a_refusals_skip_through_when_the_seed_was_typed():
    """seed_back_if_drawn: an output that is no tuple (a refusal's gr.skip) goes through as it is."""
    ui = wiring.seed_back_if_drawn(lambda seed, randomise: iter([gr.skip()]), 1)
    assert [type(x) for x in ui(3, False)] == [SKIP]


def test_a_drawing_sent_with_its_files_decodes_only_the_composite(tmp_path):
    """DigitSketchpad: a drawing whose background and layers come as files (the API's way, no blob sent ahead)
    decodes the composite alone; the others, which could be huge, are dropped unread."""
    from PIL import Image
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import FileData

    def png(name, width):
        Image.new("L", (width, 8), 255).save(tmp_path / name)
        return FileData(path=str(tmp_path / name))

    sketch = digit_input.DigitSketchpad(type="numpy", image_mode="RGBA", format="png")
    value = sketch.preprocess(EditorData(background=png("bg.png", 16), layers=[png("layer.png", 16)],
                                         composite=png("composite.png", 28)))
    assert value["background"] is None and value["layers"] == [] and value["composite"].shape[:2] == (8, 28)


def test_a_picture_sent_as_the_drawing_is_its_composite_and_layers_alone_are_refused(tmp_path):
    """An API caller's handle_file(path) for the sketch is the drawing as seen (it had passed as an empty drawing);
    background or layers without the composite the app reads are refused in words, not called an empty drawing."""
    from PIL import Image

    Image.new("L", (28, 8), 255).save(tmp_path / "seven.png")
    file = {"path": str(tmp_path / "seven.png"), "meta": {"_type": "gradio.FileData"}}
    sketch = digit_input.DigitSketchpad(type="numpy", image_mode="RGBA", format="png")
    given = sketch.data_model.model_validate(file, context={"validate_meta": True})
    assert sketch.preprocess(given)["composite"].shape[:2] == (8, 28)
    layers = sketch.data_model.model_validate({"background": None, "layers": [file], "composite": None})
    with pytest.raises(gr.Error, match=r"reads the drawing as seen, its composite; send it as composite"):
        sketch.preprocess(layers)


def test_the_digit_inputs_index_runs_from_0_to_the_last_example():
    """digit_input: the index slider's end is the last MNIST test digit there is, not one past it."""
    from ddpm.demo.sources import num_examples

    with gr.Blocks():
        source, index, upload, sketch = digit_input.digit_input("tab")
    assert (index.minimum, index.maximum, index.step) == (0, num_examples() - 1, 1) and source.value == EXAMPLE
    assert index.preprocess(num_examples()).refusal.endswith(f"and {num_examples() - 1}, not {num_examples()}")


def test_an_older_gradio_is_refused_in_one_line_naming_the_pin():
    """Gradio 5 (a notebook's own) built half the page, then failed in a traceback on Gradio 6's api_visibility."""
    pin = next(line.split("==")[1].split()[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.startswith("gradio=="))
    with pytest.raises(SystemExit, match=rf"^app.py needs Gradio 6 \(requirements.txt pins {pin}\), not 5.50.0: pip "
                                         r"install -r requirements.txt$"):
        page.check_gradio("5.50.0")
    page.check_gradio(gr.__version__)  # the installed one passes
