"""Turning tensors into pictures: grids of digits as PIL images."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image


def to_uint8_np(x: torch.Tensor) -> np.ndarray:
    """float (N, 1, H, W) in [-1, 1] -> uint8 (N, H, W)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].cpu().numpy()


def grid_cols(n: int) -> int:
    """Columns of a square-ish grid of n images (as many as rows, or one more)."""
    return math.ceil(math.sqrt(n))


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2, scale: int = 1, pad_value: int = 0) -> Image.Image:
    """uint8 (N, H, W) -> one greyscale PIL image, `cols` per row, scaled by nearest neighbour. Images in [-1, 1]
    (N, C, H, W), as the samplers give them, go through tensor_grid (floats here came out all black)."""
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 3):
        got = f"{images.dtype} of shape {tuple(images.shape)}" if hasattr(images, "shape") else type(images).__name__
        raise TypeError(f"grid takes uint8 images (N, H, W) in 0..255, not {got}: for a sampler's (N, C, H, W) in "
                        "[-1, 1], use ddpm.images.tensor_grid")
    n, h, w = images.shape
    cols = cols or grid_cols(n)
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, dtype=np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    out = Image.fromarray(canvas)  # uint8: mode "L"
    return out.resize((out.width * scale, out.height * scale), Image.NEAREST) if scale != 1 else out


def tensor_grid(x: torch.Tensor, cols: int | None = None, scale: int = 1, pad: int = 2) -> Image.Image:
    """(N, C, H, W) in [-1, 1] as one image grid."""
    return grid(to_uint8_np(x), cols=cols, scale=scale, pad=pad)
