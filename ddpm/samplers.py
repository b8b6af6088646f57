"""Reverse-process samplers: DDPM ancestral sampling (Ho et al. 2020, Alg. 2) and DDIM (Song et al. 2021).

Alg. 2, in the paper's t (the functions take the code index, t - 1):
    x_T ~ N(0, I)                              sample_loop (randn_per_sample: one generator per sample)
    for t = T, ..., 1:                         reverse_chain, over reverse_timesteps(...)
        eps_hat = eps_theta(x_t, t)            guided_eps (with classifier-free guidance, if asked)
        z ~ N(0, I) if t > 1, else z = 0       reverse_step
        x_{t-1} = mu_theta(x_t, t) + sigma_t z   p_sample (DDIM: ddim_step, Song et al. Eq. 12)

`p_sample` and `ddim_step` are one reverse step each, pure math returning (x_prev, x0_hat); `sample_loop` checks
the call and returns a generator (reverse_chain's) that yields a `Step` per reverse step: t, x_t, x0_hat,
eps_hat, and x_prev at t_prev, so a UI can animate x0_hat without recomputing anything. All noise comes from one
torch.Generator per sample, seeded from (seed, k), and a random label from its own (numpy) stream of (seed, k):
sample k depends only on (seed, k), up to the float rounding of the network's batched arithmetic (a batch of
another size, thread count or CPU may move a rare pixel by one grey level). What a call may ask is checked first,
in ddpm/sampling_checks.py.
"""
from __future__ import annotations

import inspect
import math
import operator
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

# the request's vocabulary and checks (ddpm.sampling_checks), also imported from here by the commands and the app
from .config import is_real
from .sampling_checks import (MAX_SEED, RANDOM, SAMPLERS, VARIANCES, check_count, check_guided_call,  # noqa: F401
                              check_request, check_sampling, check_schedule, check_seed, check_start, check_timesteps,
                              one_label, steps_problem)
from .schedule import NoiseSchedule
from .unet import batch_timesteps

DDIM_STEPS = 50  # DDIM's default number of steps
SIGMA = {"beta": "sqrt_betas", "beta_tilde": "posterior_std"}  # each variance's sigma_t: its NoiseSchedule array


@dataclass
class Step:
    t: int  # the timestep just denoised, a code index (0-based): the paper's t is t + 1
    x_t: torch.Tensor  # (B, C, H, W) the input of this step
    x0_hat: torch.Tensor  # (B, C, H, W) predicted clean image
    eps_hat: torch.Tensor  # (B, C, H, W) the network's predicted noise (guided), before any clipping of x0_hat
    x_prev: torch.Tensor  # (B, C, H, W) x at t_prev; the final sample once t_prev == -1
    t_prev: int  # the timestep x_prev is at: t - 1 for DDPM, the next of the subsequence for DDIM; -1 is x_0
    index: int  # 0 .. num_steps-1
    num_steps: int

    @property
    def paper_t(self) -> int:
        """The paper's t of x_t (1 .. T): the code index t + 1."""
        return self.t + 1

    @property
    def paper_t_prev(self) -> int:
        """The paper's t of x_prev (0 .. T - 1; 0 is x_0): the code index t_prev + 1."""
        return self.t_prev + 1


# ---------------------------------------------------------------- one step of each sampler (pure math)

