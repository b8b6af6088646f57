"""Tab 1's bound: how many bits per pixel the model needs for your digit, the variational bound on -log p(x_0)
(Ho et al. 2020, Eq. 5) term by term, as ddpm.likelihood measures it, in words a learner can hold against the
8 bits a raw pixel takes."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch

from ..likelihood import FINE, bound_terms  # FINE: L_1 .. L_9 in a row of their own, for T >= 10 FINE
from ..schedule import NoiseSchedule
from .forward import digit_tensor
from .limits import check_seed
from .sources import worded

CLOSE = 5  # grey levels of 255 (RMS) within which x0_hat at x_FINE counts as the digit to the eye


def waiting(T: int) -> str:
    """The bound's place before a measure (and once its digit or seed moves): a line, so that the press has a place
    to show its progress in and the page scrolls to where the result will come."""
    return (f"*Press **Measure the bound**: {T:,} network passes, one per step (about a second at T = 1000 on 2 CPU "
            "cores).*")


def bits_stream(model, sched: NoiseSchedule, x0_u8: np.ndarray, seed) -> Iterator[str]:
    """The app's run: a line while it measures (its progress shown so, not as Gradio's overlay, which a new digit's
    cancel could leave reading "Error"), then bits_text. A bad seed is refused before the line."""
    check_seed(seed)
    yield f"*Measuring: {sched.T:,} network passes ...*"
    yield bits_text(model, sched, x0_u8, seed)


@torch.no_grad()
def bits_text(model, sched: NoiseSchedule, x0_u8: np.ndarray, seed) -> str:
    """Markdown: the bound for one preprocessed digit (uint8 (28, 28)) under the null class, in bits per pixel,
    and where it goes: the prior L_T, the steps L_{t-1} (one network pass each at x_t ~ q(x_t | x_0), the noise
    from `seed`) and the decoder L_0 (Eq. 13). T passes, in batches: about a second on 2 CPU cores at T = 1000."""
    seed = check_seed(seed)
    b = bound_terms(model, sched, digit_tensor(x0_u8), seed=seed)  # terms: (1, T), code t = the paper's L_t
    total, terms, T = b.total.item(), b.terms[0], sched.T
    split = T >= 10 * FINE  # a short chain's last nine steps are much of it: one row
    steps = [(_names(FINE, T - 1), f"the steps from x_T to x_{FINE}", terms[FINE:].sum().item()),
             (_names(1, FINE - 1), f"the last steps, x_{FINE} to x_1", terms[1:FINE].sum().item())] if split else \
        [(_names(1, T - 1), "the steps from x_T to x_1", terms[1:].sum().item())] if T > 1 else []
    rows = [("L_T, the prior", "x_T against N(0, I): no network, all but nothing", b.prior.item()), *steps,
            ("L_0, the decoder (Eq. 13)", "each pixel's exact grey level, given x_1", terms[0].item())]
    # the number second: on a phone the table scrolls sideways, and its last column was out of sight
    table = "\n".join(f"| {name} | {v:.3f} | {what} |" for name, what, v in rows)
    # Fig. 5 read off one digit: at the code's t = FINE - 1 (the paper's x_FINE) the terms left are L_0 .. L_{FINE-1};
    # said where it holds (a trained model's x0_hat there is the digit to the eye, yet most bits are still to come)
    close, left = (b.rmse[0, FINE - 1].item(), terms[:FINE].sum().item()) if split else (math.inf, 0.0)
    detail = (f"Once the chain holds x_{FINE}, the network's x0_hat is within {close:.1f} grey levels of 255 (root "
              f"mean square) of this digit, yet the last two rows, {left:.3f} of the {total:.3f} bits, are still "
              "to be sent: most of the code goes to detail no eye sees (Ho et al. Sec. 4.3, Fig. 5).\n\n"
              ) if close < CLOSE and left > total / 2 else ""
    label = ", with no label (the null class's p(x_0))" if model.config.num_classes else ""
    return worded(
        f"**{total:.3f} bits per pixel** for this digit, {total * x0_u8.size:,.0f} bits for all {x0_u8.size} "
        f"of its pixels{label}. It estimates an upper bound on -log2 p(x_0): the expected length of Ho et al.'s "
        "progressive code (Sec. 4.3), which sends x_T, then each x_{t-1}, with this model. One draw of x_t per "
        f"step, from noise seed {seed}: another seed gives another estimate (seeds 0 to 4 spread the bundled "
        "weights' figure for the first test digit over 0.12). Raw pixels take 8 bits each; "
        "a noisy image can cost more. Where the bits go (Eq. 5):\n\n"
        "| term | bits per pixel | what it pays for |\n| --- | --- | --- |\n" + table + "\n\n" + detail +
        "Hold it against a test digit and a drawing of something else: a likelihood favours simple, mostly black "
        "images with clean edges, whatever they show (on the bundled MNIST weights a square or an X costs about "
        "what a test digit does, a plain bar less than any), so it is a poor judge of what a model has learnt: "
        "Nalisnick et al. (2019) found models of Fashion-MNIST giving MNIST's handwritten numerals a higher "
        "likelihood than their own test images. Noise costs far more (there, the first test digit under grey "
        "noise: 10 bits per pixel, past the raw 8). Training's L_simple is this bound with its weights dropped "
        "(Sec. 3.4); `python -m ddpm.likelihood` measures the bound on the test set.")


def _names(first: int, last: int) -> str:
    """The terms L_first .. L_last as a row names them (one name for one term)."""
    return f"L_{first}" if first == last else f"L_{first} .. L_{last}"
