"""The model card (README.md of a model folder): how the weights were made and how good they are."""
from __future__ import annotations

import argparse
import hashlib
import re
import shlex
import sys
from pathlib import Path

import torch

from .autoguidance import T_MAX_FRACTION, check_guide, has_guide, load_guide
from .cli_args import path_arg, stopped
from .config import ModelConfig, TrainConfig, is_real
from .data import CLASS_NAMES, dataset_name
from .facts import NO_RECIPE, dataset_in, read_scores, read_training_record, read_weights_meta, recorded_facts
from .hub import (CARD_NAME, CONFIG_NAME, DEFAULT_WEIGHTS, EVAL_NAME, GRID_NAME, GUIDE_SUBFOLDER, TRAINING_NAME,
                  ModelLoadError, folder_problem, load_pretrained, set_aside_path)
from .safeio import atomic_write_bytes, atomic_write_json
from .sample import CARD_GRID, card_grid_command
from .samplers import steps_run
from .train_args import shell_path
from .unet import UNet, count_parameters

# the first line after a written card's metadata, with a digest of the rest: a README.md whose rest no longer
# matches it was edited by hand, one without it written by hand (or by a version of this module before the mark)
GENERATED = "<!-- written by python -m ddpm.card from the files beside it (edit those, not this); sha256 {} -->"
MARK = re.compile(r"<!-- written by python -m ddpm\.card .*; sha256 ([0-9a-f]{16}) -->\n")
HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist"}  # their ids on the Hub


def metrics_table(ev: dict, folder: Path | str | None = None, then: str | None = None, out: str | None = None) -> str:
    """The eval.json rows as a table; without rows, the commands that make them. `folder` is what
    `--weights` names (a folder or a Hub repo id), `out` where the scores go [FOLDER/eval.json], `then`
    where the figures appear once scored [the card: after `python -m ddpm.card FOLDER`]."""
    folder = shell_path(folder or "FOLDER")  # the folder the evaluate command should name, when known
    out = out or f"{folder}/eval.json"
    then = then or f"`python -m ddpm.card {folder}` shows the figures here"
    rows = []
    for name, r in ev.get("runs", {}).items():
        floor = r.get("real_floor_fd", ev.get("real_floor_fd"))
        ratio = f"{r['fd_ratio']:.2f}x" if r.get("fd_ratio") is not None else "-"  # None: a floor of 0
        rows.append(f"| {name} | {r['n']} | {r['fd']:.3f} | {floor:.3f} | {ratio} | "
                    f"{r['inception_score']:.2f} | "
                    f"{100 * min(r['class_share']):.1f}% to {100 * max(r['class_share']):.1f}%{_real_shares(r)} | "
                    f"{100 * r['memorised']:.2f}% | {_read_as_asked(r)} |")
    if not rows:
        return (f"Not evaluated yet: `python -m ddpm.evaluate --weights {folder} --out {out}` "
                f"scores it, then {then}.\n")
    return ("| samples | N | Frechet distance (lower: better) | real-data floor | FD / floor | MNIST Inception Score "
            "(higher: better, at most 10) | class shares (10% each is ideal) | memorised | read as asked |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) +
            "\n\nThe floor is what N real training images score against the test set, at the row's N: both fall as "
            "N grows, so compare FDs only at equal N. Real digits' class shares wander at a small N too: "
            "\"real:\" gives the smallest and largest share in the floor's draws of N training digits (beside the "
            "null-class rows: a labelled row's shares follow the classes it drew). Features and "
            "classes come from the classifier in "
            "`ddpm/assets/classifier.safetensors`, not from Inception-v3: these are not FIDs, and no published "
            "MNIST FID compares with them. The Inception Score, exp of the mean KL(p(y | x) || p(y)) between the "
            "classifier's p(y | x) and their average p(y), is 10 when each sample is read as one digit for sure and the ten come equally "
            "often. Rows named `label...` sample with a class: `labelrandom` draws "
            "digit k uniformly from (seed, k), as class-conditional models are scored (ADM, EDM, DiT), and its "
            "class shares follow that draw; \"read as asked\" is the share of samples the classifier reads as "
            "the digit asked for. The other rows use the null class. Rows marked `autoguidedW` are guided by the "
            f"small model in `guide/` with the weight W in the row's name on the steps with code index t <= {T_MAX_FRACTION:g} T "
            "(the paper's t counts from 1, one more), or t <= K where `-tmaxK` follows. \"memorised\" is the share "
            "of samples closer to their nearest training image than "
            "99% of the 10,000 MNIST test digits are to theirs, so unseen real digits score 1%.\n")


