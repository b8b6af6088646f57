"""The files ddpm.evaluate reads and writes: samples in .npz files (as ddpm.sample writes them; the shards of
one run joined in sample order), and the JSON file of scored runs (weights/eval.json), each run under a name made
from its settings."""
from __future__ import annotations

import argparse
import io
import re
import zipfile
from pathlib import Path

import numpy as np

from .cli_args import label_arg
from .config import DATASETS, MAX_AUTOGUIDANCE, MAX_GUIDANCE, MAX_TIMESTEPS, is_real
from .data import dataset_name
from .safeio import atomic_write_bytes, atomic_write_json, read_json_object
from .sampling_checks import MAX_SEED, RANDOM, SAMPLERS, VARIANCES, whole_up_to
from .train_args import shell_path


class EvalError(RuntimeError):
    """Bad input to the evaluation; the message says what to do."""


def only_mnist(dataset: str, what: str, weights: str | None = None) -> None:
    """Every figure is measured against MNIST, through an MNIST classifier: refuse another dataset's samples (the
    grid's command names `weights` where they are known)."""
    if dataset != "mnist":
        raise EvalError(f"{what} trained on {dataset_name(dataset)}, and ddpm.evaluate measures against MNIST's "
                        "digits with an MNIST classifier: its figures would say nothing about this model (look at "
                        f"its samples instead: python -m ddpm.sample --weights {shell_path(weights or 'FOLDER')} "
                        "--out samples.png draws a grid)")


def save_npz(path: str | Path, images: np.ndarray, seed: int, sampler: str, steps: int, eta: float = 0.0,
             label: int | str | None = None, guidance: float = 1.0, autoguidance: float = 1.0,
             autoguidance_tmax: int | None = None, first: int = 0, variance: str = "beta", clip: bool = True,
             autoguidance_guide: str | None = None, timesteps: int | None = None, dataset: str = "mnist",
             weights_sha256: str | None = None) -> None:
    """uint8 (N, 28, 28) under "samples" (samples first .. first + N - 1 of the seed), beside the facts
    `ddpm.evaluate --from-samples` reads back; timesteps: the model's T; dataset: what it was trained on;
    weights_sha256: hub.weights_digest of the model that drew them (not of its guide)."""
    cond = {} if label is None else {"label": label, "guidance": guidance}
    if weights_sha256 is not None:
        cond["weights_sha256"] = weights_sha256
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
    buf = io.BytesIO()  # written whole or not at all: a stop or a full disk leaves the old file, if any
    np.savez_compressed(buf, samples=images, seed=seed, first=first, sampler=sampler, steps=steps, eta=eta,
                        autoguidance=autoguidance, **cond)
    atomic_write_bytes(path, buf.getvalue())


