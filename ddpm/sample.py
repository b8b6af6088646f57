"""Sample digits from a trained model to a PNG grid or an .npz of uint8 images.

    python -m ddpm.sample --seed 0 --n 16 --sampler ddim --steps 50 --out grid.png
    python -m ddpm.sample --n 1000 --sampler ddpm --out samples.npz      # (N, 28, 28) uint8 under "samples"
    python -m ddpm.sample --label 7 --guidance 1.5 --out sevens.png
    python -m ddpm.sample --label random --n 64 --out mixed.png          # digit k drawn from (seed, k)
    python -m ddpm.sample --autoguidance 1.5 --out guided.png            # guided by the small weights/guide/
    python -m ddpm.sample --n 500 --first 500 --out part2.npz            # samples 500-999 of the same run, in a shard
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from .autoguidance import add_autoguidance_args, autoguided, check_autoguidance_args
from .cli_args import (add_sampling_args, check_label_for, check_sampling_args, check_writable, out_suffix_problem,
                       path_arg, positive_int, seed_arg, steps_asked, stopped, whole_number)
from .data import noun
from .device import pick_device
from .eval_files import save_npz
from .facts import trained_on
from .hub import (CONFIG_NAME, DEFAULT_WEIGHTS, GRID_NAME, ModelLoadError, load_pretrained, resolve_folder,
                  weights_digest)
from .images import grid, to_uint8_np
from .safeio import PreviousNotKept, atomic_write_png, keeping_previous, previous_blocked
from .samplers import VARIANCES, sample
from .schedule import NoiseSchedule
from .train_args import shell_path

MAX_N = 100_000
CARD_GRID = "python -m ddpm.sample --weights {folder} --seed 0 --n 64 --sampler ddpm --out {folder}/" + GRID_NAME


def card_grid_command(folder: str | Path) -> str:
    """CARD_GRID for a local folder, quoted as a shell needs (a folder named 'my run')."""
    return CARD_GRID.format(folder=shell_path(folder))


def sample_images(model, n: int, seed: int, sampler: str = "ddpm", steps: int | None = None, batch_size: int = 256,
                  **kwargs) -> np.ndarray:
    """n digits as uint8 (n, 28, 28); steps: DDIM's [50, or T if fewer] (DDPM runs all T); kwargs go to
    `samplers.sample` (label, guidance, eta, variance, clip, first, progress); guidance steers toward a label, and
    without one is not used. For autoguidance, sample from `ddpm.autoguidance.autoguided(model, folder, w)` instead
    of model."""
    cfg = model.config
    with torch.inference_mode():
        x = sample(model, NoiseSchedule(cfg.timesteps, cfg.schedule), n, seed, batch_size=batch_size,
                   sampler=sampler, steps=steps, **kwargs)
    return to_uint8_np(x)


class Loaded(NamedTuple):
    model: torch.nn.Module  # autoguided where asked
    digest: str  # hub.weights_digest of the model itself: whose samples these are
    dataset: str  # what it was trained on
    steps: int  # the steps the sampler will run (cli_args.steps_asked)


def load_for_sampling(weights: str, device: str | torch.device, sampler: str, steps: int | None, label=None,
                      autoguidance: float = 1.0, autoguidance_tmax: int | None = None,
                      autoguidance_guide: str | None = None, check_dataset: Callable[[str], None] | None = None,
                      hint: str = "") -> Loaded:
    """The steps ddpm.sample and ddpm.evaluate both take before they sample: the device, the model, its digest and
    dataset (check_dataset may refuse it before the guide loads), the guide, the steps asked. ModelLoadError (with
    `hint` after a model that does not load) or ValueError, in words."""
    device = pick_device(device)
    try:
        model = load_pretrained(weights, device)
    except ModelLoadError as e:
        raise ModelLoadError(f"{e}{hint}") from None
    digest, dataset = weights_digest(model), trained_on(resolve_folder(weights))
    if check_dataset is not None:
        check_dataset(dataset)
    model = autoguided(model, weights, autoguidance, autoguidance_tmax, device, autoguidance_guide)
    return Loaded(model, digest, dataset, steps_asked(model, label, sampler, steps))


def write_card_grid(folder: str | Path, device: str | torch.device = "cpu") -> Path:
    """The model card's samples.png: what CARD_GRID makes (64 unconditional digits, all T DDPM steps, seed 0), on
    `device` (train.py's own after a GPU run: the noise is the CPU generators', so the same digits up to rounding)."""
    path = Path(folder) / GRID_NAME
    atomic_write_png(path, grid(sample_images(load_pretrained(folder, device), 64, 0, "ddpm"), scale=2))
    return path


def card_grid_problem(a: argparse.Namespace, out: Path, steps: int, T: int) -> str | None:
    """Why --out may not be written (None if it may): a model folder's samples.png is the grid its card shows
    under CARD_GRID's command, so only that command, for that folder's own weights, may replace it."""
    folder = out.parent
    if out.name.lower() != GRID_NAME or not (folder / CONFIG_NAME).is_file():  # (Samples.PNG: the same file on macOS)
        return None
    if not (Path(a.weights).is_dir() and Path(a.weights).resolve() == folder.resolve()):
        return (f"{out} is the grid on the card of the model in {folder}, and these would be digits of --weights "
                f"{a.weights}: name another file, such as {folder / 'other.png'}")
    as_card = (a.n, a.seed, a.first, a.sampler, steps, a.label, a.variance, a.no_clip, a.autoguidance) == \
        (64, 0, 0, "ddpm", T, None, "beta", False, 1)
    return None if as_card else (f"{out} is the grid the card shows as drawn by `{card_grid_command(folder)}`: "
                                 "that command alone replaces it; name another file for other settings")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ddpm.sample", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=path_arg, default=str(DEFAULT_WEIGHTS),
                   help="model folder or Hub repo id [bundled weights]")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="0 to 2^53 - 1, as in the app; sample k depends only on (seed, k), up to float rounding "
                        "across batch sizes (the README's \"What is inside\") [%(default)s]")
    p.add_argument("--n", type=whole_number(1, MAX_N), default=16,
                   help=f"number of digits, 1 to {MAX_N} [%(default)s]")
    p.add_argument("--first", type=seed_arg, default=0,
                   help="index of the first digit: --n 500 --first 500 draws digits 500-999 of the seed, so a long "
                        "run can be split into shards that `ddpm.evaluate --from-samples` joins [%(default)s]")
    add_sampling_args(p)
    p.add_argument("--variance", choices=VARIANCES, default="beta",
                   help="DDPM sigma_t^2: beta_t or the posterior beta_tilde_t [%(default)s]")
    p.add_argument("--no-clip", action="store_true", help="do not clip x0_hat to [-1, 1]")
    add_autoguidance_args(p)
    p.add_argument("--batch-size", type=positive_int, default=256, help="digits per forward pass [%(default)s]")
    p.add_argument("--device", default="cpu",
                   help="where to sample: cpu, cuda, mps or auto; the noise is drawn on the CPU either way, so a GPU "
                        "gives the same digits up to rounding (a few grey levels) [%(default)s]")
    p.add_argument("--out", type=path_arg, default="samples.png",
                   help="a .png grid or an .npz of uint8 (N, 28, 28); an .npz there is kept as FILE.npz.previous, "
                        "one generation [%(default)s]")
    a = p.parse_args(argv)
    if why := out_suffix_problem(a.out, (".png", ".npz"), "digits.png"):
        p.error(why)
    check_sampling_args(p, a)
    if a.variance != "beta" and a.sampler == "ddim":  # DDIM's sigma_t comes from --eta (Song et al. Eq. 16)
        p.error("--variance is a DDPM setting; DDIM's noise is set by --eta")
    check_autoguidance_args(p, a)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        return write_samples(a)
    except KeyboardInterrupt:  # the file is written whole or not at all (write_samples), so nothing is half-done
        split = "; --n and --first split a long run into files that each survive a stop" if a.n > a.batch_size else ""
        return stopped(f"nothing was written to {a.out}{split}")


def write_samples(a: argparse.Namespace) -> int:
    """Sample as the flags say and write the grid or .npz; the exit status (2 with a line for what is refused)."""
    try:
        model, digest, dataset, steps = load_for_sampling(  # digest, dataset and steps as run: for the .npz
            a.weights, a.device, a.sampler, a.steps, a.label, a.autoguidance, a.autoguidance_tmax,
            a.autoguidance_guide, check_dataset=lambda dataset: check_label_for(a.label, dataset))
    except (ModelLoadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = model.config
    out, kept = Path(a.out), None
    npz = out.suffix.lower() == ".npz"  # (a .png grid is cheap to draw again: not kept)
    if why := check_writable(a.out) or (previous_blocked(out) if npz else
                                        card_grid_problem(a, out, steps, cfg.timesteps)):
        print(f"error: {why}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    images = sample_images(model, a.n, a.seed, a.sampler, steps, a.batch_size, label=a.label, guidance=a.guidance,
                           eta=a.eta, variance=a.variance, clip=not a.no_clip, first=a.first, progress=True)

    def write(path: Path) -> None:
        if npz:
            save_npz(path, images, a.seed, a.sampler, steps, a.eta, a.label, a.guidance, a.autoguidance,
                     a.autoguidance_tmax, a.first, a.variance, not a.no_clip, a.autoguidance_guide, cfg.timesteps,
                     dataset, digest)
        else:
            atomic_write_png(path, grid(images, scale=2))

    not_kept = None
    try:  # an .npz there (minutes of sampling) is kept from a mistyped --out
        with keeping_previous(out) if npz else contextlib.nullcontext() as kept:
            write(out)
    except PreviousNotKept as e:  # --out is written all the same: no second copy in the temp folder
        kept, not_kept = None, e
    except OSError as e:  # the disk filled up while sampling, say
        print(f"error: cannot write {out}: {e.strerror or e}", file=sys.stderr)
        return rescue(write, out)
    print(f"wrote {a.n} {noun(dataset)}{'s' * (a.n != 1)} to {out} in {time.perf_counter() - start:.1f} s"
          + (f"; the file it replaced is kept as {kept}" if kept else ""))
    if not_kept:
        print(f"warning: {not_kept}", file=sys.stderr)
    return 0


def rescue(write: Callable[[Path], None], out: Path) -> int:
    """After a write to --out failed: the samples (minutes or hours of sampling) written to the temp folder instead,
    or said lost; the exit status, 2."""
    fd, spare = tempfile.mkstemp(prefix=f"{out.stem}-", suffix=out.suffix)
    os.close(fd)
    try:
        write(Path(spare))
    except OSError as e:
        Path(spare).unlink(missing_ok=True)
        print(f"error: nor in the temp folder ({e.strerror or e}): the samples are lost; --n and --first draw a run "
              "in parts", file=sys.stderr)
        return 2
    print(f"the samples are kept in {spare} instead: move the file where it belongs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