def _real_shares(r: dict) -> str:
    """' (real: 8.5% to 13.2%)': the smallest and largest class share of the row's draws of N real training
    digits, so that a null-class row's spread at this N is told from a shortfall; '' for a row sampled with a class
    (its shares follow the classes drawn, not MNIST's), one scored without them, or a hand edit."""
    draws = r.get("real_floor_class_share_extremes")
    if r.get("label") is not None or not (isinstance(draws, list) and draws and all(
            isinstance(d, list) and len(d) == 2 and all(map(is_real, d)) and 0 <= d[0] <= d[1] <= 1 for d in draws)):
        return ""
    return f" (real: {100 * min(d[0] for d in draws):.1f}% to {100 * max(d[1] for d in draws):.1f}%)"


def not_scored(dataset: str) -> str:
    """What the card and the app say in place of the quality table for a model of another dataset than MNIST."""
    return (f"Not scored: `ddpm.evaluate` measures against MNIST's digits with an MNIST classifier, so its figures "
            f"would say nothing about a {dataset_name(dataset)} model.\n")


def _read_as_asked(r: dict) -> str:
    return f"{100 * r['label_accuracy']:.1f}%" if r.get("label_accuracy") is not None else "-"


def time_and_hardware(facts: dict) -> str:
    """The training time on each machine, e.g. "468.4 min on CPU (x86_64, 2 threads) + 8.1 min on NVIDIA H100"."""
    by_device = facts.get("minutes_by_device")
    if not by_device:
        device = facts.get("device")
        return f"{number(facts.get('train_minutes', '?'))} min" + (f" on {device}" if device else "")
    return " + ".join(f"{number(minutes)} min on {device}" for device, minutes in by_device.items())


def number(value):
    """A recorded figure as a person writes it: 166, not the 166.0 a float was saved as (anything else as it is)."""
    return f"{value:g}" if isinstance(value, float) else value


def measured_with(ev: dict) -> str:
    """The evaluate command of each row, as an indented block (nothing before the first evaluation)."""
    commands = [r["command"] for r in ev.get("runs", {}).values() if r.get("command")]
    commands = commands or ([ev["command"]] if ev.get("command") else [])
    if not commands:
        return ""
    return "Measured with:\n\n" + "\n".join(f"    {c}" for c in commands) + "\n\n"


def sample_grid(folder: Path, timesteps: int, repo_id: str | None = None) -> str:
    """The card's sample grid and the command that draws it: from the Hub repo, when the card is for one."""
    command = (card_grid_command(folder) if repo_id is None else
               CARD_GRID.format(folder=repo_id).replace(f"{repo_id}/{GRID_NAME}", GRID_NAME))
    if not (folder / GRID_NAME).exists():
        then = (f"`python -m ddpm.card {shell_path(folder)}` shows it here" if repo_id is None else
                "once uploaded to the repo, it shows here")
        return f"No sample grid yet: `{command}` makes one, then {then}.\n"
    return (f"![samples]({GRID_NAME})\n\n64 unconditional samples, {timesteps} DDPM steps, seed 0: `{command}` "
            "(the same samples; on another CPU or thread count a few pixels may differ by a grey level)\n")


