"""Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself").

Classifier-free guidance needs a label, so it cannot steer the null class ("any digit"). Autoguidance
needs none: a smaller, shorter-trained model of the same data (the guide) makes the same kinds of
mistakes as the main model, only more of them, and the difference between the two points away from
them (their guidance formula, D_w = w D_1 + (1 - w) D_0, written for eps: at a fixed x_t, x0_hat is affine in
eps and w + (1 - w) = 1, so mixing the eps_hat's mixes the x0_hat's the same way):

    eps_hat = eps_guide(x_t, t, y) + w (eps_main(x_t, t, y) - eps_guide(x_t, t, y))

w = 1 is the main model alone. Karras et al. guide every step; this project guides only part of the way.
Kynkaenniemi et al. (2024) found that classifier-free guidance pays only in a limited interval of noise levels; here
only its upper limit is used: the steps noisier than t_max go unguided, and every step with t <= t_max (code index)
is guided, down to the last: where the digit's class is chosen (about code t = 600 to 300) and its strokes drawn.
Guiding them makes the digits read more clearly (a higher IS) and also tilts the class shares; t_max = 0.6 T gave the
best IS (at w = 2) and FD (at w = 1.5) of the four cut-offs first tried, and 0.525 T was level with it on another
seed (guiding every step tilts the shares more; docs/experiments.md measures both); the other steps also skip the
guide's cost. `Autoguided` wraps the pair as one model, so every sampler, classifier-free guidance and the app use
it unchanged. The guide is a `train.py` output folder of its own, shipped as `guide/` inside the main model's folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from .checkpoint import CKPT_NAME
from .cli_args import path_arg
from .config import MAX_AUTOGUIDANCE, RUN_CONFIG_NAME, ModelConfig
from .data import dataset_name
from .facts import trained_on
from .hub import (CONFIG_NAME, DEFAULT_WEIGHTS, FOLDER_FILES, GUIDE_SUBFOLDER, ModelLoadError, load_pretrained,
                  resolve_folder)
from .unet import UNet, batch_timesteps
# by default guide the steps t <= 0.6 T: code index 0 .. 600 of 0 .. 999 (docs/experiments.md: why)
T_MAX_FRACTION = 0.6


class Autoguided(nn.Module):
    """eps = eps_guide + w (eps_main - eps_guide) where t <= t_max [default_t_max(T); T - 1 guides every
    step], eps_main elsewhere; behaves as the main model (same .config), so samplers take it in the model's place."""

    def __init__(self, main: nn.Module, guide: nn.Module, weight: float, t_max: int | None = None):
        super().__init__()
        check_guide(main, guide)
        self.main, self.guide, self.weight = main, guide, float(weight)
        T = main.config.timesteps
        self.t_max = default_t_max(T) if t_max is None else int(t_max)
        if not 0 <= self.t_max <= T - 1:  # past T - 1 would read as "every step" without saying so
            raise ValueError(f"autoguidance's t_max (--autoguidance-tmax) must be a code index from 0 to {T - 1} "
                             f"for this model of T = {T} ({T - 1} guides every step), not {self.t_max}")

    @property
    def config(self):
        return self.main.config

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None) -> torch.Tensor:
        t = batch_timesteps(t, x_t.shape[0], self.config.timesteps, x_t.device)  # (B,), as the main model takes it
        eps_main = self.main(x_t, t, y)  # (B, C, H, W)
        if self.weight == 1:
            return eps_main
        guided = t <= self.t_max  # (B,)
        if not guided.any():
            return eps_main
        eps_guide = self.guide(x_t, t, y)
        eps = eps_guide + self.weight * (eps_main - eps_guide)
        return eps if guided.all() else torch.where(guided[:, None, None, None], eps, eps_main)


def check_guide(main: nn.Module, guide: nn.Module) -> None:
    """ValueError unless the two models' eps predictions are comparable (same data and schedule)."""
    mismatch = main.config.eps_mismatch(guide.config)
    if mismatch:
        key, a, b = mismatch[0]
        raise ValueError(f"the guide does not match the model: {key} is {b!r} in the guide, {a!r} in the model")


def default_t_max(T: int) -> int:
    """The highest guided timestep by default, round(0.6 T) as a code index: for T = 1000, t = 600 of 0 .. 999 (the
    paper's 601), the first guided step of a DDPM chain (50-step DDIM visits 619 and 599, so it guides from 599)."""
    return round(T_MAX_FRACTION * T)


# ---------------------------------------------------------------- the guide, a model folder of its own

# a guide folder's own files: what a push uploads of it, and a run's checkpoint and recipe
GUIDE_FILES = [name for name in FOLDER_FILES if "/" not in name] + [CKPT_NAME, RUN_CONFIG_NAME]


