"""Where the user's digit comes from (tabs 1 and 4): a real MNIST test digit, an upload or a drawing."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data import load_sample
from ..preprocess import preprocess, preprocess_sketch
from .limits import MissingInput, check_choice, check_int

EXAMPLE, UPLOAD, DRAWING = "MNIST test digit", "upload", "drawing"
SOURCES = (EXAMPLE, UPLOAD, DRAWING)
INDEX = "MNIST test digit #"  # the index slider's label, and so a refusal's name for its value
OTHER = f"the other digit x'_0: {INDEX}"  # tab 4's second digit, to interpolate to


@lru_cache(maxsize=1)
def examples() -> tuple[np.ndarray, np.ndarray]:
    """The bundled real MNIST test digits: uint8 (N, 28, 28) and labels (N,)."""
    return load_sample()


def num_examples() -> int:
    return len(examples()[0])


def first_of_each_class() -> str:
    """Where each digit first comes among the bundled examples, for the index slider's help: '0: #3, 1: #2, ...'."""
    _, labels = examples()
    return ", ".join(f"{d}: #{int(np.argmax(labels == d))}" for d in range(10) if (labels == d).any())


def example_digit(index, name: str = INDEX) -> np.ndarray:
    images, _ = examples()
    return images[check_int(name, index, 0, len(images) - 1)]


def pick_digit(source: str, example_index=0, upload=None, sketch=None) -> np.ndarray:
    """-> uint8 (28, 28), ink light on dark, as MNIST. DigitError for a bad or missing upload or drawing (MissingInput
    for a missing one), InputError for a bad source or index."""
    check_choice("Digit from", source, SOURCES)  # named as its radio is
    if source == EXAMPLE:
        return example_digit(example_index)
    if source == UPLOAD and upload is None:
        raise MissingInput("No image uploaded: upload a picture of a digit, or pick another source.")
    return upload_digit(upload) if source == UPLOAD else preprocess_sketch(sketch)


def upload_digit(upload) -> np.ndarray:
    """preprocess(upload), done once per uploaded file: tab 1 redraws two views on every move of t or the seed,
    and a big photo takes a few tenths of a second to open and fit. A file is known by its path, size and
    modification time, so a file written again is read again."""
    if not isinstance(upload, (str, os.PathLike)):
        return preprocess(upload)
    try:
        st = Path(upload).stat()
    except OSError:
        return preprocess(upload)  # it says what is wrong with the path
    return _preprocessed_file(os.fspath(upload), st.st_size, st.st_mtime_ns).copy()


@lru_cache(maxsize=8)
def _preprocessed_file(path: str, size: int, mtime_ns: int) -> np.ndarray:
    return preprocess(path)

