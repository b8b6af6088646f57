"""Tab 4, noise and denoise your digit: q(x_t | x_0) to a chosen t, then the reverse chain from x_t.

Small t gives the same digit back; large t forgets it and the model invents a new one. The noise
eps is the same draw as in tab 1 for the same seed (forward.fixed_eps).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..images import to_uint8_np
from ..samplers import sample_loop
from ..schedule import NoiseSchedule
from . import draw
from .forward import digit_tensor, fixed_eps, jump
from .generate import Settings
from .limits import check_int

STRIP = 10  # columns "as t grows"


@dataclass
class RoundTrip:
    main: Image.Image  # x_0 | x_t | denoised, at the chosen t
    strip: Image.Image  # the same for t = T/10 .. T
    text: str


@torch.inference_mode()
def denoise_from(model, sched: NoiseSchedule, x_t: torch.Tensor, t: int, s: Settings) -> torch.Tensor:
    """Run the reverse chain from x_t at paper t (code index t - 1) down to x_0.

    Its noise comes from the generators of (seed, 1), (seed, 2), ...: the generator of (seed, 0) drew the
    forward eps (forward.fixed_eps), and reusing it would make the first reverse step's noise that same eps."""
    last = None
    for last in sample_loop(model, sched, x_t.shape[0], s.seed, sampler=s.sampler, steps=min(s.steps, t),
                            eta=s.eta, x_start=x_t, t_start=t - 1, first_index=1):
        pass
    return last.x_prev.clamp(-1, 1)


def strip_ts(T: int, n: int = STRIP) -> list[int]:
    return sorted({int(v) for v in np.linspace(T / n, T, n).round()})


def roundtrip(model, sched: NoiseSchedule, x0_u8: np.ndarray, t, s: Settings) -> RoundTrip:
    """Noise uint8 (28, 28) x0 to paper t with the fixed eps of s.seed, denoise, and repeat across t."""
    t = check_int("t", t, 1, sched.T)
    start = time.perf_counter()
    x0 = digit_tensor(x0_u8)
    eps = fixed_eps(s.seed, x0.shape)
    x_t = jump(sched, x0, t, eps)
    out = denoise_from(model, sched, x_t, t, s)
    main = draw.hstack([
        draw.titled(draw.digits(x0, scale=6), "x_0, your digit"),
        draw.titled(draw.digits(x_t.clamp(-1, 1), scale=6), f"x_t, t = {t}"),
        draw.titled(draw.digits(out, scale=6), "denoised from x_t"),
    ])
    ts = strip_ts(sched.T)
    noisy = torch.cat([jump(sched, x0, u, eps) for u in ts])
    back = torch.cat([denoise_from(model, sched, noisy[i: i + 1], u, s) for i, u in enumerate(ts)])
    labels = [f"t={u}" for u in ts]
    strip = draw.vstack([
        draw.titled(draw.labelled_strip(to_uint8_np(noisy), labels), "x_t: the digit noised to t (same eps)"),
        draw.titled(draw.labelled_strip(to_uint8_np(back), labels), "the reverse chain from x_t"),
    ], gap=6)
    steps = "every step (DDPM)" if s.sampler == "ddpm" else f"up to {s.steps} DDIM steps"
    text = (f"Noised to t = {t} with seed {s.seed}, then denoised with {steps} in "
            f"{time.perf_counter() - start:.1f} s (all {len(ts) + 1} runs). Small t keeps your digit; "
            "as t nears T the model sees less of it and draws a digit of its own.")
    return RoundTrip(main, strip, text)
