"""Where tab 1's and tab 4's digit comes from: a source radio switching between an example of the dataset, an upload
and a drawing, with the upload and the drawing as Gradio components whose API values are checked, and said, before
Gradio decodes them; the drawing read once as it changes, into a State that the page's events read in its place."""
from __future__ import annotations

import itertools
import json
import threading

import gradio as gr
import pydantic
from gradio.components.base import server
from gradio.components.image_editor import EditorData, EditorDataBlobs
from gradio.data_classes import FileData

from ..preprocess import peek_image
from .limits import (KEPT_DRAWING_BYTES, KEPT_DRAWINGS, MAX_UPLOAD_BYTES, MAX_UPLOAD_SIDE, MIN_UPLOAD_SIDE, DigitError,
                     InputError)
from .page import COUNT_IN_JS, DIGIT_DONE_JS, PICK_BRUSH_JS
from .sources import (DRAWING, EXAMPLE, SOURCES, UPLOAD, Drawn, class_word, example_name, first_of_each_class,
                      index_label, item_noun, num_examples, read_drawing, source_label)
from .widgets import Radio, Slider
from .wiring import counts_in, skip_repeats, user_errors



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
    says it fits the upload limits, and only it is kept of what the browser sends ahead (accept_blobs)."""

    _blobs_lock = threading.Lock()  # the canvases' stores, written by requests on several threads
    read_in_ui: gr.State | None = None  # the drawing as the page's events read it (sources.Drawn; digit_input)
    busy_key: str | None = None  # the key its digit's work in the page counts under (page.DIGIT_BUSY_JS)

    data_model = said(gr.ImageEditor.data_model, "sketch: send None (unless the digit's source is a drawing), or a "
                                                 "drawing as the app's editor sends it: a dict of background, layers "
                                                 "and composite, each image through handle_file(path); or the "
                                                 "drawing's picture alone, handle_file(path)", file_as_drawing)

    def get_block_name(self) -> str:  # the browser side is gr.Sketchpad's own, the image editor's
        return gr.ImageEditor.__name__.lower()

    get_block_class = get_block_name

    @server
    def accept_blobs(self, data):
        """The browser sends a drawing's images ahead of its event, keyed by the drawing's id. Gradio kept each one
        (the background, a layer at whatever index a request named, the composite) until that event came, and
        strokes merged into a later event never come: its memory grew with every drawing, and one request naming
        layer 10,000,000 took 76 MB. Only the composite is kept here, for the newest KEPT_DRAWINGS drawings of at
        most KEPT_DRAWING_BYTES together."""
        if data.data.get("type") != "composite" or not data.files:
            return
        drawing, composite = str(data.data.get("id")), data.files[0][1]
        with self._blobs_lock:  # (preprocess, Gradio's too, pops from the store unlocked: a copy is walked here)
            kept = self.blob_storage
            kept.pop(drawing, None)  # sent again: now the newest
            kept[drawing] = EditorDataBlobs(background=None, layers=[], composite=composite)
            items = list(kept.items())  # the oldest first (a dict keeps the order of insertion)
            size, total = len(items), sum(len(b.composite or b"") for _, b in items)
            for key, blobs in items:  # one pass: the count and the bytes kept down as each goes
                if size <= KEPT_DRAWINGS and total <= KEPT_DRAWING_BYTES:
                    break
                kept.pop(key, None)
                size, total = size - 1, total - len(blobs.composite or b"")

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
    # the brush's size is its radius (Gradio stamps circles of it): 8 draws MNIST's stroke width on a digit half the
    # canvas high (a bigger one's is thickened: preprocess), and one a quarter as high is still read; 18 drew a
    # marker's 36 px, and a digit drawn small came out a blob (tests/test_sketch_brush.py)
    sketch = DigitSketchpad(label=f"Draw {item_noun(article=True)}", type="numpy", image_mode="RGBA",
                            format="png", visible=False, canvas_size=(280, 280), layers=False, transforms=(),
                            brush=gr.Brush(default_size=8, colors=["#000000"], color_mode="fixed"),
                            elem_id=f"{tab}-sketch")
    # the page's events read the drawing from a State, read once as it changes (wiring.ui_side; the API's events take
    # the drawing itself). Gradio's page reads a drawing by sending its images (3 requests), and it reads again every
    # input of a server's event that has ended, and every output of one, each time any later event's progress moves:
    # a drawing read by the server even once was sent 30 times for each move of tab 1's t (46 when each view read
    # it), and on a 400 ms link the views fell seconds behind. So no server's event has it as an input or an output:
    # the page hands the id its images were sent ahead under to a hidden box, and the server reads them into the State
    drawing_id = gr.Textbox(visible=False)
    sketch.read_in_ui, sketch.busy_key = gr.State(read_drawing(None)), source.elem_id
    for c in (source, index, upload, sketch.read_in_ui):
        counts_in(c, source.elem_id)  # before any other listener of their changes (wiring.counts_in)
    sketch.change(None, [sketch, drawing_id], drawing_id, js=DRAWING_ID_JS.replace("KEY", source.elem_id),
                  queue=False, api_visibility="private")  # a new id counts in the digit's work (wiring.run_button)
    # each new id read ("multiple": each was counted in, and is counted out as its read ends; ms each, in order)
    drawing_id.change(skip_repeats(reader(sketch)), drawing_id, sketch.read_in_ui, trigger_mode="multiple",
                      concurrency_id="moves", api_visibility="private", show_progress="hidden").then(
        None, js=DIGIT_DONE_JS.replace("KEY", source.elem_id), queue=False, api_visibility="private")
    pick_brush = PICK_BRUSH_JS.replace("SKETCH", f"#{tab}-sketch")
    source.change(None, source, [index, upload, sketch], js=SHOW_SOURCE_JS, queue=False,
                  api_visibility="private").then(None, js=pick_brush)
    # every switch noted, in order ("multiple": a second listener of the radio's change that waits, "always_last",
    # beside tab 1's forward view, had Gradio's page fire the change again and again: wiring.live's `after`)
    source.change(user_errors(skip_repeats(note_source, switches=source.elem_id), quiet=InputError), source, None,
                  api_name=f"show_source_{tab}", api_visibility="private", show_progress="hidden", queue=False,
                  trigger_mode="multiple")
    # the canvas cleared asks for a tool again ("select the draw tool to start"): the brush is picked as at the start
    sketch.clear(None, js=pick_brush, queue=False, api_visibility="private")
    return source, index, upload, sketch


_DRAWINGS = itertools.count(1)
# the id the drawing's images were sent ahead under (accept_blobs), a new one counted in the digit's work; the stroke
# noted is done with (page.STROKES_JS, SENT_JS) unless it ended after this send began: the editor sends it next, its
# own change a round trip or more later (a second stroke drawn as the first's change came, 40 ms link: the run pressed
# at once went on the first's read alone, and the second's change stopped it)
DRAWING_ID_JS = ("(sketch, last) => { const id = (sketch && sketch.id) || ''; if (id !== last) { " + COUNT_IN_JS +
                 " } const s = (window.__strokes = window.__strokes || {}); "
                 "if ((s['KEY'] || 0) <= ((window.__strokeSends || {})['KEY'] || 0)) s['KEY'] = 0; return id; }")


def reader(sketch: DigitSketchpad):
    """The read of `sketch`'s drawing by its id (DRAWING_ID_JS): sources.Drawn, numbered anew, as the State's change
    fires on a new value alone. The page sends a drawing's images ahead of its change event (accept_blobs), keyed by
    a new id; no id (a canvas cleared) or an id with no images is an empty drawing."""
    def read_drawn(drawing_id: str):
        try:
            value = sketch.preprocess(EditorData(id=drawing_id)) if drawing_id else None
        except gr.Error as e:  # a composite past the limits (its header read alone)
            return Drawn(next(_DRAWINGS), None, DigitError(e.message))
        return read_drawing(value, next(_DRAWINGS))
    return read_drawn


# the source's input shown, the others hidden, by the page alone: a server's event with the drawing as an output
# would have the page send its images as every later event's progress moves (above). (The sketchpad is unmounted
# when hidden: kept in the page with visible="hidden", it fired change events of its own as it hid, which ran tab
# 1's views again.)
SHOW_SOURCE_JS = f"(source) => {json.dumps(SOURCES)}.map(s => ({{__type__: 'update', visible: source === s}}))"


def note_source(source):
    """The server's side of a switch of the source: skip_repeats' `switches` notes it (the page shows the input)."""
    return None
