"""A shadow across the page that no plane follows (ddpm.shade, through ddpm.preprocess)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageFilter
from test_preprocess_paper import on_paper

from ddpm.classifier import load_classifier, predict
from ddpm.data import load_sample
from ddpm.preprocess import preprocess


def shaded(picture: Image.Image, kind: str) -> Image.Image:
    """A hand's hard-edged shadow over the left third (40% darker, a 3-pixel penumbra), or a lamp's dark corner (a
    radial falloff to half the light at the bottom right)."""
    a = np.asarray(picture, dtype=float)
    h, w = a.shape[:2]
    if kind == "hard":
        m = np.zeros((h, w), np.uint8)
        m[:, : w // 3] = 255
        dim = 0.4 * np.asarray(Image.fromarray(m).filter(ImageFilter.GaussianBlur(3)), float) / 255
    else:
        ys, xs = np.mgrid[0:h, 0:w]
        dim = 0.5 * np.clip(1 - np.hypot(xs - w, ys - h) / (0.6 * w), 0, 1)
    return Image.fromarray((a * (1 - dim)[..., None]).clip(0, 255).astype(np.uint8))


def test_a_hard_shadow_or_a_dark_corner_is_no_ink():
    """The shadowed paper stood out from the border's plane as much as ink, and the crop took it: 0% (hard shadow) and
    20% (dark corner) of 40 digits read right. Each digit is read, close to its unshaded page's."""
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == d)[0][0]) for d in range(10)]
    for kind in ("hard", "corner"):
        outs = [preprocess(shaded(on_paper(images[i]), kind)) for i in picks]
        for out, i in zip(outs, picks):
            assert np.corrcoef(out.ravel(), preprocess(on_paper(images[i])).ravel())[0, 1] > 0.8
        x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
        assert predict(load_classifier(), x).argmax(1).tolist() == labels[picks].tolist(), kind


def test_a_digit_cropped_close_is_no_shadow():
    """A photo cropped close, the digit's strokes running past its edge: a stroke wider than the shadow's window (a
    pencil's, a red marker's grey, a pen's soft edge) crossed the border as a shadow would, and its paper hollowed the
    strokes out (86 of these 90 read right; at eca4e0d and now all). A shadow runs along the edge, a stroke across it.
    """
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == d)[0][k]) for k in range(3) for d in range(10)]
    outs = []
    for ink in [(120, 120, 120), (200, 30, 30), (30, 40, 120)]:
        for i in picks:
            page = Image.new("RGB", (160, 160), (242, 240, 235))
            pen = Image.fromarray(images[i]).resize((200, 200), Image.BILINEAR)
            page.paste(Image.new("RGB", pen.size, ink), (-20, -20), pen)
            outs.append(preprocess(page.filter(ImageFilter.GaussianBlur(0.8))))
    x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
    assert (predict(load_classifier(), x).argmax(1).numpy() == np.tile(labels[picks], 3)).all()


def test_a_coloured_marker_cropped_close_is_no_shadow():
    """A red marker's bold strokes, cropped close, cross the edge as wide as a shadow's run along it: their paper was
    taken for shadowed paper, the strokes hollowed out (of 60 such photos 36 read right, 9 said to hold no digit; 59
    at eca4e0d).
    A shadow dims the paper and leaves its colour: a stroke more colourful than the paper is ink (ddpm.shade)."""
    images, labels = load_sample()
    picks = [int(np.nonzero(labels == d)[0][k]) for k in range(2) for d in range(10)]
    outs = []
    for i in picks:
        page = Image.new("RGB", (160, 160), (242, 240, 235))
        pen = Image.fromarray(images[i]).resize((200, 200), Image.BILINEAR).filter(ImageFilter.MaxFilter(9))
        page.paste(Image.new("RGB", pen.size, (200, 30, 30)), (-20, -20), pen)
        noisy = np.asarray(page, float) + np.random.default_rng(i).normal(0, 4, (160, 160, 3))
        photo = Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
        outs.append(preprocess(photo))
    x = torch.tensor(np.stack(outs))[:, None].float() / 127.5 - 1
    assert (predict(load_classifier(), x).argmax(1).numpy() == labels[picks]).mean() >= 0.9