def p_sample(sched: NoiseSchedule, x_t, t: int, eps_hat, z, variance: str = "beta", clip: bool = True):
    """One DDPM step, Ho et al. Alg. 2 line 4: x_{t-1} ~ p_theta(x_{t-1} | x_t), in the paper's numbering, where the
    argument t is the code index, the paper's t - 1 (code t = 0 is the paper's last step, x_1 -> x_0). Returns
    (x_{t-1}, x0_hat), each (B, C, H, W) like x_t, eps_hat and the fresh noise z; z may be None at code t = 0, where
    none is added. sigma_t^2 is beta_t or beta_tilde_t (Sec. 3.2)."""
    t = _index("t", t)
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, not {variance!r}")
    if variance not in SIGMA:  # a name added to VARIANCES alone
        raise ValueError(f"variance {variance!r} has no sigma_t here (a name added to VARIANCES needs one in SIGMA)")
    if z is None and t > 0:
        raise ValueError(f"z, the fresh noise N(0, I) like x_t, is added at every step but the last (code t = 0); "
                         f"this is t = {t}")
    _warn_if_graph(eps_hat)
    x0_hat = sched.predict_x0(x_t, t, eps_hat)  # Eq. 15: Eq. 4 solved for x_0
    if clip:  # not in Alg. 2: Ho et al.'s released code (clip_denoised) clips x0_hat to the data's [-1, 1]
        x0_hat = x0_hat.clamp(-1, 1)  # (Sec. 3.3) and takes Eq. 7's mean at it; clip=False is Alg. 2 exactly
    # Eq. 7's mu_tilde(x_t, x0_hat); with x0_hat unclipped it is Eq. 11, Alg. 2's
    # 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat)
    mean, _ = sched.q_posterior(x0_hat, x_t, t)
    # Alg. 2 line 3: z = 0 at the paper's t = 1, the last step; there alpha_bar_{t-1} = 1, so Eq. 7's mean is
    # x0_hat itself (Sec. 3.3: mu_theta(x_1, 1) shown without noise, in place of Eq. 13's decoder)
    if t == 0:
        return mean, x0_hat
    _check_noise("z", z, x_t)
    sigma = getattr(sched, SIGMA[variance])[t]  # sigma_t, Sec. 3.2
    return mean + sigma * z, x0_hat


def ddim_step(sched: NoiseSchedule, x_t, t: int, t_prev: int, eps_hat, noise, eta: float = 0.0, clip: bool = True):
    """Song et al. 2021, Eq. 12, from t to t_prev (t_prev = -1 means alpha_bar = 1). Returns (x_prev, x0_hat).

    t, t_prev are code indices; x_t, eps_hat and noise are (B, C, H, W); noise (Song et al.'s eps_t, Alg. 2's z)
    may be None when eta = 0 or t_prev = -1 (sigma = 0 there). alpha_bar_prev below is alpha_bar at t_prev, the
    next timestep the chain visits (not t - 1, as in the schedule's arrays, unless every step is visited).

    Song et al. write alpha_t for what Ho et al. (and this code) call alpha_bar_t, so their sqrt(alpha_{t-1})
    is sqrt(alpha_bar_prev) here. At eta = 1, Eq. 16's sigma^2 is Ho et al.'s beta_tilde (Eq. 7) of the steps
    visited: with every step visited, this is p_sample with variance="beta_tilde" (not its default "beta").
    The coefficients are in float64: at eta = 1, 1 - alpha_bar_prev - sigma^2 is 2.5e-6 on the first of 50 cosine
    steps (1e-9 with 2 steps), of which float32 keeps a digit or two (or none)."""
    t, t_prev = _index("t", t), _index("t_prev", t_prev)
    # eta < 0: a negative sigma; eta > 1: eps_hat's squared weight in Eq. 12, 1 - alpha_bar_prev - sigma^2, can go
    # below 0
    if not (is_real(eta) and 0 <= eta <= 1):
        raise ValueError(f"eta must be between 0 (deterministic DDIM) and 1, not {eta!r}")
    if not -1 <= t_prev < t < sched.T:  # t_prev > t would go up the chain (Eq. 16's sigma^2 < 0); t_prev = t, no step
        raise ValueError(f"DDIM steps down the chain: need -1 <= t_prev < t <= {sched.T - 1}, not t = {t}, "
                         f"t_prev = {t_prev}")
    _warn_if_graph(eps_hat)
    alpha_bar_t = sched.alpha_bar_f64[t].item()
    alpha_bar_prev = sched.alpha_bar_f64[t_prev].item() if t_prev >= 0 else 1.0
    x0_hat = sched.predict_x0(x_t, t, eps_hat)
    if clip:
        x0_hat = x0_hat.clamp(-1, 1)
        eps_hat = sched.predict_eps(x_t, t, x0_hat)  # consistent with the clipped x0_hat: not in Song et al.;
        # improved-diffusion's ddim_sample does it, diffusers' DDIMScheduler with use_clipped_model_output=True
    sigma = eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev))  # Eq. 16
    # Eq. 12: sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps_hat (+ sigma noise); max() for
    # rounding at eta 1
    x_prev = math.sqrt(alpha_bar_prev) * x0_hat + math.sqrt(max(0.0, 1 - alpha_bar_prev - sigma**2)) * eps_hat
    if sigma > 0:  # else (eta = 0, or the last step to x_0, where alpha_bar_prev = 1) no noise is added
        if noise is None:
            raise ValueError(f"noise N(0, I) like x_t is needed at eta = {eta} before the last step")
        _check_noise("noise", noise, x_t)
        x_prev = x_prev + sigma * noise
    return x_prev, x0_hat


