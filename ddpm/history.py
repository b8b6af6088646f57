"""Samples over training, from this repository's own history: the bundled weights as git kept them after each
stretch of training, each taking the same x_T (seed 0) to a digit, one row a stage. The loss curve flattens long
before the digits stop improving; this picture (weights/progress.png, in the app's About tab) shows it.

    python -m ddpm.history                   # from a git clone: redraws weights/progress.png (a minute)
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from PIL import Image

from .cli_args import check_writable, out_suffix_problem, path_arg
from .demo import draw
from .hub import CONFIG_NAME, DEFAULT_WEIGHTS, TRAINING_NAME, WEIGHTS_NAME, load_pretrained
from .safeio import atomic_write_png, read_json_object
from .samplers import sample
from .schedule import NoiseSchedule

PROGRESS_NAME = "progress.png"
# the commits that changed weights/ after a stretch of training, oldest first: 88, 172, 257 and 468 minutes on the
# CPU, then the shipped weights (556 minutes, the last 8 epochs guidance distillation: the card says how)
STAGES = ("33d826409e1145795ce9b9925a1f27adf88903ae", "9cad44e0e034ebb121a75b5b4bbb89f82f1b4373",
          "86c538f76a4e07d76d8f640dd33bca8156871a1b", "880d300f7ed746a1cf661a3a07c2bbd27c325acc",
          "08991365b4462c68ee6079e73cd5126d5a0a4e80")
STAGE_STEPS = (6400, 15256, 27612, 58500, 77688)  # each stage's optimizer steps, as its training.json says (tested)
ROOT = Path(__file__).resolve().parents[1]  # the repository (git runs there, from any folder)
SEED, N, STEPS = 0, 10, 50  # the app's default sampler: deterministic DDIM, 50 steps, the null class ("any digit")


def git_reader(commit: str) -> Callable[[str], bytes]:
    """A file of weights/ as it was at `commit` (git show), as bytes."""
    def read(name: str) -> bytes:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:weights/{name}"], capture_output=True,
                              check=True).stdout
    return read


def stage(read: Callable[[str], bytes], folder: Path):
    """The model a stage kept (its config.json and model.safetensors, written to `folder`) and its row title
    from its training.json: "after 6,400 steps (88 min)"."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME, TRAINING_NAME):
        (folder / name).write_bytes(read(name))
    facts = read_json_object(folder / TRAINING_NAME)
    return load_pretrained(folder), f"after {facts['steps']:,} steps ({facts['train_minutes']:.0f} min)"


def progress_picture(stages: list[tuple[object, str]], n: int = N, seed: int = SEED, steps: int = STEPS) -> Image.Image:
    """One row per (model, title): the same n x_T (samples 0 .. n - 1 of `seed`: sample k depends on (seed, k)
    alone), each taken to x_0 by that model with DDIM."""
    rows = []
    for model, title in stages:
        cfg = model.config
        x0 = sample(model, NoiseSchedule(cfg.timesteps, cfg.schedule), n, seed, sampler="ddim", steps=steps)
        rows.append((draw.digits(x0, cols=n, scale=2), title))  # (n, 1, 28, 28) in [-1, 1], in a row
    return draw.titled_rows(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm.history", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=path_arg, default=str(DEFAULT_WEIGHTS / PROGRESS_NAME),
                   help="the picture to write [%(default)s]")
    a = p.parse_args(argv)
    # before the run, not after it (a folder's name became a PNG file's, after a minute and a half)
    if why := out_suffix_problem(a.out, (".png",), PROGRESS_NAME) or check_writable(a.out):
        p.error(why)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stages = [stage(git_reader(c), Path(tmp) / c) for c in STAGES]
            picture = progress_picture(stages)
    except (OSError, subprocess.CalledProcessError) as e:  # no git, or a clone without this history (shallow)
        why = e.stderr.decode(errors="replace").strip() if isinstance(e, subprocess.CalledProcessError) else e
        print(f"error: the weights' history is read with git from a full clone of this repository: {why}",
              file=sys.stderr)
        return 2
    atomic_write_png(a.out, picture)
    print(f"wrote {a.out}: {len(STAGES)} stages of training, {N} samples each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
