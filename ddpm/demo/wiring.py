"""Each job of the app wired to its API endpoint and its UI event: user_errors turns an InputError into the UI's
message or the API's error (the one place that does), live views run as their inputs move (skip_repeats: not again
on the same ones, nor on those of a source switched away from), a digit's change that stops the runs of the one
before (on_new_inputs), long jobs on a button, and a job's progress as its outputs."""
from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import json
import threading
from collections import OrderedDict
from typing import NamedTuple

import gradio as gr
import numpy as np

from .limits import DigitError, EmptyBox, InputError, MissingInput
from .page import ANNOUNCE_JS, DIGIT_BUSY_JS, DIGIT_DONE_JS, DIGIT_WAIT_JS, NOTE_CAPTIONS_JS, SHOW_OUTPUT_JS
from .progress import Progress
from .sources import Drawn, chosen_input
from .widgets import NotAChoice, OutOfRange


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


def fingerprint(value):
    """A comparable stand-in for an event's inputs: an array by its shape, dtype and a digest of its bytes (a
    drawing is 280 x 280 x 4), dicts, lists and tuples item by item, anything else by its type and repr."""
    if isinstance(value, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).digest()
        return "array", value.shape, value.dtype.str, digest
    if isinstance(value, dict):
        return "dict", tuple((repr(k), fingerprint(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value).__name__, tuple(fingerprint(v) for v in value)
    return type(value).__name__, repr(value)


SESSIONS_KEPT = 1000  # visitors' sessions whose last inputs skip_repeats keeps (the one heard from longest ago goes)


class PerSession:
    """Values kept for visitors' sessions (a key begins with Gradio's session hash), at most `per_session` keys a
    session for SESSIONS_KEPT sessions: the key heard from longest ago goes first. put() answers the value it
    replaced."""

    def __init__(self, per_session: int = 1):
        self.kept, self.lock, self.per_session = OrderedDict(), threading.Lock(), per_session

    def put(self, key: tuple, value):
        with self.lock:
            old = self.kept.get(key)
            self.kept[key] = value
            self.kept.move_to_end(key)
            while len(self.kept) > SESSIONS_KEPT * self.per_session:
                self.kept.popitem(last=False)
            return old

    def get(self, key):
        with self.lock:
            return self.kept.get(key)


SOURCES = PerSession(2)  # (session, the elem_id of a digit's source radio: tabs 1 and 4) -> the source last chosen
STARTED = PerSession(2)  # (session, on_new_inputs' started) -> the inputs a run of theirs last started on


def skip_repeats(fn, source: str | None = None, switches: str | None = None, started: str | None = None):
    """fn for a UI event that runs as its inputs change, run only when they differ from those it last ran on in
    this visitor's session (Gradio's session hash); a repeat answers gr.skip(), every output left as it is. On a
    page slow to draw (Chromium's CPU slowed 8x), Gradio's image editor, hidden with a drawing in it, fires its
    change event again with nothing changed, and each ran the digit's views anew: an upload's refusal was said up
    to seven times in ten seconds. source: the elem_id of the digit's source radio, whose value is fn's first
    input: an event that gives another source than the one the page last switched it to (switches, on the radio's
    own change, notes it) was built before the switch and is skipped too: on a slow page a drawing's change came
    seconds after the switch away from it, with the source still "drawing", and tab 4 put its run away for a
    drawing no longer chosen. Of the digit's four inputs, only the one the source reads counts (digit_seen).
    started: inputs a run noted under this key as it started on them (noting_start) are skipped too. The API's
    events do not go through it."""
    last = PerSession()

    def ui(request: gr.Request, *args):
        if (session := getattr(request, "session_hash", None)) is not None:
            if switches is not None:
                SOURCES.put((session, switches), args[0])
            elif source is not None and SOURCES.get((session, source)) not in (None, args[0]):
                return gr.skip()  # built before the switch
            if last.put((session,), seen := digit_seen(args) if source else fingerprint(args)) == seen:
                return gr.skip()
            if started is not None and STARTED.get((session, started)) == seen:
                return gr.skip()  # a run already started on these inputs is of them
        return fn(*args)
    ui.__name__, ui.__qualname__, ui.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__  # not wraps: Gradio reads
    return ui  # the signature for the request it passes, and would follow __wrapped__ to fn's


def digit_seen(args):
    """The fingerprint of an event's inputs that begin with the digit's four (source, index, upload, drawing): of
    those four, the source and the one it reads alone. A drawing read late, after the switch away from it, changes
    no digit; nor does one read again as it was (its number aside: the sketchpad, shown again, sends it anew)."""
    picked = chosen_input(*args[:4])
    return fingerprint((args[0], picked._replace(n=0) if isinstance(picked, Drawn) else picked, *args[4:]))


def ui_side(component):
    """What the page's events read in `component`'s place: the digit's drawing is read as its State (sources.Drawn,
    digit_input's read_in_ui), the API's events read the drawing itself."""
    return getattr(component, "read_in_ui", None) or component


def busy_key(components) -> str | None:
    """The key under which the page counts the digit's work going (page.DIGIT_BUSY_JS) for the digit among
    `components` (digit_input's busy_key, on its drawing), None if there is none."""
    return next((c.busy_key for c in components if getattr(c, "busy_key", None)), None)


def counts_in(component, key: str) -> None:
    """`component`'s change counts in the digit's work going in the page under `key` (page.DIGIT_BUSY_JS), once, in
    the page alone; on_new_inputs' move counts it out as it ends. Gradio's page sends a trigger's listeners one after
    another, each once the one before has ended (a view's run: a round trip or more), so this listener comes before
    any other on the digit's inputs (digit_input): counted in by the move itself, a number typed and a run pressed
    at once found nothing going, and the move, a second later, stopped the run. A change listener made before it
    is an error (tab 1's seed, counted in after its view's listener, was counted in a round trip late)."""
    if getattr(component, "counted_in", None) != key:
        if any((component._id, "change") in f.targets for f in gr.context.Context.root_block.fns.values()):
            raise ValueError(f"{component.elem_id or component}: counts_in(..., {key!r}) must come before any other "
                             "listener of its change: call it where the component is made")
        component.change(None, js=DIGIT_BUSY_JS.replace("KEY", key), queue=False, api_visibility="private")
        component.counted_in = key


def noting_start(fn, key: str):
    """A UI run, the generator fn, that notes in STARTED under `key` the inputs it starts on (all of its inputs,
    the digit's four first: those of on_new_inputs' `ins` whose moves it is not stopped by)."""
    def ui(request: gr.Request, *args):
        if (session := getattr(request, "session_hash", None)) is not None:
            STARTED.put((session, key), digit_seen(args))
        yield from fn(*args)
    ui.__name__, ui.__qualname__, ui.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__  # as skip_repeats'
    return ui


_MOVES = itertools.count(1)  # a new number for each move: a State's change event fires on a new value alone


def on_new_inputs(ins, fn, fn_ins, outs, cancels, started: str | None = None, **kw):
    """fn (fn_ins -> outs) run, and the events `cancels` cancelled, as the inputs `ins` (the digit's four first,
    its drawing read as its State: ui_side) move, but not on a repeat of those they last moved to in the visitor's
    session, nor on an event built before the source's last switch (skip_repeats). Gradio cancels with an event of
    its own beside the listener's, on every firing of its triggers, which no answer of fn's can hold back: a slow
    page's drawing, its change sent after the switch away from it, stopped a run just pressed. So the triggers
    only move a State, and the State's change runs fn, on the inputs as they are then, and cancels. The move is
    queued (the page hears of a State's change only through the queue), in a group of its own, one at a time in
    the order sent (ms each, never behind a model's run), each trigger's ("multiple": a queued view waits on the
    same triggers, and two that wait put each other aside for ever, as live's `after` says).
    started: the key under which the runs note the inputs they start on (noting_start); the move reaches the
    server round trips after the inputs moved, and a run pressed in between, on the new inputs, was stopped (a
    seed typed and Measure pressed at once: nothing measured). Moves to those inputs are skipped. The move and fn
    count themselves in the page's digit work going (page.DIGIT_BUSY_JS), which a run pressed waits out
    (run_button). Returns fn's event."""
    key = busy_key(ins)
    moved, ins = gr.State(0), [ui_side(c) for c in ins]
    fn_ins = [ui_side(c) for c in fn_ins] if isinstance(fn_ins, list) else ui_side(fn_ins)
    busy, done = DIGIT_BUSY_JS.replace("KEY", key), DIGIT_DONE_JS.replace("KEY", key)
    for c in ins:
        counts_in(c, key)  # (the digit's own four counted in first: digit_input)

    def moves(*values):
        return next(_MOVES)
    gr.on([c.change for c in ins], skip_repeats(moves, source=ins[0].elem_id, started=started), ins, moved,
          trigger_mode="multiple", concurrency_id="moves", concurrency_limit=1, api_visibility="private",
          show_progress="hidden").then(None, js=done, queue=False, api_visibility="private")
    event = moved.change(fn, fn_ins, outs, cancels=cancels, queue=False, api_visibility="private", js=busy,
                         show_progress="hidden", **kw)
    event.then(None, js=done, queue=False, api_visibility="private")
    return event


# ---------------------------------------------------------------- events: each job as an API endpoint and a UI event

def api_and_ui(api, ui, fn, ins, outs, api_name: str, quiet: type[InputError] | tuple | None = None, blank=None,
               ui_fn=None, **kw):
    """fn on two sets of triggers: `api` as the endpoint `api_name`, where a bad input answers with its message as
    an error; `ui` (triggers, or an event's `then`) as the undocumented `api_name`_ui, where user_errors' quiet and
    blank decide what it shows (and ui_fn, if given, runs in fn's place). Returns the UI's event (for another event
    to cancel)."""
    gr.on(api, user_errors(fn), ins, outs, api_name=api_name, **kw)
    listen = ui if callable(ui) else functools.partial(gr.on, ui)
    return listen(user_errors(ui_fn or fn, quiet=quiet, blank=blank), [ui_side(c) for c in ins], outs,
                  api_name=f"{api_name}_ui", api_visibility="undocumented", **kw)


def seed_back_if_drawn(fn, at: int):
    """A seeded job's generator fn (inputs seed, new-random-seed toggle, ...) for the UI, where its output `at`, the
    seed it ran, goes back to the seed box only when the toggle drew it: a seed typed while a run goes stays in the
    box for the next run, not overwritten by the one that ran (the API's fn returns the seed used every time)."""
    @functools.wraps(fn)
    def ui(seed, randomise, *rest):
        for out in fn(seed, randomise, *rest):
            yield out if randomise or not isinstance(out, tuple) else (*out[:at], gr.skip(), *out[at + 1:])
    return ui


def live(digit, triggers, fn, ins, outs, api_name: str, echo: bool = False, blank=None, after=None, **kw):
    """Run fn as its inputs move. In the UI (`api_name`_ui) the digit's source, index, upload, drawing and `triggers`
    all run it; a digit not given yet is no error there (an upload not made: blank(message) empties the view and
    says what to do, with no toast, whichever input moved), a box emptied is being typed into (quiet: EmptyBox), and
    any other refusal is a warning; inputs it last ran on, in the same visitor's session, run nothing
    (skip_repeats). The API event `api_name` is a hidden button's, where every refusal is an error.

    echo: a view above already reports these inputs' errors (tab 1's loss view under the forward view), so in
    the UI this one stays quiet on all of them and each message shows once. after: another view's UI event, after
    which this one runs in the UI (on the inputs as they are then), in place of its triggers: a trigger that two
    queued views wait on ("always_last") fired itself again and again in the page (the one not done yet is put
    aside, and when it is done Gradio fires the trigger again for both, while the other runs), with 50 to 100
    requests in the seconds after quick clicks. Returns the UI's event (snap_back follows it)."""
    kw = dict(trigger_mode="always_last", show_progress="hidden", **kw)
    api, ui = [gr.Button(visible=False).click], [*(ui_side(c).change for c in digit), *triggers]
    if after is not None:
        ui = after.then
    return api_and_ui(api, ui, fn, ins, outs, api_name, quiet=InputError if echo else (MissingInput, EmptyBox),
                      blank=blank, ui_fn=skip_repeats(fn, source=digit[0].elem_id), **kw)


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
    A job on the digit (its drawing among ins) waits, in the page, for the digit's work going (page.DIGIT_WAIT_JS).
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
    # a job on the digit waits for the digit's work going in the page (on_new_inputs), in a listener of its own
    # before the run's: in the run's own event (its js) each press waited and each then sent a run, as Gradio's
    # "once" drops a press only while a run it sent is going; presses that wait together now reach one run sent
    if key := busy_key(ins):
        button.click(None, js=DIGIT_WAIT_JS.replace("KEY", key), queue=False, api_visibility="private")
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
