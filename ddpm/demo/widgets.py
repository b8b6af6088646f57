"""The app's own Gradio pieces: the output picture, a slider that refuses in the app's words, the digit input (a
source radio switching between an MNIST example, an upload and a drawing), the one place that turns
InputError into gr.Error, and the wiring of a job to its API endpoint and its UI event. app.py lays them out and
wires them to ddpm.demo."""
from __future__ import annotations

import functools
import inspect
import json
import math
import re
from typing import NamedTuple

import gradio as gr
import pandas as pd
import pydantic
from gradio.data_classes import FileData

from ..preprocess import peek_image
from .limits import (COUNTED_FROM, MAX_SEED, MAX_UPLOAD_BYTES, MAX_UPLOAD_SIDE, MIN_UPLOAD_SIDE, DigitError, EmptyBox,
                     InputError, MissingInput, shown)
from .page import ANNOUNCE_JS, NOTE_CAPTIONS_JS, PICK_BRUSH_JS, SHOW_OUTPUT_JS, SNAP_BACK_JS
from .progress import Progress
from .sources import (DRAWING, EXAMPLE, UPLOAD, class_word, example_name, first_of_each_class, index_label,
                      item_noun, num_examples, source_label)


def picture(value, label: str, buttons=("fullscreen",), **kw) -> gr.Image:
    """An output image: a PNG (or the file given, such as a GIF) with only the full-screen button by default
    (Gradio's toolbar would cover the titles drawn into the panels on a phone), and its label as the text a screen
    reader says; never an upload box, even where an event reads it back (tab 4's put-away run). Its class
    "picture" lets page.RESULT_IN_VIEW_JS take Gradio's button around it out of the Tab order (it does nothing)."""
    kw["elem_classes"] = ["picture", *kw.get("elem_classes", [])]
    return gr.Image(value, label=label, format="png", buttons=list(buttons), alt_text=label, interactive=False, **kw)


def line_plot(value, **kw) -> gr.LinePlot:
    """A plot with a full-screen button: its labels are small for a projector (the pictures have one too)."""
    return gr.LinePlot(value, buttons=["fullscreen"], **kw)


def no_lines(*columns: str) -> pd.DataFrame:
    """An emptied plot's value: its axes with no line. (None for a plot's value makes Gradio's plot throw "Cannot
    read properties of null (reading 'offsetWidth')" in the page; a plot whose legend names classes is hidden
    instead, as its empty frame throws too.)"""
    return pd.DataFrame({c: [] for c in columns})


class OutOfRange(float):
    """A slider's value past its ends, carried to the handler with its refusal: user_errors says it there, so that
    where two views read one slider (tab 1's t) it is said once, by the view that speaks for both."""

    def __new__(cls, value: float, refusal: str, error: type[InputError] = InputError):
        if isinstance(value, int) and abs(value) >= 10**308:  # 10**400: past a float's range (nan stays nan)
            value = math.inf if value > 0 else -math.inf
        out = super().__new__(cls, value)
        out.refusal, out.error = refusal, error  # error: the InputError user_errors raises (EmptyBox: emptied)
        return out


class Slider(gr.Slider):
    """gr.Slider, but a value past its ends (typed into its number box, or sent through the API) is refused in the
    app's words, "t must be between 0 and 1000, not 5000", with no traceback in the server's log (Gradio's own
    check says "Value 5000 is greater than maximum value 1000." and logs one): the value reaches the handler as an
    OutOfRange, which user_errors refuses. The value's name is its label's start, before any " (" or ";". (No __init__ of its own: Gradio builds a component's config, and rebuilds it
    for an update, from gr.Slider's arguments.)"""

    def get_block_name(self) -> str:  # the browser side is gr.Slider's own
        return gr.Slider.__name__.lower()

    get_block_class = get_block_name

    def preprocess(self, payload: float) -> float:  # annotated as gr.Slider's: Gradio checks API values against it
        ends = f"{self.minimum:g} and {self.maximum:g}"
        if payload is None:  # its number box emptied (Gradio's check raised a TypeError, shown raw)
            return OutOfRange(math.nan, f"{_value_name(self)} is empty: give a number between {ends}", EmptyBox)
        if isinstance(payload, str):  # through the API: "4", as the seed's number box takes it
            try:
                payload = float(payload)
            except ValueError:
                pass
        if not isinstance(payload, (int, float)) or isinstance(payload, bool):  # "abc", [1, 2]: Gradio's TypeError
            return OutOfRange(math.nan, f"{_value_name(self)} must be a number between {ends}, not {shown(payload)}")
        try:
            return super().preprocess(payload)
        except gr.Error:  # a number: Gradio's check compared it with both ends (10**400: no float, counted)
            said = shown(payload) if isinstance(payload, int) and abs(payload) >= COUNTED_FROM else f"{payload:g}"
            return OutOfRange(payload, f"{_value_name(self)} must be between {ends}, not {said}")