def _warn_if_graph(eps_hat) -> None:
    """A loop of one's own that calls the network outside torch.no_grad() keeps every step's activations for a
    backward pass never taken: a few MB per image a step, a 1000-step chain of 16 out of memory."""
    if torch.is_tensor(eps_hat) and eps_hat.requires_grad and torch.is_grad_enabled():
        warnings.warn("eps_hat carries a graph for gradients, so each step keeps the network's activations (a few "
                      "MB per image a step): run the sampling loop under torch.no_grad()", stacklevel=3)


def _check_noise(name: str, z, x_t) -> None:
    """The fresh noise is one draw per pixel of each image, x_t's shape (torch.randn_like(x_t[0]) would give every
    image the same draw, broadcast unsaid)."""
    if not (torch.is_tensor(z) and z.is_floating_point() and z.shape == x_t.shape):
        got = f"{z.dtype} of shape {tuple(z.shape)}" if torch.is_tensor(z) else type(z).__name__
        raise ValueError(f"{name}, the fresh noise N(0, I), is a float tensor of x_t's shape {tuple(x_t.shape)}, "
                         f"one draw per pixel of each image; not {got}")


def _index(name: str, t) -> int:
    """One step's t as a plain int (an int, a numpy int or a one-element integer tensor); else a TypeError that
    says so (a float t, or a (B,) tensor: one step runs one t for the whole batch)."""
    try:
        return operator.index(t)
    except TypeError:
        raise TypeError(f"{name} is one code index for the whole batch, a whole number, not {t!r}") from None


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """`steps` timesteps from T-1 down, evenly spaced to the nearest whole t (exact halves to even, as numpy rounds):
    "trailing" spacing (Lin et al. 2024; diffusers' timestep_spacing="trailing", which works in floats: at 48 steps
    its 937.5 is 937.4999, one t lower, and at 61 its list runs one step on, to -1), so the first step starts
    at pure noise. Song et al. used 0, c, 2c, ..., T - c (980 at 50 steps): their first step treats pure noise as x
    at t = 980; docs/experiments.md compares the two."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be between 1 and {T}, got {steps}")
    return [int(round(T - i * T / steps)) - 1 for i in range(steps)]


def steps_run(sampler: str, steps: int | None, t_top: int) -> int:
    """How many reverse steps a chain from code index t_top runs: DDPM all t_top + 1, DDIM `steps`
    (DDIM_STEPS if None) but at most t_top + 1. t_top = T - 1 for a chain from pure noise."""
    if sampler == "ddpm":
        return t_top + 1
    return min(DDIM_STEPS if steps is None else steps, t_top + 1)


def reverse_timesteps(sampler: str, t_top: int, steps: int | None = None) -> list[int]:
    """The code indices a chain from t_top visits, in order: every t for DDPM, a trailing subsequence for DDIM."""
    if sampler == "ddpm":
        return list(range(t_top, -1, -1))
    return ddim_timesteps(t_top + 1, steps_run(sampler, steps, t_top))  # within [0, t_top]


def reverse_step(sched: NoiseSchedule, x_t, t: int, t_prev: int, eps_hat, gens: list[torch.Generator], sampler: str,
                 eta: float = 0.0, variance: str = "beta", clip: bool = True):
    """One step of either sampler from t to t_prev (code indices; t_prev = t - 1 for DDPM), its noise drawn only
    when the step adds some, row k from gens[k]. Returns (x_prev, x0_hat), each (B, C, H, W) like x_t."""
    # no noise on the step to x_0: DDPM's z = 0 at t = 1 (Alg. 2), DDIM's sigma = 0 when alpha_bar_prev = 1
    need_noise = t_prev >= 0 and (sampler == "ddpm" or eta > 0)
    noise = randn_per_sample(gens, tuple(x_t.shape[1:]), x_t.device) if need_noise else None  # (B, C, H, W)
    if sampler == "ddpm":
        return p_sample(sched, x_t, t, eps_hat, noise, variance, clip)
    if sampler == "ddim":
        return ddim_step(sched, x_t, t, t_prev, eps_hat, noise, eta, clip)
    raise ValueError(f"sampler {sampler!r} has no step here (a name added to SAMPLERS needs one in reverse_step)")


# ---------------------------------------------------------------- the model call, with guidance

@torch.no_grad()
def guided_eps(model, x_t, t: int | torch.Tensor, label, guidance: float = 1.0) -> torch.Tensor:
    """eps_hat for a batch at one timestep t (a code index), or each sample at its own (t a (B,) tensor). label:
    None -> the null class (unconditional; guidance is then not used), an int (or 0-d tensor) for the whole batch,
    or a (B,) long tensor of one label per sample (config.null_label, 10 on MNIST, is the null class there too).
    Under no_grad: for gradients, call the model itself.

    Classifier-free guidance (Ho & Salimans 2022): eps = eps_null + w (eps_label - eps_null);
    w = 1 is plain conditional, w = 0 is unconditional. The paper writes (1 + w) eps_label - w eps_null,
    so its w is our w - 1 (diffusers' guidance_scale is our w).
    """
    b = x_t.shape[0]
    tt = batch_timesteps(t, b, model.config.timesteps, x_t.device)  # (B,): one t, or one per sample (checked)
    null = getattr(model.config, "null_label", None)  # None on an unconditional model
    label = one_label(label)  # torch.tensor(7): 7 for every sample
    guidance = check_guided_call(label, guidance, b, null)
    if label is None or null is None or guidance == 0:  # no label asked, an unconditional model, or w = 0: null only
        y = None if null is None else torch.full((b,), null, dtype=torch.long, device=x_t.device)
        return model(x_t, tt, y)
    if torch.is_tensor(label):
        y = label.to(x_t.device)
    else:
        y = torch.full((b,), int(label), dtype=torch.long, device=x_t.device)
    if guidance == 1:
        return model(x_t, tt, y)
    both = model(torch.cat([x_t, x_t]), torch.cat([tt, tt]), torch.cat([torch.full_like(y, null), y]))
    eps_null, eps_cond = both.chunk(2)
    return eps_null + guidance * (eps_cond - eps_null)


# ---------------------------------------------------------------- the loops

def sample_loop(
    model,
    sched: NoiseSchedule,
    n: int,
    seed: int,
    sampler: str = "ddpm",
    steps: int | None = None,
    label: int | str | None = None,
    guidance: float = 1.0,
    eta: float = 0.0,
    variance: str = "beta",
    clip: bool = True,
    x_start: torch.Tensor | None = None,
    t_start: int | None = None,
    first: int = 0,
    timesteps: list[int] | None = None,
) -> Iterator[Step]:
    """Denoise n samples, yielding a Step for each reverse step.

    Starts from x_T ~ N(0, I) drawn per sample from (seed, first + k), or from x_start at timestep t_start (to
    denoise a noised real image; x_start: (n, C, H, W) floats, sched.q_sample's x_t; not improved-diffusion's
    x_start, which is x_0). t_start is a code index, as every t here: to start from the paper's x_t, pass
    t_start = t - 1 (T - 1, x_T, is the default: x_start without t_start is taken for your own x_T, pure noise).
    steps: DDIM steps [50], at most t_start + 1; DDPM always runs every t.
    label: None (the null class), a digit (an int or 0-d tensor), "random" (digit k drawn from (seed, first + k)),
    or a (n,) long tensor of one class per sample. timesteps: DDIM's own subsequence instead of `steps` evenly
    spaced, code indices from the top down (such as [999, 700, 400, 100, 0]).
    The model must be in eval mode if it has dropout (hub.load_pretrained and the EMA copy are). Its arguments are
    checked at the call (check_request), not at the first step.
    """
    check_sampling(model, sampler, variance)
    cfg, label = model.config, one_label(label)  # torch.tensor(7): 7 for every sample
    check_schedule(cfg, sched)
    check_request(cfg, sched.T, n, sampler, steps, label, guidance, eta, from_noise=t_start is None)
    n, steps = int(n), None if steps is None else int(steps)  # 7.0 and numpy ints, checked whole, as plain ints
    device = next(model.parameters()).device
    shape = (cfg.in_channels, cfg.image_size, cfg.image_size)
    check_start(x_start, t_start, n, shape, sched.T)
    gens = sample_generators(seed, n, first)
    if isinstance(label, str):  # RANDOM (checked), on a model with classes
        label = random_labels(seed, n, cfg.num_classes, first).to(device)
    t_top = sched.T - 1 if t_start is None else int(t_start)
    # x_T ~ N(0, I), row k from (seed, first + k); or the given x_t at t_start
    x_t = randn_per_sample(gens, shape, device) if x_start is None else x_start.to(device).float()
    ts = reverse_timesteps(sampler, t_top, steps) if timesteps is None else \
        check_timesteps(timesteps, sampler, steps, t_top, from_noise=t_start is None)
    return reverse_chain(model, sched, x_t, ts, gens, label, guidance, sampler, eta, variance, clip)


def reverse_chain(model, sched: NoiseSchedule, x_t, ts: list[int], gens, label, guidance: float, sampler: str,
                  eta: float, variance: str, clip: bool) -> Iterator[Step]:
    """Alg. 2's loop: the chain from x_t (B, C, H, W) at ts[0] down through the code timesteps ts, a Step each
    (sample_loop checks its arguments and calls it)."""
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1  # -1: x_prev is x_0
        eps_hat = guided_eps(model, x_t, t, label, guidance)  # eps_theta(x_t, t)
        x_prev, x0_hat = reverse_step(sched, x_t, t, t_prev, eps_hat, gens, sampler, eta, variance, clip)
        yield Step(t=t, x_t=x_t, x0_hat=x0_hat, eps_hat=eps_hat, x_prev=x_prev, t_prev=t_prev, index=i,
                   num_steps=len(ts))
        x_t = x_prev


# what sample() passes on to sample_loop (read once, not at every call)
LOOP_KEYWORDS = tuple(k for k in inspect.signature(sample_loop).parameters
                      if k not in ("model", "sched", "n", "seed", "first"))


@torch.no_grad()
def sample(model, sched: NoiseSchedule, n: int, seed: int, batch_size: int = 256, first: int = 0,
           progress: bool = False, **kwargs) -> torch.Tensor:
    """Run sample_loop to the end, in batches; -> (n, C, H, W) in [-1, 1], samples first .. first + n - 1.
    Sample k depends only on (seed, k), so shards drawn apart concatenate to one run. progress: a bar on a terminal's
    stderr over every step of every batch (the command lines' runs, minutes long)."""
    check_count("n", n)
    check_count("batch_size", batch_size)
    if unknown := sorted(set(kwargs) - set(LOOP_KEYWORDS)):  # else sample_loop's TypeError names a function not called
        hint = ("; autoguidance is a model of its own: sample from ddpm.autoguidance.autoguided(model, folder, w)"
                if "autoguidance" in unknown else "")
        raise TypeError(f"sampling takes no {', '.join(unknown)} (it takes {', '.join(LOOP_KEYWORDS)}){hint}")
    n, batch_size = int(n), int(batch_size)
    x_start, label = kwargs.pop("x_start", None), one_label(kwargs.pop("label", None))
    for whole, name in ((x_start, "x_start"), (label, "label")):  # each batch gets its own rows of these
        if torch.is_tensor(whole) and whole.shape[:1] != (n,):
            raise ValueError(f"{name} must hold {n} rows, one per sample, not shape {tuple(whole.shape)}")
    out, bar, batches = [], None, -(-n // batch_size)
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        rows = {k: v[start:start + b] if torch.is_tensor(v) else v for k, v in (("x_start", x_start), ("label", label))}
        last = None
        for last in sample_loop(model, sched, b, seed, first=first + start, **rows, **kwargs):
            if progress:
                bar = bar or _steps_bar(batches * last.num_steps)
                bar.update()
        if not bool(last.x_prev.isfinite().all()):  # else the clamp and a picture would show nan as black, unsaid
            raise FloatingPointError(f"samples {first + start} to {first + start + b - 1} came out nan or inf: the "
                                     "model's eps_hat is not finite (weights of a run whose loss went nan?)")
        out.append(last.x_prev.clamp(-1, 1).cpu())
    if bar is not None:
        bar.close()
    return torch.cat(out)


def _steps_bar(total: int):
    from tqdm.auto import tqdm  # hidden where stderr is no terminal (a log file, a test)

    return tqdm(total=total, unit="step", desc="sampling", dynamic_ncols=True, mininterval=1.0, disable=None)


# ---------------------------------------------------------------- randomness: sample k from (seed, k) alone

def sample_generators(seed: int, n: int, first: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample, as EDM keeps one per image; seeded here from (seed, k) through numpy's
    SeedSequence. The seeds are 32-bit, so two of 10,000 samples share their noise with odds of about 1 in 86."""
    seed, first = check_seed(seed, first, n)
    gens = []
    for k in range(first, first + n):
        g = torch.Generator()
        g.manual_seed(int(np.random.SeedSequence(seed_words(seed, k, 0)).generate_state(1)[0]))
        gens.append(g)
    return gens


def random_labels(seed: int, n: int, num_classes: int, first: int = 0) -> torch.Tensor:
    """(n,) long: label k uniform over the classes, from (seed, k) alone, on a stream apart from the noise.

    Sampling y ~ U{0..9} then x ~ p(x | y) is how class-conditional models are scored (ADM, EDM, DiT).
    """
    seed, first = check_seed(seed, first, n)
    return torch.tensor([int(np.random.default_rng(seed_words(seed, k, 1)).integers(num_classes))
                         for k in range(first, first + n)], dtype=torch.long)


def seed_words(seed: int, k: int, stream: int) -> list[int]:
    """SeedSequence's entropy for sample k of `seed` (ints, checked by the caller): stream 0 its noise, 1 its
    random label.

    SeedSequence reads each number as 32-bit words and pads the words with zeros, so [seed, k] alone would give
    seed x * 2^32 + y the noise of seed y, sample x. Below 2^32 the words are [seed, k] (+ [1] for the label), as
    every figure of this project was drawn; past it, five words of fixed width, tagged apart from those."""
    if seed < 2**32 and k < 2**32:
        return [seed, k] + [1] * stream
    return [seed & 0xFFFFFFFF, seed >> 32, k & 0xFFFFFFFF, k >> 32, 2 + stream]


def randn_per_sample(gens: list[torch.Generator], shape: tuple[int, ...], device) -> torch.Tensor:
    """(len(gens), *shape) standard normal, float32 as the network's weights (also under a float64 default dtype);
    row k drawn from gens[k] only."""
    return torch.stack([torch.randn(shape, generator=g, dtype=torch.float32) for g in gens]).to(device)
