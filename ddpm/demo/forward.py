"""Tab 1, the forward process q(x_t | x_0): noise a digit to any t, by the closed-form jump or step by step.

t counts as in the paper: x_0 is the data and x_T (T = 1000 for the bundled weights) is almost pure noise; x_t for t >= 1 is
schedule index t - 1 in the code (ddpm.schedule counts from 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..config import SCHEDULES
from ..data import to_model_range
from ..images import to_uint8_np
from ..samplers import sample_generators
from ..schedule import NoiseSchedule
from . import draw
from .limits import check_choice, check_int, check_seed
from .runtime import schedule
from .sources import worded

STRIP = 11  # thumbnails across t
CURVE_POINTS = 200  # points per plotted curve
MARKER = "chosen t"  # the vertical segment at the slider's t (one name, so its colour stays put)
# short, so that on a phone the legend's one row holds all three names (the formulas are in the axis titles)
SIGNAL, NOISE, LOG_SNR = "signal", "noise", "log-SNR"
# the chosen t's line in every plot (tab 3's too): mid grey, seen on the light and on the dark theme (black vanished on
# the dark one; a red one and the green log-SNR curve look the same olive to a red-green colour-blind eye)
MARKER_COLOR = "#8c8c8c"
# for gr.LinePlot's color_map: a darker orange than tab10's (3:1 on white)
COLORS = {SIGNAL: "#1f77b4", NOISE: "#c45a00", LOG_SNR: "#2ca02c", MARKER: MARKER_COLOR}


@dataclass
class ForwardView:
    x0: Image.Image  # the preprocessed digit
    x_t: Image.Image  # closed form, Eq. 4
    x_t_chain: Image.Image  # t Markov steps, Eq. 2
    strip: Image.Image  # x_t across t, same eps
    scales: pd.DataFrame  # sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t) against t, with the chosen t marked
    log_snr: pd.DataFrame  # ln(alpha_bar_t / (1 - alpha_bar_t)) against t
    text: str  # markdown: the numbers at t, and how the jump and the chain compare


def digit_tensor(x0_u8: np.ndarray) -> torch.Tensor:
    """A preprocessed digit, uint8 (28, 28), as the network's input: (1, 1, 28, 28) in [-1, 1]."""
    return to_model_range(torch.as_tensor(np.asarray(x0_u8, dtype=np.uint8))[None])


def marker(t: int, lo: float, hi: float) -> pd.DataFrame:
    """The vertical segment at the chosen t on a gr.LinePlot (long-form rows of the MARKER curve)."""
    return pd.DataFrame({"t": [t, t], "value": [lo, hi], "curve": MARKER})


def fixed_eps(seed: int, shape=(1, 1, 28, 28)) -> torch.Tensor:
    """One noise draw per seed (from the generator of (seed, 0)), reused for every t so x_t morphs smoothly."""
    g = sample_generators(seed, 1)[0]
    return torch.randn(shape, generator=g)