def snap_back(view, sliders: dict[str, gr.Slider | gr.Number]) -> None:
    """In the browser alone: once the live `view` has run (and said why), a value it refused in one of `sliders`
    ({key: slider}) goes back to that slider's last good one (SNAP_BACK_JS). A gr.Number there is a seed box: a
    whole number from 0 to MAX_SEED."""
    for key, slider in sliders.items():
        lo, hi, step = ((slider.minimum, slider.maximum, slider.step) if isinstance(slider, gr.Slider)
                        else (0, MAX_SEED, 1))
        js = SNAP_BACK_JS
        for name, value in (("$KEY", key), ("$LO", lo), ("$HI", hi), ("$STEP", step), ("$START", slider.value)):
            js = js.replace(name, str(value))
        view.then(None, slider, slider, js=js, queue=False, api_visibility="private", show_progress="hidden")


def _value_name(component) -> str:
    """The name a refusal gives a component's value: its label's start, before any " (" or ";"."""
    return re.split(r" \(|;", component.label or "the value")[0]


class NotAChoice(str):
    """A radio's or dropdown's value outside its choices (sent through the API), carried to the handler with its
    refusal, as OutOfRange is: Gradio's own check logs a traceback for each."""

    def __new__(cls, value, refusal: str):
        out = super().__new__(cls, value)
        out.refusal = refusal
        return out


def _not_a_choice(component, payload) -> NotAChoice:
    choices = ", ".join(repr(value) for _, value in component.choices)
    why = f" ({component.info})" if component.interactive is False and component.info else ""  # greyed: its reason
    return NotAChoice(payload, f"{_value_name(component)} must be one of {choices}, not {payload!r}{why}")


class Radio(gr.Radio):
    """gr.Radio, but a value outside its choices is refused in the app's words, as Slider's past its ends."""

    def get_block_name(self) -> str:  # the browser side is gr.Radio's own
        return gr.Radio.__name__.lower()

    get_block_class = get_block_name

    def preprocess(self, payload: str | int | float | None) -> str | int | float | None:  # gr.Radio's annotation
        try:
            return super().preprocess(payload)
        except gr.Error:
            return _not_a_choice(self, payload)


class Dropdown(gr.Dropdown):
    """gr.Dropdown (one choice), but a value outside its choices is refused in the app's words, as Radio's."""

    def get_block_name(self) -> str:  # the browser side is gr.Dropdown's own
        return gr.Dropdown.__name__.lower()

    get_block_class = get_block_name

    def preprocess(self, payload: str | int | float | list[str | int | float] | None
                   ) -> str | int | float | list[str | int | float] | list[int | None] | None:  # gr.Dropdown's
        try:
            return super().preprocess(payload)
        except gr.Error:
            return _not_a_choice(self, payload)


def said(model: type, words: str, taken=lambda obj: obj) -> type:
    """Gradio's data model for an input, its check of an API value said in words (a gr.Error the caller reads, no
    traceback in the server's log) rather than as pydantic's ValidationError: a path where handle_file(path) belongs,
    a string for a drawing; `taken(value)` is checked in the value's place. (Gradio checks the value before the
    component's preprocess runs.)"""
    def model_validate(cls, obj, *args, **kwargs):
        obj = taken(obj)
        try:
            return super(checked, cls).model_validate(obj, *args, **kwargs)
        except pydantic.ValidationError:
            raise gr.Error(words, print_exception=False) from None

    checked = type(model.__name__, (model,), {"model_validate": classmethod(model_validate),
                                              "__module__": model.__module__, "__doc__": model.__doc__})
    return checked