def load_guide(name_or_path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu",
               guide: str | Path | None = None) -> UNet:
    """The autoguidance guide shipped in the model folder's guide/ subfolder, or the model folder `guide`."""
    main = resolve_folder(name_or_path)
    folder = resolve_folder(guide) if guide else main / GUIDE_SUBFOLDER
    if not guide and not has_guide(main):
        raise ModelLoadError(f"{main} has no {GUIDE_SUBFOLDER}/ model for autoguidance; train a small one "
                             f"with: {_guide_command(main)} --out {folder}")
    ours, its = trained_on(main), trained_on(folder)
    if ours != its:  # config.json cannot tell (the same shapes, T and schedule): the training record can
        raise ModelLoadError(f"the guide {folder} was trained on {dataset_name(its)}, the model on "
                             f"{dataset_name(ours)}: a guide must model the same data")
    # NCHW, not channels_last: with 8 channels at 28x28 the plain layout runs this guide ~13% faster here
    # (11.7 against 13.5 ms per forward pass of 16), the opposite of the main model
    return load_pretrained(folder, device).to(memory_format=torch.contiguous_format)


def has_guide(folder: Path) -> bool:
    """Whether `folder`'s guide/ holds a model, or part of one (its weights alone, a run not yet ended, the files a
    push would upload beside them), said when it is loaded; an empty guide/, or one of other files only (.DS_Store),
    is none."""
    return any((folder / GUIDE_SUBFOLDER / name).is_file() for name in GUIDE_FILES)


def _guide_command(folder: Path) -> str:
    """train.py's command for a small guide that models what the model in `folder` models (data, T, schedule)."""
    command = "python train.py --base-channels 8 --epochs 3"
    try:
        cfg = ModelConfig.load(folder / CONFIG_NAME)
    except (OSError, ValueError):
        return command + " --label-dropout 0.5"
    dataset = trained_on(folder)
    return (command + (" --label-dropout 0.5" if cfg.num_classes else " --unconditional")
            + (f" --dataset {dataset}" if dataset != "mnist" else "")
            + (f" --timesteps {cfg.timesteps}" if cfg.timesteps != 1000 else "")
            + (f" --schedule {cfg.schedule}" if cfg.schedule != "linear" else ""))


def autoguided(model: nn.Module, source, weight: float, t_max: int | None = None, device="cpu",
               guide=None) -> nn.Module:
    """`model` itself when weight == 1; else `model` guided on the steps t <= t_max [default_t_max(T)] by
    the model folder `guide` [the guide/ folder of `source`] (a model folder or Hub repo id either way)."""
    if weight == 1:
        return model
    return Autoguided(model, load_guide(source, device, guide), weight, t_max).eval()


def add_autoguidance_args(p: argparse.ArgumentParser) -> None:
    """--autoguidance W, --autoguidance-tmax T and --autoguidance-guide DIR, shared by ddpm.sample, ddpm.evaluate and ddpm.benchmark."""
    p.add_argument("--autoguidance", type=float, default=1.0, metavar="W",
                   help="autoguidance weight: eps_guide + W (eps - eps_guide), with the small model in the "
                        "weights' guide/ folder; 1 = off [%(default)s]")
    p.add_argument("--autoguidance-tmax", type=int, default=None, metavar="K",
                   help=f"guide only the steps with code index t <= K, 0 to T - 1 (the paper's t <= K + 1; T - 1: "
                        f"every step) [{T_MAX_FRACTION:g} of the model's timesteps]")
    p.add_argument("--autoguidance-guide", type=path_arg, default=None, metavar="DIR",
                   help="the guide: a model folder or Hub repo id, such as a train.py output [the weights' guide/]")


def check_autoguidance_args(p: argparse.ArgumentParser, a: argparse.Namespace, loose: bool = False) -> None:
    """p.error on a bad autoguidance flag; loose: `evaluate --from-samples`, whose file may supply the weight W."""
    if not 0 <= a.autoguidance <= MAX_AUTOGUIDANCE:
        p.error(f"--autoguidance must be between 0 and {MAX_AUTOGUIDANCE:g} (1 = off)")
    if a.autoguidance_tmax is not None and a.autoguidance_tmax < 0:
        p.error("--autoguidance-tmax must be 0 or more")
    if a.autoguidance == 1 and not loose and (a.autoguidance_tmax is not None or a.autoguidance_guide is not None):
        p.error("--autoguidance-tmax and --autoguidance-guide shape autoguidance: add --autoguidance W "
                "(W = 1 is off)")
