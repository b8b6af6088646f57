"""Small picture helpers for the app: upscaled digits, titled panels, labelled strips (greyscale PIL)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..images import grid, to_uint8_np

BG = 24  # dark grey around digits, so the black background of each digit stays visible
FG = 235
EPS_RANGE = 3.0  # eps_hat ~ N(0, I): show [-3, 3] as black..white


def font(size: int = 14) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def fit_scale(width: int, target: int = 448, most: int = 12) -> int:
    """An integer zoom that brings `width` pixels near `target` (nearest-neighbour keeps pixels sharp)."""
    return int(min(most, max(1, round(target / max(width, 1)))))


def digits(x: torch.Tensor | np.ndarray, cols: int | None = None, scale: int | None = None, target: int = 448) -> Image.Image:
    """(N, 1, H, W) float in [-1, 1] or uint8 (N, H, W) -> one upscaled grid."""
    u8 = to_uint8_np(x) if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.uint8)
    if u8.ndim == 2:
        u8 = u8[None]
    g = grid(u8, cols=cols, pad=2, pad_value=BG)
    s = scale or fit_scale(g.width, target)
    return g.resize((g.width * s, g.height * s), Image.NEAREST)


def eps_to_uint8(eps: torch.Tensor) -> np.ndarray:
    """Predicted noise eps_hat (N, 1, H, W) -> uint8 (N, H, W), mid-grey = 0."""
    return to_uint8_np((eps / EPS_RANGE).clamp(-1, 1))


def titled(img: Image.Image, title: str, size: int = 16, left: bool = False) -> Image.Image:
    """Add a band of text above an image, centred, or at the left (a wide strip's row title, which a phone shows
    from its left end)."""
    f = font(size)
    lines = title.split("\n")
    line_h = size + 4
    text_w = max(int(f.getlength(line)) for line in lines) + (16 if left else 8)  # 4 px a side; 8 at the left
    out = Image.new("L", (max(img.width, text_w), img.height + line_h * len(lines) + 4), BG)
    d = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        d.text((8 if left else (out.width - f.getlength(line)) / 2, 2 + i * line_h), line, fill=FG, font=f)
    out.paste(img.convert("L"), ((out.width - img.width) // 2, line_h * len(lines) + 4))
    return out


def hstack(images: list[Image.Image], gap: int = 10) -> Image.Image:
    w = sum(i.width for i in images) + gap * (len(images) + 1)
    h = max(i.height for i in images) + 2 * gap
    out = Image.new("L", (w, h), BG)
    x = gap
    for i in images:
        out.paste(i.convert("L"), (x, gap))
        x += i.width + gap
    return out


def vstack(images: list[Image.Image], gap: int = 0) -> Image.Image:
    w = max(i.width for i in images)
    out = Image.new("L", (w, sum(i.height for i in images) + gap * (len(images) - 1)), BG)
    y = 0
    for i in images:
        out.paste(i.convert("L"), ((w - i.width) // 2, y))
        y += i.height + gap
    return out


def labelled_strip(images: np.ndarray, labels: list[str], scale: int = 3, size: int = 15) -> Image.Image:
    """uint8 (N, H, W) -> thumbnails in a row, each titled with its label."""
    return hstack([titled(digits(img, scale=scale), lab, size) for img, lab in zip(images, labels)], gap=4)


def titled_rows(rows: list[tuple[Image.Image, str]], gap: int = 6) -> Image.Image:
    """Strips stacked one above another, each with its title at its left (where a phone, scrolling a wide
    picture sideways, starts)."""
    return vstack([titled(strip, title, left=True) for strip, title in rows], gap=gap)
