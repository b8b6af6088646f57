"""A sheet of paper photographed on a desk, told apart from a digit's strokes, and the part of it to look into.

Light paper on a darker desk (a drawing app's white canvas in a screenshot, a whiteboard in its frame too): the
picture's border is the desk, so ink_map takes the paper for the ink, light on dark, and the digit written on it is a
hole in that ink (a coloured note darker than a white desk is faint ink, the digit on it full ink). A sheet is what
strokes are not: a quadrilateral (a rectangle, turned when the photo is askew, a trapezoid when the phone was tilted)
that the ink fills edge to edge, all but the digit. Its four corners are the ink's extreme points along the diagonals
(a sheet turned less than about 45 degrees) or along the axes (more). A marker's bold 0 or 8 fills most of its box too,
but bulges past those four points on its round sides. A sheet that fills the photo but for a strip of desk along an
edge shows that strip as ink running in from the edge: without_desk_strips takes it out.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .shade import shrunk

STRIP_ROWS = 0.9  # a desk's strip along an edge: ink runs in from that edge on this share of its rows or more
STRIP_DEEP = 0.15  # and at most this deep into the picture (typically: a sheet is no strip)
LEFT = 0.05  # a strip is taken out when what is left holds this share of its ink or more (else it was the digit)
SMALL = 160  # the shape is judged on the ink map shrunk to this (its longer side): a sheet's corners need no more
SHEET_INKED = 0.02  # ink this strong or more is the sheet's: a coloured note, darker than a white desk, is faint ink
SHEET_FILL = 0.8  # ink filling more of its (not thin) quadrilateral is a sheet or a canvas (MNIST's: at most 0.62)
SHEET_SPILL = 0.1  # at most this share of it lies past that quadrilateral (a sheet: 3%, a blurred edge; a bold 0: 28%+)
SHEET_INSET = 0.08  # a sheet is looked into this share of its size in from each side (its edge's shade, a shadow)
SHEET_EDGE_GAPS = 0.03  # at most this share of a sheet's outline (inset) is not ink: 0 on sheets, 7%+ on bold digits


def sheet_corners(ink: np.ndarray) -> np.ndarray | None:
    """(4, 2) x, y in `ink`'s pixels: the corners of a sheet's inside, SHEET_INSET in from its edge, its top-left one
    first, then clockwise (upright as the sheet is nearest to), when the ink map `ink` (H, W) found a sheet;
    else None."""
    small = shrunk(ink, SMALL)
    inked = small > SHEET_INKED
    corners = _corners(inked)
    if corners is None:
        return None
    quad = _quad(corners, inked.shape)
    sides = np.hypot(*(np.roll(corners, -1, axis=0) - corners).T)
    if (inked[quad].mean() <= SHEET_FILL or (inked & ~quad).sum() > SHEET_SPILL * inked.sum()
            or sides.min() <= 0.4 * sides.max()):  # a 1 fills its box too, but is thin
        return None
    inset = _shrunk(corners, 1 - 2 * SHEET_INSET)
    if (~inked[_quad(inset, inked.shape, outline=True)]).mean() >= SHEET_EDGE_GAPS:
        return None
    inset = (inset + 0.5) / np.array([small.shape[1] / ink.shape[1], small.shape[0] / ink.shape[0]]) - 0.5
    # clockwise on the screen (y points down: a corner's angle seen from the middle grows clockwise), the corner
    # nearest up-left (-3 pi / 4) first: the sheet as upright as it is nearest to
    turn = np.arctan2(*(inset - inset.mean(axis=0)).T[::-1])
    inset, turn = inset[np.argsort(turn)], np.sort(turn)
    first = np.argmin(np.abs(np.angle(np.exp(1j * (turn + 3 * np.pi / 4)))))  # differences wrapped to (-pi, pi]
    return np.roll(inset, -first, axis=0)


def upright(img: Image.Image, corners: np.ndarray) -> Image.Image:
    """The quadrilateral with these corners (top-left first, clockwise) in `img`, turned and stretched into an
    upright rectangle: the sheet as a scanner would see it (a bilinear map of the four corners: near enough a
    photo's perspective for a digit)."""
    tl, tr, br, bl = corners
    size = (max(1, round((np.hypot(*(tr - tl)) + np.hypot(*(br - bl))) / 2)),
            max(1, round((np.hypot(*(bl - tl)) + np.hypot(*(br - tr))) / 2)))
    return img.transform(size, Image.QUAD, tuple((np.stack([tl, bl, br, tr]) + 0.5).ravel()), Image.BILINEAR)


def _corners(inked: np.ndarray) -> np.ndarray | None:
    """(4, 2) x, y: the ink's extreme points along the diagonals or along the axes, whichever span more area."""
    ys, xs = np.nonzero(inked)
    if len(xs) < 16:
        return None
    best, area = None, 0.0
    for u, v in ((xs + ys, xs - ys), (xs, ys)):  # top-left, top-right, bottom-right, bottom-left; left, bottom, ...
        quad = np.array([(xs[i], ys[i]) for i in (np.argmin(u), np.argmax(v), np.argmax(u), np.argmin(v))], float)
        x, y = quad.T
        a = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2  # the shoelace formula
        if a > area:
            best, area = quad, a
    return best


def _shrunk(corners: np.ndarray, factor: float) -> np.ndarray:
    centre = corners.mean(axis=0)
    return centre + factor * (corners - centre)


def _quad(corners: np.ndarray, shape: tuple[int, int], outline: bool = False) -> np.ndarray:
    """A mask (H, W) of the quadrilateral with these (x, y) corners, filled or only its outline."""
    img = Image.new("1", (shape[1], shape[0]), 0)
    ImageDraw.Draw(img).polygon([tuple(c) for c in corners], fill=None if outline else 1, outline=1)
    return np.asarray(img, dtype=bool)


def without_desk_strips(ink: np.ndarray) -> np.ndarray:
    """The ink map less a strip of desk along an edge, where the sheet fills the photo but for it: along at least
    STRIP_ROWS of that edge ink runs in from it, each run about as long as the others (at most STRIP_DEEP of the
    picture). A digit's strokes crossing an edge cross a few rows of it; beyond the strip's own depth they are kept.
    `ink` itself when there is none, or when it leaves next to nothing (a 1 drawn along the picture's edge)."""
    out = ink
    for turn in range(4):  # the left edge of the picture turned 0, 90, 180 and 270 degrees
        a = np.rot90(out, turn)
        if (a[:, 0] > 0).mean() < STRIP_ROWS:  # (quick: the test below, on the edge's own column)
            continue
        inked = a > 0  # (however faint: the strip's blurred edge too)
        run = np.where(inked.all(axis=1), a.shape[1], np.argmin(inked, axis=1))  # ink in from the edge, each row
        deep = np.median(run[run > 0]) if (run > 0).any() else 0
        if (run > 0).mean() < STRIP_ROWS or deep > STRIP_DEEP * a.shape[1]:
            continue
        cut = np.minimum(run, round(1.5 * deep) + 1)  # a stroke running on from the strip keeps its length past it
        a = a * (np.arange(a.shape[1])[None, :] >= cut[:, None])
        out = np.rot90(a, -turn)
    return out if out.sum() >= LEFT * (ink.sum() - out.sum()) else ink