def jump(sched: NoiseSchedule, x0: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
    """x_t from x_0 in one go (Eq. 4); t = 0 is x_0 itself."""
    return x0 if t == 0 else sched.q_sample(x0, t - 1, eps)


def chain(sched: NoiseSchedule, x0: torch.Tensor, t: int, seed: int) -> torch.Tensor:
    """x_t by t steps of q(x_s | x_{s-1}) (Eq. 2), fresh noise each step from the generator of (seed, 1)."""
    g = sample_generators(seed, 1, first=1)[0]
    x = x0
    for i in range(t):  # code index i: the paper's step from x_i to x_{i+1}
        x = sched.q_step(x, i, torch.randn(x.shape, generator=g))
    return x


def curves(sched: NoiseSchedule, t: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-form frames for gr.LinePlot: (t, value, curve); the chosen t is a vertical segment."""
    ts = np.unique(np.linspace(1, sched.T, CURVE_POINTS).round().astype(int))
    idx = ts - 1
    a = sched.sqrt_alpha_bar[idx].numpy()
    b = sched.sqrt_one_minus_alpha_bar[idx].numpy()
    ln_snr = sched.log_snr[idx].numpy()
    scales = pd.concat([
        pd.DataFrame({"t": np.r_[0, ts], "value": np.r_[1.0, a], "curve": SIGNAL}),
        pd.DataFrame({"t": np.r_[0, ts], "value": np.r_[0.0, b], "curve": NOISE}),
        marker(t, 0.0, 1.0),
    ], ignore_index=True)
    lo, hi = float(ln_snr.min()), float(ln_snr.max())
    log_snr = pd.concat([
        pd.DataFrame({"t": ts, "value": ln_snr, "curve": LOG_SNR}),
        marker(t, lo, hi),
    ], ignore_index=True)
    return scales, log_snr


def notation(sched: NoiseSchedule, conditional: bool = True) -> str:
    """Markdown: the symbols the app uses, each with its value on this schedule (the null class if `conditional`)."""
    T, betas, ab = sched.T, sched.betas, sched.alpha_bar
    t_snr_1 = int((sched.log_snr < 0).int().argmax()) + 1  # paper t of the first step with more noise than signal
    return worded("\n".join([
        f"t counts the forward steps as in the paper: x_0 is the digit, x_t after t steps, x_T (T = {T}) noise. "
        "The code counts from 0: the paper's x_t is the code's index t - 1 (index 0 is the paper's t = 1).",
        "",
        "- **x_0**: the digit, its pixels mapped from [0, 1] to [-1, 1] (2x - 1: the background is -1), a range "
        "on the scale of the noise, so that the network sees like-scaled inputs from x_T ~ N(0, I) on (Sec. 3.3).",
        f"- **beta_t**: the variance of the noise added at step t ({sched.kind} schedule: {float(betas[0]):.2g} at "
        f"t = 1 up to {float(betas[-1]):.3g} at t = T). **alpha_t** = 1 - beta_t.",
        "- **alpha_bar_t** = alpha_1 alpha_2 ... alpha_t: the share of x_0's variance left at t "
        f"({float(ab[T // 2 - 1]):.3f} at t = {T // 2}, {float(ab[-1]):.1e} at t = T), so "
        "q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) (Eq. 4).",
        "- **SNR**(t) = alpha_bar_t / (1 - alpha_bar_t), signal over noise in variance; the plot shows its natural "
        f"log, 0 where the two are equal (here at about t = {t_snr_1}).",
        "- **eps** ~ N(0, I): the noise drawn; **eps_hat**: the network's guess of it from x_t and t; **x0_hat** = "
        "(x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t): the clean digit that guess implies (Eq. 15).",
        "- **beta_tilde_t** = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t: the variance of q(x_{t-1} | x_t, x_0) "
        "(Eq. 7). A DDPM step back adds noise of variance sigma_t^2 = beta_t (this app's) or beta_tilde_t; Ho et al. "
        "found both give similar samples. DDIM with eta 0, the app's default, adds none.",
        ("- **null class**: the label meaning 'no class' (any digit); classifier-free guidance mixes its eps_hat with "
         "a class's. " if conditional else "- ") + "**EMA**: the weights sampled are a running average of the "
        "training weights.",
        "",
        equations(conditional),
    ]))


# the paper's equations as it prints them (KaTeX, Gradio's $$ ... $$), each with the code name beside it
EQUATIONS = [
    ("Eq. 2, one forward step: `q_step`", r"q(x_t \mid x_{t-1}) = \mathcal{N}\big(x_t;\ \sqrt{1 - \beta_t}\, "
                                          r"x_{t-1},\ \beta_t I\big)"),
    ("Eq. 4, t steps at once: `q_sample`", r"q(x_t \mid x_0) = \mathcal{N}\big(x_t;\ \sqrt{\bar\alpha_t}\, x_0,\ "
                                           r"(1 - \bar\alpha_t) I\big)"),
    ("... drawn as (Sec. 3.2): `q_sample`", r"x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,"
                                            r"\quad \epsilon \sim \mathcal{N}(0, I)"),
    ("Eq. 14, the loss: `diffusion_loss`", r"L_\text{simple} = \mathbb{E}_{t, x_0, \epsilon} \big\| \epsilon - "
                                           r"\epsilon_\theta(x_t, t) \big\|^2"),
    ("Eq. 15, x0_hat: `predict_x0`", r"\hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \hat\epsilon}"
                                     r"{\sqrt{\bar\alpha_t}}"),
    ("Eq. 7, the posterior q(x_{t-1} | x_t, x_0)'s mean: `q_posterior`",
     r"\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t} x_0 + \frac{\sqrt{\alpha_t}\, "
     r"(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t"),
    ("... and its variance: `q_posterior`", r"\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t"),
    ("A DDPM step, Alg. 2 line 4 (its mean is Eq. 11): `p_sample` (exactly, with clip=False)",
     r"x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}} \hat\epsilon\Big) + "
     r"\sigma_t z,\quad z \sim \mathcal{N}(0, I) \text{ if } t > 1, \text{ else } z = 0"),
    ("DDIM's Eq. 12 (Song et al., their alpha is alpha_bar here; sigma_t is their Eq. 16's, eta times beta_tilde's "
     "root over the steps visited): `ddim_step`",
     r"x_{t-1} = \sqrt{\bar\alpha_{t-1}}\, \hat x_0 + \sqrt{1 - \bar\alpha_{t-1} - \sigma_t^2}\, \hat\epsilon + "
     r"\sigma_t z"),
]
GUIDANCE = ("Classifier-free guidance (Ho & Salimans 2022; their w is this w - 1): `guided_eps`",
            r"\hat\epsilon = \epsilon_\theta(x_t, \varnothing) + w \big(\epsilon_\theta(x_t, y) - "
            r"\epsilon_\theta(x_t, \varnothing)\big)")


def equations(conditional: bool = True) -> str:
    """Markdown: the equations the app shows, typeset (Gradio's Markdown renders $$ ... $$ with KaTeX)."""
    rows = EQUATIONS + ([GUIDANCE] if conditional else [])
    return "**The equations** (Ho et al. 2020 unless named), typeset:\n\n" + "\n\n".join(
        f"{name}\n$${tex}$$" for name, tex in rows)


def _numbers(sched: NoiseSchedule, x0, x_t, x_t_chain, t: int) -> str:
    if t == 0:
        return worded("t = 0: x_0 is the digit itself, no noise yet. Move the slider.")
    i = t - 1
    sqrt_ab, sqrt_1m_ab = float(sched.sqrt_alpha_bar[i]), float(sched.sqrt_one_minus_alpha_bar[i])
    r_jump, r_chain = (x_t - sqrt_ab * x0), (x_t_chain - sqrt_ab * x0)  # what is left after removing the signal

    def row(name, r):
        return f"| {name} | {float(r.mean()):+.3f} | {float(r.std()):.3f} |"

    return "\n".join([
        f"**t = {t}**: sqrt(alpha_bar_t) = {sqrt_ab:.3f} of x_0 is left, plus noise of scale "
        f"sqrt(1 - alpha_bar_t) = {sqrt_1m_ab:.3f}; log-SNR = {float(sched.log_snr[i]):+.2f}.",
        "",
        "Both routes give the same distribution q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I): "
        "the leftover x_t - sqrt(alpha_bar_t) x_0 should have mean 0 and std sqrt(1 - alpha_bar_t) "
        f"= {sqrt_1m_ab:.3f}.",
        "",
        "| route | mean | std |",  # narrow enough for a phone: the std column was off its screen
        "| --- | --- | --- |",
        row("one jump (Eq. 4)", r_jump),
        row(f"{t} step{'s' * (t != 1)} (Eq. 2)", r_chain),
    ])


def forward_view(x0_u8: np.ndarray, kind: str, t, seed, T: int = 1000) -> ForwardView:
    """Everything tab 1 shows for one digit (uint8 (28, 28)), schedule kind, t in 0..T and noise seed."""
    kind = check_choice("schedule", kind, SCHEDULES)
    t, seed = check_int("t", t, 0, T), check_seed(seed)
    sched = schedule(T, kind)
    x0 = digit_tensor(x0_u8)
    eps = fixed_eps(seed, x0.shape)
    x_t, x_t_chain = jump(sched, x0, t, eps), chain(sched, x0, t, seed)
    strip_ts = np.linspace(0, T, STRIP).round().astype(int)
    strip = torch.cat([jump(sched, x0, int(s), eps) for s in strip_ts])
    scales, log_snr = curves(sched, t)
    return ForwardView(
        x0=draw.digits(x0, scale=8),
        x_t=draw.digits(x_t, scale=8),
        x_t_chain=draw.digits(x_t_chain, scale=8),
        strip=draw.labelled_strip(to_uint8_np(strip), [f"t={s}" for s in strip_ts], scale=3),
        scales=scales,
        log_snr=log_snr,
        text=_numbers(sched, x0, x_t, x_t_chain, t),
    )
