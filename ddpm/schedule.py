"""The noise schedule: every array the forward and reverse processes need, precomputed once.

Math in float64 (as improved-diffusion's GaussianDiffusion does; diffusers' DDPMScheduler works in float32),
kept as float32 tensors, plus alpha_bar in float64 for DDIM's per-step coefficients.

Indices: the code's t runs 0 .. T-1 and is the paper's t - 1 (the paper's t runs 1 .. T, x_1 is one step of
noise from x_0). So alpha_bar[t] is the paper's alpha_bar_{t+1}, and alpha_bar_prev[t] (built in __init__, not
kept) the paper's alpha_bar_t (1 at t = 0). The comments write the equations in the paper's t; every method takes
the code's t, so q_sample(x0, t, eps) returns the paper's x_{t+1}. Shapes: images x0, x_t, eps are (B, C, H, W);
t is an int or a (B,) tensor of code indices, one per image.
"""
from __future__ import annotations

import math
import numbers

import torch

from .config import SCHEDULES


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02, max_beta: float = 0.999) -> torch.Tensor:
    """Ho et al. 2020, Sec. 4: betas rise linearly from 1e-4 to 0.02 at T = 1000; other T are scaled by 1000 / T
    (as improved-diffusion does), so the chain ends about as noisy for T >= 50 (alpha_bar_T: 4e-5 at T = 1000,
    8e-6 at T = 50) and noisier below. Betas are capped at 0.999, which the largest reach for T <= 20."""
    scale = 1000 / T
    return torch.linspace(beta_start * scale, beta_end * scale, T, dtype=torch.float64).clamp(max=max_beta)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal 2021, Eq. 17: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t/T + s)/(1 + s)) * pi/2);
    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1), in which f(0) cancels. Their s = 0.008 keeps sqrt(beta)
    at the first step (0.006 at T = 1000) just under one pixel bin of [-1, 1] (2/255 = 0.008). Capping beta at
    max_beta (as they do) changes only the last step, where Eq. 17 gives alpha_bar_T = 0 to float precision: here
    it is (1 - max_beta) alpha_bar_{T-1} (2.4e-9 at T = 1000), so x_T keeps a trace of x_0 too faint to see."""
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


# each schedule's betas by name; config.SCHEDULES lists the same names for the flags and the config's checks
BETAS = {"linear": linear_betas, "cosine": cosine_betas}


class NoiseSchedule:
    """Holds beta_t, alpha_t, alpha_bar_t, the posterior q(x_{t-1} | x_t, x_0) and the SNR: (T,) float32 tensors
    unless noted, indexed by the code's t (the paper's t - 1), as in `sched.alpha_bar[t]`:

    T, kind                        the number of steps and "linear" or "cosine" (a model's config.timesteps and
                                   config.schedule: NoiseSchedule(cfg.timesteps, cfg.schedule) is its schedule)
    betas, alphas                  beta_t and alpha_t = 1 - beta_t; sqrt_betas, sqrt_alphas their roots
    alpha_bar                      the product alpha_1 alpha_2 ... alpha_t in the paper's t, so alpha_bar[0] =
                                   alpha_1 and alpha_bar[t] the paper's alpha_bar_{t+1} (alpha_bar_f64: in float64)
    sqrt_alpha_bar, sqrt_one_minus_alpha_bar             Eq. 4's weights of x_0 and eps
    sqrt_recip_alpha_bar, sqrt_recipm1_alpha_bar         Eq. 15's weights of x_t and eps (predict_x0)
    posterior_variance, posterior_std                    beta_tilde_t (Eq. 7) and its root
    posterior_mean_coef1, posterior_mean_coef2           Eq. 7's weights of x_0 and x_t
    snr, log_snr                   alpha_bar_t / (1 - alpha_bar_t) and its natural log
    """

    def __init__(self, T: int = 1000, kind: str = "linear"):
        if kind not in SCHEDULES:
            raise ValueError(f"schedule must be {' or '.join(map(repr, SCHEDULES))}, not {kind!r}")
        if kind not in BETAS:  # a name added to config.SCHEDULES alone (a bare KeyError below otherwise)
            raise ValueError(f"schedule {kind!r} has no betas: add its function to ddpm.schedule.BETAS")
        if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 2:
            raise ValueError(f"T must be a whole number of timesteps, at least 2, not {T!r}")
        T = int(T)
        self.T, self.kind = T, kind
        betas = BETAS[kind](T)
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        f32 = lambda a: a.to(torch.float32)  # noqa: E731
        self.betas = f32(betas)
        self.alphas = f32(alphas)
        # Eq. 2's weights, and sigma_t = sqrt(beta_t), the reverse step's noise scale (Sec. 3.2)
        self.sqrt_betas, self.sqrt_alphas = f32(betas.sqrt()), f32(alphas.sqrt())
        self.alpha_bar = f32(alpha_bar)
        self.alpha_bar_f64 = alpha_bar  # float64: ddim_step mixes two timesteps' alpha_bar, computed per step
        self.sqrt_alpha_bar = f32(alpha_bar.sqrt())
        self.sqrt_one_minus_alpha_bar = f32((1 - alpha_bar).sqrt())
        self.sqrt_recip_alpha_bar = f32((1 / alpha_bar).sqrt())  # 1 / sqrt(alpha_bar): x_t's weight in x0_hat
        self.sqrt_recipm1_alpha_bar = f32((1 / alpha_bar - 1).sqrt())  # sqrt(1 - alpha_bar) / sqrt(alpha_bar): eps's weight
        # Eq. 7: beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t
        beta_tilde = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)
        # 0 at code t = 0 (the paper's beta_tilde_1), so with sigma^2 = beta_tilde the last step adds no noise (with
        # sigma^2 = beta, samplers.p_sample leaves it out there). improved-diffusion also keeps log(beta_tilde), its
        # first entry replaced by the next (log 0 = -inf), for its KL terms; this code takes no log of it.
        self.posterior_variance = f32(beta_tilde)
        self.posterior_std = f32(beta_tilde.sqrt())  # sigma_t = sqrt(beta_tilde_t), Sec. 3.2's other choice
        # Eq. 7: mu_tilde = coef1 x_0 + coef2 x_t, coef1 = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t),
        # coef2 = sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
        self.posterior_mean_coef1 = f32(betas * alpha_bar_prev.sqrt() / (1 - alpha_bar))
        self.posterior_mean_coef2 = f32((1 - alpha_bar_prev) * alphas.sqrt() / (1 - alpha_bar))
        snr = alpha_bar / (1 - alpha_bar)  # signal-to-noise ratio of x_t, falling with t (Kingma et al. 2021)
        self.snr, self.log_snr = f32(snr), f32(snr.log())  # the app plots log-SNR (natural log)

    def q_sample(self, x0: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """Eq. 4's q(x_t | x_0), the closed-form jump, drawn as in Sec. 3.2. In code indices it returns the paper's
        x_{t+1} = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps (alpha_bar[t] is the paper's alpha_bar_{t+1})."""
        check_images(x0=x0, eps=eps)
        return self._at(self.sqrt_alpha_bar, t, x0) * x0 + self._at(self.sqrt_one_minus_alpha_bar, t, x0) * eps

    def q_step(self, x_prev: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """Eq. 2's q(x_t | x_{t-1}), one Markov step. In code indices it takes the paper's x_t and returns its
        x_{t+1} = sqrt(1 - betas[t]) x_prev + sqrt(betas[t]) eps (code t = 0 takes x_0 to x_1)."""
        check_images(x_prev=x_prev, eps=eps)
        return self._at(self.sqrt_alphas, t, x_prev) * x_prev + self._at(self.sqrt_betas, t, x_prev) * eps

    def predict_x0(self, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """Eq. 4 solved for x_0 (Ho et al. print it as Eq. 15): x0_hat = (x_t - sqrt(1 - alpha_bar[t]) eps) /
        sqrt(alpha_bar[t]), x_t being the paper's x_{t+1} (what q_sample(x0, t, eps) returns). Near t = T the
        division multiplies float32's rounding of x_t by 1 / sqrt(alpha_bar[t]) (157 at linear t = 999, 2e4 at cosine):
        from float32 images x0 comes back within about 1e-4 (linear) or 1e-2 (cosine) at t = 999; from float64
        ones, within about 1e-4 over t >= 900 (the float32 buffers' own rounding)."""
        check_images(x_t=x_t, eps=eps)
        return self._at(self.sqrt_recip_alpha_bar, t, x_t) * x_t - self._at(self.sqrt_recipm1_alpha_bar, t, x_t) * eps

    def predict_eps(self, x_t: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """The same relation solved for eps (used after x0_hat is clipped)."""
        check_images(x_t=x_t, x0=x0)
        return (self._at(self.sqrt_recip_alpha_bar, t, x_t) * x_t - x0) / self._at(self.sqrt_recipm1_alpha_bar, t, x_t)

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Eqs. 6-7: mean mu_tilde_t(x_t, x_0) and variance beta_tilde_t of q(x_{t-1} | x_t, x_0); in code indices, of
        the paper's x_t given its x_{t+1} (what q_sample(x0, t, eps) returns) and x0."""
        check_images(x0=x0, x_t=x_t)
        mean = self._at(self.posterior_mean_coef1, t, x_t) * x0 + self._at(self.posterior_mean_coef2, t, x_t) * x_t
        return mean, self._at(self.posterior_variance, t, x_t)

    # ---- the plumbing: the per-t coefficient, t checked, and the images checked

    @staticmethod
    def _at(a: torch.Tensor, t: torch.Tensor | int, x: torch.Tensor) -> torch.Tensor:
        """a[t] shaped (B, 1, 1, 1) to broadcast over images like x ((1, 1, 1, 1) for an int t). A t off the
        schedule is refused: a[-1] would wrap round to the last t unsaid; so is a t of another length than x's
        batch (torch would fail in its own words), but for one image, broadcast over many t's (a strip of one digit)."""
        if isinstance(t, int) and not isinstance(t, bool):  # the samplers' case, every step: no tensor made for it
            bad = None if 0 <= t < len(a) else t
        else:  # a batch of t's (training), on any device
            t = torch.as_tensor(t, device=a.device).reshape(-1)
            if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:  # T * 0.5, or True: no index
                raise TypeError(f"t is a code index, an int or a (B,) tensor of whole numbers, not {t.dtype} "
                                f"({t[:1].tolist()[0] if t.numel() else 'empty'})")
            if t.numel() != 1 and x.dim() and x.shape[0] not in (1, t.numel()):  # (one image at many t's
                raise ValueError(f"t holds one code index per image, {x.shape[0]} here (or one for all), not "
                                 f"{t.numel()}")
            out = (t < 0) | (t >= len(a))
            bad = t[out][0].item() if t.numel() and out.any() else None
        if bad is not None:
            raise IndexError(f"t is a code index from 0 to {len(a) - 1} (the paper's t - 1), not {bad}")
        return a[t].to(x.device).reshape(-1, *([1] * (x.dim() - 1)))


def check_images(**named) -> None:
    """Each named argument is a float tensor (B, C, H, W): images in [-1, 1], or eps (z, noise), the noise, drawn for
    each of the B images (an image may be one for all: a strip of one digit at many t's). A uint8 picture (0..255), a
    missing eps or one drawn for a single image (torch.randn_like(x0[0])) is refused in words, not broadcast into
    numbers that look like an image."""
    for name, x in named.items():
        if not (torch.is_tensor(x) and x.is_floating_point()):
            what = x.dtype if torch.is_tensor(x) else type(x).__name__
            kind = ("a float tensor of noise, torch.randn(x0.shape, generator=g)," if name in ("eps", "z", "noise")
                    else "a float tensor of images in [-1, 1] (ddpm.data.to_model_range makes one of uint8 digits),")
            raise TypeError(f"{name} is {kind} not {what}")
    if len({x.shape[1:] for x in named.values()}) > 1 or len({x.dim() for x in named.values()}) > 1:
        raise ValueError(f"{', '.join(named)} are batches (B, C, H, W) of one image shape, not "
                         + " and ".join(f"{name} {tuple(x.shape)}" for name, x in named.items()))
    b = max(x.shape[0] if x.dim() else 1 for x in named.values())  # the batch: one image may stand for all of it
    for name, x in named.items():
        noise = name in ("eps", "z", "noise")  # drawn per image: one draw for all would give every image one noise
        if x.dim() and x.shape[0] != b and (noise or x.shape[0] != 1):
            what = (f"holds one draw of noise per image, B = {b} as the images" if noise else
                    f"is a batch of B = {b} images (or 1, one image for all)")
            raise ValueError(f"{name} {what}, not shape {tuple(x.shape)}")
