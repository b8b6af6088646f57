"""train.py's flags as a TrainConfig: what `--resume` keeps of a run's own settings (its train_config.json, or
the config.json beside its weights), how a setting is typed back as a flag, and whether `--out` can be written.
It imports no torch: train.py reads its flags, and says what is wrong with them, before torch loads."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from .config import RUN_CONFIG_NAME, ConfigError, ModelConfig, TrainConfig, read_settings

# what --resume keeps from the run's train_config.json unless given again: its settings, not the sitting's own
# (SITTING: its limits, machine and folder)
SITTING = ("max_minutes", "max_steps", "device", "out")
RESUMED = ("data_dir", "dataset", "epochs", "batch_size", "lr", "lr_decay_steps", "ema_decay", "label_dropout",
           "null_teacher", "null_teacher_label", "null_teacher_autoguidance", "balance_classes",
           "seed", "mixed_precision")
RESUMED_MODEL = {"schedule": "schedule", "timesteps": "timesteps", "base_channels": "base_channels", "groups": "groups",
                 "channel_mult": "channel_mult", "num_res_blocks": "num_res_blocks",
                 "attention_res": "attention_resolutions", "patch_size": "patch_size",
                 "dropout": "dropout"}  # flag -> ModelConfig field
FLAG_OF = {v: k for k, v in RESUMED_MODEL.items()} | {"num_classes": "unconditional"}
# the settings no flag sets (a run begun from Python may have others than the defaults): --resume keeps them as saved
UNFLAGGED = tuple(f.name for f in dataclasses.fields(TrainConfig)
                  if f.name not in (*RESUMED, *SITTING, "model", "null_teacher_sha256"))
UNFLAGGED_MODEL = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name not in FLAG_OF)


def as_flag(p: argparse.ArgumentParser, dest: str, value) -> str | None:
    """How a kept setting would be typed (None where it is the flag's default)."""
    default = p.get_default(dest)
    if isinstance(value, (tuple, list)):
        value = ",".join(map(str, value))
    return None if value == default else written(dest, value)


def written(dest: str, value) -> str:
    """Any setting as it is typed: --lr 0.001, --no-balance-classes, --null-teacher '' (none)."""
    if isinstance(value, bool):
        return dashed(dest) if value else "--no-" + dashed(dest)[2:]
    return typed(dest, "" if value is None else value)


def dashed(dest: str) -> str:
    """The flag of an argparse dest: max_steps -> --max-steps."""
    return "--" + dest.replace("_", "-")


def typed(dest: str, value) -> str:
    """A flag with its value as a shell takes it: --max-steps 6, --attention-res '', --out=-x (a value argparse
    would take for a flag is joined to it)."""
    return f"{dashed(dest)}{'=' if str(value).startswith('-') else ' '}{shlex.quote(str(value))}"


def shell_path(path) -> str:
    """A path as a command line types it: quoted, and a name that starts with a dash as ./-x (else a flag)."""
    text = str(path)
    return shlex.quote("./" + text if text.startswith("-") else text)


def resume_settings(args: argparse.Namespace, given: set[str]) -> list[str]:
    """--resume: each setting not given again is the run's own, from OUT/train_config.json, so that
    `--resume --out DIR` alone continues a run as it was begun. Returns the flags so kept."""
    saved = TrainConfig.read_saved(args.out)
    if not saved:  # no run there (training says so), or a checkpoint whose settings were not kept beside it
        args.unrecorded = (Path(args.out) / "checkpoint.safetensors").is_file()  # ddpm.checkpoint's name (loads torch)
        network = _network_of(Path(args.out)) if args.unrecorded else {}
        if network:  # the network's own settings, from the config.json saved with its weights
            args.kept_from = Path(args.out) / "config.json"
        return _keep_network(args, given, network)
    args.lifted = [typed(flag, saved[flag]) for flag in ("max_minutes", "max_steps")
                   if flag not in given and saved.get(flag) is not None]  # a sitting's own limits, not kept: say so
    kept = []  # and a setting given anew is said with the run's own, which it replaces (a changed --lr, say)
    args.changed = [f"{written(f, getattr(args, f))} replaces the run's {written(f, saved[f])}" for f in RESUMED
                    if f in given and f in saved and getattr(args, f) != saved[f]]
    for flag in RESUMED:
        if flag not in given and flag in saved:
            setattr(args, flag, saved[flag])
            kept.append(flag)
    args.unflagged = {k: saved[k] for k in UNFLAGGED if k in saved}  # warmup_steps, grad_clip, ...
    if "null_teacher" not in given:  # the teacher's weights as the run began: training checks they are unchanged
        args.null_teacher_sha256 = str(saved.get("null_teacher_sha256", ""))
        # a run begun before the digest was recorded: its teacher cannot be checked (it may be retrained in place)
        args.teacher_unchecked = bool(saved.get("null_teacher")) and not args.null_teacher_sha256
    return kept + _keep_network(args, given, saved["model"])


def _keep_network(args: argparse.Namespace, given: set[str], model: dict) -> list[str]:
    """--resume: the network's settings not given again, from a saved model config; returns the flags so kept."""
    kept = []
    args.unflagged_model = {k: model[k] for k in UNFLAGGED_MODEL if k in model}  # image_size, in_channels, ...
    for flag, key in RESUMED_MODEL.items():
        if flag not in given and key in model:
            setattr(args, flag, tuple(model[key]) if isinstance(model[key], list) else model[key])
            kept.append(flag)
    if "unconditional" not in given and "num_classes" in model:
        args.unconditional = model["num_classes"] == 0
        kept.append("unconditional")
    return kept


def _network_of(out: Path) -> dict:
    """The model settings in OUT/config.json, those it names of ModelConfig's ({} where there is none or it is no
    JSON object: the checkpoint's own load then says what is wrong)."""
    try:
        network = json.loads(read_settings(out / "config.json").decode("utf-8"))
    except (OSError, ValueError):
        return {}
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    return {k: v for k, v in network.items() if k in fields} if isinstance(network, dict) else {}


def unusable_folder(out: Path) -> str | None:
    """Why training cannot write into `out` (None if it can), asked before any data is read."""
    for folder in (out, *out.parents):
        if os.path.islink(folder) and not folder.exists():  # mkdir met "File exists" (a link to nothing, or a loop)
            return f"{folder} is a link to nothing (it names {os.readlink(folder)}): remove it or name another folder"
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"{folder} cannot be written to"
            try:  # root passes os.access everywhere: make (and remove) a folder, as training will
                tempfile.TemporaryDirectory(dir=folder).cleanup()
            except OSError as e:
                return f"{folder} cannot be written to ({e.strerror})"
            return None
    return None


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The flags as the config: the same names (and RESUMED_MODEL's map for the model's)."""
    model = ModelConfig(**{field: getattr(args, flag) for flag, field in RESUMED_MODEL.items()},
                        num_classes=0 if args.unconditional else 10, **getattr(args, "unflagged_model", {}))
    return TrainConfig(**{name: getattr(args, name) for name in (*RESUMED, *SITTING)}, model=model,
                       null_teacher_sha256=getattr(args, "null_teacher_sha256", ""), **getattr(args, "unflagged", {}))


def say_what_resume_kept(args: argparse.Namespace) -> None:
    """--resume: print the settings kept from the run, those given anew, and the last sitting's limits not kept."""
    kept_from = getattr(args, "kept_from", None)  # config.json, where train_config.json is gone
    if args.kept:
        print(f"--resume: the run's own settings, from {kept_from or Path(args.out) / RUN_CONFIG_NAME}: "
              f"{' '.join(args.kept)}")
    for change in getattr(args, "changed", []):
        print(f"--resume: {change}")
    if getattr(args, "unrecorded", False):
        print(f"--resume: {Path(args.out) / RUN_CONFIG_NAME} is missing, so the run's own settings are not known: "
              "each flag not given again takes train.py's default" + (
                  f", except the network's, which its {kept_from.name} gives" if kept_from else
                  " (the network's too: no readable config.json gives them)"), file=sys.stderr)
    if getattr(args, "teacher_unchecked", False):
        print(f"--resume: this run began before runs recorded the digest of their --null-teacher, so "
              f"{args.null_teacher} is taken as it is now, unchecked (give --null-teacher FOLDER again to name the "
              "one you mean); its digest is recorded from here on", file=sys.stderr)
    if lifted := getattr(args, "lifted", None):
        now = [typed(flag, getattr(args, flag)) for flag in ("epochs", "max_minutes", "max_steps")
               if getattr(args, flag) is not None]
        print(f"--resume: {' and '.join(lifted)} limited the last sitting, not this one, which stops at "
              f"{' or '.join(now)}{', whichever comes first' * (len(now) > 1)}")


def groups_hint(args: argparse.Namespace, e: ConfigError, kept: list[str], saved_at: Path) -> str:
    """A base width that is no multiple of the groups may need other groups: where they came from and the flag."""
    base = args.base_channels
    if e.field != "base_channels" or not (isinstance(base, int) and base > 0):
        return ""
    if "groups" in kept:
        return f"; the {args.groups} groups are kept from {saved_at} by --resume: give --groups a divisor of {base}"
    return f"; or give --groups a divisor of {base}"
