"""What the tests of the app's pure functions (test_demo*.py) share."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ddpm.data import load_sample
from ddpm.demo import generate

DIGIT = load_sample()[0][0]  # a real MNIST test digit, uint8 (28, 28)


def settings(T, **kw):
    base = dict(seed=0, n=2, sampler="ddim", steps=5, label="any", guidance=1.0)
    return generate.check_settings(**(base | kw), T=T)


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))
