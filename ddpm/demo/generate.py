"""Tab 2, seeded sampling: a grid of digits that streams while it denoises.

Sample k of a run depends only on (seed, k) (see ddpm.samplers), so the same settings give the same grid.
"""
from __future__ import annotations

import dataclasses
import secrets
import shlex
from dataclasses import dataclass
from typing import Iterator

import torch
from PIL import Image

from ..config import MAX_GUIDANCE
from ..data import CLASS_NAMES, noun
from ..images import grid_cols
from ..samplers import DDIM_STEPS, RANDOM, SAMPLERS, random_labels, sample_loop
from ..schedule import NoiseSchedule
from . import draw
from .kept import LastFew
from .limits import (APP_MAX_AUTOGUIDANCE, MAX_DIGIT_STEPS, MAX_DIGITS, MAX_SEED, MAX_STEPS, InputError, check_choice,
                     check_float, check_int, check_seed, parse_label, shown)
from .progress import UPDATES, Ticker, took

# what Generate and the animation start with (app.py, and ddpm.demo.timing, which times those defaults). With a class,
# w = 1.5 draws the bundled model's highest-IS digits at an FD 16% above w = 1's (50 DDIM steps, random labels,
# N = 1000: IS 9.70, 99.1% read as asked, FD 1.29 against w = 1's 1.115); w = 2 already overshoots (FD 2.87), and
# w = 3 speckles (FD 11.8, IS 9.05)
DEFAULT_SAMPLER, DEFAULT_STEPS, DEFAULT_LABEL, DEFAULT_GUIDANCE = "ddim", DDIM_STEPS, "any", 1.5
CLASS_CHOICES = [("any (the null class)", "any"), ("random: a digit 0-9 drawn for each", RANDOM)] + \
    [(str(d), str(d)) for d in range(10)]  # (shown, value)


def default_steps(T: int) -> int:
    """The DDIM steps the app's sliders start at: DEFAULT_STEPS, or T for a model of fewer steps."""
    return min(DEFAULT_STEPS, T)


def class_choices(dataset: str = "mnist") -> list[tuple[str, str]]:
    """The class dropdown's (shown, value) pairs: the digits, or for another dataset its classes by name (the
    values stay 0-9, so the API takes the same ones)."""
    names = CLASS_NAMES.get(dataset)
    if names is None:
        return CLASS_CHOICES
    return ([("any (the null class)", "any"), ("random: a class drawn for each", RANDOM)]
            + [(f"{i}: {name}", str(i)) for i, name in enumerate(names)])


@dataclass(frozen=True)
class Settings:
    seed: int
    n: int
    sampler: str  # "ddpm" (every t) or "ddim" (`steps` of them)
    steps: int
    label: int | str | None  # None = the null class (unconditional); "random" = digit k drawn from (seed, k)
    guidance: float  # classifier-free guidance scale w (used only with a label)
    # DDIM only: 0 deterministic, 1 fresh noise at each step, DDPM's with sigma^2 = beta_tilde (Song et al. Eq. 16)
    # of the chain of visited steps (its beta = 1 - alpha_bar_t / alpha_bar_prev); the 1000-step beta_tilde at steps = T
    eta: float = 0.0
    autoguidance: float = 1.0  # weight of the small guide model (ddpm.autoguidance); 1 = off
    class_names: tuple[str, ...] | None = None  # a dataset's class names (data.CLASS_NAMES); None: MNIST's digits

    def sampler_kwargs(self) -> dict:
        """What samplers.sample_loop takes from these settings."""
        return dict(sampler=self.sampler, steps=self.steps, label=self.label, guidance=self.guidance, eta=self.eta)

    def describe(self) -> str:
        """The settings in words, for captions: '16 digits, DDIM, 50 steps, seed 0, any digit'."""
        how = f"{self.sampler.upper()}, {self.steps} step{'s' * (self.steps != 1)}"
        how += f", eta {self.eta:g}" if self.eta else ""
        how += f", autoguidance {self.autoguidance:g}" if self.autoguidance != 1 else ""
        what = self.class_words() + (f", guidance w = {self.guidance:g}" if self.label is not None else "")
        if self.label is not None and not self.guidance:
            what += f" (w = 0 ignores the class: the null class's {self.noun}s)"
        return f"{self.n} {self.noun}{'s' * (self.n != 1)}, {how}, seed {self.seed}, {what}"

    @property
    def noun(self) -> str:
        """What one sample is called: 'digit' (MNIST) or 'image' (a dataset whose classes have names)."""
        return "image" if self.class_names else "digit"  # as data.noun

    def class_words(self) -> str:
        """The class asked for, in words: 'any digit', 'a random digit each' or 'digit 3' (for a dataset with
        named classes: 'any class', 'a random class each', 'class 3 (Dress)')."""
        kind = "class" if self.class_names else "digit"
        if self.label is None:
            return f"any {kind}"
        if self.label == RANDOM:
            return f"a random {kind} each"
        return f"class {self.label} ({self.class_names[self.label]})" if self.class_names else f"digit {self.label}"

    def command(self, weights: str | None = None) -> str:
        """The `python -m ddpm.sample` line that draws these digits (its defaults differ from the app's: DDPM,
        w = 1); weights: the model's folder or Hub id, None for the bundled weights."""
        flags = [f"--seed {self.seed}", f"--n {self.n}", f"--sampler {self.sampler}"]
        if self.sampler == "ddim":
            flags.append(f"--steps {self.steps}")
            if self.eta:
                flags.append(f"--eta {_exact(self.eta)}")
        if self.label is not None:
            flags += [f"--label {self.label}", f"--guidance {_exact(self.guidance)}"]
        if self.autoguidance != 1:
            flags.append(f"--autoguidance {_exact(self.autoguidance)}")
        if weights:
            flags.append(f"--weights {shlex.quote(weights)}")
        return " ".join(["python -m ddpm.sample", *flags, f"--out {self.noun}s.png"])


