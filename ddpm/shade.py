"""Paper lit unevenly beyond a plane (a hard-edged shadow across the page, a desk lamp's dark corner), modelled locally.

ink_map subtracts a plane fitted to the border's paper: a soft shadow or a gentle gradient is near enough one, but
the shadowed paper of a hand's hard-edged shadow or of a lamp's dark corner stood out from that plane as much as ink
did, and the crop took it. Here the paper's own brightness is estimated at each point instead: a closing (a max
filter, then a min filter: strokes are thin dark lines, and the max filter fills them in with the paper beside them)
with a window wider than a pen's strokes, on the picture shrunk (for speed: the paper's shading needs no detail); each
pixel is taken from it, and what is ink is scaled back up (a shadow dims ink and paper alike). Only when the paper
measurably strays from the plane at the picture's border, as a shadow's does: other pictures keep ink_map's plane,
pixel for pixel.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

LOW = 160  # the paper's brightness is estimated on the picture shrunk to this (its longer side)
WINDOW = 0.1  # the closing's window, this share of the shorter side: wider than a pen's strokes (a marker's: DEEPEST)
UNEVEN = 0.02  # the paper falls MARGIN (of the greyscale) short of the plane on more than this share of the border
MARGIN = 0.05
DEEPEST = 0.3  # a shadow leaves the paper at least this share of its light (a marker's ink: less)
TINT = 0.15  # a shadow's paper at most this much more saturated than the lit paper (a red marker's: 0.8)
MIN_SIDE = 64  # smaller pictures are no photos of a page


def unshaded(g: np.ndarray, plane: np.ndarray, colour: Image.Image | None = None) -> tuple[np.ndarray, ...] | None:
    """When the paper of greyscale `g` (H, W) in [0, 1] falls short of ink_map's `plane` on the border (a shadow, as
    grey as the paper: the picture in `colour`, when it has colour, says): its dark ink, light (the paper's own
    brightness less the pixel's: paper about 0, with the same noise lit or shaded), and the gain (H, W) that makes
    up for the shadow dimming the ink (about 1 on lit paper); else None. (Light ink on a dark board is left to the
    plane: a shadow there is darker still, no ink, and a bright patch is a sheet: ddpm.sheet.)
    """
    if min(g.shape) < MIN_SIDE:
        return None
    small, lit = shrunk(g), shrunk(plane)
    if border(small < lit - MARGIN).mean() <= UNEVEN:  # the closing is no darker than the picture: no shade (quick)
        return None
    r = max(2, round(WINDOW * min(small.shape) / 2))
    paper = _closing(small, r)  # ink a dark valley narrower than the window, which the max filter fills
    shade = (paper < lit - MARGIN) & (paper > DEEPEST * lit)  # (darker still: a bold stroke at the edge)
    if border(shade).mean() <= UNEVEN or _along_ring(shade, 3 * r).mean() <= UNEVEN:  # (the first: quicker)
        return None
    if colour is not None and _coloured(colour, small.shape, shade):
        return None
    paper = _edges(paper, r)
    for _ in range(r):  # a shadow's corner narrower than the window, which the closing filled: let the shadow flow in
        paper = np.maximum(_filter(_filter(paper, 1, np.min, 0), 1, np.min, 1), small)
    paper = _filter(_filter(paper, 1, np.min, 0), 1, np.min, 1)  # a pixel's nearest shadow: no lit rim at its edge
    paper = np.asarray(Image.fromarray(paper.astype(np.float32)).resize(g.shape[::-1], Image.BILINEAR), np.float64)
    paper = np.maximum(paper, np.maximum(DEEPEST * plane, 1e-3))  # a marker's strokes wider than the window are ink
    return paper - g, np.median(border(paper)) / paper


def _coloured(colour: Image.Image, shape: tuple[int, int], shade: np.ndarray) -> bool:
    """Whether the `shade` (a mask of the picture shrunk to `shape`) is more colourful than the paper round it: a
    shadow dims the paper, and leaves its colour; a red or blue marker's stroke crossing the edge is no shadow."""
    rgb = np.asarray(colour.convert("RGB").resize(shape[::-1], Image.BOX), np.float64)
    top = rgb.max(axis=2)
    saturation = (top - rgb.min(axis=2)) / np.maximum(top, 1)
    ring = border(shade)
    if ring.all():
        return False
    return np.median(border(saturation)[ring]) > np.median(border(saturation)[~ring]) + TINT


def shrunk(a: np.ndarray, side: int = LOW) -> np.ndarray:
    """An array (H, W) area-averaged to at most `side` on its longer side (as float64; ddpm.sheet's too)."""
    scale = min(1.0, side / max(a.shape))
    size = (max(1, round(a.shape[1] * scale)), max(1, round(a.shape[0] * scale)))
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize(size, Image.BOX), np.float64)


def _filter(a: np.ndarray, r: int, reduce, axis: int) -> np.ndarray:
    """A (2r + 1)-wide max or min filter along one axis, the edge pixels repeated beyond the picture."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(a, pad, mode="edge"), 2 * r + 1, axis=axis)
    return reduce(windows, axis=-1)


def _closing(a: np.ndarray, r: int) -> np.ndarray:
    wide = _filter(_filter(a, r, np.max, 0), r, np.max, 1)
    return _filter(_filter(wide, r, np.min, 0), r, np.min, 1)


def _edges(paper: np.ndarray, r: int) -> np.ndarray:
    """The closing within r of an edge, where its window is cut short, is the paper's r further in: too bright where
    the paper darkens towards the edge (a lamp's dark corner). There the line through the paper r to 2r in is followed
    out to the edge, where that is darker (a darker paper is taken for less ink, never for more)."""
    out = paper.copy()
    for axis in (0, 1):
        n = paper.shape[axis]
        if n <= 2 * r:
            continue
        a = np.moveaxis(out, axis, 0)  # a view: written through
        x = np.arange(r)[:, None]
        near, far = a[r], a[2 * r]
        a[:r] = np.minimum(a[:r], near + (x - r) / r * (far - near))
        near, far = a[n - 1 - r], a[n - 1 - 2 * r]
        a[n - r:] = np.minimum(a[n - r:], near + (r - x[::-1]) / r * (near - far))
    return out


def _along_ring(mask: np.ndarray, run: int) -> np.ndarray:
    """border(mask), less its runs along the picture's edge shorter than 2 run + 1: a shadow stretches along the edge,
    a bold stroke of a digit cropped close crosses it (wider than the window, lighter than DEEPEST: a pencil's, a red
    marker's, a soft pen stroke's grey edge), and its paper taken for a shadow hollowed the strokes out."""
    rows, cols = (_filter(_filter(mask.astype(float), run, f, axis), run, g, axis) > 0
                  for axis in (1, 0) for f, g in [(np.min, np.max)])
    k = max(1, min(mask.shape) // 20)  # as border's
    return np.concatenate([rows[:k].ravel(), rows[-k:].ravel(), cols[:, :k].ravel(), cols[:, -k:].ravel()])


def border(a: np.ndarray) -> np.ndarray:
    """The pixels of an array (H, W) within a twentieth of its shorter side of its edge (at least 1), flat (corners
    twice): where the paper is judged, here and in ddpm.preprocess's ink_map."""
    k = max(1, min(a.shape) // 20)
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])
