"""Tab 5, About: what the model is, how it was trained and how good it is, read from its folder."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..autoguidance import default_t_max
from ..card import metrics_table, not_scored, number, teacher_weight, time_and_hardware
from ..data import dataset_name, noun
from ..facts import dataset_in, read_scores, recorded_facts
from ..history import PROGRESS_NAME, STAGE_STEPS
from ..hub import DEFAULT_WEIGHTS, LOSS_NAME, is_repo_id
from ..unet import count_parameters
from .sources import worded

PAPERS = [
    ("Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models", "https://arxiv.org/abs/2006.11239"),
    ("Song, Meng & Ermon 2021, Denoising Diffusion Implicit Models (DDIM)", "https://arxiv.org/abs/2010.02502"),
    ("Nichol & Dhariwal 2021, Improved DDPM (the cosine schedule)", "https://arxiv.org/abs/2102.09672"),
    ("Ho & Salimans 2022, Classifier-Free Diffusion Guidance", "https://arxiv.org/abs/2207.12598"),
    ("Karras et al. 2024, Guiding a Diffusion Model with a Bad Version of Itself (autoguidance)",
     "https://arxiv.org/abs/2406.02507"),
    ("LeCun et al. 1998, the MNIST database", "https://yann.lecun.com/exdb/mnist/"),
]
DATASET_PAPERS = {"fashion-mnist": ("Xiao, Rasul & Vollgraf 2017, Fashion-MNIST", "https://arxiv.org/abs/1708.07747")}


LOSS_POINTS = 400  # at most this many points on the loss plot: neighbouring log rows averaged
LOSS = "training loss"


@dataclass
class LossHistory:
    curve: pd.DataFrame | None  # (step, loss, curve) for gr.LinePlot; None before the log has two rows
    y_max: float  # the plot's upper limit: the first steps' loss is far above the rest
    text: str  # markdown: how to read it


def loss_history(folder: Path | None) -> LossHistory | None:
    """The training loss against step from the folder's loss.csv (train.py logs the mean of every 50 steps),
    or None if there is none (or it cannot be read: the About tab then shows no plot); with one row, no curve yet."""
    try:
        log = pd.read_csv(folder / LOSS_NAME, usecols=["step", "loss"]).apply(pd.to_numeric, errors="coerce")
    except (TypeError, OSError, ValueError):  # no folder, no file, not a loss log
        return None
    bad = ~np.isfinite(log.to_numpy(dtype=float)).all(axis=1)  # words, NaN or inf (an fp16 run's overflow)
    log = log[~bad]
    if len(log) < 2:
        return None if log.empty else LossHistory(None, 1.0, (
            f"loss.csv has one row so far (step {int(log.step.iloc[0])}, loss {float(log.loss.iloc[0]):.4f}): train.py "
            "logs the mean of every 50 steps, and the curve shows from the second row on."))
    groups = np.array_split(np.arange(len(log)), min(LOSS_POINTS, len(log)))
    step, loss = log.step.to_numpy(), log.loss.to_numpy()
    curve = pd.DataFrame({"step": [int(step[g[-1]]) for g in groups], "loss": [float(loss[g].mean()) for g in groups],
                          "curve": LOSS})
    tenth = len(loss) // 10
    tail = float(np.median(loss[tenth:]))  # the level after the first fall
    text = f"The logged loss goes from {loss[0]:.2f} at step {int(step[0])}"
    if len(loss) >= 20:
        text += f" to {float(np.median(loss[tenth:tenth + 5])):.3f} by step {int(step[tenth])}, a tenth of the way,"
    target = null_class_target(folder)
    what = (" (in the last sitting, the null class's rows regressed on a teacher instead of the noise: below)"
            if target else "")
    text += (f" and ends at {loss[-1]:.4f} (step {int(step[-1])}). It is L_simple{what}, and much of it cannot be "
             "learnt: given x_t, many eps stay plausible (which digit lies under the noise is uncertain, and at "
             "small t the noise hides among the digit's own pixel steps; tab 1 plots it against t), so even a "
             "perfect network scores well above 0. The curve flattens long before the samples stop improving: "
             "their quality, not the loss, says when to stop.")
    if bad.any():
        text += (f" {int(bad.sum())} logged values were not finite numbers and are left out; a run that diverges "
                 "logs NaN or inf from then on.")
    if target:
        text += (f" In the last sitting (`--null-teacher`) the null class's rows regressed on {target} instead "
                 "of on the drawn noise: a target with less variance, so the logged loss steps down there while "
                 "the network's L_simple (tab 1) rises, most at small t.")
    return LossHistory(curve=curve, y_max=max(float(min(loss.max(), 2.5 * tail)), 1e-6), text=worded(text))


class Progress(NamedTuple):
    path: str  # the picture: ddpm.history's, in the bundled weights' folder
    label: str  # its alt text
    text: str  # markdown: how to read it


def training_progress(folder: Path | None, source: str) -> Progress | None:
    """The bundled weights' samples over training (ddpm.history draws them from git), with what they show; None
    for another model, a folder without the picture, or weights trained on past its last row."""
    if folder is None or not is_bundled(source) or not (folder / PROGRESS_NAME).is_file():
        return None
    if recorded_facts(folder).get("steps") != STAGE_STEPS[-1]:  # weights trained on since: the picture is stale
        return None
    return Progress(str(folder / PROGRESS_NAME), PROGRESS_LABEL, PROGRESS_TEXT)


PROGRESS_LABEL = ("samples over training: the same ten starting noises taken to digits by these weights after "
                  f"{', '.join(f'{s:,}' for s in STAGE_STEPS[:-1])} and {STAGE_STEPS[-1]:,} optimizer steps")
# the loss figures: loss.csv's median over the 20 rows (1,000 steps) up to each row's step (tests/test_history.py)
PROGRESS_TEXT = ("**Samples over training.** The same ten x_T (seed 0) taken to a digit by deterministic DDIM in 50 "
                 "steps, by these weights as they were after each stretch of training (this repository's history: "
                 "`python -m ddpm.history` redraws it from a clone). Over the first four rows the logged loss above "
                 "falls only from 0.024 to 0.021, yet the digits keep getting cleaner: stray pixels go, strokes "
                 "close. The last row comes 41 epochs later: 33 more of plain training (half the labels dropped), "
                 "then 8 that trained the null class on another target (guidance distillation), which is what drops "
                 "the loss to 0.013.")


def null_class_target(folder: Path | None) -> str | None:
    """What the null class ("any digit") was last trained to predict, if not the drawn noise eps
    (`train.py --null-teacher`): "a frozen teacher's predictions ...", else None."""
    return _null_target(recorded_facts(folder))


def _null_target(facts: dict) -> str | None:
    """null_class_target from the folder's facts, already read."""
    if not facts.get("null_teacher"):
        return None
    guided = teacher_weight(facts)
    return "a frozen teacher's predictions" + (f" with autoguidance of weight {guided:g}" if guided != 1 else "")


