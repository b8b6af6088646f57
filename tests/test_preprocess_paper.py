"""A digit on a notebook's ruled or squared paper (ddpm.paper, through ddpm.preprocess)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from ddpm.classifier import load_classifier, predict
from ddpm.data import load_sample
from ddpm.paper import without_lines
from ddpm.preprocess import ink_map, preprocess

PAPER = (242, 240, 235)


def on_paper(digit: np.ndarray, lines: str = "", colour=(150, 185, 225), tilt: float = 0.0) -> Image.Image:
    """A real MNIST digit written in dark blue pen (about 75 pixels high) on a 480x360 photo of a page: plain, ruled
    every 30 pixels with a red margin line, squared every 24, dotted (a dot grid every 24) or dashed (rules every 24 of
    6-pixel dashes); a little blur, noise and uneven light."""
    page = Image.new("RGB", (480, 360), PAPER)
    d = ImageDraw.Draw(page)
    for y in range(12, 360, 30 if lines == "ruled" else 24) if lines else ():
        for x in range(10, 480, 24) if lines == "dotted" else range(0, 480, 12) if lines == "dashed" else [None]:
            dash = [(0, y), (480, y)] if x is None else [(x, y), (x + 6 * (lines == "dashed"), y)]
            d.line(dash, fill=colour, width=2)
    for x in range(10, 480, 24) if lines == "squared" else ():
        d.line([(x, 0), (x, 360)], fill=colour, width=2)
    if lines == "ruled":
        d.line([(50, 0), (50, 360)], fill=(215, 90, 95), width=2)
    pen = Image.fromarray(digit).resize((105, 105), Image.BILINEAR)
    page.paste(Image.new("RGB", pen.size, (30, 40, 120)), (220, 110), pen)  # the digit crosses two or three lines
    page = page.rotate(tilt, Image.BILINEAR, fillcolor=PAPER).crop((10, 10, 470, 350)) if tilt else page
    a = np.asarray(page, dtype=float) * np.linspace(0.85, 1.0, page.width)[None, :, None]
    a += np.random.default_rng(0).normal(0, 4, a.shape)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))


def test_a_digit_on_ruled_or_squared_paper_is_found_without_the_lines():
    """The printed lines were ink too, so the crop took the page and a 7 came out as a small blot (read as a 3).
    Light blue rules and a margin, a grey grid, dark rules in a photo 1.5 degrees askew: each the plain page's digit."""
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == c)[0][0]) for c in (7, 4, 2, 0)]
    pages = [("ruled", {}), ("squared", {"colour": (170, 175, 185)}), ("ruled", {"colour": (90, 95, 110), "tilt": 1.5})]
    outs = [preprocess(on_paper(images[i], kind, **kw)) for i in picks for kind, kw in pages]
    plain = [preprocess(on_paper(images[i])) for i in picks for _ in pages]
    for out, ref in zip(outs, plain):  # (a little of a line is left where a stroke crosses it)
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.8
    x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
    assert predict(load_classifier(), x).argmax(1).tolist() == [int(labels[i]) for i in picks for _ in pages]


def test_a_digit_on_dotted_or_dashed_paper_is_found_without_the_dots():
    """A dot grid (a bullet journal's) or dashed rules were ink all over the page, too broken to be seen as lines, so
    the digit came out a small blot among dots, read as a 1 (dots) or a 2, 3 or 8 (dashes): 12 of 120 right. The
    gaps are bridged."""
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == c)[0][0]) for c in range(10)]
    for kind in ("dotted", "dashed"):
        outs = [preprocess(on_paper(images[i], kind, colour=(150, 160, 175))) for i in picks]
        for out, i in zip(outs, picks):
            assert np.corrcoef(out.ravel(), preprocess(on_paper(images[i])).ravel())[0, 1] > 0.8
        x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
        assert predict(load_classifier(), x).argmax(1).tolist() == labels[picks].tolist()


def test_pictures_without_a_pages_lines_are_left_as_they_were():
    """The bundled digits' ink maps, and long straight strokes of a digit cropped close (a 7 with a crossbar in a fine
    pen, a 4) come back as the very same array: fewer than three parallel lines are a digit's, not a page's."""
    images, _ = load_sample()
    for im in images:
        ink = ink_map(Image.fromarray(im))
        assert without_lines(ink) is ink
    for strokes in ([[(0, 10), (299, 10), (120, 419)], [(40, 210), (299, 210)]],
                    [[(200, 0), (200, 419)], [(0, 300), (299, 300)], [(0, 300), (150, 0)]]):
        picture = Image.new("L", (300, 420), 240)
        for line in strokes:
            ImageDraw.Draw(picture).line(line, fill=20, width=2)
        ink = ink_map(picture)
        assert without_lines(ink) is ink


def test_a_striped_fashion_item_keeps_its_stripes():
    """Only a digit's page is cleared of lines: a striped shirt's stripes are the item's (dataset="fashion-mnist")."""
    shirt = np.full((280, 280), 240, np.uint8)
    shirt[:, 40:240] = 200
    shirt[10:270:20, 40:240] = 30  # dark stripes across the whole picture's breadth of the item
    out = preprocess(Image.fromarray(shirt), dataset="fashion-mnist")
    assert (out.max(axis=1) > 200).sum() >= 10


def test_a_digit_in_a_forms_printed_box_is_found_without_the_box():
    """A digit written in a form's box (as NIST's writers filled MNIST's), cropped to the box: two lines each way are
    too few for a page's rules, and a 3-pixel line in a 200-pixel crop was thicker than a rule was allowed to be, so
    the crop took the box and the digit came out small inside it (9 of these 10 read wrong). A square 0 alone keeps its
    sides."""
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == c)[0][0]) for c in range(10)]
    outs = []
    for i in picks:
        cell = Image.new("RGB", (200, 200), (245, 245, 240))
        ImageDraw.Draw(cell).rectangle([15, 15, 185, 185], outline=(20, 20, 20), width=3)
        cell.paste((30, 40, 120), (35, 35), Image.fromarray(images[i]).resize((130, 130), Image.BILINEAR))
        noisy = np.asarray(cell, float) + np.random.default_rng(i).normal(0, 4, (200, 200, 3))
        photo = Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
        outs.append(preprocess(photo))
    x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
    assert (predict(load_classifier(), x).argmax(1).numpy() == labels[picks]).mean() >= 0.9
    zero = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(zero).rectangle([20, 15, 260, 265], outline=0, width=14)
    assert (preprocess(zero) > 128).mean() > 0.1  # its sides, not nothing
