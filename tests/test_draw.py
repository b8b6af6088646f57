"""ddpm.demo.draw's geometry pinned by pixels, not by drawing the expected picture with draw itself (the tab tests do
that, so a change to draw passes them): zoom, padding, title bands and the stacks' gaps."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ddpm.demo import draw

INK = 7  # a grey no title pixel has (text is drawn from BG = 24 up to FG = 235): where a pasted image landed


def where(a: np.ndarray, value: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels equal to `value`, inclusive."""
    ys, xs = np.nonzero(a == value)
    return ys.min(), ys.max(), xs.min(), xs.max()


def test_zoom_is_the_integer_nearest_the_target_and_never_below_one():
    """fit_scale rounds target / width (448 / 50 = 8.96 -> 9, not 8) and a grid wider than the target keeps 1x."""
    assert draw.fit_scale(50) == 9 and draw.fit_scale(60) == 7
    assert draw.fit_scale(5000) == 1 and draw.fit_scale(900) == 1
    wide = draw.digits(np.zeros((40, 28, 28), np.uint8), cols=40)  # 40 digits in a row: 1202 px, no zoom
    assert wide.size == (40 * 30 + 2, 32)


def test_digits_pads_each_digit_with_two_grey_pixels_and_zooms_by_blocks():
    """digits: a 2-px BG border round each digit (test_app_e2e reads digits back by it), the scale given, each
    pixel a flat square (nearest neighbour), width and height each zoomed."""
    board = (np.indices((28, 28)).sum(0) % 2 * 255).astype(np.uint8)  # a checkerboard: blurring would show
    two = np.stack([board, board])
    a = np.asarray(draw.digits(two, cols=2, scale=3))
    assert a.shape == (32 * 3, (2 * 30 + 2) * 3)
    assert set(np.unique(a)) == {0, 255, draw.BG}
    assert (a[:6] == draw.BG).all() and (a[:, :6] == draw.BG).all() and (a[6:9, 6:9] == board[0, 0]).all()
    assert (a[6:9, 9:12] == board[0, 1]).all() and (a[6:90, 90:96] == draw.BG).all()  # 2 px between the digits
    assert draw.digits(board, scale=2).size == (64, 64)  # one (28, 28) digit, scale given (fit_scale would say 14)


def test_a_title_band_sits_above_the_image_centred_or_at_the_left():
    """titled: one 20-px line (size + 4) per title line and 4 px more, the text centred (or 8 px in), every line of a
    two-line title drawn under the one before, the image centred under a title wider than it."""
    img = Image.new("L", (100, 10), INK)
    one = np.asarray(draw.titled(img, "x"))
    assert one.shape == (10 + 20 + 4, 100) and where(one, INK) == (24, 33, 0, 99)
    ys, xs = np.nonzero(one[:24] > draw.BG)
    assert abs((xs.min() + xs.max()) / 2 - 50) <= 3  # centred
    _, xs = np.nonzero(np.asarray(draw.titled(img, "x", left=True))[:24] > draw.BG)
    assert 6 <= xs.min() <= 10  # 8 px in, not at the edge
    two = np.asarray(draw.titled(img, "a\nb"))
    assert two.shape == (10 + 2 * 20 + 4, 100) and where(two, INK)[0] == 44
    ys, _ = np.nonzero(two[:44] > draw.BG)
    assert ys.min() < 20 < 24 < ys.max()  # the second line below the first
    long = np.asarray(draw.titled(img, "a much longer title than the image"))
    assert long.shape[1] > 200 and where(long, INK)[2:] == ((long.shape[1] - 100) // 2, (long.shape[1] - 100) // 2 + 99)
    _, xs = np.nonzero(long[:24] > draw.BG)
    assert xs.max() < long.shape[1] - 1  # the whole title is in the band


def test_a_bigger_font_size_draws_a_wider_title():
    """titled's size reaches the font: a label of size 40 is wider than one of size 10."""
    dot = Image.new("L", (1, 1))
    assert draw.titled(dot, "WWWW", size=40).width > 2 * draw.titled(dot, "WWWW", size=10).width


def test_stacks_keep_their_gaps_and_centre_narrower_images():
    """hstack: a gap before, between and after the images, and above and below; vstack: centred, gaps between only."""
    a, b = Image.new("L", (5, 3), INK), Image.new("L", (4, 2), 200)
    h = np.asarray(draw.hstack([a, b], gap=10))
    assert h.shape == (3 + 2 * 10, 5 + 4 + 3 * 10)
    assert where(h, INK) == (10, 12, 10, 14) and where(h, 200) == (10, 11, 25, 28)
    v = np.asarray(draw.vstack([b, Image.new("L", (8, 3), INK)], gap=5))
    assert v.shape == (2 + 5 + 3, 8) and where(v, 200) == (0, 1, 2, 5) and where(v, INK) == (7, 9, 0, 7)


def test_a_labelled_strip_and_titled_rows_have_their_sizes():
    """labelled_strip: each digit zoomed by `scale`, titled at `size`, 4 px apart; titled_rows: row titles at the
    left, `gap` px between the rows."""
    strip = draw.labelled_strip(np.zeros((2, 28, 28), np.uint8), ["a", "b"], scale=3, size=15)
    panel = (32 * 3, 32 * 3 + 15 + 4 + 4)
    assert strip.size == (2 * panel[0] + 3 * 4, panel[1] + 2 * 4)
    row = Image.new("L", (400, 10), INK)
    rows = np.asarray(draw.titled_rows([(row, "first"), (row, "second")], gap=6))
    assert rows.shape == (2 * 34 + 6, 400) and where(rows, INK)[:2] == (24, 34 + 6 + 33)
    _, xs = np.nonzero(rows[:24] > draw.BG)
    assert xs.min() < 20  # at the left, where a phone starts


def test_a_left_title_wider_than_its_image_keeps_a_margin_at_its_right():
    """left=True starts the text 8 px in: the band was only 8 px wider than the text, so its last letter touched (or
    lost a pixel past) the right edge."""
    band = np.asarray(draw.titled(Image.new("L", (1, 1)), "WWWWWWWW", left=True))
    ink = np.nonzero((band != draw.BG).any(axis=0))[0]
    assert ink.min() >= 8 and band.shape[1] - 1 - ink.max() >= 4
