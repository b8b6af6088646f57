"""Honest numbers for a sampler: Frechet distance of classifier features against the MNIST test
set, next to the floor that N real training digits reach on the same metric, plus inception
score, class shares and a memorisation check.

    python -m ddpm.evaluate --weights weights --n 1000 --sampler ddim --steps 50 --out weights/eval.json
    python -m ddpm.sample --n 1000 --sampler ddpm --out ddpm1000.npz
    python -m ddpm.evaluate --from-samples ddpm1000.npz --json
    python -m ddpm.evaluate --from-samples part1.npz part2.npz        # shards from `ddpm.sample --first`, joined
    python -m ddpm.evaluate --label random --out weights/eval.json   # class-conditional, as ADM/EDM/DiT score it
    python -m ddpm.evaluate --autoguidance 1.5 --out weights/eval.json  # guided by the small weights/guide/
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .autoguidance import add_autoguidance_args, check_autoguidance_args
from .cli_args import (add_sampling_args, check_sampling_args, check_writable, command_line, positive_int, seed_arg,
                       path_arg, stopped)
from .classifier import ClassifierLoadError, DEFAULT_PATH as CLASSIFIER_PATH, load_classifier, predict
from .data import DataError, load_dataset, to_model_range
from .eval_files import (EvalError, fewer_than_filed, merge_into, only_mnist, read_runs_file, read_shards, run_name,
                         save_npz)
from .from_samples import follow_the_file, same_model
from .hub import DEFAULT_WEIGHTS, EVAL_NAME, ModelLoadError, is_repo_id
from .metrics import class_shares, feature_stats, frechet_distance, inception_score, memorisation, \
    memorisation_threshold
from .safeio import PreviousNotKept, atomic_write_json, keeping_previous, previous_blocked
from .sample import load_for_sampling, sample_images
from .samplers import RANDOM, random_labels

CLASSES = 10  # the MNIST classifier's, and those of every model train.py makes


@torch.inference_mode()
def _scores(clf, images_uint8: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 28, 28) -> (features (N, D), class probabilities (N, 10))."""
    x = to_model_range(images_uint8)
    feats = predict(clf, x, what="features")
    probs = torch.softmax(clf.head(feats), 1)  # eval mode: dropout is the identity
    return feats.double().numpy(), probs.double().numpy()


@functools.lru_cache(maxsize=1)
def reference(data_dir: str, classifier: str) -> tuple:
    """(classifier, train images, test images, test labels): what every score is measured against. Loaded once,
    so that main() can load them before a long sampling run, to refuse a bad --data-dir or --classifier then."""
    clf = load_classifier(classifier)
    x_train, _ = load_dataset("mnist", data_dir, train=True)
    x_test, y_test = load_dataset("mnist", data_dir, train=False)
    return clf, x_train, x_test, y_test


