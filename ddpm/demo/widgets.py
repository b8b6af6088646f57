"""The app's own Gradio components: the output picture and line plot, a slider, radio and dropdown that refuse a
value outside their range or choices in the app's words, and the slider's snap back to its ends. The digit input is
in digit_input.py, the wiring of a job to its API endpoint and UI event in wiring.py."""
from __future__ import annotations

import math
import re

import gradio as gr
import pandas as pd

from ..data import class_by_name
from .limits import COUNTED_FROM, MAX_SEED, EmptyBox, InputError, shown
from .page import SNAP_BACK_JS



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


def loss_plot(losses) -> gr.LinePlot:
    """About's training loss against step (about.loss_history's curve, hidden before it has two points)."""
    return line_plot(losses.curve, x="step", y="loss", color="curve", color_title="", y_lim=[0, losses.y_max],
                     y_title="training loss, mean over pixels", visible=losses.curve is not None,
                     label="training loss against optimizer step (loss.csv; the axis is cut above the first fall)",
                     elem_id="about-loss")


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
        if payload is None:  # its box emptied, or 1e400 typed (Gradio's check raised a TypeError, shown raw)
            return OutOfRange(math.nan, f"{_value_name(self)} holds no number: give a number between {ends}", EmptyBox)
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


def snap_back(view, sliders: dict[str, gr.Slider | gr.Number], between_steps: tuple[str, ...] = ()) -> None:
    """In the browser alone: once the live `view` has run (and said why), a value it refused in one of `sliders`
    ({key: slider}) goes back to the number its box held before the typing, or to its last good one (SNAP_BACK_JS);
    a value typed since the view was sent its inputs (page.SENT_JS) stays, for the view's own run to refuse, and
    one in a box still being typed into (page.TYPING_JS) stays until Enter or the focus leaves. A gr.Number there
    is a seed box: a whole number from 0 to MAX_SEED. between_steps: keys whose slider takes any whole number
    typed, between its steps too (the frame slider steps from frame to frame; a t typed between two shows the
    nearer)."""
    for key, slider in sliders.items():
        lo, hi, step = ((slider.minimum, slider.maximum, 1 if key in between_steps else slider.step)
                        if isinstance(slider, gr.Slider) else (0, MAX_SEED, 1))
        js, at = SNAP_BACK_JS, view["inputs"].index(slider._id)  # its place in the view's inputs (ValueError: none)
        for name, value in (("$KEY", key), ("$LO", lo), ("$HI", hi), ("$STEP", step), ("$START", slider.value),
                            ("$FN", view["id"]), ("$POS", at)):
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
    return NotAChoice(payload, f"{_value_name(component)} must be one of {choices}, not {shown(payload)}{why}")


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
    """gr.Dropdown (one choice), but a value outside its choices is refused in the app's words, as Radio's. A class
    menu whose classes have names (`names`, set once it is made: Fashion-MNIST's) takes a class by its name too, as
    its number: the API's "Sneaker" is "7"."""

    names: tuple[str, ...] = ()  # (not an __init__ argument: Gradio sends the browser those as props)

    def get_block_name(self) -> str:  # the browser side is gr.Dropdown's own
        return gr.Dropdown.__name__.lower()

    get_block_class = get_block_name

    def preprocess(self, payload: str | int | float | list[str | int | float] | None
                   ) -> str | int | float | list[str | int | float] | list[int | None] | None:  # gr.Dropdown's
        if (index := class_by_name(payload, self.names)) is not None:
            payload = str(index)
        try:
            return super().preprocess(payload)
        except gr.Error:
            return _not_a_choice(self, payload)