def _exact(x: float) -> str:
    """x as a command line gives it back exactly: 3 for 3.0, 1.0000001 as it is (not :g's 1)."""
    text = repr(float(x))
    return text.removesuffix(".0")


def resolve_seed(seed, randomise: bool) -> int:
    """The seed actually used: a fresh random one if asked, else the given one (checked)."""
    if not isinstance(randomise, bool):  # through the API: "abc" or 2 would have counted as ticked
        raise InputError(f"new random seed must be true or false, not {shown(randomise)}")
    return secrets.randbelow(2**31) if randomise else check_seed(seed)


def network_passes(label, guidance: float) -> int:
    """U-Net passes a step costs: two with a class and a guidance scale other than 0 and 1 (samplers.guided_eps
    runs the null and the class rows), else one."""
    return 2 if label is not None and guidance not in (0, 1) else 1


def digits_help(n_max: int, T: int, conditional: bool, dataset: str = "mnist") -> str | None:
    """The number-of-digits slider's help: how many DDPM digits fit in one run (MAX_DIGIT_STEPS), when fewer than
    the slider's n_max do; None when every setting fits. dataset: what a sample is called (data.noun)."""
    passes = 2 if conditional else 1  # the most a step may cost: a class's guidance
    if n_max * T * passes <= MAX_DIGIT_STEPS:
        return None
    plain, guided = min(n_max, MAX_DIGIT_STEPS // T), MAX_DIGIT_STEPS // (2 * T)
    with_class = f", {guided or 'none'} with a class's guidance" if conditional else ""
    word = noun(dataset)
    return (f"a run draws at most {MAX_DIGIT_STEPS:,} {word}-steps: {plain} {word}{'s' * (plain != 1)} of DDPM's "
            f"{T} steps{with_class}")


def check_settings(seed, n, sampler, steps, label, guidance, T: int, max_n: int = MAX_DIGITS, eta=0.0,
                   autoguidance=1.0, conditional: bool = True, dataset: str = "mnist") -> Settings:
    """The run's settings, each checked (InputError says what is allowed); conditional: the model takes a class;
    dataset: the model's (its class names go into the captions)."""
    sampler = check_choice("sampler", sampler, SAMPLERS)
    steps = T if sampler == "ddpm" else check_int("DDIM steps", steps, 1, min(MAX_STEPS, T))
    eta = check_float("DDIM eta", eta, 0.0, 1.0) if sampler == "ddim" else 0.0  # DDPM: its variance sets its noise
    word = noun(dataset)  # 'digit' or 'image'
    n = check_int(f"number of {word}s", n, 1, max_n)
    label = parse_label(label, CLASS_NAMES.get(dataset))
    if label is not None and not conditional:  # the network has no class input: a class would be dropped silently
        raise InputError(f"This model was trained without labels, so it takes no class: choose 'any', not "
                         f"{shown(label)}")
    guidance = check_float("guidance scale w", guidance, 0.0, MAX_GUIDANCE)  # named as its slider is
    passes = network_passes(label, guidance)
    if n * steps * passes > MAX_DIGIT_STEPS:
        what = f"{n} {word}s of {steps} {sampler.upper()} steps" + (
            " with a class's guidance (two network passes a step)" if passes == 2 else "")
        instead = ("DDIM with fewer steps" if sampler == "ddpm" else "fewer steps") + (
            ", or 'any' or w = 1 (one pass a step)" if passes == 2 else "")
        raise InputError(f"{what} is more than one run may ask of this shared CPU ({MAX_DIGIT_STEPS:,} {word}-steps): "
                         f"at most {MAX_DIGIT_STEPS // (steps * passes)} {word}s, or {instead}")
    return Settings(
        seed=check_int("seed", seed, 0, MAX_SEED),
        n=n,
        sampler=sampler,
        steps=steps,
        label=label,
        guidance=guidance,
        eta=eta,
        autoguidance=check_float("autoguidance w", autoguidance, 0.0, APP_MAX_AUTOGUIDANCE),
        class_names=CLASS_NAMES.get(dataset),
    )


@dataclass
class Frame:
    image: Image.Image
    text: str  # progress, then a summary
    done: bool
    samples: torch.Tensor | None = None  # (n, 1, 28, 28) in [-1, 1] once done
    summary: str = ""  # once done: the text without its timing (finished_text)


def grid_image(x: torch.Tensor) -> Image.Image:
    """(n, 1, 28, 28) in [-1, 1] as a square-ish grid, upscaled."""
    return draw.digits(x.clamp(-1, 1), cols=grid_cols(x.shape[0]))


SURE = 0.9  # tab 4's and Compare's readings mark a digit the classifier gives less than this (a blend of two)


def readings(classifier, x: torch.Tensor) -> list[str]:
    """The MNIST classifier's digit for each of x (n, 1, 28, 28) in [-1, 1]: '7', or '7?' where it gives that digit
    less than SURE (a cross-fade of a 7 and a 2 at small t, a shape between a 4 and a 7: said, not named as fact)."""
    top = classifier(x.cpu()).softmax(1).max(1)  # (the logits' softmax: the probability of the digit read)
    return [f"{int(d)}{'?' * (float(p) < SURE)}" for p, d in zip(top.values, top.indices)]


def unsure(read: list[str]) -> str:
    """' A ? marks ...', a sentence of its own, where `readings` marked one, else ''."""
    marked = any(r.endswith("?") for r in read)
    return f" A ? marks a digit the classifier is under {SURE:.0%} sure of." if marked else ""


def read_as(classifier, x0: torch.Tensor, asked: torch.Tensor | None = None, chosen: int | None = None) -> str:
    """What the shipped MNIST classifier reads in samples (n, 1, 28, 28) in [-1, 1], in words, row by row as the
    grid shows them: a check that a chosen class came out, and the grid in words for a screen reader. asked: (n,)
    the labels drawn for a random class each, said first and counted against the reading; chosen: the one class
    asked of all, counted against the reading."""
    read = classifier(x0).argmax(1)  # (n,)

    def rows(digits) -> str:
        return by_rows([str(int(d)) for d in digits])
    if len(read) == 1:
        wanted = int(asked[0]) if asked is not None else chosen  # None: no class was asked for
        said = f"Asked for {wanted}; the" if wanted is not None else "The"
        return f"{said} MNIST classifier reads it as {int(read[0])}."
    if asked is None:
        hits = f": {int((read == chosen).sum())} of {len(read)} as the {chosen} asked for" if chosen is not None else ""
        return f"The MNIST classifier reads them, row by row, as {rows(read)}{hits}."
    hits = int((read == asked).sum())
    return (f"Asked for, row by row, {rows(asked)}; the MNIST classifier reads them as {rows(read)}: {hits} of "
            f"{len(read)} as asked.")


def by_rows(words: list[str], sep: str = " ", between: str = " / ") -> str:
    """Words for the samples, row by row as grid_image lays them out: '3 7 / 1 2'."""
    cols = grid_cols(len(words))
    return between.join(sep.join(words[i:i + cols]) for i in range(0, len(words), cols))


def asked_for(asked: torch.Tensor | None, names: tuple[str, ...] | None = None) -> str:
    """The classes drawn for a random class each ((n,) labels, or None: none drawn), row by row, by name where the
    dataset names them ('Sneaker, Bag; Coat, T-shirt/top': a name may hold a slash); "" for none."""
    if asked is None:
        return ""
    words = [names[int(a)] if names else str(int(a)) for a in asked]
    if len(words) == 1:
        return f"Asked for {words[0]}."
    return f"Asked for, row by row: {by_rows(words, ', ', '; ')}." if names else \
        f"Asked for, row by row, {by_rows(words)}."


class LastGrids(LastFew):
    """The last few finished grids by their settings. The same settings and seed draw the same digits, so Generate
    asked again for one of them (a double click, a press queued while the run went on, a seed gone back to) shows
    it without drawing it anew, and says so, rather than spend the run's time (13 s for 16 digits with DDPM) on it
    again."""

    def __init__(self, size: int = 8):
        super().__init__(size)

    def get(self, key) -> Frame | None:
        if (kept := super().get(key)) is None:
            return None
        frame, seconds = kept
        same = f"the same {key[0].noun}" + ("s" if key[0].n != 1 else "")
        # the app's grids, not a session's: a first visit can meet one another visitor drew
        return dataclasses.replace(frame, text=f"Drawn before with these settings, by you or another visitor (in "
                                               f"{took(seconds)}), so shown again at once: the same seed draws {same}. "
                                               f"{frame.summary}")

    def put(self, key, frame: Frame, seconds: float) -> None:
        super().put(key, (frame, seconds))


@torch.inference_mode()
def generate(model, sched: NoiseSchedule, s: Settings, updates: int = UPDATES, weights: str | None = None,
             classifier=None, drawn: LastGrids | None = None) -> Iterator[Frame]:
    """Yield the current x_t every ~steps/updates reverse steps, then the final samples, whose text gives the
    command line that draws them again (weights: as Settings.command takes it) and, with a classifier, the
    digits it reads in them. drawn: grids finished before, by settings; one of these settings is shown at once."""
    if drawn is not None and (before := drawn.get((s, weights))) is not None:
        yield before
        return
    ticker, last = Ticker(s.steps, updates=updates), None
    for last in sample_loop(model, sched, s.n, s.seed, **s.sampler_kwargs()):
        if ticker.due():
            yield Frame(grid_image(last.x_prev),
                        f"Denoising: step {last.index + 1} of {last.num_steps} (now at t = {last.paper_t_prev}), "
                        f"{ticker.elapsed()}", done=False)
    x0 = last.x_prev.clamp(-1, 1)
    elapsed = ticker.seconds
    # the labels sample_loop drew for a random class each (w = 0 ignores them: the null class's digits)
    asked = (random_labels(s.seed, s.n, model.config.num_classes)
             if s.label == RANDOM and s.guidance and model.config.num_classes else None)
    chosen = s.label if isinstance(s.label, int) and s.guidance and model.config.num_classes else None
    # without the classifier (a Fashion-MNIST model), the classes drawn are still said, so each cell can be checked
    reading = read_as(classifier, x0, asked, chosen) if classifier is not None else asked_for(asked, s.class_names)
    summary = finished_text(s, weights, reading)
    done = Frame(grid_image(x0), f"Done in {took(elapsed)} ({1000 * elapsed / s.steps:.0f} ms a step): {summary}",
                 done=True, samples=x0, summary=summary)
    if drawn is not None:
        drawn.put((s, weights), done, elapsed)
    yield done


def finished_text(s: Settings, weights: str | None = None, reading: str = "") -> str:
    """The finished grid's caption after its timing: the settings, what a classifier reads in them (`reading`, if
    given), and the command line that draws them again."""
    these = f"these {s.noun}s" if s.n != 1 else f"this {s.noun}"
    return (f"{s.describe()}. {reading + ' ' if reading else ''}This model draws {these} again from these "
            "settings and this seed (on another CPU, thread count or torch version a few pixels may differ by a grey "
            "level); another sampler or number of steps starts from the same noise but follows another path. From "
            "the command line:\n\n"
            f"```\n{s.command(weights)}\n```")