def read_samples(path: str | Path) -> tuple[np.ndarray, dict]:
    """uint8 (N, 28, 28) under "samples" in an .npz (as `python -m ddpm.sample --out x.npz` writes),
    plus any scalar facts stored beside it (seed, sampler, steps ...), each checked: checked_facts."""
    path = Path(path)
    if path.is_dir():  # the command below would be refused: --out must end in .npz
        raise EvalError(f"{path} is a folder: give the .npz files in it (ddpm.sample --out x.npz writes one)")
    if not path.is_file():
        raise EvalError(f"no samples file {path}; write one with:\n  python -m ddpm.sample --n 1000 --out {path}")
    if not zipfile.is_zipfile(path):  # what np.load would say of a .png or .npy is no help
        raise EvalError(f"{path} is not an .npz file; write one with:\n  python -m ddpm.sample --n 1000 --out x.npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "samples" not in f:
                raise EvalError(f"{path} has no 'samples' array (keys: {sorted(f.files)})")
            facts = {k: f[k].item() for k in f.files if k != "samples" and f[k].ndim == 0}
            return f["samples"], checked_facts(facts, path)
    except EvalError:
        raise
    except Exception as e:
        raise EvalError(f"could not read {path} as an .npz ({e})") from None


def checked_facts(facts: dict, path) -> dict:
    """The facts of an .npz, each in the range of the flag that set it (ddpm.sample's): a hand-made file's
    steps=-4 or guidance=nan would be filed as a run of its own, and seed="abc" would end in a traceback."""
    def check(key: str, ok, what: str) -> None:
        if key in facts and not ok(facts[key]):
            raise EvalError(f"{path} records {key}={facts[key]!r}: {what}")

    if isinstance(facts.get("label"), str):  # as --label takes it: "3" is 3, "Random" is random
        try:
            facts = facts | {"label": label_arg(facts["label"])}
        except argparse.ArgumentTypeError:
            pass  # refused below, in the words of every other fact
    check("timesteps", lambda v: whole_up_to(v, MAX_TIMESTEPS) and v >= 1,
          f"the model's T is a whole number from 1 to {MAX_TIMESTEPS}")
    T = int(facts.get("timesteps", MAX_TIMESTEPS))
    most = f"T = {T}" if "timesteps" in facts else "the model's T"
    check("seed", lambda v: whole_up_to(v, MAX_SEED), f"a seed is 0 to {MAX_SEED}")
    check("first", lambda v: whole_up_to(v, MAX_SEED), f"a sample's index is a whole number from 0 to {MAX_SEED}")
    check("sampler", lambda v: v in SAMPLERS, f"the sampler is {' or '.join(SAMPLERS)}")
    check("steps", lambda v: whole_up_to(v, T) and v >= 1, f"steps are a whole number from 1 to {most}")
    check("eta", lambda v: is_real(v) and 0 <= v <= 1, "DDIM's eta is a number from 0 to 1")
    check("label", lambda v: v == RANDOM or whole_up_to(v, 9), f"a label is a digit 0-9 or {RANDOM!r}")
    check("guidance", lambda v: is_real(v) and 0 <= v <= MAX_GUIDANCE,
          f"guidance w is a number from 0 to {MAX_GUIDANCE:g}")
    check("autoguidance", lambda v: is_real(v) and 0 <= v <= MAX_AUTOGUIDANCE,
          f"the autoguidance weight is a number from 0 to {MAX_AUTOGUIDANCE:g}")
    check("autoguidance_tmax", lambda v: whole_up_to(v, T - 1),
          f"autoguidance's t_max is a code index from 0 to {most} minus 1")
    check("autoguidance_guide", lambda v: isinstance(v, str) and v.strip(), "the guide is a model folder")
    check("dataset", lambda v: v in DATASETS, f"the dataset is {' or '.join(DATASETS)}")
    check("variance", lambda v: v in VARIANCES, f"DDPM's variance is {' or '.join(VARIANCES)}")
    check("clip", lambda v: isinstance(v, bool), "clip is True or False")
    check("weights_sha256", lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None,
          "the weights' sha256 is 64 hex digits")
    whole = ("timesteps", "seed", "first", "steps", "autoguidance_tmax", "label")  # 7, not 7.0: runs are named by them
    return facts | {k: int(v) for k, v in facts.items() if k in whole and v != RANDOM}


def read_shards(paths: list[str]) -> tuple[np.ndarray, dict]:
    """Join .npz shards of one run (`ddpm.sample --first`) in sample order. They must agree on every
    fact but `first` and cover one unbroken range of sample indices, or the figures would mix runs. A shard that
    records no weights_sha256 (written before it was recorded) joins those that do, which give the run theirs."""
    parts = sorted((read_samples(p) + (p,) for p in paths), key=lambda part: int(part[1].get("first", 0)))
    _, facts0, path0 = parts[0]
    digests = {part[1]["weights_sha256"] for part in parts if "weights_sha256" in part[1]}
    if len(digests) > 1:
        raise EvalError(f"{' '.join(paths)} are not shards of one run: they were drawn by other weights (their "
                        "weights_sha256 differ)")
    ignored = ("first", "weights_sha256")
    same = {k: v for k, v in facts0.items() if k not in ignored}
    end = int(facts0.get("first", 0))
    for samples, facts, path in parts:
        other = {k: v for k, v in facts.items() if k not in ignored}
        if other != same:
            diff = sorted(k for k in same.keys() | other.keys() if same.get(k) != other.get(k))
            raise EvalError(f"{path} and {path0} are not shards of one run: they differ in {', '.join(diff)}")
        first = int(facts.get("first", 0))
        if first < end:
            raise EvalError(f"{path} starts at sample {first}, but the shards before it already reach sample "
                            f"{end - 1}: it overlaps them (or is one of them twice)")
        if first > end:
            raise EvalError(f"{path} starts at sample {first}, but the shards before it "
                            f"end at {end}: draw the missing ones with `python -m ddpm.sample --first {end} ...`")
        end += len(samples)
    joined = dict(facts0)
    if digests:  # facts0 may be a shard from before the sha256 was recorded
        joined["weights_sha256"] = digests.pop()
    return np.concatenate([part[0] for part in parts]), joined


def run_name(sampler: str, steps, label=None, guidance=1.0, eta=0.0, autoguidance=1.0, autoguidance_tmax=None,
             autoguidance_guide=None) -> str:
    name = f"{sampler}-{steps}" + (f"-eta{eta:g}" if sampler == "ddim" and eta else "")
    if label is not None:
        name += f"-label{label}-w{guidance:g}"
    if autoguidance != 1:
        name += f"-autoguided{autoguidance:g}" + (f"-tmax{autoguidance_tmax}" if autoguidance_tmax is not None else "")
        name += f"-guide-{Path(str(autoguidance_guide)).name}" if autoguidance_guide else ""  # not the shipped guide/
    return name


def read_runs_file(path: str | Path) -> dict:
    """What an --out file holds ({} if there is none yet); EvalError if it is not a JSON object."""
    try:
        doc = read_json_object(path)
    except ValueError as e:
        raise EvalError(f"{e}; move it away or pick another --out") from None
    if not isinstance(doc.get("runs", {}), dict):  # replaced, whatever it held would be lost
        raise EvalError(f"{path}'s \"runs\" is not an object of runs by name, so no run can be added to it; move it "
                        "away or pick another --out")
    return doc


def fewer_than_filed(path: str | Path, name: str, n: int, doc: dict | None = None, digest: str | None = None) -> None:
    """Refuse a run of n samples that would replace a row of more under the same name in `path` (read unless `doc`
    is given; none yet: nothing to refuse): ddpm.evaluate asks before it samples or scores, merge_into again. A row
    that scored other weights than `digest` (this run's, if known) is no figure of these to keep: replaced."""
    old = (read_runs_file(path) if doc is None else doc).get("runs", {}).get(name)
    if isinstance(old, dict) and digest and old.get("weights_sha256") not in (None, digest):
        return
    if isinstance(old, dict) and isinstance(old.get("n"), int) and n < old["n"]:
        raise EvalError(f"{path}'s runs[{name!r}] holds N = {old['n']} samples, which this run's N = {n} would "
                        "replace: give this run a name of its own with --run-name, or another --out")


def merge_into(path: str | Path, name: str, result: dict) -> dict | None:
    """Add one run to {"real_floor_fd", "command", "runs": {name: result}} in `path` (atomic write); the file's
    other keys and runs stay as they were. A run of the same name is replaced (returned, to be said), but not by one
    of fewer samples: a quick check filed into a model's eval.json would take the place of its published figure."""
    path = Path(path)
    doc = read_runs_file(path)
    old = doc.get("runs", {}).get(name)
    if isinstance(result.get("n"), int):
        fewer_than_filed(path, name, result["n"], doc, result.get("weights_sha256"))
    runs = doc.get("runs", {}) | {name: result}
    atomic_write_json(path, doc | {"real_floor_fd": result["real_floor_fd"], "command": result["command"],
                                   "runs": runs})
    return old