def guide_section(folder: Path, main_params: int, dataset: str) -> str:
    """What the guide/ subfolder holds (autoguidance), or nothing when there is none; main_params: the main model's
    size, to say how much smaller the guide is; dataset: what they were trained on (ddpm.evaluate scores MNIST's)."""
    guide = folder / GUIDE_SUBFOLDER
    if not (guide / CONFIG_NAME).exists():
        if has_guide(folder):  # part of one (check_loads refuses it; train.py's card is written all the same)
            print(f"note: {guide} is missing {CONFIG_NAME}: the card leaves out its Autoguidance section",
                  file=sys.stderr)
        return ""
    try:
        cfg = ModelConfig.load(guide / CONFIG_NAME)
        with torch.device("meta"):  # its size without its memory (check_loads has not always run: train.py's card)
            params = count_parameters(UNet(cfg))
    except (OSError, ValueError) as e:  # a hand edit: the card of a run just finished is written all the same
        print(f"note: {guide} does not load ({e}): the card leaves out its Autoguidance section", file=sys.stderr)
        return ""
    facts = recorded_facts(guide)
    recipe_lines = facts.get("command", NO_RECIPE).replace("\n", "\n    ")  # a resumed guide's: a line a sitting
    size = ("much smaller" if 2 * params <= main_params else "smaller" if params < main_params else
            "as large as the main one or larger (Karras et al.'s guide is a smaller or shorter-trained one)")
    tools, effect = ("`ddpm.sample`, `ddpm.evaluate`, `ddpm.benchmark`", "digits read more clearly (a higher Inception "
                     "Score)") if dataset == "mnist" else ("`ddpm.sample`, `ddpm.benchmark`", "samples cleaner (not "
                                                           "measured here: `ddpm.evaluate` scores MNIST's alone)")
    return f"""## Autoguidance

`{GUIDE_SUBFOLDER}/` holds a second model of the same data, {size}: {params / 1e6:.2f}M parameters
({cfg.describe()}), trained for {time_and_hardware(facts)} with

    {recipe_lines}

`--autoguidance W` (in {tools}, and a slider in the app) samples
with eps_guide + W (eps - eps_guide) (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of
Itself"), here on the steps t <= {T_MAX_FRACTION:g} T alone (this project's choice, not the paper's), which
makes the null class's {effect} where classifier-free guidance cannot
steer.
In Python: `model = autoguided(load_pretrained(FOLDER), FOLDER, 2.0)` (`from ddpm.autoguidance import autoguided`).

"""


def teacher_weight(facts: dict) -> float:
    """The autoguidance weight of the null class's teacher, as recorded (1: none; a stray value counts as none)."""
    guided = facts.get("null_teacher_autoguidance")
    return guided if is_real(guided) else 1


def null_target(facts: dict, sittings: bool) -> str:
    """What the null class's rows regressed on (in the last of several sittings), when a frozen teacher set it
    (ddpm.teacher); nothing for plain L_simple."""
    teacher = facts.get("null_teacher")
    if not teacher:
        return ""
    given = "the image's true label" if facts.get("null_teacher_label", "true") == "true" else "the null class"
    w = teacher_weight(facts)
    guided = (f", autoguided with weight {w:g} by its `guide/` on t <= {T_MAX_FRACTION:g} T (guidance distillation)"
              if w != 1 else "")
    return (f" {'In the last sitting the' if sittings else 'The'} null class's rows regressed not on the drawn noise "
            f"but on the prediction of a frozen teacher (`{teacher}` when it ran) given {given}{guided}.")


STOPPED = "  # stopped at step "  # train.py's note on a sitting stopped before its end (Ctrl-C or kill)


def recipe(previous: str | None, command: str) -> str:
    """A resumed run adds its command to the recipe; a repeat of the last line (a killed run resumed) adds nothing,
    but for the note of where a sitting stopped (STOPPED), which follows that line's latest outcome: set when it
    stops, gone when the same line runs on. A hand-written note after "  # " stays."""
    if not previous:
        return command
    lines = previous.splitlines()
    if lines[-1].split("  # ")[0].strip() != command.split("  # ")[0].strip():
        return previous + "\n" + command
    if STOPPED in lines[-1] or STOPPED in command:
        lines[-1] = command
    return "\n".join(lines)


def record_command(folder: str | Path, command: str, resumed: bool = False) -> None:
    """Put a run's command into folder/training.json's recipe (added to it if `resumed`) at its first checkpoint, so
    that a run killed before its card is written still hands its command on to the run that resumes it."""
    folder = Path(folder)
    saved = read_training_record(folder) if resumed else {}  # a fresh run: nothing of an earlier one's facts
    _write_facts(folder, saved, recipe(saved.get("command"), command))


def _write_facts(folder: Path, facts: dict, command: str) -> dict:
    """facts with `command` as their recipe, written to folder/training.json (atomically)."""
    facts["command"] = command
    atomic_write_json(folder / TRAINING_NAME, facts)
    return facts


