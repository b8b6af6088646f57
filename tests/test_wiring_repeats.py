"""A UI event that runs as its inputs change answers a repeat of the inputs it last ran on, in one visitor's
session, with gr.skip() (wiring.skip_repeats): a slow page fires the digit's change events again with nothing
changed, and each answer set off the next (CI's browser said an upload's refusal five times)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from gradio.helpers import special_args

from ddpm.demo import wiring
from ddpm.demo.limits import DigitError, InputError
from ddpm.demo.sources import DRAWING, EXAMPLE, read_drawing
from ddpm.demo.wiring import fingerprint, skip_repeats, user_errors

SKIP = type(gr.skip())


def test_a_fingerprint_tells_arrays_apart_by_every_byte():
    drawing = np.zeros((280, 280, 4), np.uint8)
    dotted = drawing.copy()
    dotted[140, 140, 3] = 255  # one pixel: numpy's repr of both arrays is the same ("...")
    assert repr(drawing) == repr(dotted) and fingerprint(drawing) != fingerprint(dotted)
    assert fingerprint(drawing) == fingerprint(drawing.copy())
    assert fingerprint(drawing) != fingerprint(drawing.astype(np.float32))  # same values, another dtype
    sketch = {"background": None, "layers": [], "composite": drawing}
    assert fingerprint(("drawing", 0, None, sketch, 70)) == fingerprint(("drawing", 0, None, dict(sketch), 70))
    assert fingerprint(("drawing", 0, None, sketch, 70)) != fingerprint(("drawing", 0, None, sketch, 71))
    assert fingerprint((1, "a")) != fingerprint((1.0, "a")) != fingerprint(("1", "a"))


def test_a_repeat_in_one_session_is_skipped_and_any_change_runs():
    runs = []

    def view(source, t):
        runs.append((source, t))
        return f"{source} at t = {t}"

    ui = skip_repeats(view)
    a, b = gr.Request(session_hash="a"), gr.Request(session_hash="b")
    assert ui(a, "upload", 70) == "upload at t = 70"
    assert isinstance(ui(a, "upload", 70), SKIP)  # the same inputs again: nothing sent
    assert ui(b, "upload", 70) == "upload at t = 70"  # another visitor's page is not the first's
    assert ui(a, "upload", 71) == "upload at t = 71" and ui(a, "upload", 70) == "upload at t = 70"  # back and forth
    assert ui(None, "upload", 70) == ui(None, "upload", 70)  # no session (called as a function): always runs
    assert runs == [("upload", 70)] * 2 + [("upload", 71)] + [("upload", 70)] * 3


def test_a_refusal_is_said_once_for_the_same_inputs_and_again_for_new_ones():
    """The CI failure: the forward view's warning toast for a bad upload, repeated as the page fired again."""
    said = []

    def view(source, upload):
        raise DigitError(f"That file is not an image ({upload}).")

    ui = user_errors(skip_repeats(view), quiet=(), blank=lambda why: (None, why))
    request = gr.Request(session_hash="a")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(gr, "Warning", said.append)
        assert ui(request, "upload", "digit.png") == (None, "That file is not an image (digit.png).")
        assert isinstance(ui(request, "upload", "digit.png"), SKIP)
        ui(request, "upload", "other.png")
    assert said == ["That file is not an image (digit.png).", "That file is not an image (other.png)."]


def test_the_sessions_kept_are_bounded_the_one_heard_from_longest_ago_goes(monkeypatch):
    monkeypatch.setattr(wiring, "SESSIONS_KEPT", 2)
    runs = []
    ui = skip_repeats(lambda x: runs.append(x))
    for session in ("a", "b", "a", "c"):  # "a" heard from again after "b": "b" goes when "c" comes
        ui(gr.Request(session_hash=session), 1)
    ui(gr.Request(session_hash="a"), 1)
    ui(gr.Request(session_hash="b"), 1)
    assert len(runs) == 4  # a, b, c and b again; a's repeats skipped


def test_gradio_passes_the_request_through_user_errors():
    """Gradio finds the request's place in the signature; functools.wraps would have sent it to fn's (no request)."""
    def view(source, t):
        return source, t

    for fn in (skip_repeats(view), user_errors(skip_repeats(view), quiet=InputError)):
        request = gr.Request(session_hash="a")
        inputs, *_ = special_args(fn, ["upload", 70], request)
        assert inputs[0] is request and inputs[1:] == ["upload", 70]
    assert skip_repeats(view).__name__ == "view"  # as the app's tests find its handlers


def test_an_event_built_before_the_source_was_switched_is_skipped():
    """A drawing's change is sent after its upload: on a slow page, seconds after the switch to MNIST, with the
    source still "drawing". What the source radio last switched to, in that session, decides."""
    runs = []

    def view(source, index):
        runs.append((source, index))
        return source

    switch = skip_repeats(lambda source: source, switches="tab-source")
    ui = skip_repeats(view, source="tab-source")
    a, b = gr.Request(session_hash="a"), gr.Request(session_hash="b")
    assert ui(a, "drawing", 0) == "drawing"  # nothing switched yet (the page as it loads): runs
    switch(a, "MNIST")
    assert isinstance(ui(a, "drawing", 1), SKIP)  # built before the switch
    assert ui(a, "MNIST", 1) == "MNIST"
    assert ui(b, "drawing", 1) == "drawing"  # another visitor's switch is not this one's
    assert ui(None, "drawing", 1) == "drawing"  # no session (the API): runs
    switch(a, "drawing")
    assert ui(a, "drawing", 1) == "drawing"
    other = skip_repeats(view, source="other-source")  # another tab's radio
    assert other(a, "upload", 1) == "upload"
    assert runs == [("drawing", 0), ("MNIST", 1), ("drawing", 1), ("drawing", 1), ("drawing", 1), ("upload", 1)]


def test_a_drawing_read_while_another_source_is_chosen_moves_nothing():
    """Of the digit's inputs, a view's repeat check reads the source and the one it picks: the drawing's State, read
    late (after the switch away from it), or changed behind a hidden canvas, is no new input to a view of an MNIST
    digit, and stops no run of it (tab 4's digit change cancels its runs); a drawing read again as it was (the
    sketchpad, shown again, sends it anew, under a new number) is no new input either."""
    runs = []
    ui = skip_repeats(lambda *args: runs.append(args), source="tab-source")
    a = gr.Request(session_hash="drawn")  # a session no switch of the radio's has been noted in
    ink = np.dstack([np.zeros((28, 28, 3), np.uint8), np.kron(np.eye(4, dtype=np.uint8) * 255,
                                                              np.ones((7, 7), np.uint8))])  # a diagonal stroke
    first, later = read_drawing(None, 1), read_drawing({"composite": ink}, 2)  # none, then a stroke
    ui(a, EXAMPLE, 0, None, first, 70)
    assert isinstance(ui(a, EXAMPLE, 0, None, later, 70), SKIP)  # the drawing is not what MNIST reads
    ui(a, EXAMPLE, 1, None, later, 70)
    ui(a, DRAWING, 1, None, later, 70)
    assert isinstance(ui(a, DRAWING, 2, None, later, 70), SKIP)  # nor is the index what a drawing reads
    ui(a, DRAWING, 2, None, first, 70)
    assert isinstance(ui(a, DRAWING, 2, None, first._replace(n=3), 70), SKIP)  # read again as it was: no new digit
    assert [r[:2] for r in runs] == [(EXAMPLE, 0), (EXAMPLE, 1), (DRAWING, 1), (DRAWING, 2)]
