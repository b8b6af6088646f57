"""Tab 1's bound for a digit (ddpm.demo.bits): its table adds up to the bound ddpm.likelihood measures, and what its
words claim of the bundled model holds."""
import re

import numpy as np
import pytest

from conftest import ROOT, tiny_model
from ddpm.demo.bits import bits_text
from ddpm.demo.forward import digit_tensor
from ddpm.demo.limits import InputError
from ddpm.demo.sources import EXAMPLE, pick_digit
from ddpm.likelihood import bound_terms
from ddpm.schedule import NoiseSchedule


def rows(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^\| (L_[^|]+?) \| [^|]+ \| ([0-9.]+) \|$", text, re.M)}


PRIOR, DECODER = "L_T, the prior", "L_0, the decoder (Eq. 13)"


@pytest.mark.parametrize("T,names", [(20, [PRIOR, "L_10 .. L_19", "L_1 .. L_9", DECODER]),
                                     (4, [PRIOR, "L_1 .. L_3", DECODER])])
def test_the_table_adds_up_to_the_bound_of_the_same_seed(T, names):
    model, digit = tiny_model(timesteps=T), pick_digit(EXAMPLE, 3)
    sched = NoiseSchedule(T, model.config.schedule)
    text = bits_text(model, sched, digit, 5)
    b = bound_terms(model, sched, digit_tensor(digit), seed=5)
    total = b.total.item()
    assert text.startswith(f"**{total:.3f} bits per pixel**") and f"{total * 784:,.0f} bits for all 784" in text
    assert list(rows(text)) == names and sum(rows(text).values()) == pytest.approx(total, abs=3e-3)
    # Fig. 5 on this digit: at x_10 (the code's t = 9) what is left to send is the last two rows, L_0 .. L_9
    assert ("Once the chain holds x_10" in text) == (T > 10)
    if T > 10:
        assert f"{b.rmse[0, 9].item():.1f} grey levels of 255 (root mean square) of this digit, yet the last two " \
               f"rows, {b.terms[0, :10].sum().item():.3f} of the {total:.3f} bits, are still to be sent" in text
        assert b.terms[0, :10].sum().item() == pytest.approx(rows(text)["L_1 .. L_9"] + rows(text)[DECODER], abs=2e-3)
    assert "noise seed 5" in text and bits_text(model, sched, digit, 5) == text  # the seed's draw, again
    assert bits_text(model, sched, digit, 6) != text
    for seed in (-1, 2.5, None):
        with pytest.raises(InputError, match="seed"):
            bits_text(model, sched, digit, seed)


def test_a_square_or_an_x_costs_the_bundled_model_about_what_a_digit_does():
    """The words say the bound is a poor judge of what is a digit: a drawn square and X, preprocessed as an upload
    is, cost the bundled weights no more than 1.5 times the dearest of six test digits (on the day it was written:
    digits 1.6 to 2.6 bits per pixel, the square 2.1, the X 2.3)."""
    from ddpm.hub import load_pretrained
    model = load_pretrained(ROOT / "weights")
    sched = NoiseSchedule(model.config.timesteps, model.config.schedule)
    square, x = np.zeros((2, 100, 100), np.uint8)
    square[30:70, 30:70] = 255
    for i in range(20, 80):
        x[i, i - 4:i + 4] = x[i, 96 - i:104 - i] = 255

    def bits(digit) -> float:
        return bound_terms(model, sched, digit_tensor(digit)).total.item()

    dearest = max(bits(pick_digit(EXAMPLE, i)) for i in range(6))
    assert all(bits(pick_digit("upload", 0, shape)) < 1.5 * dearest for shape in (square, x))
