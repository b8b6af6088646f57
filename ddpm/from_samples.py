"""ddpm.evaluate --from-samples: the .npz says how its samples were drawn, and the flags must agree with it (a flag
that says otherwise would file the figures under another run's name); a flag not given takes the file's value."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .autoguidance import check_autoguidance_args, default_t_max
from .cli_args import check_sampling_args
from .sampling_checks import steps_problem
from .config import ModelConfig
from .eval_files import EvalError
from .hub import CONFIG_NAME, DEFAULT_WEIGHTS, WEIGHTS_NAME, ModelLoadError, load_pretrained, weights_digest


def _timesteps(weights: str | None) -> int | None:
    """T of a local model folder (the bundled weights/ by default), or None if it cannot be read."""
    try:
        return ModelConfig.load(Path(weights or DEFAULT_WEIGHTS) / CONFIG_NAME).timesteps
    except (OSError, ValueError, TypeError):  # no such folder (a Hub id), or a config.json that is no config
        return None


def _folder_of(out: str | None) -> Path | None:
    """The model folder --out sits in (its eval.json), if it is one."""
    beside = Path(out).parent if out else None
    return beside if beside and (beside / CONFIG_NAME).is_file() else None


def _model_of(a: argparse.Namespace) -> str | None:
    """The model a file's figures are held against: --weights, else the model folder --out sits in, else None (the
    bundled weights)."""
    return a.weights or (str(folder) if (folder := _folder_of(a.out)) else None)


def _digest(weights: str, what: str) -> str | None:
    """hub.weights_digest of a local model folder (None for a Hub id: not looked up); EvalError if its weights do not
    load (a truncated file would have let any samples be filed under it)."""
    if not (Path(weights) / WEIGHTS_NAME).is_file():
        return None
    try:
        return weights_digest(load_pretrained(Path(weights)))
    except ModelLoadError as e:
        raise EvalError(f"{what} does not load, so what drew the samples cannot be checked: {e}") from None


FIX = "name the model that drew it with --weights, and merge into its own eval.json"


def same_model(a: argparse.Namespace, facts: dict, path: str, fix: str = FIX, drawn_by: str | None = None) -> None:
    """A file is not scored as --weights' (or filed in the eval.json of a model folder, --out) when that model has
    another T than the one that drew it, or other weights (the file's weights_sha256, ddpm.sample's and
    --save-samples' since they record it): the figures would be filed under a model that did not draw them.
    drawn_by: a folder known to have drawn them (a fresh run's --weights), not checked again."""
    folders = [(a.weights, f"--weights {a.weights}")] if a.weights else []
    beside = _folder_of(a.out)
    if beside and not any(Path(known).resolve() == beside.resolve() for known in (a.weights, drawn_by) if known):
        folders.append((str(beside), f"the model beside --out {a.out}"))  # (--weights' own folder: checked once)
    T, drew = facts.get("timesteps"), facts.get("weights_sha256")
    if drew is None and folders:  # only T, if that, can be held against the model named
        print(f"note: {path} does not record the weights that drew it (written before samples files recorded "
              f"them, or by hand), so nothing checks that {folders[-1][1]} drew it", file=sys.stderr)
    for folder, what in folders:
        if T is not None and (model_T := _timesteps(folder)) is not None and model_T != T:
            raise EvalError(f"{path} was drawn by a model of T = {T} steps, and {what} has T = {model_T}: {fix}")
        if drew is not None and (digest := _digest(folder, what)) is not None and digest != drew:
            raise EvalError(f"{path} was drawn by other weights than {what} (sha256 of their tensors {drew[:12]}..., "
                            f"there {digest[:12]}...): {fix}")


def at_most_T(value: int | None, top: int | None, what: str, path: str) -> None:
    """Refuse a count past the model's T (a T - 1 for an index): such a run could not have been drawn, and its row
    would stand in eval.json as if it had (None: nothing to check)."""
    if value is not None and top is not None and value > top:
        raise EvalError(f"{path}: {what} at most {top} for the model that drew it, not {value}")


def _unrecorded_from_flags(a: argparse.Namespace, facts: dict, path: str) -> dict:
    """The facts of a file that records its sampler but not its eta, which ddpm.sample has always written since it
    began to record the label, guidance and eta: those it lacks are taken from the flags, and said (an older file of
    threes drawn at w = 3 was filed as the null class's run, and --label 3 refused as contradicting it)."""
    filled = {"eta": a.eta or 0.0}
    if "label" not in facts and a.label is None and a.guidance_given:  # (the file's null class would be said next)
        raise EvalError("--guidance steers toward a class: add --label")
    if "label" not in facts and a.label is not None:
        filled |= {"label": a.label, "guidance": a.guidance if a.guidance_given else 1.0}
    print(f"note: {path} does not record its label, guidance or eta (written by an older ddpm.sample, or by hand): "
          "taken from --label, --guidance and --eta, or the null class and eta 0 where none is given", file=sys.stderr)
    return filled | facts


class _Refuse:
    """Stands in for the parser after parsing: a flag check's p.error becomes an EvalError."""
    def error(self, message: str):
        raise EvalError(message)


def follow_the_file(a: argparse.Namespace, facts: dict, path: str) -> tuple[str | None, int | str | None, float]:
    """--from-samples: the file says how its samples were drawn; a flag that says otherwise would file the
    figures under another run's name (--out), so it is refused; a flag not given takes the file's value.
    Sets a.seed, a.label, a.guidance and a.autoguidance*; -> (sampler, steps, eta) of the file's run."""
    def agree(flag: str, given, recorded) -> None:
        if given is not None and recorded is not None and given != recorded:
            raise EvalError(f"{path} was drawn with {flag} {recorded}, not {flag} {given}: drop {flag}, and the "
                            "result follows the file")

    def refuse(flags: str, how: str) -> None:
        raise EvalError(f"{path} was drawn {how}: drop {flags}")

    if "seed" in facts:
        agree("--seed", a.seed, int(facts["seed"]))
    # the seed that drew them: it also draws the floor and labels (each fact is in its flag's range: checked_facts)
    a.seed = int(facts.get("seed", a.seed or 0))
    if "sampler" not in facts:  # not written by ddpm.sample or --save-samples: the flags say how it was drawn
        a.guidance = a.guidance if a.guidance_given else None
        check_sampling_args(_Refuse(), a)
        check_autoguidance_args(_Refuse(), a)
        same_model(a, facts, path)  # nothing recorded to hold against a model: says so, if one is named
        T = int(facts["timesteps"]) if "timesteps" in facts else _timesteps(_model_of(a))
        steps = T if a.sampler == "ddpm" else a.steps if a.steps is not None else facts.get("steps")
        if a.sampler == "ddpm" and a.steps is not None and not steps:  # a Hub id's T is not looked up
            raise EvalError(f"--steps {a.steps} with DDPM, which runs all T steps of --weights {a.weights}, whose T "
                            "is not looked up here: leave --steps out")
        if a.sampler == "ddpm" and (why := steps_problem("ddpm", a.steps, steps)):  # --steps 50 would be dropped
            raise EvalError(why)
        if a.sampler == "ddim" and steps is None:  # a guess at 50 would file another run's figures as ddim-50
            raise EvalError(f"{path} does not say how many steps DDIM took: give them with --steps")
        if a.sampler == "ddim":
            at_most_T(steps, T, "DDIM's steps are", path)
        return a.sampler, steps, a.eta or 0.0
    if "eta" not in facts:  # ddpm.sample before 2026-11-24 (or a hand-made file): no label, guidance or eta
        facts = _unrecorded_from_flags(a, facts, path)
    sampler, steps, eta = facts["sampler"], facts.get("steps"), float(facts.get("eta", 0.0))
    if sampler == "ddim" and steps is None:  # a hand-made file (DDPM's steps are its T, below)
        steps = a.steps  # a flag not given takes the file's value; a fact not given, the flag's
        if steps is None:
            raise EvalError(f"{path} records sampler='ddim' but not its steps: give them with --steps")
    same_model(a, facts, path)
    T = int(facts["timesteps"]) if "timesteps" in facts else _timesteps(_model_of(a))  # older files lack T
    if sampler == "ddpm":  # it runs all T; files written before T was recorded may hold a DDIM default as steps
        steps = T or steps
    else:  # (checked_facts checks a recorded T and steps together; a --steps or --weights' T comes here)
        at_most_T(steps, T, "DDIM's steps are", path)
    agree("--sampler", a.sampler, sampler)
    if sampler == "ddim":
        agree("--steps", a.steps, steps)
        agree("--eta", a.eta, eta)
    elif a.steps not in (None, steps) or a.eta:
        refuse("--steps and --eta", f"by DDPM, which runs all {steps or 'T'} steps and whose variance, not eta, sets "
                                    "its noise")
    label = facts.get("label")
    if label is None and (a.label is not None or a.guidance_given):
        refuse("--label and --guidance", "without a label (the null class)")
    agree("--label", a.label, label)
    if label is not None:  # --label alone takes the file's w, not the flag's default of 1
        agree("--guidance", a.guidance if a.guidance_given else None, float(facts.get("guidance", 1.0)))
        a.guidance = float(facts.get("guidance", 1.0))
    a.label = label
    agree("--autoguidance", a.autoguidance if a.autoguidance != 1 else None, float(facts.get("autoguidance", 1.0)))
    a.autoguidance = float(facts.get("autoguidance", 1.0))
    if a.autoguidance == 1:
        if a.autoguidance_tmax is not None or a.autoguidance_guide is not None:
            refuse("--autoguidance-tmax and --autoguidance-guide", "without autoguidance")
        return sampler, steps, eta
    tmax = int(facts["autoguidance_tmax"]) if "autoguidance_tmax" in facts else None  # None: the default
    if tmax is None and T is None and a.autoguidance_tmax is not None:
        raise EvalError(f"{path} records no T to check --autoguidance-tmax against: drop it, or name the model "
                        "that drew the file with --weights")
    at_most_T(tmax, None if T is None else T - 1, "autoguidance's t_max (a code index) is", path)
    if tmax is not None or T is not None:
        agree("--autoguidance-tmax", a.autoguidance_tmax, tmax if tmax is not None else default_t_max(T))
        a.autoguidance_tmax = tmax
    guide = str(facts["autoguidance_guide"]) if "autoguidance_guide" in facts else None  # None: the weights' guide/
    same_guide = guide is not None and Path(guide).resolve() == Path(str(a.autoguidance_guide)).resolve()
    if a.autoguidance_guide is not None and not same_guide:
        raise EvalError(f"{path} was drawn with the guide {guide or 'in the weights folder (guide/)'}, not "
                        f"{a.autoguidance_guide}: drop --autoguidance-guide, and the result follows the file")
    a.autoguidance_guide = guide
    return sampler, steps, eta
