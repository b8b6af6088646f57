"""The drawing as the page's events read it (sources.Drawn, digit_input.reader): read once as it changes, by the id
its images were sent ahead under, into a State, so that no later event of the page sends its images again."""
from __future__ import annotations

import io

import numpy as np
import pytest
from gradio.data_classes import DataWithFiles
from PIL import Image

from ddpm.demo import sources
from ddpm.demo.digit_input import DigitSketchpad, reader
from ddpm.demo.limits import DigitError, MissingInput
from ddpm.preprocess import preprocess_sketch
from demo_helpers import DIGIT


def test_a_drawing_read_once_gives_the_digit_and_the_refusal_the_drawing_itself_gives():
    """The page's events read the drawing from a State (sources.Drawn), read once as it changes: the same digit as
    the drawing itself gives the API, the same refusal (raised anew each time, its traceback not growing)."""
    sketch = {"composite": np.stack([255 - DIGIT] * 3, axis=-1)}
    drawn = sources.read_drawing(sketch, 7)
    assert drawn.n == 7 and drawn.refusal is None
    assert np.array_equal(sources.pick_digit(sources.DRAWING, sketch=drawn), sources.pick_digit(sources.DRAWING,
                                                                                                 sketch=sketch))
    sources.pick_digit(sources.DRAWING, sketch=drawn)[:] = 0  # a copy: the State's digit stays
    assert drawn.digit.max() == 255
    empty = sources.read_drawing(None)
    assert empty.digit is None and isinstance(empty.refusal, MissingInput)
    raised = []
    for _ in range(2):
        with pytest.raises(MissingInput, match="empty") as e:
            sources.pick_digit(sources.DRAWING, sketch=empty)
        raised.append(e.value)
    assert raised[0] is not raised[1] and empty.refusal.__traceback__ is None
    assert np.array_equal(sources.pick_digit(sources.EXAMPLE, 0, None, empty), DIGIT)  # read only when chosen
    assert sources.chosen_input(sources.UPLOAD, 3, "a.png", drawn) == "a.png"
    assert sources.chosen_input("webcam", 3, "a.png", drawn) == (3, "a.png", drawn)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_the_page_reads_a_drawing_by_the_id_its_images_were_sent_under():
    """The page sends a drawing's composite ahead (accept_blobs) and hands its id, not the drawing, to the server's
    read: the digit is the one the drawing itself gives; an id with nothing sent under it, or none (a canvas
    cleared), is an empty drawing; a composite past the limits is refused in words, its header read alone."""
    ink = np.kron(DIGIT, np.ones((10, 10), np.uint8))  # black ink on a clear canvas, as the sketchpad draws
    canvas = Image.fromarray(np.dstack([np.zeros((280, 280, 3), np.uint8), ink]), "RGBA")
    sketch = DigitSketchpad(type="numpy", image_mode="RGBA", format="png")
    read = reader(sketch)

    def send(drawing, picture):  # as gradio's /component_server route passes it
        sketch.accept_blobs(DataWithFiles(data={"type": "composite", "index": "null", "id": drawing},
                                          files=[("blob", png(picture))]))

    send("a", canvas)
    drawn = read("a")
    assert drawn.refusal is None and np.array_equal(drawn.digit, preprocess_sketch({"composite": np.asarray(canvas)}))
    assert np.corrcoef(drawn.digit.ravel(), DIGIT.ravel())[0, 1] > 0.9
    numbers = [drawn.n]
    for drawing in ("", "never-sent"):
        empty = read(drawing)
        assert empty.digit is None and isinstance(empty.refusal, MissingInput), drawing
        numbers.append(empty.n)
    send("big", Image.new("L", (4097, 8)))
    refused = read("big")
    assert isinstance(refused.refusal, DigitError) and "too large" in str(refused.refusal)
    assert numbers + [refused.n] == sorted(set(numbers + [refused.n]))  # each read a new number: the State changes
    with pytest.raises(DigitError, match="too large"):
        sources.pick_digit(sources.DRAWING, sketch=refused)
    assert sketch.blob_storage == {}  # each read frees what was sent
