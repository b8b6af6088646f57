"""Where the user's digit comes from (tabs 1 and 4): a real MNIST test digit, an upload or a drawing. A model of
another dataset (use()) gets that dataset's bundled test images, and uploads fitted as its images were."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data import CLASS_NAMES, dataset_name, load_sample, noun
from ..preprocess import preprocess, preprocess_sketch
from .intro import said
from .limits import DigitError, InputError, MissingInput, check_choice, check_int
from .outputs import CACHE_AGE_S, gradio_cache

# the radio's values (the API's words, whatever the dataset); example_name() is what the page shows for EXAMPLE
EXAMPLE, UPLOAD, DRAWING = "MNIST test digit", "upload", "drawing"
SOURCES = (EXAMPLE, UPLOAD, DRAWING)
# an upload Gradio's delete_cache removed (app.py): the page still holds its name, and "No such file" said nothing
GONE = ("That picture is no longer on the server (an upload is kept for about {}): upload it again, or pick another "
        "source.")
_DATASET = ["mnist"]  # the loaded model's dataset (use()): its examples and its preprocessing


def use(dataset: str) -> None:
    """Take the examples and the preprocessing of `dataset` (runtime.load_runtime does, for the app's model)."""
    _DATASET[0] = dataset
    examples.cache_clear()
    _preprocessed_file.cache_clear()


def item_noun(article: bool = False) -> str:
    """What an upload or a drawing of the loaded model's dataset holds: 'digit', or 'item' ('a digit', 'an item')."""
    return noun(_DATASET[0], "item", article)


def example_name() -> str:
    """The example source as the page shows it: 'MNIST test digit' (EXAMPLE), 'Fashion-MNIST test image'."""
    return f"{dataset_name(_DATASET[0])} test {noun(_DATASET[0])}"


def index_label(other: bool = False) -> str:
    """The index slider's label ('MNIST test digit #', and so a refusal's name for its value); with `other`, tab 4's
    second one, of the digit to interpolate to."""
    label = f"{example_name()} #"
    return f"the other {noun(_DATASET[0])} x'_0: {label}" if other else label


def source_label() -> str:
    """The source radio's label, and so a refusal's name for its value: 'Digit from', or 'Image from'."""
    return f"{noun(_DATASET[0]).capitalize()} from"


def preprocessed_as() -> str:
    return f"preprocessed as {dataset_name(_DATASET[0])}"


def worded(text: str) -> str:
    """`text`, written for MNIST, in the loaded model's words: 'image' for 'digit' for another dataset (intro.said)."""
    return said(text, _DATASET[0])


@lru_cache(maxsize=1)
def examples() -> tuple[np.ndarray, np.ndarray]:
    """The bundled real test images of the model's dataset (MNIST's digits): uint8 (N, 28, 28) and labels (N,)."""
    return load_sample(_DATASET[0])


def num_examples() -> int:
    return len(examples()[0])


def class_word() -> str:
    """What a class of the examples is: 'digit' (MNIST) or 'class'."""
    return noun(_DATASET[0], "class")


def first_of_each_class() -> str:
    """Where each class first comes among the bundled examples, for the index slider's help: '0: #3, 1: #2, ...'
    (by name for a dataset whose classes have names: 'T-shirt/top: #19, ...')."""
    _, labels = examples()
    names = CLASS_NAMES.get(_DATASET[0], range(10))
    return ", ".join(f"{name}: #{int(np.argmax(labels == d))}" for d, name in enumerate(names) if (labels == d).any())


def example_digit(index, other: bool = False) -> np.ndarray:
    """The bundled example #index (a refusal names the index slider, tab 4's second one with `other`)."""
    images, _ = examples()
    return images[check_int(index_label(other), index, 0, len(images) - 1)]


def pick_digit(source: str, example_index=0, upload=None, sketch=None) -> np.ndarray:
    """-> uint8 (28, 28), ink light on dark, as MNIST. DigitError for a bad or missing upload or drawing (MissingInput
    for a missing one), InputError for a bad source or index."""
    check_choice(source_label(), source, SOURCES)  # named as its radio is
    if source == EXAMPLE:
        return example_digit(example_index)
    if source == UPLOAD and upload is None:
        raise MissingInput(f"No image uploaded: upload a picture of {item_noun(article=True)}, or pick another "
                           "source.")
    return upload_digit(upload) if source == UPLOAD else drawing_digit(sketch)


class Drawn(NamedTuple):
    """A drawing as the page's events read it: read once as it changes, into a State (digit_input.reader), so that
    no event that reads the digit (a moved t, a pressed run) has the page send the drawing's images to the server
    (digit_input says how often it did). pick_digit takes it in the drawing's place."""
    n: int  # a new number for each drawing read: a State's change event fires on a new value alone
    digit: np.ndarray | None  # uint8 (28, 28), or None ...
    refusal: InputError | None  # ... and why (MissingInput for a canvas with nothing on it)


def read_drawing(sketch, n: int = 0) -> Drawn:
    """A drawing (a gr.Sketchpad value, or None) read: its digit, or the refusal pick_digit would raise for it."""
    try:
        return Drawn(n, preprocess_sketch(sketch, _DATASET[0]), None)
    except InputError as e:
        return Drawn(n, None, e.with_traceback(None))


def drawing_digit(sketch) -> np.ndarray:
    """The drawing's digit: from a Drawn (the page's events), or the drawing itself (the API's)."""
    if not isinstance(sketch, Drawn):
        return preprocess_sketch(sketch, _DATASET[0])
    if sketch.refusal is not None:
        raise type(sketch.refusal)(*sketch.refusal.args)  # anew: each raise of one object lengthens its traceback
    return sketch.digit.copy()


def chosen_input(source, index=0, upload=None, sketch=None):
    """The one of the digit's inputs that its source reads (all three for a source that is none of them)."""
    inputs = (index, upload, sketch)  # in the order of SOURCES
    return inputs[SOURCES.index(source)] if isinstance(source, str) and source in SOURCES else inputs


def upload_digit(upload) -> np.ndarray:
    """preprocess(upload), done once per uploaded file: tab 1 redraws two views on every move of t or the seed,
    and a big photo takes a few tenths of a second to open and fit. A file is known by its path, size and
    modification time, so a file written again is read again."""
    if not isinstance(upload, (str, os.PathLike)):
        return preprocess(upload, dataset=_DATASET[0])
    st = still_uploaded(upload)
    if st is None:
        return preprocess(upload, dataset=_DATASET[0])  # it says what is wrong with the path
    return _preprocessed_file(os.fspath(upload), st.st_size, st.st_mtime_ns).copy()


def still_uploaded(path) -> os.stat_result | None:
    """The upload's stat (None if it cannot be read); DigitError (GONE) if it is no longer there. One in Gradio's
    cache is kept while the page uses it: delete_cache ages a file by its ctime, which this sets to now (mtime kept)."""
    cached = Path(os.path.realpath(path)).is_relative_to(os.path.realpath(gradio_cache()))  # (macOS: /private/var)
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        if cached:
            raise DigitError(GONE.format(kept_for())) from None
        return None  # a path of the caller's own: "No such file"
    except OSError:
        return None
    if cached:
        try:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass  # not ours to touch: it ages as it would
    return st


def kept_for(seconds: float = CACHE_AGE_S) -> str:
    """How long Gradio keeps a file, in words: '30 minutes', 'an hour', '2 hours', '1.5 hours'."""
    return f"{seconds / 60:g} minutes" if seconds < 3600 else "an hour" if seconds == 3600 else \
        f"{seconds / 3600:g} hours"


@lru_cache(maxsize=8)
def _preprocessed_file(path: str, size: int, mtime_ns: int) -> np.ndarray:
    return preprocess(path, dataset=_DATASET[0])