@torch.inference_mode()
def evaluate_samples(samples_uint8, data_dir: str | Path = "data/mnist", n_floor_seed: int = 0,
                     classifier: str | Path = CLASSIFIER_PATH, floor_draws: int = 5, labels=None) -> dict:
    """All metrics for uint8 samples (N, 28, 28). The floor is the mean FD of `floor_draws` sets of
    N random training digits (seeded by `n_floor_seed`), so FD's small-N bias is the same on both
    sides of fd_ratio; its spread over the draws says how much N-sample noise to expect. The same
    draws' smallest and largest class shares show how far N real digits stray from 10% by chance.
    labels: the (N,) digits a conditional sampler was asked for, if any; adds the share of each asked
    digit and label_accuracy, the share of samples the classifier reads as the digit asked for."""
    s = torch.as_tensor(np.asarray(samples_uint8))
    if s.dtype != torch.uint8 or s.ndim != 3 or tuple(s.shape[1:]) != (28, 28):
        raise EvalError(f"samples must be uint8 of shape (N, 28, 28), got {s.dtype} {tuple(s.shape)}")
    n = len(s)
    if n < 2:
        raise EvalError("need at least 2 samples")
    t0 = time.perf_counter()
    clf, x_train, x_test, y_test = reference(str(data_dir), str(classifier))
    if n > len(x_train):
        raise EvalError(f"the real-data floor draws N training digits, and MNIST has {len(x_train)}: score at most "
                        f"that many samples (--n)")
    g = torch.Generator().manual_seed(n_floor_seed)
    test_idx = torch.randperm(len(x_test), generator=g)[:n]

    f_test, p_test = _scores(clf, x_test)
    f_samp, p_samp = _scores(clf, s)
    ref = feature_stats(f_test)
    fd = frechet_distance(*feature_stats(f_samp), *ref)
    draws = [_scores(clf, x_train[torch.randperm(len(x_train), generator=g)[:n]]) for _ in range(floor_draws)]
    floors = [frechet_distance(*feature_stats(f), *ref) for f, _ in draws]
    floor = float(np.mean(floors))
    floor_shares = [class_shares(p) for _, p in draws]

    threshold = cached_threshold(x_train, x_test, data_dir)  # all 10,000 test digits: one threshold for every run
    memorised = memorisation(s, x_train, x_test, threshold=threshold)
    return {
        "fd": round(fd, 4),
        "real_floor_fd": round(floor, 4),
        "real_floor_fd_std": round(float(np.std(floors, ddof=1)), 4) if floor_draws > 1 else None,
        "fd_ratio": round(fd / floor, 3) if floor > 0 else None,
        "inception_score": round(inception_score(p_samp), 4),
        "real_inception_score": round(inception_score(p_test[test_idx.numpy()]), 4),  # min(N, 10,000) test digits
        "class_share": [round(float(c), 4) for c in class_shares(p_samp)],
        "real_floor_class_share_extremes": [[round(float(c.min()), 4), round(float(c.max()), 4)] for c in floor_shares],
        "memorised": round(memorised, 4),
        "memorisation_threshold": round(threshold, 4),  # L2 on [0, 1] pixels
        "classifier_test_accuracy": round(float((p_test.argmax(1) == y_test.numpy()).mean()), 4),
        "n": n,
        "eval_seconds": round(time.perf_counter() - t0, 1),
    } | ({} if labels is None else _label_scores(np.asarray(labels), p_samp))


THRESHOLD_CACHE = "memorisation_threshold.json"