LAST_SITTING = ("lr", "label_dropout")  # a recipe of several sittings changed these: its record keeps the last one's
FACTS = [  # (key in training.json / the weights' metadata, how to say it)
    ("command", "command: `{}`"),
    ("images", "{} training image{s}"),
    ("dataset", "data: {}"),  # the id train.py's --dataset takes
    ("steps", "{} optimizer step{s}"),
    ("epochs", "{} epoch{s}"),
    ("batch_size", "batch {}"),
    ("lr", "learning rate {}"),
    ("ema_decay", "EMA decay {}"),
    ("label_dropout", "share of labels swapped for the null class: {}"),
    ("torch", "torch {}"),
]


def _training_text(facts: dict) -> str:
    sittings = "\n" in facts.get("command", "")
    last = " (the last sitting's)" if sittings else ""
    known = [how.format(number(facts[key]), s="s" * (facts[key] != 1)) + (last if key in LAST_SITTING else "")
             for key, how in FACTS if key in facts and "\n" not in str(facts[key])]
    if "train_minutes" in facts:
        known.append(f"trained for {time_and_hardware(facts)}")
    if sittings:  # a recipe of several runs joined by --resume: one line each
        known[0:0] = ["commands, run one after the other:\n\n" + "".join(
            f"      {line}\n" for line in facts["command"].splitlines())]
    if not known:
        return "No training record found next to these weights (no training.json, no metadata)."
    return "\n".join(f"- {line}" for line in known)


def _quality(ev: dict, source: str, folder: Path | None, dataset: str) -> str:
    """The measured figures, or how to make them: for a Hub repo, score it and upload eval.json to the repo
    (the app downloads it with the weights), since its local folder is only a cache."""
    if dataset != "mnist":
        return not_scored(dataset)
    if not is_repo_id(source):
        return metrics_table(ev, folder, then="the app shows the figures here when it next starts")
    return metrics_table(ev, source, out="eval.json", then=f"`hf upload {source} eval.json` adds them to the "
                         "repo, and the app shows them here when it next starts")


