"""A stray mark away from a digit (a dot, a short tick, an eraser's leftover crumb) told apart from its strokes.

The crop took in all the ink it found, so a dot dropped beside a drawn digit was kept in its 28 x 28 picture, and the
digit came out smaller or pushed aside (a 9 with a dot below it read as a 4). A stray mark is short and it stands
apart; a digit's pieces drawn apart (a 5's top bar, a 4 in two strokes, a pen that skipped) are long, or close to the
rest. Pieces are found on a coarse grid, so that a stroke's tiny gaps do not split it.
"""
from __future__ import annotations

import numpy as np

GRID = 64  # pieces are found on a grid of at most this many cells a side
INKED = 0.2  # a cell holding an ink map's pixel above this is inked
SHORT = 0.4  # a stray's longer side is at most this share of the digit's (a 5's top bar drawn apart: about 0.5)
APART = 0.12  # and it is further than this share of the digit's longer side from it (a broken stroke's gap: less)


def without_strays(ink: np.ndarray) -> np.ndarray:
    """The ink map less its short marks far from the digit; `ink` itself when there are none. The digit is the
    longest piece (not the one with the most ink: a fat dot beside a thin 1), and with it every piece that is long
    or near (the empty cells between) the pieces taken."""
    h, w = ink.shape
    cell = -(-max(h, w) // GRID)
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell))
    padded[:h, :w] = ink
    blocks = padded.reshape(gh, cell, gw, cell)
    label = _pieces(blocks.max(axis=(1, 3)) > INKED)
    if label.max() < 1:  # one piece (or none): nothing to leave out
        return ink
    ys, xs = np.nonzero(label >= 0)
    own = label[ys, xs]
    boxes = [(ys[own == k], xs[own == k]) for k in range(label.max() + 1)]
    length = np.array([max(np.ptp(y), np.ptp(x)) + 1 for y, x in boxes])
    kept = np.zeros(len(boxes), bool)
    kept[np.argmax(length)] = True
    while not kept.all():  # again while a piece joins: a broken stroke's dotted bits, each near the one before
        taken = kept[own]
        side = max(np.ptp(ys[taken]), np.ptp(xs[taken])) + 1
        joined = [k for k in np.nonzero(~kept)[0]
                  if length[k] > SHORT * side or _gap(boxes[k], (ys[taken], xs[taken])) <= APART * side]
        if not joined:
            break
        kept[joined] = True
    if kept.all():
        return ink
    gone = np.zeros((gh, gw), bool)
    gone[ys[~kept[own]], xs[~kept[own]]] = True
    return ink * ~np.repeat(np.repeat(gone, cell, 0), cell, 1)[:h, :w]


def _gap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """How many empty cells lie between two sets of cells (rows, columns), at the least."""
    return float(np.hypot(a[0][:, None] - b[0][None], a[1][:, None] - b[1][None]).min()) - 1


def _pieces(mask: np.ndarray) -> np.ndarray:
    """8-connected pieces of a (small) boolean grid: 0, 1, ... for each, -1 where empty."""
    h, w = mask.shape
    label = np.where(mask, np.arange(h * w).reshape(h, w), -1)
    while True:  # each cell takes the largest label among its inked neighbours, until none changes
        padded = np.pad(label, 1, constant_values=-1)
        spread = np.max([padded[dy: dy + h, dx: dx + w] for dy in range(3) for dx in range(3)], axis=0)
        spread = np.where(mask, spread, -1)
        if (spread == label).all():
            break
        label = spread
    _, label[mask] = np.unique(label[mask], return_inverse=True)
    return label