def cached_threshold(x_train: torch.Tensor, x_test: torch.Tensor, data_dir: str | Path) -> float:
    """The memorisation threshold (1st percentile of all test-to-train nearest distances) is a fact of
    the data, so it is computed once (10,000 x 60,000 distances, seconds on a CPU) and kept in
    data_dir, keyed by a hash of both image sets: other data never reads a stale value. A data_dir
    that cannot be written only loses the cache."""
    h = hashlib.sha256(x_train.numpy())  # hashes the arrays' buffers in place, no 55 MB copy
    h.update(x_test.numpy())
    key = h.hexdigest()
    path = Path(data_dir) / THRESHOLD_CACHE
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("sha256") == key and cached.get("percentile") == 1.0:
            return float(cached["threshold"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # missing or unreadable: compute it again
    threshold = memorisation_threshold(x_train, x_test, percentile=1.0)
    try:
        atomic_write_json(path, {"percentile": 1.0, "threshold": threshold, "sha256": key})
    except OSError:
        pass
    return threshold


def _label_scores(labels: np.ndarray, probs: np.ndarray) -> dict:
    if labels.shape != (len(probs),):
        raise EvalError(f"need one label per sample, got {labels.shape} for {len(probs)} samples")
    return {"asked_share": [round(float(c), 4) for c in np.bincount(labels, minlength=10) / len(labels)],
            "label_accuracy": round(float((probs.argmax(1) == labels).mean()), 4)}


def asked_labels(label, seed: int, n: int, first: int = 0) -> np.ndarray | None:
    """The digit each of samples first .. first + n - 1 was asked for: None (the null class), all `label`,
    or drawn from (seed, k), as the sampler drew them from a model of train.py's 10 classes."""
    if label is None:
        return None
    if label == RANDOM:
        return random_labels(seed, n, CLASSES, first).numpy()
    return np.full(n, int(label))


def generate(weights: str, n: int, sampler: str, steps: int | None, seed: int, batch_size: int,
             label: int | str | None, guidance: float, device: str = "cpu", eta: float = 0.0,
             autoguidance: float = 1.0, autoguidance_tmax: int | None = None,
             autoguidance_guide: str | None = None, before_sampling=None) -> tuple[np.ndarray, int, int, str]:
    """-> (uint8 samples (n, 28, 28), steps actually run, the model's T, hub.weights_digest of it). The noise
    comes from CPU generators, so a GPU draws the same digits up to float rounding. before_sampling(T, digest,
    steps): called once the model is loaded and checked (main() checks --out and loads the data and classifier there,
    to refuse a bad path before a long run)."""
    try:
        model, digest, _, steps = load_for_sampling(
            weights, device, sampler, steps, label, autoguidance, autoguidance_tmax, autoguidance_guide,
            check_dataset=lambda dataset: only_mnist(dataset, f"{weights} was", weights),
            hint="\n  train a model with `python train.py`, or pass --weights FOLDER / --from-samples FILE.npz")
    except (ModelLoadError, ValueError) as e:
        raise EvalError(str(e)) from None
    if before_sampling is not None:
        before_sampling(model.config.timesteps, digest, steps)
    images = sample_images(model, n, seed, sampler, steps, batch_size, label=label, guidance=guidance, eta=eta,
                           progress=True)  # a bar: 1000 DDPM steps run minutes
    return images, steps, model.config.timesteps, digest


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ddpm.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=path_arg, default=None, help="model folder or Hub repo id [the bundled weights/]")
    p.add_argument("--n", type=int, default=None,
                   help="samples to draw and score, 2 to 60000 [1000; with --from-samples: all]")
    add_sampling_args(p, from_file=True)
    add_autoguidance_args(p)
    p.add_argument("--seed", type=seed_arg, default=None,
                   help="sampling seed; also picks the real floor images [0, or what the .npz says]")
    p.add_argument("--batch-size", type=positive_int, default=250, help="samples per forward pass [%(default)s]")
    p.add_argument("--device", default="cpu",
                   help="where to sample: cpu (the README's figures), cuda, mps or auto [%(default)s]")
    p.add_argument("--data-dir", type=path_arg, default="data/mnist", help="folder holding MNIST/raw [%(default)s]")
    p.add_argument("--classifier", type=path_arg, default=str(CLASSIFIER_PATH),
                   help="classifier weights [the shipped asset]")
    p.add_argument("--json", action="store_true", help="print only the JSON result")
    p.add_argument("--save-samples", type=path_arg, metavar="FILE.npz",
                   help="also save the drawn samples, to reuse with --from-samples (a file there is kept as "
                        "FILE.npz.previous, one generation)")
    p.add_argument("--from-samples", type=path_arg, metavar="FILE.npz", nargs="+",
                   help="score uint8 samples from an .npz instead of sampling; several shards of one run "
                        "(`ddpm.sample --first`) are joined in sample order")
    p.add_argument("--run-name", default=None, help="key of this run in --out [e.g. ddpm-1000, ddim-50]")
    p.add_argument("--out", type=path_arg, metavar="FILE.json",
                   help="merge the result into this file under runs/<run name>")
    a = p.parse_args(argv)
    a.guidance_given = a.guidance is not None  # check_sampling_args fills in the default
    if a.n is not None and not 2 <= a.n <= 60_000:  # 2: a Frechet distance needs a covariance
        p.error(f"--n must be from 2 to 60000, not {a.n}: the feature covariance needs two samples, and the real-data "
                "floor draws N of MNIST's 60,000 training digits")
    check_sampling_args(p, a, loose=bool(a.from_samples))  # the file fills in the rest: from_samples.follow_the_file
    if a.from_samples and a.save_samples:
        p.error("--save-samples makes no sense with --from-samples")
    if a.save_samples and Path(a.save_samples).suffix.lower() != ".npz":
        p.error("--save-samples must end in .npz")
    if a.out and Path(a.out).suffix.lower() != ".json":  # JSON under another name, an .npz above all, misleads
        p.error(f"--out {a.out}: it must end in .json (the scores are JSON; --save-samples FILE.npz keeps the samples)")
    if a.run_name is not None and not a.run_name.strip():  # "" would be taken as no name: the settings' own
        p.error("--run-name is blank: give the row a name, or leave the flag out for one made from the settings")
    check_autoguidance_args(p, a, loose=bool(a.from_samples))
    return a


def _print_human(r: dict) -> None:
    first = f" (samples {r['first']} to {r['first'] + r['n'] - 1} of the seed)" if r.get("first") else ""
    print(f"{r['run']}: n={r['n']}{first} sampler={r['sampler']} steps={r['steps']}")
    sd = f" +- {r['real_floor_fd_std']:.3f}" if r.get("real_floor_fd_std") is not None else ""
    # each figure with how to read it: a learner's first run is scored here, and FD means nothing without its floor
    print(f"  Frechet distance  {r['fd']:.3f}   (lower is better; {r['n']} real training digits score "
          f"{r['real_floor_fd']:.3f}{sd}"
          + (f", so this is {r['fd_ratio']}x that floor" if r.get("fd_ratio") is not None else "")
          + "; FDs compare at equal n only)")
    print(f"  inception score   {r['inception_score']:.3f}   (1 to 10, higher is better; real test digits: "
          f"{r['real_inception_score']:.3f})")
    print("  class shares      " + " ".join(f"{d}:{s:.3f}" for d, s in enumerate(r["class_share"])))
    if extremes := r.get("real_floor_class_share_extremes"):  # one (smallest, largest) share a draw of real digits
        lo, hi = min(e[0] for e in extremes), max(e[1] for e in extremes)
        print(f"                    (in {len(extremes)} draws of {r['n']} real digits every class took {lo:.1%} to "
              f"{hi:.1%})")
    if max(r["class_share"]) > 0.5 and r.get("label") in (None, "random"):  # (not asked for one class)
        print("                    (most samples read as one digit: the model has not learnt the classes yet)")
    print(f"  memorised         {r['memorised']:.2%}   (samples nearer a training digit than 99% of real test "
          "digits are to theirs: 1% for real digits)")
    if "label_accuracy" in r:
        print("  asked for         " + " ".join(f"{d}:{s:.3f}" for d, s in enumerate(r["asked_share"])))
        print(f"  read as asked     {r['label_accuracy']:.2%}   (the classifier's reading of each sample vs its label)")
    print(f"  {r['seconds']:.1f} s in all, {r['eval_seconds']:.1f} s of it scoring")


def main(argv=None) -> int:
    a = parse_args(argv)
    a.samples_saved = False  # set once --save-samples holds this run's samples
    try:
        return score(a, command_line("-m ddpm.evaluate", argv))
    except KeyboardInterrupt:  # every file is written whole or not at all, so a stop leaves none half-done
        return stopped(stopped_text(a))


def card_scores_argv(folder: str | Path, data_dir: str | Path, device) -> list[str]:
    """The arguments of train.py --push-to-hub's scores for the card it publishes: 1000 samples of 50 DDIM steps (or
    T if fewer), seed 0, the null class, merged into FOLDER/eval.json."""
    return ["--weights", str(folder), "--n", "1000", "--sampler", "ddim", "--data-dir", str(data_dir),
            "--device", str(device), "--out", str(Path(folder) / EVAL_NAME)]


def card_scores(folder: str | Path, data_dir: str | Path, device) -> int:
    """card_scores_argv's run, as `ddpm.evaluate` runs it (its exit status; a Ctrl-C is the caller's to answer: the
    run's card is written, nothing pushed). The command is said first, to run it again."""
    argv = card_scores_argv(folder, data_dir, device)
    command = command_line("-m ddpm.evaluate", argv)
    print(f"scoring it for the card it publishes (1000 samples, 50 DDIM steps or T if fewer: a minute or two on a "
          f"CPU; Ctrl-C stops here, the run is kept and nothing pushed): {command}")
    a = parse_args(argv)
    a.samples_saved = False
    return score(a, command)


def stopped_text(a: argparse.Namespace) -> str:
    """What a Ctrl-C leaves: --out as it was, and where the samples drawn so far are (or how not to lose them)."""
    out = f"{a.out} is as it was" if a.out else "nothing was scored"
    if a.samples_saved:
        return f"{out}; the samples are in {a.save_samples}: `python -m ddpm.evaluate --from-samples " \
               f"{shlex.quote(a.save_samples)}` scores them"
    if a.from_samples:
        return out
    return (f"{out}, and the samples drawn so far are lost. A long run can be drawn in parts that each survive a "
            "stop: `python -m ddpm.sample` with the same flags and --n 500 --first 0 --out part0.npz, then --first "
            "500 --out part1.npz, ...; `python -m ddpm.evaluate --from-samples part0.npz part1.npz ...` scores them")


def score(a: argparse.Namespace, command: str) -> int:
    """Draw (or read) the samples, score them, print and merge the result; the exit status."""
    start = time.perf_counter()
    try:
        if a.out:
            read_runs_file(a.out)  # refuse a bad --out now, not after hours of sampling
        for path in (a.out, a.save_samples):
            if path and (why := check_writable(path) or (path == a.save_samples and previous_blocked(path))):
                raise EvalError(why)
        if a.from_samples:
            samples, facts = read_shards(a.from_samples)
            digest = facts.get("weights_sha256")  # the weights that drew them, where the file records them
            only_mnist(str(facts.get("dataset", "mnist")), f"{a.from_samples[0]} holds samples of a model")
            if a.n is not None:
                if a.n > len(samples):
                    verb = "holds" if len(a.from_samples) == 1 else "hold"
                    raise EvalError(f"--n {a.n} but {' '.join(a.from_samples)} {verb} only {len(samples)} samples")
                samples = samples[:a.n]
            sampler, steps, eta = follow_the_file(a, facts, a.from_samples[0])
            name = a.run_name or (run_name(sampler, steps if steps else "T", a.label, a.guidance, eta, a.autoguidance,
                                           a.autoguidance_tmax, a.autoguidance_guide)
                                  if sampler else Path(a.from_samples[0]).stem)
            if a.run_name is None:  # settings that only ddpm.sample offers: name them, so no row is mistaken for the default
                name += f"-{facts['variance']}" if facts.get("variance", "beta") != "beta" else ""
                name += "-noclip" if not facts.get("clip", True) else ""
                # samples from k on are other draws than the run's first ones: not filed in the place of that run
                name += f"-first{int(facts['first'])}" if facts.get("first") else ""
            if a.out:  # before the scoring, as a fresh run checks before sampling
                fewer_than_filed(a.out, name, len(samples), digest=digest)
        else:
            a.seed = 0 if a.seed is None else a.seed
            sampler, eta = a.sampler or "ddpm", a.eta or 0.0
            weights = a.weights or str(DEFAULT_WEIGHTS)

            def named(steps: int) -> str:
                return a.run_name or run_name(sampler, steps, a.label, a.guidance, eta, a.autoguidance,
                                              a.autoguidance_tmax, a.autoguidance_guide)

            def ready(T: int, digest: str, steps: int) -> None:  # the model loaded: refuse an --out in another model's
                # folder (its card would show this run's figures) or whose row this run may not replace, then load the
                # yardstick, all before a long run
                if a.out:
                    own = "a file outside a model folder" if is_repo_id(weights) else \
                        f"{Path(weights) / 'eval.json'}, or a file outside a model folder"
                    same_model(argparse.Namespace(weights=None, out=a.out), dict(timesteps=T, weights_sha256=digest),
                               f"this run of --weights {weights}", drawn_by=weights, fix=f"merge into {own}")
                    fewer_than_filed(a.out, named(steps), a.n or 1000, digest=digest)
                reference(a.data_dir, a.classifier)
            samples, steps, T, digest = generate(weights, a.n or 1000, sampler, a.steps, a.seed, a.batch_size, a.label,
                                                 a.guidance, a.device, eta, a.autoguidance, a.autoguidance_tmax,
                                                 a.autoguidance_guide, before_sampling=ready)
            name = named(steps)
            if a.save_samples:
                try:
                    with keeping_previous(a.save_samples) as kept:  # another run's samples: kept, and said
                        save_npz(a.save_samples, samples, a.seed, sampler, steps, eta, a.label, a.guidance,
                                 a.autoguidance, a.autoguidance_tmax, autoguidance_guide=a.autoguidance_guide,
                                 timesteps=T, weights_sha256=digest)
                    if kept:
                        print(f"note: {a.save_samples} held earlier samples: kept as {kept}", file=sys.stderr)
                    a.samples_saved = True
                except PreviousNotKept as e:  # written all the same
                    print(f"warning: {e}", file=sys.stderr)
                    a.samples_saved = True
                except OSError as e:  # scored all the same, below
                    print(f"warning: cannot write {a.save_samples}: {e.strerror or e}", file=sys.stderr)
        result = evaluate_samples(samples, a.data_dir, n_floor_seed=a.seed, classifier=a.classifier,
                                  labels=asked_labels(a.label, a.seed, len(samples),
                                                      int(facts.get("first", 0)) if a.from_samples else 0))
        if a.from_samples and facts.get("first"):
            result["first"] = int(facts["first"])  # the index of the first sample, drawn from (seed, first)
    except (EvalError, ClassifierLoadError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result.update(run=name, sampler=sampler, steps=steps, eta=eta if sampler == "ddim" else None, label=a.label,
                  guidance=a.guidance if a.label is not None else None, seed=a.seed,
                  autoguidance=a.autoguidance if a.autoguidance != 1 else None,
                  autoguidance_tmax=a.autoguidance_tmax if a.autoguidance != 1 else None,  # None: the default, default_t_max(T)
                  autoguidance_guide=a.autoguidance_guide if a.autoguidance != 1 else None,  # None: the weights' guide/
                  seconds=round(time.perf_counter() - start, 1), command=command)
    if digest:  # whose figures they are: facts.read_scores checks them against the folder's weights
        result["weights_sha256"] = digest
    replaced = None
    if a.out:
        try:
            replaced = merge_into(a.out, name, result)
        except (EvalError, OSError) as e:
            print(json.dumps(result))  # the run is not lost: its result goes to stdout instead
            print(f"error: could not merge the result above into {a.out}: {e}", file=sys.stderr)
            return 2
    if a.json:
        print(json.dumps(result))
    else:
        _print_human(result)
    said = f"  merged into {a.out} as runs[{name!r}]"
    if replaced is not None:  # said with --json too, on stderr: its stdout is the result alone
        n = f" of N = {replaced['n']}" if isinstance(replaced, dict) and "n" in replaced else ""
        print(f"{said}, in place of its earlier row{n}", file=sys.stderr if a.json else sys.stdout)
    elif a.out and not a.json:
        print(said)
    elif not a.json and not a.from_samples:  # said once a fresh run's figures would otherwise go unkept
        print("  not saved: --out FOLDER/eval.json files them in the model's folder, whose card `python -m ddpm.card "
              "FOLDER` then shows them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
