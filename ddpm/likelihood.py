"""How many bits the model needs for an image: the variational bound on -log p_theta(x_0) (Ho et al. 2020, Eq. 5),
term by term, in bits per dimension, and the rate-distortion curve of their Sec. 4.3 (Fig. 5) read off the same
terms. Training's L_simple (Sec. 3.4) is this bound with its weights dropped.

Eq. 5, in the paper's t:
    L   = L_T + sum over t = 2..T of L_{t-1} + L_0
    L_T     = KL(q(x_T | x_0) || N(0, I))                          the prior: no network, near 0
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t))   one network pass at x_t ~ q(x_t | x_0)
    L_0     = -log p_theta(x_0 | x_1)                                Eq. 13, the discretized Gaussian decoder
In code indices (the paper's t - 1), the pass at code t gives the paper's L_t: terms[:, 0] is the decoder L_0 and
terms[:, t] for t >= 1 is KL at x_t = q_sample(x0, t, eps). Each term is estimated at one draw of eps, as
improved-diffusion's calc_bpd_loop does: the total is an unbiased estimate of the bound, image by image.

    python -m ddpm.likelihood --n 100            # the bound on the first 100 MNIST test digits, in bits/dim
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass

import torch

from .samplers import (SIGMA, check_count, check_request, check_sampling, check_schedule, guided_eps, one_label,
                       sample_generators)
from .schedule import NoiseSchedule, check_images

FINE = 10  # the last nine steps' terms, L_1 .. L_9, are told apart from the rest (summary; the app's bound)
BIN = 1 / 255  # half a pixel level of [-1, 1] (to_model_range maps 0..255 to -1..1 in steps of 2/255)


def normal_kl(mean1, var1, mean2, var2) -> torch.Tensor:
    """KL(N(mean1, var1) || N(mean2, var2)) per element, in nats (the Gaussians of Eq. 5's L_{t-1})."""
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1)


def discretized_log_likelihood(x0: torch.Tensor, mean: torch.Tensor, std) -> torch.Tensor:
    """Eq. 13: log of the mass N(mean, std^2) puts on x0's pixel level, the bin x0 +- 1/255, per element (nats);
    the bins at -1 and 1 reach out to -inf and +inf, so the 256 levels' masses sum to 1. x0 on those levels, as
    to_model_range makes them. A mass under 1e-12 counts as 1e-12 (about 40 bits), as in improved-diffusion."""
    upper = torch.where(x0 > 1 - BIN, torch.inf, x0 + BIN)
    lower = torch.where(x0 < -1 + BIN, -torch.inf, x0 - BIN)
    mass = torch.special.ndtr((upper - mean) / std) - torch.special.ndtr((lower - mean) / std)  # in float64 here
    return mass.clamp(min=1e-12).log()


@dataclass
class Bound:
    """The bound's terms for B images, in bits per dimension (nats / (ln 2 x C H W)), float64."""
    prior: torch.Tensor  # (B,) L_T
    terms: torch.Tensor  # (B, T) terms[:, t] is the paper's L_t: the decoder L_0 at t = 0, a KL at t >= 1
    rmse: torch.Tensor  # (B, T) distortion: the root mean square error of x0_hat at code t, on 0..255

    @property
    def total(self) -> torch.Tensor:
        """(B,) the bound on -log p_theta(x_0), bits/dim: L_T + sum of L_{t-1} + L_0."""
        return self.prior + self.terms.sum(1)

    def rate(self) -> torch.Tensor:
        """(B, T) Fig. 5's rate: the bits/dim a receiver has been sent once it holds the code's x_t (the paper's
        x_{t+1}): L_T and the terms t + 1 .. T - 1 (the paper's L_{t+1} .. L_{T-1}). It sees x0_hat with distortion
        rmse[:, t]; rate[:, 0] + L_0 is the total, and rate[:, T - 1] is L_T alone."""
        return self.prior[:, None] + self.terms.flip(1).cumsum(1).flip(1) - self.terms


