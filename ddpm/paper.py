"""A page's printed lines (ruled, squared, dotted or dashed paper, a margin, a form's box) told apart from strokes.

On lined or squared paper ink_map finds the printed lines as well as the digit (light blue print still stands out from
white paper, and a pen can be as light), so the crop took the page and the digit came out shrunk or skewed. The lines
are what a digit's strokes are not, all at once: straight, thin, crossing the whole picture from edge to edge (a dot
grid's rows and dashed rules too, once their gaps are bridged), and several of them parallel. Their pixels are taken
out of the ink map, except where a stroke crosses a line (ink just beside it): there the stroke is kept whole. Colour
is no help (a blue pen on blue rules, a red pen on a red margin).
"""
from __future__ import annotations

import numpy as np

INKED = 0.0  # an ink map's pixel above this is ink, however faint (a light blue rule is about 0.25)
SPAN = 0.75  # a printed line covers this share of its path across the picture (a stroke crossing it adds to that)
THIN = 0.03  # and is at most this share of the picture thick (8 pixels allowed): no shadow, no desk's edge
FRINGE = 0.25  # the rows beside a line covered this much are its blurred edge, taken out with it
LINES = 3  # a page shows several; a digit cropped close may have two long straight bars (a 7 with a crossbar)
TILTS = np.tan(np.radians(np.arange(-3, 3.01, 0.2)))  # a photo not quite straight: lines at up to 3 degrees
BOXED = 0.1  # a box's lines are taken out when the ink they leave holds this share of theirs (a digit's strokes)
GAP = 0.03  # a dotted or dashed line's gaps, up to twice this share of the picture's breadth, are bridged


def without_lines(ink: np.ndarray) -> np.ndarray:
    """The ink map less its paper's printed lines; `ink` itself when fewer than LINES of them are parallel (a long
    straight stroke may be a 1 or a 7's bar cropped close: a margin line is taken out only beside a page's rules),
    unless two run each way round ink of their own: a form's printed box (a square 0 alone is no box)."""
    found = []
    # printed rules, and dotted or dashed ones (a dot grid's rows) with their gaps bridged: the rows' tilt sought once
    for gap, (rows, across) in zip((0, GAP), _lines(ink, (0, GAP))):
        (cols, down), = _lines((ink * ~across).T, (gap,))
        mask = across | down.T
        box = min(rows, cols) >= 2 and (ink * ~mask).sum() >= BOXED * (ink * mask).sum()
        found.append((LINES if box else max(rows, cols), mask))
    lines, mask = max(found, key=lambda f: f[0])  # whichever finds more (a squared grid's columns fill the gaps)
    return ink if lines < LINES else ink * ~mask


def _lines(ink: np.ndarray, gaps=(0,)) -> list[tuple[int, np.ndarray]]:
    """For each share of the breadth in `gaps` (a row's gaps of up to twice it bridged): (how many lines run along the
    rows, within 3 degrees, across at least half the picture; a mask of the pixels of every such line, the bits of
    one cut off by a tilted picture's top or bottom edge too)."""
    h, w = ink.shape
    inked = ink > INKED
    near = inked.copy()  # a pixel's row +-1: a line's path is followed to the nearest tilt tried, not exactly
    near[1:] |= inked[:-1]
    near[:-1] |= inked[1:]
    ys, xs = np.nonzero(near)
    best = (-1.0, None)
    for t in TILTS:  # the tilt that stacks the most ink into fewest rows: that of the page's lines
        shift = np.round(np.arange(w) * t).astype(int)
        shift -= shift.min()  # row y of column x is row y - shift[x] + shift.max() of the sheared picture
        count = np.bincount(ys - shift[xs] + shift.max(), minlength=h + shift.max())
        score = float((count.astype(float) ** 2).sum())
        best = max(best, (score, (shift, count)), key=lambda b: b[0])
    shift, count = best[1]
    n = len(count)
    start = shift.max() - shift  # the sheared rows that column x reaches: start[x] .. start[x] + h - 1
    path = np.cumsum(np.bincount(start, minlength=n + 1)[:n] - np.bincount(start + h, minlength=n + h + 1)[:n])
    return [_bands(inked, near, shift, count, path, gap) for gap in gaps]


def _bands(inked, near, shift, count, path, gap: float) -> tuple[int, np.ndarray]:
    """_lines' count for one gap: the lines found along the sheared rows (`count` pixels of each, `path` long)."""
    h, w = inked.shape
    n = len(count)
    if g := round(gap * w):  # a row's gaps of up to 2g bridged: a dot grid's rows, or dashes, are lines as rules are
        y = np.arange(n)[:, None] - shift.max() + shift[None, :]  # the picture's row of sheared row k at column x
        seen = (y >= 0) & (y < h)
        row = np.pad(seen & near[y.clip(0, h - 1), np.arange(w)], ((0, 0), (g + 1, g)))
        run = np.cumsum(row, axis=1, dtype=np.int32)
        count = (seen & (run[:, 2 * g + 1:] > run[:, : -2 * g - 1])).sum(axis=1)
    frac = count / np.maximum(path, 1)
    lines, mask = 0, np.zeros((h, w), bool)
    k = 0
    while k < n:
        if frac[k] < SPAN or path[k] == 0:
            k += 1
            continue
        k0 = k
        while k + 1 < n and frac[k + 1] >= SPAN:
            k += 1
        k1, k = k, k + 1
        if k1 - k0 + 1 > max(8, THIN * h):  # a thick band from edge to edge: no printed line
            continue
        for _ in range(3):  # its blurred edges, or its drift from the tilt tried
            k0 -= k0 > 0 and frac[k0 - 1] >= FRINGE
            k1 += k1 + 1 < n and frac[k1 + 1] >= FRINGE
        lines += path[k0: k1 + 1].max() >= w / 2
        y = np.arange(k0 - 2, k1 + 3)[:, None] - shift.max() + shift[None, :]  # the band, a row each side, and beyond
        inside = (y >= 0) & (y < h)
        on = np.where(inside, inked[y.clip(0, h - 1), np.arange(w)], False)
        crossed = on[0] | on[-1]  # ink beyond the line's edge, above or below: a stroke crosses it there, and is kept
        y, inside = y[1:-1], inside[1:-1] & ~crossed
        mask[y[inside], np.broadcast_to(np.arange(w), y.shape)[inside]] = True
    return lines, mask
