"""What a model folder says about its weights: how they were trained (the facts in model.safetensors' metadata and
in training.json, the recipe among them) and how good they are (eval.json). Each reader gives {} rather than stop a
card or the app when a file is missing or a hand edit broke it."""
from __future__ import annotations

import sys
from pathlib import Path

from safetensors import SafetensorError

from .config import is_real
from .hub import EVAL_NAME, TRAINING_NAME, WEIGHTS_NAME, file_digest
from .safeio import read_json_object, read_meta

# a card's recipe where none is recorded: what to run, and that it is not the command these weights were trained by
NO_RECIPE = "python train.py  # the command itself was not recorded (training.json is missing or unreadable)"


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _text(x) -> bool:
    return isinstance(x, str)


# each training fact as run_record.training_facts writes it (and training.json's recipe): a value of another type, a
# hand edit or another program's, is left out rather than stop the card, About or the app on it
FACT_CHECKS = {"dataset": _text, "images": _whole, "steps": _whole, "epochs": is_real, "batch_size": _whole,
               "lr": is_real, "lr_decay_steps": _whole, "image_size": _whole, "ema_decay": is_real,
               "label_dropout": is_real, "null_teacher": _text, "null_teacher_label": _text,
               "null_teacher_autoguidance": is_real,
               "balance_classes": lambda x: isinstance(x, bool), "train_minutes": is_real, "device": _text,
               "minutes_by_device": lambda x: isinstance(x, dict) and all(map(is_real, x.values())),
               "torch": _text, "seed": _whole, "command": _text}


_SAID: set[str] = set()  # the notes below, each said once a process (a card and About read a folder many times)


def _note(text: str) -> None:
    if text not in _SAID:
        _SAID.add(text)
        print(f"note: {text}", file=sys.stderr)


def well_typed(facts, where: Path) -> tuple[dict, list[str]]:
    """`facts` (a JSON value read from `where`) without the entries FACT_CHECKS refuses, each said on stderr ({} for
    a value that is no JSON object), and the names refused."""
    if not isinstance(facts, dict):
        _note(f"the training facts in {where} are no JSON object: they are left out")
        return {}, []
    wrong = [k for k, v in facts.items() if k in FACT_CHECKS and not FACT_CHECKS[k](v)]
    if wrong:
        _note(f"{', '.join(wrong)} in {where} {'is' if len(wrong) == 1 else 'are'} not of the type train.py writes: "
              "left out")
    return {k: v for k, v in facts.items() if k not in wrong}, wrong


def _weights_facts(folder: str | Path) -> tuple[dict, list[str]]:
    path = Path(folder) / WEIGHTS_NAME
    try:
        meta = read_meta(path)
    except ValueError as e:  # the metadata is no JSON (the tensors may be fine: load_pretrained reads them alone)
        _note(f"the training facts in {path} are no JSON ({e}): they are left out")
        return {}, []
    except (OSError, SafetensorError):  # no file, or no safetensors (load_pretrained says so)
        return {}, []
    return well_typed(meta, path)


def read_weights_meta(folder: str | Path) -> dict:
    """The training facts recorded in model.safetensors' own metadata (empty if none or unreadable; a fact of the
    wrong type left out)."""
    return _weights_facts(folder)[0]


def recorded_facts(folder: str | Path | None) -> dict:
    """How a model folder was trained: the facts in model.safetensors' metadata (they travel with the weights, so
    they win), over training.json (written at the run's first checkpoint, and again with the card), which adds the
    recipe (`command`) and stands in for weights that record nothing. {} for no folder; either part left out where
    it is missing or unreadable."""
    if folder is None:
        return {}
    weights, refused = _weights_facts(folder)  # a fact refused there is not taken from training.json, an older record
    return {k: v for k, v in read_training_record(folder).items() if k not in refused} | weights


def read_training_record(folder: str | Path) -> dict:
    """The folder's training.json, or {} before the run's first checkpoint wrote it (or if a hand edit broke it, which
    is said on stderr: the card is then rewritten from the weights' own metadata rather than lost at the end of a
    run). A recipe (`command`) that a hand edit left no text is left out likewise: the card, About and a resumed run
    read it as text."""
    path = Path(folder) / TRAINING_NAME
    try:
        record = read_json_object(path)
    except ValueError as e:
        print(f"note: {e}: what it records (the recipe, the dataset) is left out", file=sys.stderr)
        return {}
    return well_typed(record, path)[0]


def read_scores(folder: str | Path | None) -> dict:
    """A model folder's eval.json ({} for no folder or no file; also for one that is no JSON object, a hand edit
    gone wrong, which is said on stderr rather than stop a card or the app), less the runs that lack their figures
    or scored other weights than the folder's model.safetensors (said on stderr too)."""
    if folder is None:
        return {}
    path = Path(folder) / EVAL_NAME
    try:
        ev = read_json_object(path)
    except ValueError as e:
        print(f"note: {e}: its scores are left out", file=sys.stderr)
        return {}
    runs = ev.get("runs", {})
    if not isinstance(runs, dict):
        print(f'note: "runs" in {path} is no JSON object: its scores are left out', file=sys.stderr)
        return {}
    kept = {name: r for name, r in runs.items() if _well_formed(r, ev.get("real_floor_fd"))}
    if len(kept) < len(runs):
        print(f"note: {path}: runs {', '.join(sorted(set(runs) - set(kept)))} lack their figures and are left out",
              file=sys.stderr)
    if other := _scored_other_weights(Path(folder), kept):
        print(f"note: {path}: runs {', '.join(sorted(other))} scored other weights than {Path(folder) / WEIGHTS_NAME} "
              "holds (copied in since?) and are left out", file=sys.stderr)
    return ev | {"runs": {name: r for name, r in kept.items() if name not in other}}


def _scored_other_weights(folder: Path, runs: dict) -> list[str]:
    """The runs whose weights_sha256 (ddpm.evaluate's record of the weights it scored) is not the digest of the
    folder's model.safetensors. A run written before it was recorded, or a folder whose weights cannot be read,
    leaves nothing to compare."""
    recorded = {name: r["weights_sha256"] for name, r in runs.items() if "weights_sha256" in r}
    if not recorded:
        return []
    try:
        digest = file_digest(folder / WEIGHTS_NAME)
    except (OSError, SafetensorError):
        return []
    return [name for name, d in recorded.items() if d != digest]


def _well_formed(r, floor) -> bool:
    """A run of eval.json as ddpm.evaluate writes it: the figures the card's table shows, as numbers."""
    if not isinstance(r, dict):
        return False
    shares = r.get("class_share")
    return (all(is_real(r.get(k)) for k in ("n", "fd", "inception_score", "memorised"))
            and is_real(r.get("real_floor_fd", floor))
            and (r.get("fd_ratio") is None or is_real(r["fd_ratio"]))  # None: a floor of 0
            and (r.get("label_accuracy") is None or is_real(r["label_accuracy"]))
            and isinstance(shares, list) and len(shares) > 0 and all(is_real(x) for x in shares))


def trained_on(folder: str | Path | None) -> str:
    """The dataset a model folder was trained on, as its training record says ("mnist" if it does not)."""
    return dataset_in(recorded_facts(folder))


def dataset_in(facts: dict) -> str:
    """The dataset that recorded facts (recorded_facts) name, "mnist" where they name none."""
    return str(facts.get("dataset") or "mnist")
