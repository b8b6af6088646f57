"""Tab 1's training view: what L_simple (Ho et al. 2020, Eq. 14; Alg. 1) asks of the network.

Training draws x_0, t and eps, builds x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Eq. 4) and
regresses the network's eps_hat(x_t, t) on eps. Here x_0 is your digit, eps tab 1's draw for the seed, and
the network gets the null class (no label), so this is one term of the loss a plain DDPM is trained on,
shown at the chosen t and across all t (weights trained with --null-teacher regressed the null class on a
teacher instead: the text says so). t counts as in the paper (code index t - 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..schedule import NoiseSchedule
from . import draw
from .forward import COLORS as FORWARD_COLORS, MARKER, digit_tensor, fixed_eps, marker
from .kept import LastFew
from .limits import check_int, check_seed
from .sources import worded

LOSS_POINTS = 60  # values of t on the loss curve, before duplicates go (one batched network call)
LOSS = "||eps - eps_hat||^2, mean over pixels"
COLORS = {LOSS: "#1f77b4", MARKER: FORWARD_COLORS[MARKER]}  # for gr.LinePlot's color_map, the chosen t as tab 1's


@dataclass
class ObjectiveView:
    panel: Image.Image  # x_t | eps | eps_hat | eps - eps_hat | x0_hat, at the chosen t
    loss_curve: pd.DataFrame  # (t, value, curve) for gr.LinePlot: this digit's loss against t, the chosen t marked
    text: str  # markdown: the loss at t, and how to read the curve


class LossCurves(LastFew):
    """The curve's network outputs for the last `size` (digit, noise seed) pairs of one model: a t slider dragged
    over the curve reruns the network on one image, not on the curve's 60 (and a class dragging it on the same
    example shares them)."""

    def __init__(self, size: int = 16):
        super().__init__(size)


def _noised_and_guessed(model, sched: NoiseSchedule, x0: torch.Tensor, eps: torch.Tensor, ts: np.ndarray
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t (Eq. 4) and the network's eps_hat at each paper t of `ts`, in one batch: each (len(ts), 1, 28, 28)."""
    code_t, n = torch.as_tensor(ts - 1), len(ts)
    x_t = sched.q_sample(x0.expand(n, -1, -1, -1), code_t, eps.expand(n, -1, -1, -1))
    device = next(model.parameters()).device
    return x_t, model(x_t.to(device), code_t.to(device)).cpu()  # no label: the null class