def write_model_card(folder: str | Path, command: str | None = None, resumed: bool = False,
                     repo_id: str | None = None) -> Path:
    """Write folder/README.md. `command` (as train.py runs it) replaces the recipe in training.json,
    or with `resumed` is added to it. The card's code loads `repo_id` (the Hub repo it will be pushed to),
    or else the folder as named here."""
    folder = Path(folder)
    cfg = ModelConfig.load(folder / CONFIG_NAME)
    if command:
        previous = read_training_record(folder).get("command") if resumed else None
        facts = _write_facts(folder, read_weights_meta(folder), recipe(previous, command))
    else:
        facts = recorded_facts(folder)
    ev = read_scores(folder)
    params = count_parameters(UNet(cfg))
    command = facts.get("command", NO_RECIPE).replace("\n", "\n    ")  # a recipe may take several lines
    sittings = " in the last sitting (each line below gives its own flags)" if "\n" in command else ""
    # the lines name the folders of their day (a sitting resumed from a copy names the copy)
    lines = command.split("\n")  # one sitting a line: replayed in order when each resumes the one folder
    folders = {_out_of(line) for line in lines}
    one_run = len(folders) == 1 and all("--resume" in line for line in lines[1:])
    replay = ("each after the first resumes the run, so in order, with one `--out` folder, they replay it" if one_run
              else "the project README's \"Train your own\" gives the recipe to replay")  # the bundled one's copies
    as_run = f"\n\nEach line as it ran, with the folders of its day; {replay}." if "\n" in command else ""
    share = facts.get("label_dropout")  # a hand-made folder may not record it: say so rather than guess
    null_share = (f"{100 * share:.0f}% of the time{sittings}" if share is not None
                  else "part of the time (the share was not recorded)")
    if cfg.num_classes:
        kind, tags = "class-conditional with a null class", ", class-conditional, classifier-free-guidance"
        labels = (f""" Labels were replaced by a "null" class
{null_share}, so the same weights sample unconditionally
(label = null) and with classifier-free guidance.{null_target(facts, bool(sittings))}""")
    else:
        kind, tags, labels = "unconditional", "", " It was trained without labels."
    if facts.get("balance_classes"):
        labels += (f" {'In the last sitting its' if sittings else 'Its'} batches drew every class equally often "
                   "(`--balance-classes`), so it models a class-balanced dataset.")
    dataset = dataset_in(facts)
    if cfg.num_classes and dataset in CLASS_NAMES:  # label k is no digit: say which class it is
        labels += " Its labels: " + ", ".join(f"{k} {name}" for k, name in enumerate(CLASS_NAMES[dataset])) + "."
    name = dataset_name(dataset)
    where = (dict(folder=folder) if repo_id is None else  # a pushed card names the repo, not the author's folders
             dict(folder=repo_id, out="eval.json", then=f"once uploaded to the repo (`hf upload {repo_id} eval.json`), "
                                                         "they show here"))
    quality = metrics_table(ev, **where) if dataset == "mnist" else not_scored(dataset)
    text = f"""---
library_name: pytorch
license: mit
pipeline_tag: unconditional-image-generation
tags: [diffusion, ddpm, {dataset}, unconditional-image-generation{tags}]
datasets: [{HUB_DATASETS.get(dataset, dataset)}]
---
{{MARK_HERE}}

# DDPM on {name} (28x28), {kind}

A {params / 1e6:.2f}M-parameter U-Net that predicts the noise ([Ho, Jain & Abbeel 2020](https://arxiv.org/abs/2006.11239)), trained with
L_simple on a {cfg.schedule} schedule of T = {cfg.timesteps} steps.{labels} These are the EMA weights (decay {facts.get('ema_decay', 0.999)}).

## How it was trained

    {command}{as_run}

| data | steps | epochs | batch | --lr of the last sitting | time and hardware | torch |
| --- | --- | --- | --- | --- | --- | --- |
| {facts.get('images', '?')} {name} training images | {facts.get('steps', '?')} | {number(facts.get('epochs', '?'))} | {facts.get('batch_size', '?')} | {facts.get('lr', '?')} | {time_and_hardware(facts)} | {facts.get('torch', '?')} |

## Quality

{quality}
{measured_with(ev)}{sample_grid(folder, cfg.timesteps, repo_id)}
{guide_section(folder, params, dataset)}## Use

With the `ddpm` package of the project that trained it (its `ddpm/` folder, beside `train.py` and `app.py`; run
from that folder after `pip install -r requirements.txt`. PyPI's `ddpm` is another project):

    from ddpm.hub import load_pretrained
    from ddpm.schedule import NoiseSchedule
    from ddpm.samplers import sample
    model = load_pretrained("{repo_id or folder.as_posix()}")
    x = sample(model, NoiseSchedule({cfg.timesteps}, "{cfg.schedule}"), n=16, seed=0, sampler="ddim", steps={steps_run("ddim", None, cfg.timesteps - 1)})

Architecture: {cfg.describe()}, dropout {cfg.dropout}.
"""
    text = text.replace("{MARK_HERE}", GENERATED.format(_digest(text.replace("{MARK_HERE}\n", ""))))
    keep_a_hand_written_card(folder / CARD_NAME)
    atomic_write_bytes(folder / CARD_NAME, text.encode())
    return folder / CARD_NAME


