"""What the command lines share: ddpm.sample's and ddpm.evaluate's sampling flags and their checks, a count's
type, the steps a model can run, an output path tried before a long run, the command line as a record quotes it,
and what a Ctrl-C says."""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path

from .config import MAX_GUIDANCE
from .data import CLASS_NAMES, class_by_name, dataset_name
from .samplers import DDIM_STEPS, MAX_SEED, RANDOM, SAMPLERS, steps_run, steps_problem


def command_line(program: str, argv: list[str] | None = None) -> str:
    """'python PROGRAM ARGS' as typed (argv, else the process's own), quoted as a shell needs: --out "my run"."""
    return f"python {program} " + shlex.join(sys.argv[1:] if argv is None else argv)


def stopped(what: str) -> int:
    """A Ctrl-C's answer in place of a traceback: one line saying what was and was not written; returns 130, the
    exit status a shell gives a command stopped by Ctrl-C, so that a script does not go on as if it had ended."""
    print(f"\nstopped (Ctrl-C); {what}", file=sys.stderr)
    return 130


def whole_number(lo: int, hi: int | None = None):
    """argparse type of a whole number from lo to hi (None: no top)."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
        if n < lo or (hi is not None and n > hi):
            raise argparse.ArgumentTypeError(f"must be {lo} or more, not {n}" if hi is None else
                                             f"must be between {lo} and {hi}, not {n}")
        return n
    return parse


positive_int = whole_number(1)  # a count: steps, batch size, repeats
seed_arg = whole_number(0, MAX_SEED)  # a sampling seed, or a sample's index: the app's range


class ClassName(int):
    """A --label given by its class's name ("Sneaker"): the class's index, and the dataset whose class it is."""

    def __new__(cls, index: int, name: str, dataset: str):
        label = super().__new__(cls, index)
        label.name, label.dataset = name, dataset
        return label


def label_arg(value: str) -> int | str:
    """argparse type of --label: a digit 0-9, or "random" for one uniform digit per sample."""
    if value.strip().lower() == RANDOM:
        return RANDOM
    if value.strip().isdigit() and 0 <= int(value) <= 9:
        return int(value)
    raise argparse.ArgumentTypeError(f"must be a digit 0-9 or {RANDOM!r}, not {value!r}")


def label_or_name_arg(value: str) -> int | str:
    """ddpm.sample's --label: as label_arg, or a class's name in a dataset that names its classes ("sneaker" is
    Fashion-MNIST's 7), in any case; check_label_for then refuses it for a model of another dataset."""
    for dataset, names in CLASS_NAMES.items():
        if (index := class_by_name(value, names)) is not None:
            return ClassName(index, names[index], dataset)
    try:
        return label_arg(value)
    except argparse.ArgumentTypeError:
        named = "; ".join(f"{dataset_name(d)}'s by name: {', '.join(names)}" for d, names in CLASS_NAMES.items())
        raise argparse.ArgumentTypeError(f"must be a class 0-9 or {RANDOM!r} ({named}), not {value!r}") from None


def check_label_for(label, dataset: str) -> None:
    """ValueError if a --label given by name names a class of another dataset than the model's (a Sneaker asked of
    an MNIST model would draw sevens)."""
    if isinstance(label, ClassName) and label.dataset != dataset:
        raise ValueError(f"--label {label.name} is a class of {dataset_name(label.dataset)}, and this model was "
                         f"trained on {dataset_name(dataset)}: give its class as a number, 0-9")


def add_sampling_args(p: argparse.ArgumentParser, from_file: bool = False) -> None:
    """--sampler, --steps, --eta, --label and --guidance. from_file: ddpm.evaluate, where a flag left unset takes
    what a --from-samples file says (so --sampler and --eta default to None, not ddpm and 0), and whose --label is
    a digit (it scores MNIST's alone); ddpm.sample's takes a class's name too."""
    file = ", or what the .npz says" if from_file else ""
    p.add_argument("--sampler", choices=SAMPLERS, default=None if from_file else "ddpm",
                   help=f"ancestral DDPM or DDIM [ddpm{file}]")
    p.add_argument("--steps", type=positive_int, default=None,
                   help=f"DDIM steps (DDPM always runs all T: with it, only T is taken) [{DDIM_STEPS}, or T for a "
                        f"model of fewer timesteps{file}]")
    p.add_argument("--eta", type=float, default=None if from_file else 0.0,
                   help=f"DDIM eta (Song et al. Eq. 16): 0 deterministic, 1 the noise of DDPM with sigma^2 = "
                        f"beta_tilde of the steps visited [0{file}]")
    p.add_argument("--label", type=label_arg if from_file else label_or_name_arg, default=None,
                   help=f"digit class 0-9, or 'random': digit k uniform from (seed, k) [none: the null class, any "
                        f"digit{file}]" if from_file else
                   "class 0-9 (a digit; for a Fashion-MNIST model its number or its name, such as Sneaker), or "
                   "'random': sample k's class uniform from (seed, k) [none: the null class, any digit]")
    p.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance scale w for --label, 0 to {MAX_GUIDANCE:g}: 0 unconditional, 1 "
                        f"plain conditional [1{file}]")


