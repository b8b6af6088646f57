"""Where the user's digit comes from (ddpm.demo.sources): a bundled MNIST test digit, an upload or a drawing."""
from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from PIL import Image

from ddpm.demo import sources
from ddpm.demo.limits import DigitError, InputError, MissingInput
from ddpm.preprocess import preprocess
from demo_helpers import DIGIT


def test_pick_digit_from_each_source(tmp_path):
    assert np.array_equal(sources.pick_digit(sources.EXAMPLE, 0), DIGIT)
    p = tmp_path / "digit.png"
    Image.fromarray(255 - np.kron(DIGIT, np.ones((8, 8), np.uint8))).save(p)  # a dark-on-light "scan"
    up = sources.pick_digit(sources.UPLOAD, upload=str(p))
    assert np.corrcoef(up.ravel(), DIGIT.ravel())[0, 1] > 0.9
    sketch = {"composite": np.stack([255 - DIGIT] * 3, axis=-1)}
    assert sources.pick_digit(sources.DRAWING, sketch=sketch).max() == 255


def test_an_unusable_digit_empties_its_views_and_a_refused_setting_keeps_them(tmp_path):
    """pick_digit says DigitError for the digit itself (a blank upload, no drawing) and a plain InputError for a
    setting; user_errors then empties the views of a digit that cannot be used, and leaves every view as it was
    (gr.skip) for a refused seed or t, whichever view says it aloud (tab 1's forward view) or keeps quiet (its
    loss view below)."""
    import gradio as gr

    from ddpm.demo.wiring import user_errors

    blank_png = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank_png)
    errors = {}
    for name, call in [("blank", lambda: sources.pick_digit(sources.UPLOAD, upload=str(blank_png))),
                       ("none", lambda: sources.pick_digit(sources.DRAWING, sketch=None)),
                       ("index", lambda: sources.pick_digit(sources.EXAMPLE, 10**6))]:
        with pytest.raises(InputError) as e:
            call()
        errors[name] = e.value
    assert isinstance(errors["blank"], DigitError) and isinstance(errors["none"], MissingInput)
    assert not isinstance(errors["index"], DigitError)
    seed = InputError("seed must be between 0 and 9")

    def view(e, **kw):
        def fails():
            raise e
        return user_errors(fails, blank=lambda why: ("emptied", why), **kw)()

    # the forward view's digit events: nothing to work on yet is quiet, any other refusal a warning
    assert view(errors["none"], quiet=MissingInput)[0] == "emptied"
    with pytest.warns(UserWarning, match="No digit found"):
        assert view(errors["blank"], quiet=MissingInput)[0] == "emptied"
    with pytest.warns(UserWarning, match="seed must be"):
        assert isinstance(view(seed, quiet=MissingInput), type(gr.skip()))
    # the loss view under it, quiet on every refusal (the view above says it), does the same to its pictures
    assert view(errors["blank"], quiet=InputError)[0] == "emptied" == view(errors["none"], quiet=InputError)[0]
    assert isinstance(view(seed, quiet=InputError), type(gr.skip()))
    with pytest.raises(gr.Error, match="seed must be"):  # the forward view's own events: said aloud, kept
        user_errors(lambda: (_ for _ in ()).throw(seed))()


def test_an_emptied_box_is_quiet_in_a_live_view_and_an_error_through_the_api():
    """A live view's box emptied (a slider's number box, a seed box) is being typed into: its UI event waits
    quietly (a toast for each Backspace to the empty box was said before the number typed), the API still says it."""
    import math

    import gradio as gr
    from ddpm.demo.limits import EmptyBox, check_int
    from ddpm.demo.widgets import Slider
    from ddpm.demo.wiring import user_errors

    t = Slider(0, 100, value=5, step=1, label="t").preprocess(None)  # the slider's box emptied
    assert math.isnan(t) and t.error is EmptyBox
    with pytest.raises(EmptyBox, match="^seed holds no number"):  # the seed box emptied
        check_int("seed", None, 0, 9)

    def view(seed, t):
        return check_int("seed", seed, 0, 9) + t

    live_quiet = (MissingInput, EmptyBox)  # as wiring.live has it
    for args in [(None, 1), (1, t)]:
        assert isinstance(user_errors(view, quiet=live_quiet, blank=lambda why: "emptied")(*args), type(gr.skip()))
        with pytest.raises(gr.Error, match="holds no number"):  # the API's event
            user_errors(view)(*args)
    with pytest.warns(UserWarning, match="must be between"):  # another refusal is still said
        user_errors(view, quiet=live_quiet, blank=lambda why: "emptied")(10, 1)