ONE_FILE = said(FileData, "upload: send the image through gradio_client's handle_file(path), not a bare path (or "
                          "None when the digit's source is not an upload)")


class DigitFile(gr.File):
    """The upload: gr.File, a value that is not a file said in words. (No __init__ of its own: Gradio sends the
    browser the props named in the class's __init__ signature.)"""

    @property
    def data_model(self):
        return ONE_FILE

    @data_model.setter
    def data_model(self, value):  # gr.File's __init__ sets FileData (ListFiles for many files): this takes one
        pass

    def get_block_name(self) -> str:  # the browser side is gr.File's own
        return gr.File.__name__.lower()

    get_block_class = get_block_name


def file_as_drawing(obj):
    """A file where a drawing belongs (the API's handle_file(path), a dict with a path and no editor fields) is
    the drawing as seen, its composite: as a dict of its own it would pass as a drawing with nothing in it."""
    if isinstance(obj, dict) and "path" in obj and not {"background", "layers", "composite"} & obj.keys():
        return {"background": None, "layers": [], "composite": obj}
    return obj


class DigitSketchpad(gr.Sketchpad):
    """The drawing, of which the app reads only the composite (preprocess.sketch_image). Gradio would decode the
    background and every layer at full size before any check of ours: an API call of a few KB (PNGs of 10000 x
    10000 blank pixels) could fill the server's memory. Here only the composite is decoded, once its header
    says it fits the upload limits."""

    data_model = said(gr.ImageEditor.data_model, "sketch: send None (unless the digit's source is a drawing), or a "
                                                 "drawing as the app's editor sends it: a dict of background, layers "
                                                 "and composite, each image through handle_file(path); or the "
                                                 "drawing's picture alone, handle_file(path)", file_as_drawing)

    def get_block_name(self) -> str:  # the browser side is gr.Sketchpad's own, the image editor's
        return gr.ImageEditor.__name__.lower()

    get_block_class = get_block_name

    def preprocess(self, payload):
        if payload is None:
            return None
        cached = self.blob_storage.get(payload.id) if payload.id is not None else None
        if cached is None and payload.composite is None and (payload.background or payload.layers):
            raise gr.Error("sketch: the app reads the drawing as seen, its composite; send it as composite ("
                           "handle_file(path)), not the background or layers alone", print_exception=False)
        payload = payload.model_copy(update={"background": None, "layers": []})
        if cached is not None:  # the browser sends the images ahead, keyed by the value's id
            self.blob_storage[payload.id] = cached.model_copy(update={"background": None, "layers": []})
        composite = cached.composite if cached is not None else payload.composite and payload.composite.path
        if composite:
            try:
                peek_image(composite)
            except InputError as e:
                self.blob_storage.pop(payload.id, None)  # Gradio frees a drawing's bytes only in its own preprocess
                raise gr.Error(str(e), print_exception=False) from None
        return super().preprocess(payload)


def digit_input(tab: str):
    """Where the digit comes from: a radio and the three inputs it switches between."""
    # the example source is shown by its dataset's name; its value, the API's word, stays EXAMPLE
    source = Radio([(example_name(), EXAMPLE), (UPLOAD, UPLOAD), (DRAWING, DRAWING)], value=EXAMPLE,
                   label=source_label(), elem_id=f"{tab}-source")
    index = Slider(0, num_examples() - 1, value=0, step=1, label=index_label(), elem_id=f"{tab}-index",
                   info=f"the first of each {class_word()}: {first_of_each_class()}")
    upload = DigitFile(label=f"Upload a photo or scan of one {item_noun()} (up to {MAX_UPLOAD_BYTES >> 20} MB, "
                             f"{MIN_UPLOAD_SIDE} to {MAX_UPLOAD_SIDE} px on its longer side)",
                       file_types=["image"], visible=False, elem_id=f"{tab}-upload")
    sketch = DigitSketchpad(label=f"Draw {item_noun(article=True)}", type="numpy", image_mode="RGBA",
                            format="png", visible=False, canvas_size=(280, 280), layers=False, transforms=(),
                            brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                            elem_id=f"{tab}-sketch")
    pick_brush = PICK_BRUSH_JS.replace("SKETCH", f"#{tab}-sketch")
    source.change(user_errors(show_source, quiet=InputError), source, [index, upload, sketch],
                  api_name=f"show_source_{tab}",
                  api_visibility="private", show_progress="hidden", queue=False
                  ).then(None, js=pick_brush)
    # the canvas cleared asks for a tool again ("select the draw tool to start"): the brush is picked as at the start
    sketch.clear(None, js=pick_brush, queue=False, api_visibility="private")
    return source, index, upload, sketch