@torch.no_grad()
def bound_terms(model, sched: NoiseSchedule, x0: torch.Tensor, seed: int = 0, label=None, guidance: float = 1.0,
                variance: str = "beta", clip: bool = True, batch_size: int = 250) -> Bound:
    """The bound for each image of x0 (B, C, H, W) on the 256 levels of [-1, 1], under the model as the DDPM
    sampler runs it (sigma_t^2 = beta_t or beta_tilde_t, x0_hat clipped or not, the label and guidance w). T
    network passes per image, batch_size at a time. Image k's noise comes from (seed, k) alone, as a sample's does.

    Clipping x0_hat (the samplers' default) is part of p_theta here: it moves the mean, so the bits too, most of
    all the decoder's (its outer bins reach past -1 and 1, where an unclipped mean gives the black pixels more mass).
    The decoder (t = 0) takes sigma^2 = beta_tilde at the paper's t = 2 under either variance, as Ho et al.'s
    released code and improved-diffusion do (beta_tilde_1 is 0; beta_1 costs about 0.05 bits/dim more); the
    sampler adds no noise at that step, so its digits are the same either way."""
    check_sampling(model, "ddpm", variance)
    check_schedule(model.config, sched)
    _check_levels(x0)
    cfg = model.config
    if x0.dim() != 4 or x0.shape[1:] != (cfg.in_channels, cfg.image_size, cfg.image_size):
        raise ValueError(f"x0 is a batch (B, {cfg.in_channels}, {cfg.image_size}, {cfg.image_size}) of the model's "
                         f"images (one: x[None, None]), not shape {tuple(x0.shape)}")
    if isinstance(label, str):  # "random" is a sampler's choice: a bound is of given digits, each with its class
        raise ValueError(f"label is None (the null class), a class, or a tensor of one class per image, not {label!r}")
    label, T, b = one_label(label), sched.T, x0.shape[0]
    check_request(model.config, T, n=b, sampler="ddpm", steps=None, label=label, guidance=guidance, eta=0.0,
                  from_noise=True)  # as sample_loop checks them
    check_count("batch_size", batch_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))  # a hand-written model may have none
    var_p = getattr(sched, SIGMA[variance]).double() ** 2  # (T,) sigma_t^2 of p_theta (Sec. 3.2), on the CPU
    var_p[0] = sched.posterior_variance[1]  # the decoder's (the docstring says why)
    nats_terms, rmse = torch.empty(b, T, dtype=torch.float64), torch.empty(b, T, dtype=torch.float64)
    for k, g in enumerate(sample_generators(seed, b)):
        x0_k = x0[k:k + 1].to(device=device, dtype=torch.float32)  # (1, C, H, W)
        y = label[k] if torch.is_tensor(label) and label.dim() else label  # image k's own class, if each has one
        for start in range(0, T, batch_size):
            t = torch.arange(start, min(T, start + batch_size))  # (n,) code indices
            eps = torch.randn((len(t), *x0.shape[1:]), generator=g).to(device)  # (n, C, H, W)
            x_t = sched.q_sample(x0_k, t, eps)  # one image at n timesteps
            eps_hat = guided_eps(model, x_t, t.to(device), y.expand(len(t)) if torch.is_tensor(y) else y, guidance)
            x0_hat = sched.predict_x0(x_t, t, eps_hat)
            if clip:
                x0_hat = x0_hat.clamp(-1, 1)
            # the sums in float64 on the CPU (mps has no float64)
            mean_q, var_q = (v.cpu().double() for v in sched.q_posterior(x0_k, x_t, t))  # Eq. 7, the true step back
            mean_p = sched.q_posterior(x0_hat, x_t, t)[0].cpu().double()  # Eq. 7 at x0_hat: p_theta's mean
            var = var_p[t][:, None, None, None]
            per_t = normal_kl(mean_q, var_q.clamp(min=1e-20), mean_p, var)  # (n, C, H, W) nats (beta_tilde_1 = 0)
            if start == 0:  # t = 0: the decoder L_0 in place of a KL (mean_p is x0_hat there)
                per_t[0] = -discretized_log_likelihood(x0_k[0].cpu().double(), mean_p[0], var[0].sqrt())
            nats_terms[k, start:start + len(t)] = per_t.flatten(1).sum(1)
            rmse[k, start:start + len(t)] = ((x0_hat - x0_k) * 127.5).cpu().double().pow(2).flatten(1).mean(1).sqrt()
    to_bits = 1 / (math.log(2) * x0[0].numel())
    return Bound(_prior_nats(sched, x0.detach().double().cpu()) * to_bits, nats_terms * to_bits, rmse)


