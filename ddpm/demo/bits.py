"""Tab 1's bound: how many bits per pixel the model needs for your digit, the variational bound on -log p(x_0)
(Ho et al. 2020, Eq. 5) term by term, as ddpm.likelihood measures it, in words a learner can hold against the
8 bits a raw pixel takes."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..likelihood import bound_terms
from ..schedule import NoiseSchedule
from .forward import digit_tensor
from .limits import check_seed
from .sources import worded

FINE = 10  # L_1 .. L_9, the last steps, apart from the rest (as the README's table splits them)
SEEN = "all you can see: from noise to the digit's strokes"
UNSEEN = "the last steps: each pixel's last grey level or two"


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
    steps = ([(f"L_{FINE} .. L_{T - 1}", SEEN, terms[FINE:].sum().item()),
              (f"L_1 .. L_{FINE - 1}", UNSEEN, terms[1:FINE].sum().item())]
             if T > FINE else [(f"L_1 .. L_{T - 1}", "the steps from noise to the digit", terms[1:].sum().item())]
             if T > 1 else [])
    rows = [("L_T, the prior", "x_T against N(0, I): no network, all but nothing", b.prior.item()), *steps,
            ("L_0, the decoder (Eq. 13)", "each pixel's exact grey level, given x_1", terms[0].item())]
    # the number second: on a phone the table scrolls sideways, and its last column was out of sight
    table = "\n".join(f"| {name} | {v:.3f} | {what} |" for name, what, v in rows)
    # Fig. 5 read off one digit: at the code's t = FINE - 1 (the paper's x_FINE) the terms left are L_0 .. L_{FINE-1}
    detail = (f"Once the chain holds x_{FINE}, the network's x0_hat is within {b.rmse[0, FINE - 1].item():.1f} grey "
              f"levels of 255 (root mean square) of this digit, yet the last two rows, "
              f"{terms[:FINE].sum().item():.3f} of the {total:.3f} bits, are still to be sent: most of the code goes "
              "to detail no eye sees (Ho et al. Sec. 4.3, Fig. 5).\n\n") if T > FINE else ""
    return worded(
        f"**{total:.3f} bits per pixel** for this digit, {total * x0_u8.size:,.0f} bits for all {x0_u8.size} "
        "of its pixels, with no label (the null class's p(x_0)). It estimates an upper bound on -log2 p(x_0): the "
        "expected length of Ho et al.'s progressive code (Sec. 4.3), which sends x_T, then each x_{t-1}, with this "
        f"model. One draw of x_t per step, from noise seed {seed}: another seed moves it by up to a tenth or so. "
        "Raw pixels take 8 bits each; a noisy image can cost more. Where the bits go (Eq. 5):\n\n"
        "| term | bits per pixel | what it pays for |\n| --- | --- | --- |\n" + table + "\n\n" + detail +
        "Hold it against a test digit and a drawing of something else: the bound favours simple, mostly black "
        "images with clean edges, digit or not (on the bundled MNIST weights a square or an X costs about what a "
        "test digit does, a plain bar less than any), so it is a poor judge of what is a digit: Nalisnick et al. "
        "(2019) found models of Fashion-MNIST giving MNIST's digits a higher likelihood than their own test images. "
        "Noise costs far more (there, the first test digit under grey noise: 10 bits per pixel, past the raw 8). "
        "Training's L_simple is this bound with its weights dropped (Sec. 3.4); "
        "`python -m ddpm.likelihood` measures the bound on the test set.")