def show_source(source):
    # (the sketchpad is unmounted when hidden: kept in the page with visible="hidden", it fired change events of its
    # own as it hid, which ran tab 1's views again and said an upload's refusal twice)
    return gr.Slider(visible=source == EXAMPLE), gr.File(visible=source == UPLOAD), gr.Sketchpad(visible=source == DRAWING)


def user_errors(fn=None, *, quiet: type[InputError] | tuple[type[InputError], ...] | None = None, blank=None):
    """InputError -> gr.Error (shown in the UI and returned through the API); the server stays up.

    quiet: errors of this kind (or kinds) are not said here: MissingInput for events fired by the UI itself (a source
    switched, a drawing cleared: nothing to work on yet), EmptyBox for a live view's box being typed into, InputError for a view whose inputs another view of the
    same event already checks aloud. blank(message): the outputs to show for a DigitError (emptied pictures and
    what to do), so that no view goes on showing the digit before; for any other refusal (a seed, a t) the views
    stay as they were (gr.skip), each view alike. With blank, an error not quiet is a warning. A slider's value past
    its ends (OutOfRange), or a radio's or dropdown's outside its choices (NotAChoice), is refused as an InputError
    before fn runs."""
    if fn is None:
        return functools.partial(user_errors, quiet=quiet, blank=blank)

    def check(args):
        for a in args:
            if isinstance(a, OutOfRange):
                raise a.error(a.refusal)
            if isinstance(a, NotAChoice):
                raise InputError(a.refusal)

    def convert(e: InputError):
        if quiet is None or not isinstance(e, quiet):  # said here
            if blank is None:
                raise gr.Error(str(e), print_exception=False) from None  # the user's mistake: no traceback in the log
            gr.Warning(str(e))
        return blank(str(e)) if blank is not None and isinstance(e, DigitError) else gr.skip()

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args):
            try:
                check(args)
                yield from fn(*args)
            except InputError as e:
                yield convert(e)
        return stream

    @functools.wraps(fn)
    def call(*args):
        try:
            check(args)
            return fn(*args)
        except InputError as e:
            return convert(e)
    return call


# ---------------------------------------------------------------- events: each job as an API endpoint and a UI event

def api_and_ui(api, ui, fn, ins, outs, api_name: str, quiet: type[InputError] | tuple | None = None, blank=None,
               ui_fn=None, **kw):
    """fn on two sets of triggers: `api` as the endpoint `api_name`, where a bad input answers with its message as
    an error; `ui` as the undocumented `api_name`_ui, where user_errors' quiet and blank decide what it shows (and
    ui_fn, if given, runs in fn's place). Returns the UI's event (for another event to cancel)."""
    gr.on(api, user_errors(fn), ins, outs, api_name=api_name, **kw)
    return gr.on(ui, user_errors(ui_fn or fn, quiet=quiet, blank=blank), ins, outs, api_name=f"{api_name}_ui",
                 api_visibility="undocumented", **kw)


def seed_back_if_drawn(fn, at: int):
    """A seeded job's generator fn (inputs seed, new-random-seed toggle, ...) for the UI, where its output `at`, the
    seed it ran, goes back to the seed box only when the toggle drew it: a seed typed while a run goes stays in the
    box for the next run, not overwritten by the one that ran (the API's fn returns the seed used every time)."""
    @functools.wraps(fn)
    def ui(seed, randomise, *rest):
        for out in fn(seed, randomise, *rest):
            yield out if randomise or not isinstance(out, tuple) else (*out[:at], gr.skip(), *out[at + 1:])
    return ui


