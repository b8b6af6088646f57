"""Where the user's digit comes from (tabs 1 and 4): a real MNIST test digit, an upload or a drawing."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..data import load_sample
from ..preprocess import preprocess, preprocess_sketch
from .limits import MissingInput, check_choice, check_int

EXAMPLE, UPLOAD, DRAWING = "MNIST test digit", "upload", "drawing"
SOURCES = (EXAMPLE, UPLOAD, DRAWING)


@lru_cache(maxsize=1)
def examples() -> tuple[np.ndarray, np.ndarray]:
    """The bundled real MNIST test digits: uint8 (N, 28, 28) and labels (N,)."""
    return load_sample()


def num_examples() -> int:
    return len(examples()[0])


def example_digit(index) -> np.ndarray:
    images, _ = examples()
    return images[check_int("MNIST example number", index, 0, len(images) - 1)]


def pick_digit(source: str, example_index=0, upload=None, sketch=None) -> np.ndarray:
    """-> uint8 (28, 28), ink light on dark, as MNIST. InputError for a bad or missing upload or drawing."""
    check_choice("digit source", source, SOURCES)
    if source == EXAMPLE:
        return example_digit(example_index)
    if source == UPLOAD:
        if upload is None:
            raise MissingInput("No image uploaded: upload a picture of a digit, or pick another source.")
        return preprocess(upload)
    return preprocess_sketch(sketch)

