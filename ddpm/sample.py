"""Sample digits from a trained model to a PNG grid or an .npz of uint8 images.

    python -m ddpm.sample --seed 0 --n 16 --sampler ddim --steps 50 --out grid.png
    python -m ddpm.sample --n 1000 --sampler ddpm --out samples.npz      # (N, 28, 28) uint8 under "samples"
    python -m ddpm.sample --label 7 --guidance 1.5 --out sevens.png
    python -m ddpm.sample --label random --n 64 --out mixed.png          # digit k drawn from (seed, k)
    python -m ddpm.sample --autoguidance 2 --out guided.png              # guided by the small weights/guide/
    python -m ddpm.sample --n 500 --first 500 --out part2.npz            # samples 500-999 of the same run, in a shard
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .autoguidance import add_autoguidance_args, autoguided, check_autoguidance_args
from .hub import DEFAULT_WEIGHTS, GRID_NAME, ModelLoadError, load_pretrained, resolve_folder, trained_on
from .images import grid, to_uint8_np
from .config import MAX_GUIDANCE
from .samplers import DDIM_STEPS, RANDOM, SAMPLERS, VARIANCES, sample, steps_run, too_many_steps
from .schedule import NoiseSchedule

MAX_N = 100_000
CARD_GRID = "python -m ddpm.sample --weights {folder} --seed 0 --n 64 --sampler ddpm --out {folder}/" + GRID_NAME


def card_grid_command(folder: str | Path) -> str:
    """CARD_GRID for a local folder, quoted as a shell needs (a folder named 'my run')."""
    return CARD_GRID.format(folder=shlex.quote(str(folder)))


def label_arg(value: str) -> int | str:
    """argparse type of --label: a digit 0-9, or "random" for one uniform digit per sample."""
    if value.strip().lower() == RANDOM:
        return RANDOM
    if value.strip().isdigit() and 0 <= int(value) <= 9:
        return int(value)
    raise argparse.ArgumentTypeError(f"must be a digit 0-9 or {RANDOM!r}, not {value!r}")


def check_sampling_args(p: argparse.ArgumentParser, a: argparse.Namespace, loose: bool = False) -> None:
    """The flag checks ddpm.sample and ddpm.evaluate share (p.error on a bad value; None means unset). loose:
    `evaluate --from-samples`, whose file may supply what a flag needs (a label for --guidance, DDIM for --eta)."""
    if a.seed is not None and a.seed < 0:
        p.error(f"--seed must be 0 or more, not {a.seed}")
    if a.guidance is not None and a.label is None and not loose:
        p.error("--guidance steers toward a class: add --label (without one the null class is sampled, whatever w)")
    a.guidance = 1.0 if a.guidance is None else a.guidance
    if not (math.isfinite(a.guidance) and 0 <= a.guidance <= MAX_GUIDANCE):
        p.error(f"--guidance must be between 0 and {MAX_GUIDANCE:g} (1 = plain conditional), not {a.guidance}")
    if a.eta is not None and not 0 <= a.eta <= 1:
        p.error("--eta must be between 0 and 1")
    if a.eta and a.sampler != "ddim" and not loose:
        p.error("--eta is a DDIM setting (add --sampler ddim); DDPM always adds its full noise")


def sample_images(model, n: int, seed: int, sampler: str = "ddpm", steps: int = DDIM_STEPS, batch_size: int = 256,
                  **kwargs) -> np.ndarray:
    """n digits as uint8 (n, 28, 28); kwargs go to `samplers.sample` (label, guidance, eta, variance, clip)."""
    cfg = model.config
    with torch.inference_mode():
        x = sample(model, NoiseSchedule(cfg.timesteps, cfg.schedule), n, seed, batch_size=batch_size,
                   sampler=sampler, steps=steps, **kwargs)
    return to_uint8_np(x)


def save_npz(path: str | Path, images: np.ndarray, seed: int, sampler: str, steps: int, eta: float = 0.0,
             label: int | str | None = None, guidance: float = 1.0, autoguidance: float = 1.0,
             autoguidance_tmax: int | None = None, first: int = 0, variance: str = "beta", clip: bool = True,
             autoguidance_guide: str | None = None, timesteps: int | None = None, dataset: str = "mnist") -> None:
    """uint8 (N, 28, 28) under "samples" (samples first .. first + N - 1 of the seed), beside the facts
    `ddpm.evaluate --from-samples` reads back; timesteps: the model's T; dataset: what it was trained on."""
    cond = {} if label is None else {"label": label, "guidance": guidance}
    if dataset != "mnist":  # absent: MNIST, as in every file written before it was recorded
        cond["dataset"] = dataset
    if autoguidance != 1 and autoguidance_tmax is not None:  # absent: the default, default_t_max(T)
        cond["autoguidance_tmax"] = autoguidance_tmax
    if autoguidance != 1 and autoguidance_guide is not None:  # absent: the weights' own guide/
        cond["autoguidance_guide"] = str(autoguidance_guide)
    if timesteps is not None:
        cond["timesteps"] = timesteps
    if sampler == "ddpm" and variance != "beta":
        cond["variance"] = variance
    if not clip:
        cond["clip"] = False
    np.savez_compressed(path, samples=images, seed=seed, first=first, sampler=sampler, steps=steps, eta=eta,
                        autoguidance=autoguidance, **cond)