def live(digit, triggers, fn, ins, outs, api_name: str, echo: bool = False, blank=None, **kw):
    """Run fn as its inputs move. In the UI (`api_name`_ui) the digit's source, index, upload, drawing and `triggers`
    all run it; a digit not given yet is no error there (an upload not made: blank(message) empties the view and
    says what to do, with no toast, whichever input moved), a box emptied is being typed into (quiet: EmptyBox), and
    any other refusal is a warning. The API event
    `api_name` is a hidden button's, where every refusal is an error.

    echo: a view above already reports these inputs' errors (tab 1's loss view under the forward view), so in
    the UI this one stays quiet on all of them and each message shows once. Returns the UI's event (snap_back
    follows it)."""
    kw = dict(trigger_mode="always_last", show_progress="hidden", **kw)
    api, ui = [gr.Button(visible=False).click], [digit[0].change, digit[1].change, digit[2].change, digit[3].change,
                                                  *triggers]
    return api_and_ui(api, ui, fn, ins, outs, api_name, quiet=InputError if echo else (MissingInput, EmptyBox),
                      blank=blank, **kw)


def run_button(button: gr.Button, fn, ins, outs, api_name: str, show: str | None = None, ui_fn=None,
               queue_press: bool = True, **kw):
    """A long job on `button`: in the UI a refused setting is a warning and the last run's outputs stay as they were
    (a gr.Error would cover each of them with an error badge until the next run); the API event `api_name`, a hidden
    button's, answers the same refusal with its message as an error. show: the elem_id of the output to bring into
    view when the button is pressed, if it ends below the screen (on a phone or zoomed in, the columns stack and
    the output comes after every setting) or lies wholly above it (Generate's grid, which a phone shows first).
    ui_fn: run in fn's place in the UI (seed_back_if_drawn). queue_press: a press while the job runs queues one
    more run, with the settings as they are when it starts (Gradio's default drops it without a word); False for a
    job another event cancels, as Gradio's cancel leaves a queued press to run after it. Its Markdown outputs with
    an elem_id are its captions: a screen reader hears them when the run ends, if they changed (page.ANNOUNCE_JS).
    Returns the button's event (for another event to cancel)."""
    # in the browser alone (no round trip, no API), made before the run's event: Gradio runs a button's events in
    # the order they were made, each after the one before has ended (made after it, the scroll came at the run's end)
    if show:
        button.click(None, js=SHOW_OUTPUT_JS.replace("ELEM", show), queue=False, api_visibility="private")
    # read in the order they stand on the page, not the order fn returns them: Gradio numbers its blocks (_id) in
    # the order they are made, which is the page's order
    captions = [o.elem_id for o in sorted(outs, key=lambda o: o._id) if isinstance(o, gr.Markdown) and o.elem_id]
    ids = json.dumps(captions)  # as JavaScript reads it
    if captions:
        button.click(None, js=NOTE_CAPTIONS_JS.replace("IDS", ids), queue=False, api_visibility="private")
    event = api_and_ui([gr.Button(visible=False).click], [button.click], fn, ins, outs, api_name,
                       blank=lambda why: gr.skip(), ui_fn=ui_fn,
                       trigger_mode="always_last" if queue_press else "once", **kw)
    if captions:
        event.then(None, js=ANNOUNCE_JS.replace("IDS", ids), queue=False, api_visibility="private")
    return event


def progress_update(p: Progress, outputs: type[NamedTuple], text: str, picture: str | None = None, **also) -> tuple:
    """A long job's Progress as its event's outputs: p.text in the field `text`, p.picture (if any) in `picture`,
    `also`'s values in theirs, every other output left as it is."""
    shown = {text: p.text} | ({picture: p.picture} if picture and p.picture else {}) | also
    if unknown := set(shown) - set(outputs._fields):  # a typo would otherwise leave its output untouched
        raise ValueError(f"{outputs.__name__} has no output {sorted(unknown)}")
    return outputs(**{field: shown.get(field, gr.skip()) for field in outputs._fields})