def test_an_upload_is_preprocessed_once_until_the_file_changes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "preprocess", lambda src, **kw: calls.append(src) or preprocess(src, **kw))
    p = tmp_path / "digit.bmp"  # uncompressed: written again with another digit, the size stays the same
    Image.fromarray(np.kron(DIGIT, np.ones((4, 4), np.uint8))).save(p)
    first = sources.pick_digit(sources.UPLOAD, upload=str(p))
    first[:] = 0  # the caller's copy: the cache keeps its own
    again = sources.pick_digit(sources.UPLOAD, upload=p)
    assert len(calls) == 1 and again.max() == 255
    size = p.stat().st_size
    Image.fromarray(np.kron(DIGIT[::-1], np.ones((4, 4), np.uint8))).save(p)  # written again: read again
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert p.stat().st_size == size  # known by its time alone
    assert len(calls) == 1 and not np.array_equal(sources.pick_digit(sources.UPLOAD, upload=str(p)), again)
    assert len(calls) == 2
    with pytest.raises(InputError, match="No such file"):  # a path of the caller's own, not Gradio's
        sources.pick_digit(sources.UPLOAD, upload=str(tmp_path / "gone.png"))


def test_an_expired_upload_asks_for_it_again_and_one_in_use_is_kept(tmp_path, monkeypatch):
    """Gradio's delete_cache removes an upload an hour old while the page still holds its name: the views say to
    upload it again (not "No such file: <hash>.png"). An upload in Gradio's cache has its ctime, by which
    delete_cache ages it, set to now each time it is read (its mtime, the preprocessed cache's key, kept); a file
    elsewhere is not touched."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    up, other = tmp_path / "gradio" / "ab12" / "digit.png", tmp_path / "elsewhere.png"
    up.parent.mkdir(parents=True)
    for p in (up, other):
        Image.fromarray(np.kron(DIGIT, np.ones((4, 4), np.uint8))).save(p)
    before = {p: p.stat() for p in (up, other)}
    time.sleep(0.05)
    for p in (up, other):
        sources.pick_digit(sources.UPLOAD, upload=str(p))
    assert up.stat().st_mtime_ns == before[up].st_mtime_ns
    if os.name != "nt":  # (Windows' ctime is the file's creation)
        assert up.stat().st_ctime_ns > before[up].st_ctime_ns
        assert other.stat().st_ctime_ns == before[other].st_ctime_ns
    up.unlink()  # delete_cache's sweep
    with pytest.raises(DigitError, match=r"^That picture is no longer on the server \(an upload is kept for about an "
                                         r"hour\): upload it again, or pick another source\.$"):
        sources.pick_digit(sources.UPLOAD, upload=str(up))
    if os.name != "nt":  # a temp folder reached through a link (macOS: /var is /private/var) is Gradio's all the same
        (tmp_path / "link").symlink_to(tmp_path / "gradio")
        monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "link"))
        other.replace(up)
        ctime = up.stat().st_ctime_ns
        time.sleep(0.05)
        sources.pick_digit(sources.UPLOAD, upload=str(up))
        assert up.stat().st_ctime_ns > ctime
    assert [sources.kept_for(s) for s in (1800, 3600, 5400, 86_400)] == ["30 minutes", "an hour", "1.5 hours",
                                                                          "24 hours"]


def test_pick_digit_errors():
    with pytest.raises(MissingInput, match="No image uploaded"):
        sources.pick_digit(sources.UPLOAD, upload=None)
    with pytest.raises(MissingInput, match="empty"):
        sources.pick_digit(sources.DRAWING, sketch=None)
    with pytest.raises(InputError, match="between 0 and"):
        sources.pick_digit(sources.EXAMPLE, 10_000)
    with pytest.raises(InputError, match=f"between 0 and {sources.num_examples() - 1}, not"):  # one past the last
        sources.pick_digit(sources.EXAMPLE, sources.num_examples())
    with pytest.raises(InputError, match="^Digit from must be one of .MNIST test digit., .upload., .drawing., not .webcam.$"):
        sources.pick_digit("webcam")


def test_the_index_sliders_help_gives_where_each_digit_first_comes():
    _, labels = sources.examples()
    help_ = sources.first_of_each_class()
    for part in help_.split(", "):
        digit, index = part.split(": #")
        assert labels[int(index)] == int(digit) and int(digit) not in labels[:int(index)]
    assert help_.startswith("0: #") and len(help_.split(", ")) == 10


def test_a_refused_drawing_is_not_decoded_and_its_bytes_are_freed(monkeypatch):
    """The app's sketchpad checks the composite's header before Gradio decodes it, and a refused drawing's bytes
    (sent ahead by the browser, keyed by the value's id) leave blob_storage as an accepted one's do."""
    import gradio as gr
    from gradio.components.image_editor import EditorData, EditorDataBlobs

    from ddpm.demo.digit_input import DigitSketchpad

    def png(width):
        buf = io.BytesIO()
        Image.new("L", (width, 8)).save(buf, format="PNG")
        return buf.getvalue()

    sketch = DigitSketchpad(type="numpy", image_mode="RGBA", format="png")
    sketch.blob_storage["big"] = EditorDataBlobs(background=png(8), layers=[png(8)], composite=png(4097))
    decoded = []
    monkeypatch.setattr(gr.Sketchpad, "preprocess", lambda self, payload: decoded.append(payload))
    with pytest.raises(gr.Error, match="too large .*at most 4096 pixels a side"):
        sketch.preprocess(EditorData(id="big"))
    assert "big" not in sketch.blob_storage and not decoded
    monkeypatch.undo()
    sketch.blob_storage["ok"] = EditorDataBlobs(background=png(8), layers=[png(8)], composite=png(28))
    value = sketch.preprocess(EditorData(id="ok"))
    assert "ok" not in sketch.blob_storage and value["composite"].shape[:2] == (8, 28)
    assert value["background"] is None and value["layers"] == []  # only the composite is decoded


def test_the_drawings_sent_ahead_keep_their_composites_alone_and_the_newest(monkeypatch):
    """accept_blobs (what the browser sends before a drawing's event): a background or a layer is not kept (a
    request naming layer 10,000,000 took 76 MB of Gradio's), a composite is, and then its event reads it; past
    KEPT_DRAWINGS drawings, or KEPT_DRAWING_BYTES together, the oldest go."""
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import DataWithFiles

    from ddpm.demo import digit_input

    def send(sketch, drawing, kind, data, index="null"):  # as gradio's /component_server route passes it
        sketch.accept_blobs(DataWithFiles(data={"type": kind, "index": index, "id": drawing}, files=[("blob", data)]))

    buf = io.BytesIO()
    Image.new("L", (28, 28), 255).save(buf, format="PNG")
    sketch = digit_input.DigitSketchpad(type="numpy", image_mode="RGBA", format="png")
    send(sketch, "a", "layer", b"x", index="10000000")
    send(sketch, "a", "background", buf.getvalue())
    assert sketch.blob_storage == {}
    send(sketch, "a", "composite", buf.getvalue())
    assert sketch.preprocess(EditorData(id="a"))["composite"].shape[:2] == (28, 28) and sketch.blob_storage == {}
    monkeypatch.setattr(digit_input, "KEPT_DRAWINGS", 3)
    for drawing in "bcde":
        send(sketch, drawing, "composite", b"12345")
    assert list(sketch.blob_storage) == ["c", "d", "e"]
    send(sketch, "c", "composite", b"12345")  # sent again: the newest
    monkeypatch.setattr(digit_input, "KEPT_DRAWING_BYTES", 12)
    send(sketch, "f", "composite", b"1234")
    assert list(sketch.blob_storage) == ["c", "f"]


def test_drawings_sent_ahead_while_another_thread_reads_one_are_all_taken():
    """Gradio's preprocess pops a drawing read from the store on another worker thread, unlocked: walking the store
    itself while it changed raised "dictionary changed size during iteration" (a drawing lost, about 1 in 15)."""
    import sys
    import threading

    from gradio.components.image_editor import EditorDataBlobs
    from gradio.data_classes import DataWithFiles

    from ddpm.demo.digit_input import DigitSketchpad

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often: the race shows in a few thousand calls
    sketch, errors, done = DigitSketchpad(type="numpy", image_mode="RGBA", format="png"), [], threading.Event()
    sketch.blob_storage.update({f"k{i}": EditorDataBlobs(background=None, layers=[], composite=b"x")
                                for i in range(250)})

    def reads():  # preprocess's pop of a drawing read, and another drawing arriving
        i = 0
        while not done.is_set():
            sketch.blob_storage.pop(f"p{i}", None)
            sketch.blob_storage[f"p{i + 1}"] = EditorDataBlobs(background=None, layers=[], composite=b"y")
            i += 1

    other = threading.Thread(target=reads)
    other.start()
    try:
        for n in range(5000):
            try:
                sketch.accept_blobs(DataWithFiles(data={"type": "composite", "index": None, "id": f"d{n}"},
                                                  files=[("blob", b"z")]))
            except RuntimeError as e:
                errors.append(str(e))
    finally:
        done.set()
        other.join()
        sys.setswitchinterval(switch)
    assert errors == []


def test_the_upload_is_gr_files_own_in_the_browser_and_says_a_bad_api_value_in_words():
    """DigitFile keeps every prop gr.File sends the browser (an __init__ of its own once sent none: no label, no
    elem_id, and the upload box never showed), and a value that is not a file is refused in the app's words."""
    import gradio as gr

    from ddpm.demo.digit_input import DigitFile

    kw = dict(label="Upload", elem_id="forward-upload", file_types=["image"], visible=False)
    assert DigitFile(**kw).get_config() | {"name": "file"} == gr.File(**kw).get_config() | {"name": "file"}
    with pytest.raises(gr.Error, match=r"handle_file\(path\), not a bare path"):
        DigitFile(**kw).data_model.model_validate({"path": "/tmp/x.png"}, context={"validate_meta": True})


def test_a_fashion_mnist_model_gets_its_own_test_images_names_and_fit():
    """sources.use("fashion-mnist") (load_runtime does it for such a model): the examples are its bundled test
    images, shown and refused by its dataset's name, indexed by class name, and an upload is fitted as its images
    were made; the radio's value, the API's word, stays EXAMPLE."""
    from ddpm.data import load_sample

    sources.use("fashion-mnist")
    fashion, labels = load_sample("fashion-mnist")
    assert np.array_equal(sources.pick_digit(sources.EXAMPLE, 5), fashion[5])
    assert sources.example_name() == "Fashion-MNIST test image" and sources.class_word() == "class"
    assert sources.first_of_each_class().startswith(f"T-shirt/top: #{int(np.argmax(labels == 0))}, Trouser: #")
    with pytest.raises(InputError, match=r"^Fashion-MNIST test image # must be between 0 and 299"):
        sources.pick_digit(sources.EXAMPLE, 300)
    with pytest.raises(InputError, match=r"^the other image x'_0: Fashion-MNIST test image # must be"):
        sources.example_digit(300, other=True)
    with pytest.raises(InputError, match=r"^Image from must be one of"):  # named as its radio is, for garments
        sources.pick_digit("webcam")
    wide = np.full((40, 120), 255, np.uint8)
    wide[10:30, :] = 0  # a dark band three times as wide as tall on white
    assert np.nonzero(sources.upload_digit(Image.fromarray(wide)).max(axis=0))[0].tolist() == list(range(28))
    # a missing, blank or empty picture is asked for as an item, as the upload's and the sketchpad's labels say
    for args, says in ((("upload", 0, None), "upload a picture of an item,"), (("upload", 0, np.zeros((40, 40))),
                       "No item found: nothing"), (("drawing", 0, None, None), "draw an item on the sketchpad"),
                      (("upload", 0, np.full((5, 5), 255, np.uint8)), r"too small \(5x5\) to hold an item: at least")):
        with pytest.raises(InputError, match=says):
            sources.pick_digit(*args)
    sources.use("mnist")
    assert sources.example_name() == "MNIST test digit" and sources.index_label() == "MNIST test digit #"
    assert sources.source_label() == "Digit from"
    assert sources.index_label(other=True) == "the other digit x'_0: MNIST test digit #"
    assert np.array_equal(sources.pick_digit(sources.EXAMPLE, 5), load_sample()[0][5])


def test_a_file_seen_under_one_dataset_is_fitted_again_under_another(tmp_path):
    """upload_digit caches a file's preprocessing by path, size and time: use() empties the cache, or a file fitted
    as an MNIST digit would stay so for a Fashion-MNIST model loaded after (the cache key has no dataset)."""
    wide = np.full((40, 120), 255, np.uint8)
    wide[10:30, :] = 0
    Image.fromarray(wide).save(tmp_path / "band.png")
    mnist = sources.upload_digit(tmp_path / "band.png")
    sources.use("fashion-mnist")
    fashion = sources.upload_digit(tmp_path / "band.png")
    assert np.array_equal(fashion, preprocess(tmp_path / "band.png", dataset="fashion-mnist"))
    assert not np.array_equal(fashion, mnist)
