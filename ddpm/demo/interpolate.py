"""Tab 4's interpolation (Ho et al. 2020, Sec. 4.4 and Fig. 8): two digits noised to the same t by q, the noisy
pair mixed linearly, and each mix denoised by the reverse process.

    x_t  = q_sample(x_0,  t, eps)      x'_t = q_sample(x'_0, t, eps')      (Eq. 4, each its own noise)
    x_bar_t(lambda) = (1 - lambda) x_t + lambda x'_t,  then  x_bar_0 ~ p(x_0 | x_bar_t)

x_t and x'_t stay fixed as lambda moves (as in the paper), so from column to column only the mix changes (and,
with DDPM or eta > 0, each column's reverse noise). At small t the reverse process cleans up a cross-fade of the
two digits; at large t it turns the mix into a digit of its own. The mix of two independent noises has a smaller
standard deviation than the schedule's at t (down to 1/sqrt(2) of it, at lambda = 1/2); the paper's linear mix
leaves it so. Rescaling it to the schedule's level would move some results: on the bundled weights it changed the
classifier's reading of about a quarter of the middle columns at t = T/3 and T/2 (35 and 33 of 140, DDIM 50, 5
digit pairs and 4 seeds, measured by a scratch script), and neither way gave one of the two digits more often.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from ..images import to_uint8_np
from ..samplers import sample_generators, steps_run
from ..schedule import NoiseSchedule
from . import draw
from .forward import digit_tensor, fixed_eps, jump
from .generate import Settings, readings, unsure
from .limits import check_int
from .progress import Progress, Ticker
from .roundtrip import chain_words, check_chains, denoise_steps
from .sources import worded

COLUMNS = 9  # lambda = 0, 1/8, ..., 1


@dataclass
class Interpolation:
    image: Image.Image  # three rows of COLUMNS: the pixel mix, x_bar_t, the denoised x_bar_0
    text: str
    x_bar_t: torch.Tensor  # (COLUMNS, 1, 28, 28) the mixes, lambda = 0 .. 1
    x_bar_0: torch.Tensor  # (COLUMNS, 1, 28, 28) each mix denoised, in [-1, 1]
    pixels: torch.Tensor  # (COLUMNS, 1, 28, 28) the first row: (1 - lambda) x_0 + lambda x'_0, for comparison


def default_t(T: int) -> int:
    """The app's starting t: near T/3, where most mixes become one digit or the other (at T/2, the model's own)."""
    return max(1, round(T / 3))


def lambdas(n: int = COLUMNS) -> torch.Tensor:
    """(n,) mixing weights from 0 (your digit) to 1 (the other digit)."""
    return torch.linspace(0, 1, n)


def other_eps(seed: int, shape=(1, 1, 28, 28)) -> torch.Tensor:
    """eps' of the other digit, from the generator of (seed, COLUMNS + 1): (seed, 0) drew eps (forward.fixed_eps,
    so lambda = 0 is tab 4's own x_t) and (seed, 1 .. COLUMNS) draw the columns' reverse noise (denoise_steps)."""
    return torch.randn(shape, generator=sample_generators(seed, 1, first=COLUMNS + 1)[0])


@torch.inference_mode()
def interpolate_stream(model, sched: NoiseSchedule, x0_u8: np.ndarray, other_u8: np.ndarray, t, s: Settings,
                       classifier=None) -> Iterator[Progress | Interpolation]:
    """Your digit x_0 and another x'_0 (uint8 (28, 28) each) noised to paper t, mixed in COLUMNS steps of lambda
    and denoised with s's sampler and steps (the null class); a Progress every few steps, then the Interpolation
    (with a classifier, its text says which digit each column came back as: the picture in words)."""
    t = check_int("t", t, 1, sched.T)
    check_chains([t] * COLUMNS, s, f"The {COLUMNS} mixes")
    lam = lambdas().view(-1, 1, 1, 1)  # (COLUMNS, 1, 1, 1)
    x0, x0_other = digit_tensor(x0_u8), digit_tensor(other_u8)  # (1, 1, 28, 28) each
    x_t = jump(sched, x0, t, fixed_eps(s.seed, x0.shape))
    x_t_other = jump(sched, x0_other, t, other_eps(s.seed, x0.shape))
    mixed = (1 - lam) * x_t + lam * x_t_other  # (COLUMNS, 1, 28, 28): x_bar_t, one per lambda
    total = steps_run(s.sampler, s.steps, t - 1)
    ticker = Ticker(total)
    for step in denoise_steps(model, sched, mixed, t, s):
        if ticker.due():
            yield Progress(f"Denoising {COLUMNS} mixes from t = {t}: step {ticker.done} of {total}, {ticker.elapsed()}")
    back = step.x_prev.clamp(-1, 1)
    labels = [f"{v:.3g}" for v in lam.view(-1).tolist()]
    pixels = (1 - lam) * x0 + lam * x0_other
    rows = [(pixels, "pixels mixed, (1 - lambda) x_0 + lambda x'_0 (for comparison)"),
            (mixed.clamp(-1, 1), f"x_bar_t = (1 - lambda) x_t + lambda x'_t, t = {t}"),
            (back, "x_bar_t denoised by the model")]
    image = draw.titled_rows([(draw.labelled_strip(to_uint8_np(x), labels), title) for x, title in rows])
    fresh = ("; each column also draws its own reverse noise" if s.sampler == "ddpm" or s.eta else
             "; DDIM with eta 0 adds no noise on the way back, so the columns differ only by lambda")
    text = (f"lambda runs from 0 (your digit) to 1 (the other digit), above each column. Both were noised to t = {t} "
            f"with seed {s.seed}, then each mix denoised with {chain_words(s, t)} in {ticker.elapsed()}{fresh}."
            f"{read_mixes(classifier, back)} The two noises are independent, so a mix holds less noise than t "
            "implies (at lambda = 1/2 its std is 1/sqrt(2) of the schedule's; the paper mixes so too). At small t the "
            "model tidies a cross-fade of the two. Near t = T/3 most mixes become one of the two digits, switching "
            "near lambda = 1/2, sometimes through a third; from about T/2 on, the model sees less of either, and more "
            "and more of the mixes (the two ends last) come back as digits of its own, which the seed's noise picks, "
            "as in the strip above. Ho et al. (2020, Sec. 4.4) mix so at t = 500 of 1000 (their Fig. 8); nearer T, "
            "their Fig. 9's mixes turn into new samples.")
    yield Interpolation(image, worded(text), mixed, back, pixels)


def read_mixes(classifier, back: torch.Tensor) -> str:
    """' The MNIST classifier reads ...': the denoised mixes back (COLUMNS, 1, 28, 28) in [-1, 1] in words, by
    column; '' without a classifier."""
    if classifier is None:
        return ""
    read = readings(classifier, back)
    return f" The MNIST classifier reads the denoised mixes, lambda = 0 to 1, as {' '.join(read)}.{unsure(read)}"