@torch.no_grad()
def objective_view(model, sched: NoiseSchedule, x0_u8: np.ndarray, t, seed, null_target: str | None = None,
                   curves: LossCurves | None = None) -> ObjectiveView:
    """One training example of L_simple for a digit (uint8 (28, 28)), t in 0..T (0, the clean digit, shows
    t = 1: the loss starts there) and noise seed. null_target: what the null class was last trained to predict
    in eps's place (about.null_class_target), for the text. curves: the curves kept for this model, if any."""
    asked, seed = check_int("t", t, 0, sched.T), check_seed(seed)
    t = max(1, asked)
    x0 = digit_tensor(x0_u8)  # (1, 1, 28, 28)
    eps = fixed_eps(seed, x0.shape)
    # paper t, ascending, log-spaced: most of the loss sits at small t
    grid = np.unique(np.geomspace(1, sched.T, LOSS_POINTS).round().astype(int))
    along = lambda: _noised_and_guessed(model, sched, x0, eps, grid)  # noqa: E731
    x_t, eps_hat = along() if curves is None else curves.get_or_make((x0_u8.tobytes(), seed), along)
    ts, i = grid, int(np.searchsorted(grid, t))
    if i == len(grid) or grid[i] != t:  # the chosen t, off the grid, joins it
        x_t1, eps_hat1 = _noised_and_guessed(model, sched, x0, eps, np.array([t]))
        ts = np.insert(grid, i, t)
        x_t, eps_hat = (torch.cat([a[:i], b, a[i:]]) for a, b in ((x_t, x_t1), (eps_hat, eps_hat1)))
    losses = ((eps - eps_hat) ** 2).mean(dim=(1, 2, 3)).numpy()  # (len(ts),)
    x0_hat = sched.predict_x0(x_t[i:i + 1], t - 1, eps_hat[i:i + 1]).clamp(-1, 1)
    err = eps[0] - eps_hat[i]
    target = 168  # pixels per panel, five across
    panel = draw.hstack([
        draw.titled(draw.digits(x_t[i:i + 1], target=target), f"x_t, t = {t}\n(the network's input)"),
        draw.titled(draw.digits(draw.eps_to_uint8(eps), target=target), "eps\n(the noise drawn)"),
        draw.titled(draw.digits(draw.eps_to_uint8(eps_hat[i:i + 1]), target=target), "eps_hat\n(its guess)"),
        draw.titled(draw.digits(draw.eps_to_uint8(err[None]), target=target), "eps - eps_hat\n(the error)"),
        draw.titled(draw.digits(x0_hat, target=target), "x0_hat\n(from eps_hat)"),
    ])
    curve = pd.concat([pd.DataFrame({"t": ts, "value": losses, "curve": LOSS}),
                       marker(t, 0.0, float(losses.max()))],
                      ignore_index=True)
    worst = int(ts[np.argmax(losses)])
    # the variational bound's weight on each t's eps error (Eq. 12 with sigma_t^2 = beta_t), against L_simple's 1
    bound_w = (sched.betas / (2 * sched.alphas * (1 - sched.alpha_bar))).numpy()
    mid = sched.T // 2
    ratio = bound_w[1] / bound_w[mid - 1]  # t = 2 against the middle t
    more = "far more than" if ratio >= 2 else "about as much as"  # a short chain: alike
    null = (", so a label would lower it a little." if null_target is None else
            f". (An aside on these weights: a finishing step, beyond DDPM, last trained their null class on "
            f"{null_target} in eps's place, so that 'any digit' reads more clearly; its loss here sits above a plain "
            "DDPM's, most at small t. About explains it.)")
    gets = (" (the null class, 'any digit')" + null if getattr(model.config, "num_classes", 0) else
            ", as in its training: this model takes none.")
    text = (f"**Loss at t = {t}: {losses[i]:.3g}**" + (" (t = 0 is the clean digit, with nothing to predict)"
                                                          if asked == 0 else "") +
            f" (a network that output zeros: {float((eps ** 2).mean()):.2f}). Training draws a digit, a t and an "
            "eps, and takes one gradient step on this number (Alg. 1); here the network gets no label"
            f"{gets} The panels draw x_t and x0_hat on [-1, 1] (beyond it clipped to black or white) and the "
            "eps panels on [-3, 3] (grey is 0), so at large t x_t looks harsher than the eps it almost is.\n\n"
            "**The curve** is the same digit and eps at every t: at large t, x_t is almost eps itself, so eps is "
            "easy to read off and the loss is near 0; at small t, eps is a faint speckle on a clean digit, hard to "
            f"tell from the digit's own pixel steps (here the loss peaks at t = {worst}). That error hardly matters "
            "in pixels: x0_hat's error is eps's times sqrt(1 - alpha_bar_t) / sqrt(alpha_bar_t), "
            f"{sched.sqrt_recipm1_alpha_bar[0].item():.2g} at t = 1: in eps the largest errors, in pixels the "
            "smallest.\n\n"
            f"**Why weigh every t alike?** The true variational bound weighs the small-t terms {more} the "
            f"middle ones (Eq. 12's weight, with sigma_t^2 = beta_t: {bound_w[1]:.2g} at t = 2, "
            f"{bound_w[mid - 1]:.2g} at t = {mid}; {ratio:.0f} times as much; t = 1 is the "
            "bound's decoder term L_0). Ho et al. dropped that weighting (L_simple, Sec. 3.4), giving each t the "
            "same weight: at small t the digit is nearly clean, so getting x_0 back is easy (above: eps is hard to "
            "read there, but its error hardly shows in pixels); L_simple counts those steps for less, against the "
            "others, than the bound does, the network spends itself on the harder denoising at larger t, and the "
            "samples came out better.")
    return ObjectiveView(panel=panel, loss_curve=curve, text=worded(text))