def is_bundled(source: str) -> bool:
    """Whether `source` is the bundled weights/ folder."""
    try:
        return Path(source).resolve() == DEFAULT_WEIGHTS.resolve()
    except OSError:
        return False


def shown_source(source: str) -> str:
    """A model folder inside the working directory (the bundled weights/) as a relative path, not the server's own
    absolute one; anything else (a Hub repo id, a folder elsewhere) as given."""
    try:
        if Path(source).is_dir():
            return Path(source).resolve().relative_to(Path.cwd().resolve()).as_posix() + "/"
    except (ValueError, OSError):
        pass
    return source


def read_more(dataset: str = "mnist") -> str:
    """The papers, and the paper of the model's own data where that is not MNIST."""
    papers = PAPERS + ([DATASET_PAPERS[dataset]] if dataset in DATASET_PAPERS else [])
    return "## Read more\n\n" + "\n".join(f"- [{name}]({url})" for name, url in papers) + "\n"


def about_markdown(model, source: str, folder: Path | None, guide=None, links: bool = True) -> str:
    """The About tab's text; links=False leaves out "Read more" (read_more()), for the app to put the loss plot
    before it."""
    cfg = model.config
    facts = recorded_facts(folder)
    ev = read_scores(folder)
    dataset = dataset_in(facts)
    word = noun(dataset)  # 'digit', or 'image' for Fashion-MNIST
    guidance = (f"class-conditional with a null class, so it samples any {word} or one of a chosen class with "
                "classifier-free guidance" if cfg.num_classes else "unconditional")
    if guide is not None:
        guidance += (f"; autoguidance uses a {count_parameters(guide) / 1e6:.2f}M-parameter guide "
                     f"({guide.config.describe()}), trained briefly, from the folder's guide/")
    images = "MNIST digits" if dataset == "mnist" else f"images (this model: {dataset_name(dataset)})"
    # an unconditional model has no null class (older training.json files record a share all the same)
    training = _training_text(facts if cfg.num_classes else {k: v for k, v in facts.items() if k != "label_dropout"})
    inputs = f"x_t, t and a class (or the null class, 'any {word}')" if cfg.num_classes else "x_t and t"
    guided_t = default_t_max(cfg.timesteps) + 1  # the paper's t of the last guided step, and how many steps
    more = (["twice as many with a class's guidance at a w other than 0 and 1"] if cfg.num_classes else []) + (
        [f"autoguidance adds {guided_t} passes of the small guide, on the steps t <= {guided_t}"]
        if guide is not None else [])
    guided = f" ({'; '.join(more)})" if more else ""
    target = _null_target(facts)
    distilled = "" if not target else (  # what the step is for first, in plain words, then what it was
        f" A finishing step was meant to make its 'any {word}' samples read more clearly as "
        f"{'digits' if dataset == 'mnist' else 'one of its classes'}: in its last "
        f"sitting the null class was trained on {target} instead of the drawn noise (guidance distillation). The "
        "teacher was this model before that step; autoguidance (tab 2's slider) pushes a model's prediction away "
        "from that of a small, briefly trained guide, which makes the same mistakes more strongly."
        if teacher_weight(facts) != 1 else
        f" In its last sitting the null class was trained on {target} instead of the drawn noise.")
    return f"""## What this is

A from-scratch teaching demo of DDPM (Ho et al. 2020) on 28x28 {images}. The forward process adds
Gaussian noise in T = {cfg.timesteps} small steps; a U-Net learns to predict that noise (eps_hat) from
{inputs}, trained with L_simple (Eq. 14).{distilled} Sampling runs the chain backwards, from pure noise
x_T to {'a digit' if dataset == 'mnist' else 'an image'} x_0.

## The model

- **Weights:** `{shown_source(source)}`{" (the bundled weights)" if is_bundled(source) else ""}
- **Size:** {count_parameters(model) / 1e6:.2f}M parameters; U-Net of {cfg.describe()}.
- **How t enters:** a sinusoidal embedding of t (the Transformer's), through a small MLP, added inside every
  residual block{" (the class's own embedding added to it)" if cfg.num_classes else ""}.
- **Schedule:** {cfg.schedule}, T = {cfg.timesteps}.
- **Conditioning:** {guidance}.

## Training

{training}

## Quality

{_quality(ev, source, folder, dataset)}
Everything here runs on the CPU: one DDPM sample takes {cfg.timesteps} U-Net passes{guided}, DDIM far fewer.

""" + (read_more(dataset) if links else "")
