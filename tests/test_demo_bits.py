"""Tab 1's bound for a digit (ddpm.demo.bits): its table adds up to the bound ddpm.likelihood measures, and what its
words claim of the bundled model holds."""
import re

import numpy as np
import pytest

from conftest import ROOT, tiny_model
from ddpm.demo.bits import bits_stream, bits_text, waiting
from ddpm.demo.forward import digit_tensor
from ddpm.demo.limits import InputError
from ddpm.demo.sources import EXAMPLE, pick_digit
from ddpm.likelihood import bound_terms
from ddpm.schedule import NoiseSchedule


def rows(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^\| (L_[^|]+?) \| ([0-9.]+) \| [^|]+ \|$", text, re.M)}


PRIOR, DECODER = "L_T, the prior", "L_0, the decoder (Eq. 13)"


@pytest.mark.parametrize("T,names", [(100, [PRIOR, "L_10 .. L_99", "L_1 .. L_9", DECODER]),
                                     (20, [PRIOR, "L_1 .. L_19", DECODER]),  # nine steps of 20: no split
                                     (2, [PRIOR, "L_1", DECODER])])
def test_the_table_adds_up_to_the_bound_of_the_same_seed(T, names):
    model, digit = tiny_model(timesteps=T), pick_digit(EXAMPLE, 3)
    sched = NoiseSchedule(T, model.config.schedule)
    text = bits_text(model, sched, digit, 5)
    b = bound_terms(model, sched, digit_tensor(digit), seed=5)
    total = b.total.item()
    assert text.startswith(f"**{total:.3f} bits per pixel** for this digit, {total * 784:,.0f} bits for all 784 "
                           "of its pixels, with no label (the null class's p(x_0)).")
    assert list(rows(text)) == names and sum(rows(text).values()) == pytest.approx(total, abs=3e-3)
    assert "Once the chain holds" not in text  # an untrained network's x0_hat at x_10 is nowhere near the digit
    assert "noise seed 5" in text and bits_text(model, sched, digit, 5) == text  # the seed's draw, again
    assert bits_text(model, sched, digit, 6) != text
    for seed in (-1, 2.5, None):
        with pytest.raises(InputError, match="seed"):
            bits_text(model, sched, digit, seed)
        with pytest.raises(InputError, match="seed"):  # the app's run: before its "Measuring" line
            next(bits_stream(model, sched, digit, seed))
    # the app's run says it is measuring (its progress, as Gradio's overlay is hidden), then the figures
    assert list(bits_stream(model, sched, digit, 5)) == [f"*Measuring: {T:,} network passes ...*", text]
    assert waiting(T).startswith("*Press **Measure the bound**: ")
    unconditional = tiny_model(timesteps=T, num_classes=0)  # no null class to name
    assert bits_text(unconditional, sched, digit, 5).startswith("**") and "null class" not in \
        bits_text(unconditional, sched, digit, 5)


def test_what_the_words_say_of_shapes_and_noise_holds_on_the_bundled_model():
    """The words say the bound is a poor judge of what is a digit, and noise costs past the raw 8 bits. On the bundled
    weights, uploads preprocessed as the app takes them: a filled square and an X cost what the first six test digits
    do (within their range, 1.6 to 2.6 bits per pixel on the day it was written: the square 2.1, the X 2.3), a plain
    bar less than any (1.2), and the first digit under grey noise (sd 40 of 255) more than 8 (10.1)."""
    from ddpm.hub import load_pretrained
    model = load_pretrained(ROOT / "weights")
    sched = NoiseSchedule(model.config.timesteps, model.config.schedule)
    square, x, bar = np.zeros((3, 100, 100), np.uint8)
    square[30:70, 30:70] = bar[10:90, 45:55] = 255
    for i in range(20, 80):
        x[i, i - 4:i + 4] = x[i, 96 - i:104 - i] = 255
    rng = np.random.default_rng(0)
    noisy = np.clip(pick_digit(EXAMPLE, 0) + rng.normal(0, 40, (28, 28)), 0, 255).astype(np.uint8)

    def bits(picture) -> float:
        return bound_terms(model, sched, digit_tensor(pick_digit("upload", 0, picture))).total.item()

    bounds = [bound_terms(model, sched, digit_tensor(pick_digit(EXAMPLE, i))) for i in range(6)]  # 1000 passes each
    digits = [b.total.item() for b in bounds]
    assert all(min(digits) < bits(shape) < max(digits) for shape in (square, x))
    assert bits(bar) < min(digits) and bits(noisy) > 8
    # Fig. 5 on the first digit: at x_10 (the code's t = 9) x0_hat is the digit to the eye, and what is left to send,
    # the last two rows (L_0 .. L_9), is most of the bits
    text, b = bits_text(model, sched, pick_digit(EXAMPLE, 0), 0), bounds[0]  # the first digit's, measured above
    left = b.terms[0, :10].sum().item()
    assert list(rows(text)) == [PRIOR, "L_10 .. L_999", "L_1 .. L_9", DECODER]
    assert left == pytest.approx(rows(text)["L_1 .. L_9"] + rows(text)[DECODER], abs=2e-3)
    assert f"Once the chain holds x_10, the network's x0_hat is within {b.rmse[0, 9].item():.1f} grey levels of " \
           f"255 (root mean square) of this digit, yet the last two rows, {left:.3f} of the {b.total.item():.3f} " \
           "bits, are still to be sent" in text and b.rmse[0, 9] < 3 and left > 0.7 * b.total.item()