def _prior_nats(sched: NoiseSchedule, x0: torch.Tensor) -> torch.Tensor:
    """(B,) L_T = KL(q(x_T | x_0) || N(0, I)), q(x_T | x_0) = N(sqrt(alpha_bar_T) x_0, 1 - alpha_bar_T), in nats."""
    ab_T = sched.alpha_bar_f64[-1].item()
    return normal_kl(math.sqrt(ab_T) * x0, torch.tensor(1 - ab_T, dtype=torch.float64), 0.0,
                     torch.tensor(1.0, dtype=torch.float64)).flatten(1).sum(1)


def known_x0_floor(sched: NoiseSchedule, x0: torch.Tensor, variance: str = "beta") -> torch.Tensor:
    """(B,) the bits/dim that even a network knowing x_0 would pay (eps_hat the true noise, so p_theta's mean is
    Eq. 7's own): L_T, the decoder's bin around x_0 at its fixed width, and with sigma_t^2 = beta_t the variance
    mismatch of every step, 0.5 (log(beta_t / beta_tilde_t) + beta_tilde_t / beta_t - 1) nats a pixel (0 with
    beta_tilde). What bound_terms finds above it is the network's error."""
    _check_levels(x0)
    x0 = x0.detach().double().cpu()
    decoder = -discretized_log_likelihood(x0, x0, sched.posterior_variance[1].double().sqrt()).flatten(1).sum(1)
    var_p, var_q = getattr(sched, SIGMA[variance])[1:].double() ** 2, sched.posterior_variance[1:].double()
    mismatch = 0.5 * (torch.log(var_p / var_q) + var_q / var_p - 1).sum() * x0[0].numel()
    return (_prior_nats(sched, x0) + decoder + mismatch) / (math.log(2) * x0[0].numel())


def _check_levels(x0) -> None:
    """x0 holds images on the 256 levels of [-1, 1], which the decoder's bins are cut around: [0, 1] images
    (torchvision's ToTensor) scored 17 bits/dim on the bundled model, unsaid, as if they were other digits."""
    check_images(x0=x0)
    levels = (x0.detach().double().cpu() + 1) * 127.5  # 0 .. 255 on the levels
    if not levels.isfinite().all():
        raise ValueError("x0 holds nan or inf: it is images on the 256 pixel levels of [-1, 1]")
    between = bool(levels.numel()) and (levels - levels.round()).abs().max().item() >= 1e-3
    if levels.numel() and (levels.min() < -1e-3 or levels.max() > 255 + 1e-3 or between):
        raise ValueError(f"x0 holds images on the 256 pixel levels of [-1, 1] (ddpm.data.to_model_range makes them "
                         f"of uint8 digits; [0, 1] floats x: x * 2 - 1), which the decoder's bins are cut around, not "
                         f"values from {x0.min().item():.4g} to {x0.max().item():.4g}"
                         + (", some between the levels" if between else ""))


def summary(bound: Bound, floor: torch.Tensor | None = None) -> dict:
    """Means over the images (and their standard error for the total): where the bits go; and of `floor`
    (known_x0_floor), the part of them the fixed variances cost."""
    total, terms = bound.total, bound.terms
    t10 = min(FINE, terms.shape[1])
    return {"n": len(total), "bits_per_dim": round(total.mean().item(), 4),
            "stderr": round((total.std() / math.sqrt(len(total))).item(), 4) if len(total) > 1 else None,
            "prior_L_T": round(bound.prior.mean().item(), 6), "decoder_L_0": round(terms[:, 0].mean().item(), 4),
            "steps_1_to_9": round(terms[:, 1:t10].sum(1).mean().item(), 4),
            "steps_10_up": round(terms[:, t10:].sum(1).mean().item(), 4),
            "known_x0_floor": None if floor is None else round(floor.mean().item(), 4)}