def check_sampling_args(p: argparse.ArgumentParser, a: argparse.Namespace, loose: bool = False) -> None:
    """The checks of add_sampling_args' flags (p.error on a bad value; None means unset). loose:
    `evaluate --from-samples`, whose file may supply what a flag needs (a label for --guidance, DDIM for --eta)."""
    if a.guidance is not None and a.label is None and not loose:
        p.error("--guidance steers toward a class: add --label (without one the null class is sampled, whatever w; a "
                "model trained without labels takes neither)")
    a.guidance = 1.0 if a.guidance is None else a.guidance
    if not (math.isfinite(a.guidance) and 0 <= a.guidance <= MAX_GUIDANCE):
        p.error(f"--guidance must be between 0 and {MAX_GUIDANCE:g} (1 = plain conditional), not {a.guidance}")
    if a.eta is not None and not 0 <= a.eta <= 1:
        p.error("--eta must be between 0 and 1")
    if a.eta and a.sampler != "ddim" and not loose:
        p.error("--eta is a DDIM setting (add --sampler ddim); DDPM's noise is set by its variance, not by eta")
    # --steps with DDPM is refused unless it is T, which only the model knows (steps_asked, by steps_problem)


def steps_asked(model, label, sampler: str, steps: int | None) -> int:
    """The steps `sampler` will run on this model for --steps (DDPM: all T; DDIM: 50, or T for a model of fewer
    timesteps, unless given); ValueError for what the model cannot do: a label without classes, steps past T."""
    cfg = model.config
    if label is not None and cfg.num_classes == 0:
        raise ValueError("this model is unconditional; drop --label")
    if why := steps_problem(sampler, steps, cfg.timesteps):
        raise ValueError(why)
    return steps_run(sampler, steps, cfg.timesteps - 1)


def path_arg(value: str) -> str:
    """A path flag's value, a leading ~ read as the home folder: a shell leaves `--out=~/runs/m` as typed (bash and
    zsh expand ~ only at a word's start), and the run then made a folder named ~ where it ran."""
    return os.path.expanduser(value)


def out_suffix_problem(out: str, suffixes: tuple[str, ...], example: str) -> str | None:
    """Why --out names no file of these suffixes (None if it does); a folder is shown a file in it to name."""
    if Path(out).suffix.lower() in suffixes:
        return None
    if os.path.isdir(out):
        return f"--out {out} is a folder: name a file in it, such as {Path(out) / example}"
    return f"--out must end in {' or '.join(suffixes)}"


def check_writable(path: str | Path) -> str | None:
    """Why a file cannot be written at `path` (None if it can): asked before sampling, so that a typo in the
    output path costs no run. Tries what the writing does (safeio.atomic_write_bytes: a temporary file in the
    folder, renamed over the path) in the nearest folder there, and makes none: a run refused after this check (a
    --weights folder that is not there, named in --out too) leaves no empty folder behind."""
    if os.path.basename(str(path)) in ("", ".", ".."):  # Path() drops a last "/" or "/.": o.png/ would write o.png
        return f"cannot write {path}: that names a folder, not a file; name the file to write"
    if os.path.isdir(path):
        return f"cannot write {path}: it is a folder; name the file to write"
    path = Path(path)
    # the nearest thing there above it, as the system finds it (through links; lexists: a link to nothing too)
    there = next((p for p in path.parents if os.path.lexists(p)), None)
    if there is None:  # (a drive or share that is not there)
        return f"cannot write {path}: none of the folders above it exists"
    if not os.path.isdir(there):
        what = "a file" if os.path.exists(there) else "a link to nothing"
        return f"cannot write {path}: {there} is {what}, not a folder"
    try:
        tempfile.TemporaryFile(dir=there).close()
    except OSError as e:  # (Permission denied: in the folder tried, which may be far above the file)
        return f"cannot write {path}: {e.strerror or e}" + ("" if there == path.parent else f" in {there}")
    return None
