"""The app's sketchpad brush draws digits the classifier reads, drawn large or small (ddpm.demo.digit_input)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from ddpm.classifier import load_classifier, predict
from ddpm.data import to_model_range
from ddpm.demo import digit_input
from ddpm.preprocess import preprocess_sketch
from test_preprocess_strays import FIVE, FOUR, NINE, ONE, sketch

DIGITS = {9: NINE, 5: FIVE, 4: FOUR, 1: ONE,  # each about 200 px high on the 280 x 280 canvas
          8: [[(170, 70), (140, 40), (100, 60), (110, 110), (170, 170), (165, 225), (120, 240), (95, 205), (120, 150),
               (165, 100), (170, 70)]],
          0: [[(140, 40), (95, 70), (85, 150), (100, 220), (140, 240), (180, 215), (190, 140), (180, 70), (140, 40)]],
          6: [[(170, 40), (110, 100), (90, 180), (120, 235), (165, 225), (175, 180), (140, 150), (100, 180)]],
          2: [[(95, 80), (130, 45), (175, 70), (170, 120), (95, 235), (195, 235)]],
          3: [[(95, 60), (140, 40), (180, 75), (135, 135), (185, 180), (150, 235), (95, 215)]]}


def test_a_digit_drawn_small_with_the_apps_brush_is_read():
    """Gradio's brush size is a radius: the app's 18 drew strokes 36 px wide, a marker's, and a digit drawn a
    quarter of the canvas high came out a blob (a 5 and a 4 read as 8 and 9). Of 300 MNIST digits traced as strokes,
    60, 100 and 140 px high: 35%, 81% and 97% read right at 18; 96%, 99% and 99% at 8 (200 px: 99% either way)."""
    with gr.Blocks():
        pad = digit_input.digit_input("tab")[3]
    r = pad.brush.default_size
    for scale in (1.0, 0.35):  # about 200 px high, and 70 (around the canvas's centre)
        outs = [preprocess_sketch(sketch([[(140 + (x - 140) * scale, 140 + (y - 140) * scale) for x, y in s]
                                          for s in strokes], r=r)) for strokes in DIGITS.values()]
        read = predict(load_classifier(), to_model_range(torch.from_numpy(np.stack(outs)))).argmax(1).tolist()
        assert read == list(DIGITS), (scale, read)