def parse_args(argv=None) -> argparse.Namespace:
    from .cli_args import path_arg, positive_int, seed_arg, whole_number
    from .hub import DEFAULT_WEIGHTS
    from .samplers import VARIANCES
    p = argparse.ArgumentParser(prog="python -m ddpm.likelihood", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=path_arg, default=str(DEFAULT_WEIGHTS),
                   help="model folder or Hub repo id [bundled weights]")
    p.add_argument("--n", type=whole_number(1, 10_000), default=100,
                   help="test images, the first N of the test set; T network passes each (about 1.1 s each on 2 CPU "
                        "cores for the bundled model) [%(default)s]")
    p.add_argument("--data-dir", type=path_arg, default="data/mnist",
                   help="folder holding MNIST/raw (FashionMNIST/raw for a Fashion-MNIST model) [%(default)s]")
    p.add_argument("--sample", action="store_true",
                   help="the 300 test images bundled with the package instead of --data-dir's test set")
    p.add_argument("--seed", type=seed_arg, default=0, help="image k's noise comes from (seed, k) [%(default)s]")
    p.add_argument("--given-class", action="store_true",
                   help="give the network each image's own class (the bound on -log p(x_0 | y)) [the null class]")
    p.add_argument("--variance", choices=VARIANCES, default="beta", help="sigma_t^2 of p_theta [%(default)s]")
    p.add_argument("--no-clip", action="store_true", help="take p_theta's mean at x0_hat unclipped (Eq. 11)")
    p.add_argument("--batch-size", type=positive_int, default=250, help="timesteps per forward pass [%(default)s]")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto [%(default)s]")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from .data import DataError, load_dataset, load_sample, to_model_range
    from .hub import ModelLoadError
    from .sample import load_for_sampling
    a = parse_args(argv)
    try:
        model, _, dataset, _ = load_for_sampling(a.weights, a.device, "ddpm", None)  # as ddpm.sample loads one
        if a.sample:
            images, labels = (torch.from_numpy(v) for v in load_sample(dataset))
        else:
            images, labels = load_dataset(dataset, a.data_dir, train=False)
        if a.n > len(images):
            raise ValueError(f"--n {a.n} asks for more than the {len(images)} test images there")
        if a.given_class and model.config.num_classes == 0:
            raise ValueError("this model is unconditional: drop --given-class")
        x0 = to_model_range(images[:a.n])  # (n, 1, 28, 28) on the 256 levels of [-1, 1]
        label = labels[:a.n].long() if a.given_class else None
        sched = NoiseSchedule(model.config.timesteps, model.config.schedule)
        bound = bound_terms(model, sched, x0, a.seed, label, variance=a.variance, clip=not a.no_clip,
                            batch_size=a.batch_size)
    except (ModelLoadError, DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped: nothing was measured", file=sys.stderr)
        return 130
    images = f"{dataset} {'bundled sample' if a.sample else 'test set'}"
    r = summary(bound, known_x0_floor(sched, x0, a.variance)) | {
        "images": images, "seed": a.seed, "given_class": a.given_class, "variance": a.variance, "clip": not a.no_clip}
    if a.json:
        print(json.dumps(r, indent=2))
        return 0
    err = f" +- {r['stderr']}" if r["stderr"] is not None else ""
    print(f"bound on -log p(x_0): {r['bits_per_dim']}{err} bits/dim, mean of {r['n']} images of the "
          f"{r['images']}\n"
          f"  L_T (prior) {r['prior_L_T']}, L_0 (decoder) {r['decoder_L_0']}, L_1..L_9 {r['steps_1_to_9']}, "
          f"L_10..L_(T-1) {r['steps_10_up']}\n  a network that knew x_0 would pay {r['known_x0_floor']} (the fixed "
          "variances' cost): the rest is the network's error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