def _digest(text: str) -> str:
    """The card's mark: the first 16 hex digits of the sha256 of its text without the mark line."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _out_of(line: str) -> str:
    """The --out folder of a recorded train.py line ('runs/my run' quoted as a shell takes it), or the default."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # a hand edit left a quote open: taken as it stands
        words = line.split()
    for i, word in enumerate(words):
        if word == "--out" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--out="):
            return word[len("--out="):]
    return TrainConfig.out


def what_next(folder: str | Path) -> str:
    """train.py's last words: where the card is, and the commands a learner runs next on the folder's model (its
    scores only for MNIST, which ddpm.evaluate measures against)."""
    root = Path(__file__).resolve().parents[1]  # the project's folder, where app.py and `-m ddpm` are found
    away = (root / "app.py").is_file() and Path.cwd().resolve() != root
    where = Path(folder).resolve() if away else Path(folder)  # named whole: the commands run after a cd
    q = shell_path(where)
    score = (f"  python -m ddpm.evaluate --weights {q} --sampler ddim --steps 50 --out "
             f"{shell_path(where / EVAL_NAME)}   # score 1000 samples, a minute or two on a CPU; "
             f"python -m ddpm.card {q} then puts the scores in the card\n"
             if dataset_in(recorded_facts(folder)) == "mnist" else "")
    return (f"wrote {Path(folder) / CARD_NAME}, the model card; next:\n"
            + (f"  cd {shell_path(root)}   # the project's folder, where these commands run\n" if away else "")
            + f"  DDPM_MODEL={q} python app.py   # open it in the app\n{score}"
            f"  python -m ddpm.push {q} YOUR_NAME/REPO   # publish it on the Hub")


def keep_a_hand_written_card(card: Path) -> Path | None:
    """A README.md that is not as this module wrote it (notes a learner added, a card of their own) is moved to
    README.previous.md (README.previous.2.md, ... when that is taken) before a new card replaces it; the move is
    said, and the kept file returned."""
    try:
        old = card.read_text(encoding="utf-8", errors="replace")  # as written (not the locale's: cp1252 on Windows)
    except FileNotFoundError:
        return None
    mark = MARK.search(old)
    if mark and _digest(old[:mark.start()] + old[mark.end():]) == mark.group(1):
        return None  # as written: nothing of anyone's to keep
    card.replace(kept := set_aside_path(card))
    why = "was edited since python -m ddpm.card wrote it" if mark else \
        "carries no mark of python -m ddpm.card (written by hand, or by an older version of it)"
    print(f"note: {card} {why}: kept as {kept}", file=sys.stderr)
    return kept


def check_loads(folder: Path) -> None:
    """ModelLoadError unless the folder's model loads, and its guide/ (the card's Autoguidance section) too, as
    `--autoguidance` loads and checks it: a card (or a push) should not describe weights that do not load."""
    model = load_pretrained(folder)
    if has_guide(folder):  # what guide_section describes, or part of a guide (a push would upload it)
        move = f"; move {GUIDE_SUBFOLDER}/ out of {folder} to go on without it"
        try:
            check_guide(model, load_guide(folder))
        except ValueError as e:  # a T, schedule or data of its own
            raise ModelLoadError(f"{folder / GUIDE_SUBFOLDER}: {e}{move}") from None
        except ModelLoadError as e:
            raise ModelLoadError(f"{e}{move}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm.card",
                                description="Rewrite a model folder's card (README.md) from the files beside it: "
                                            "config.json, training.json, the weights' metadata and eval.json.")
    p.add_argument("folder", type=path_arg, nargs="?", default=str(DEFAULT_WEIGHTS),
                   help="a train.py output folder [the bundled weights/]")
    folder = Path(p.parse_args(argv).folder)
    if why := folder_problem(folder):
        print(f"error: {why}", file=sys.stderr)
        return 2
    try:
        check_loads(folder)  # a truncated model.safetensors: its card would describe weights that do not load
        print(write_model_card(folder))
    except (OSError, ValueError, ModelLoadError) as e:  # an unreadable or malformed file beside the config
        print(f"error: could not write the card of {folder}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # written whole or not at all (a card written by hand was set aside first)
        return stopped(f"{folder / CARD_NAME} may not have been written: run it again (a hand-written card, if "
                       "there was one, was kept as the note above says)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