def check_writable(path: str | Path) -> str | None:
    """Why a file cannot be written at `path` (None if it can): asked before sampling, so that a typo in the
    output path costs no run. Makes the missing folders, as the writing would."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as e:
        return f"cannot write {path}: {e.strerror or e}"
    return None


def write_card_grid(folder: str | Path) -> Path:
    """The model card's samples.png: what CARD_GRID makes (64 unconditional digits, all T DDPM steps, seed 0)."""
    path = Path(folder) / GRID_NAME
    grid(sample_images(load_pretrained(folder), 64, 0, "ddpm"), scale=2).save(path)
    return path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ddpm.sample", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="model folder or Hub repo id [bundled weights]")
    p.add_argument("--seed", type=int, default=0, help="0 or more; sample k depends only on (seed, k) [%(default)s]")
    p.add_argument("--n", type=int, default=16, help=f"number of digits, 1 to {MAX_N} [%(default)s]")
    p.add_argument("--first", type=int, default=0,
                   help="index of the first digit: --n 500 --first 500 draws digits 500-999 of the seed, so a long "
                        "run can be split into shards that `ddpm.evaluate --from-samples` joins [%(default)s]")
    p.add_argument("--sampler", choices=SAMPLERS, default="ddpm", help="ancestral DDPM or DDIM [%(default)s]")
    p.add_argument("--steps", type=int, default=None,
                   help=f"DDIM steps (DDPM always runs all T) [{DDIM_STEPS}, or T for a model of fewer timesteps]")
    p.add_argument("--eta", type=float, default=0.0,
                   help="DDIM eta (Song et al. Eq. 16): 0 deterministic, 1 the noise of DDPM with sigma^2 = "
                        "beta_tilde [%(default)s]")
    p.add_argument("--variance", choices=VARIANCES, default="beta",
                   help="DDPM sigma_t^2: beta_t or the posterior beta_tilde_t [%(default)s]")
    p.add_argument("--no-clip", action="store_true", help="do not clip x0_hat to [-1, 1]")
    p.add_argument("--label", type=label_arg, default=None,
                   help="digit class 0-9, or 'random' for a uniform digit per sample (default: unconditional)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale w for --label, 0 to 10: 0 unconditional, 1 plain conditional [1]")
    add_autoguidance_args(p)
    p.add_argument("--batch-size", type=int, default=256, help="digits per forward pass [%(default)s]")
    p.add_argument("--out", default="samples.png", help="a .png grid or an .npz of uint8 (N, 28, 28) [%(default)s]")
    a = p.parse_args(argv)
    if not 1 <= a.n <= MAX_N:
        p.error(f"--n must be between 1 and {MAX_N}")
    if a.first < 0:
        p.error("--first must be 0 or more")
    if Path(a.out).suffix.lower() not in (".png", ".npz"):
        p.error("--out must end in .png or .npz")
    check_sampling_args(p, a)
    if (a.steps is not None and a.steps < 1) or a.batch_size < 1:
        p.error("--steps and --batch-size must be positive")
    check_autoguidance_args(p, a)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        model = autoguided(load_pretrained(a.weights), a.weights, a.autoguidance, a.autoguidance_tmax,
                           guide=a.autoguidance_guide)
        dataset = trained_on(resolve_folder(a.weights))  # for the .npz: ddpm.evaluate scores MNIST's only
    except (ModelLoadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = model.config
    if a.label is not None and cfg.num_classes == 0:
        print("error: this model is unconditional; drop --label", file=sys.stderr)
        return 2
    if why := too_many_steps(a.sampler, a.steps, cfg.timesteps) or check_writable(a.out):
        print(f"error: {why}", file=sys.stderr)
        return 2
    steps = steps_run(a.sampler, a.steps, cfg.timesteps - 1)  # as run, for the .npz
    start = time.perf_counter()
    images = sample_images(model, a.n, a.seed, a.sampler, steps, a.batch_size, label=a.label, guidance=a.guidance,
                           eta=a.eta, variance=a.variance, clip=not a.no_clip, first=a.first)
    out = Path(a.out)
    try:
        if out.suffix.lower() == ".npz":
            save_npz(out, images, a.seed, a.sampler, steps, a.eta, a.label, a.guidance, a.autoguidance,
                     a.autoguidance_tmax, a.first, a.variance, not a.no_clip, a.autoguidance_guide, cfg.timesteps,
                     dataset)
        else:
            grid(images, scale=2).save(out)
    except OSError as e:  # the disk filled up while sampling, say
        print(f"error: cannot write {out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {a.n} digit{'s' * (a.n != 1)} to {out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
