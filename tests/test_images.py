"""ddpm.images: tensors as uint8 digits and digits as one grid picture, pixel by pixel (the CLI's PNG, the app's
pictures and training's epoch grids all go through it)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm.images import grid, tensor_grid, to_uint8_np


def _digits(n: int, h: int = 3, w: int = 2) -> np.ndarray:
    """n distinct uint8 (h, w) digits: digit k is k + 1 everywhere but its top-left pixel, 200 + k."""
    out = np.repeat(np.arange(1, n + 1, dtype=np.uint8), h * w).reshape(n, h, w)
    out[:, 0, 0] = 200 + np.arange(n)
    return out


def test_grid_lays_digits_row_by_row_with_padding_of_the_asked_value():
    """cols digits a row, left to right then down, each pad pixels from its neighbours and the edge, in pad_value."""
    imgs = _digits(5)
    a = np.asarray(grid(imgs, cols=3, pad=1, pad_value=9))
    assert a.shape == (2 * (3 + 1) + 1, 3 * (2 + 1) + 1)
    for k in range(5):
        r, c = divmod(k, 3)
        y, x = 1 + r * 4, 1 + c * 3
        assert np.array_equal(a[y:y + 3, x:x + 2], imgs[k]), k
    mask = np.ones_like(a, dtype=bool)
    for k in range(6):  # the sixth cell is empty: pad_value too
        r, c = divmod(k, 3)
        mask[1 + r * 4: 4 + r * 4, 1 + c * 3: 3 + c * 3] = k == 5
    assert (a[mask] == 9).all()


def test_grid_scales_a_wide_grid_by_whole_pixels():
    """scale s makes each pixel an s x s block (nearest neighbour, sharp), width and height each times s."""
    imgs = _digits(4)
    one, three = grid(imgs, cols=4, pad=2), grid(imgs, cols=4, pad=2, scale=3)
    assert one.size == (4 * 4 + 2, 3 + 4) and three.size == (3 * one.width, 3 * one.height)
    assert np.array_equal(np.asarray(three), np.kron(np.asarray(one), np.ones((3, 3), np.uint8)))


def test_tensor_grid_passes_on_its_columns_scale_and_padding():
    """tensor_grid is the digits' uint8 grid as asked, not a default (test_training checks the epoch grid itself)."""
    x = torch.linspace(-1, 1, 6 * 28 * 28).reshape(6, 1, 28, 28)
    want = grid(to_uint8_np(x), cols=6, pad=3, scale=2)
    got = tensor_grid(x, cols=6, scale=2, pad=3)
    assert got.size == want.size == (2 * (6 * 31 + 3), 2 * 34)
    assert np.array_equal(np.asarray(got), np.asarray(want))


def test_to_uint8_gives_back_every_grey_level_and_clamps():
    """to_uint8_np undoes data.to_model_range for all 256 levels (rounded, not truncated: 127.5 * (x + 1) lands a
    hair under a whole number in float32), and values beyond [-1, 1] are black or white."""
    from ddpm.data import to_model_range

    levels = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    assert np.array_equal(to_uint8_np(to_model_range(levels)), levels.numpy())
    assert to_uint8_np(torch.tensor([-3.0, 3.0]).reshape(1, 1, 1, 2)).tolist() == [[[0, 255]]]


def test_grid_refuses_images_it_would_draw_black_and_names_tensor_grid():
    """A sampler's floats in [-1, 1] came out an all-black grid, and its (N, 1, H, W) a bare unpacking error."""
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for bad, shown in ((x[:, 0].numpy(), r"float32 of shape \(4, 28, 28\)"), (x, r"torch.float32 of shape \(4, 1, 28")):
        with pytest.raises(TypeError, match=r"grid takes uint8 images \(N, H, W\) in 0..255, not " + shown +
                           r".*use ddpm.images.tensor_grid"):
            grid(bad)
    assert np.asarray(tensor_grid(torch.ones(1, 1, 2, 2), pad=0)).tolist() == [[255, 255], [255, 255]]  # white
