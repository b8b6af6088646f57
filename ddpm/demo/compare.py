"""Tab 2's comparison: the same starting noise x_T through several samplers, or through several guidance scales,
one row each. Digit k of every row starts from the noise of (seed, k) (ddpm.samplers), so the rows differ only by
the path the reverse chain takes: the "same x_T, other sampler" and "same x_T, other w" pictures a lecture on
samplers and guidance draws."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import torch
from PIL import Image

from ..samplers import RANDOM, random_labels, sample_loop
from ..schedule import NoiseSchedule
from . import draw
from .generate import Settings, network_passes, readings, unsure
from .limits import MAX_DIGIT_STEPS, InputError, check_choice
from .progress import Progress, Ticker
from .sources import worded

SAMPLERS_ROWS, GUIDANCE_ROWS = "samplers", "guidance"
KINDS = (SAMPLERS_ROWS, GUIDANCE_ROWS)
COMPARE_DIGITS = 6  # digits a row: few enough that most settings' rows fit one run's digit-steps (MAX_DIGIT_STEPS)
COMPARE_DDIM = (50, 10)  # the samplers rows' DDIM steps (at most T)
SWEEP = (0.0, 1.0, 1.5, 2.0, 3.0)  # guidance scales w of the sweep: unconditional, conditional, then guided (the
# bundled model's digits have the highest IS at w = 1.5, with an FD 16% above w = 1's, and 3 overshoots:
# generate.DEFAULT_GUIDANCE)
SWEPT = ", ".join(f"{w:g}" for w in SWEEP)  # "0, 1, 1.5, 2, 3", as the texts name them
GUIDANCE_SAYS = ("w = 0 ignores the class, w = 1 is the plain conditional model, and a larger w pushes each digit "
                 "toward what the model reads most surely as its class, trading variety for clarity (Ho & Salimans "
                 "2022); too large a w overshoots, into speckled, overdrawn strokes that may no longer read as the "
                 "class.")


def ddim_steps_compared(T: int) -> tuple[int, ...]:
    """The samplers rows' DDIM step counts on a model of T timesteps: (50, 10), each at most T, once each."""
    return tuple(dict.fromkeys(min(k, T) for k in COMPARE_DDIM))  # T <= 10: one count, one row fewer


def samplers_rows_words(T: int) -> str:
    """The samplers rows as the radio names them, for a model of T timesteps: "DDPM, DDIM 50, ..."."""
    many, *few = ddim_steps_compared(T)
    return f"DDPM, DDIM {many}, DDIM {many} with eta 1" + "".join(f", DDIM {k}" for k in few)


def choices(T: int, conditional: bool, guided: bool) -> tuple[list[tuple[str, str]], str]:
    """Compare's radio for a model of T timesteps: its (shown, value) choices (a model without labels has no w to
    sweep) and its label, which names the settings above that the rows take (`guided`: the model has a guide)."""
    kinds = [(f"samplers: {samplers_rows_words(T)}", SAMPLERS_ROWS)]
    if conditional:
        kinds.append((f"guidance w = {SWEPT} (the class chosen, or a random one each)", GUIDANCE_ROWS))
    shared = ("the class, w and autoguidance above, and the sweep also takes the sampler, steps and eta"
              if conditional else "the autoguidance above" if guided else "")
    rows = worded(f"one row each, of the seed's first digits: the number above, at most {COMPARE_DIGITS}")
    return kinds, f"what to compare ({rows}" + (f"; with {shared})" if shared else ")")


def samplers_say(T: int, label=None) -> str:
    """What the samplers rows show, for a model of T timesteps, sampled with `label` (None: the null class, as
    at w = 0)."""
    many, *few = ddim_steps_compared(T)
    fewer = "".join(f", and with {k} steps most often to the same one as with {many}" for k in few)
    given, decides = ((" Each digit has the same class in every row;", "shapes: the same digit in strokes of their "
                       "own, seldom DDIM's") if label is not None else
                      ("", "digits: most end as another digit than DDIM's"))
    return (f"the deterministic DDIM (eta 0) maps each x_T to one digit{fewer}.{given} DDPM and eta 1 add fresh "
            f"noise at every step (drawn from (seed, k) too), and that noise, not x_T, decides most of their "
            f"{decides}.")


@dataclass
class Comparison:
    """What Compare shows: the rows as one picture, and what they hold in words."""
    image: Image.Image  # one titled row of digits per setting
    text: str


def compare_rows(kind: str, s: Settings, T: int, conditional: bool = True) -> list[Settings]:
    """The settings of each row, from the tab's: `s`'s seed, class, guidance and autoguidance under DDPM and three
    DDIMs (samplers), or `s`'s sampler, steps, eta and autoguidance under w in SWEEP (guidance); at most
    COMPARE_DIGITS digits a row. conditional: the model takes a class (else there is no w to sweep)."""
    kind = check_choice("what to compare", kind, KINDS)  # named as its radio is
    s = dataclasses.replace(s, n=min(s.n, COMPARE_DIGITS))
    if kind == SAMPLERS_ROWS:
        many, *few = ddim_steps_compared(T)
        ddim = dataclasses.replace(s, sampler="ddim", steps=many, eta=0.0)
        rows = [dataclasses.replace(s, sampler="ddpm", steps=T, eta=0.0), ddim,
                dataclasses.replace(ddim, eta=1.0), *(dataclasses.replace(ddim, steps=k) for k in few)]
    else:
        if not conditional:
            raise InputError("This model was trained without labels, so it has no guidance scale to sweep")
        # w needs a class to push toward: with none chosen ("any", as the menu starts), each digit gets its own,
        # drawn from (seed, k) as "random" draws it, so the sweep shows w across the classes
        rows = [dataclasses.replace(s, guidance=w, label=RANDOM if s.label is None else s.label) for w in SWEEP]
    per_digit = sum(r.steps * network_passes(r.label, r.guidance) for r in rows)  # digit-steps of one digit a row
    if s.n * per_digit > MAX_DIGIT_STEPS:
        fits = MAX_DIGIT_STEPS // per_digit
        instead = f"at most {fits} {s.noun}{'s' * (fits != 1)} a row" if fits else "another model"
        if kind == GUIDANCE_ROWS:
            instead = "DDIM with fewer steps, or " + instead
        raise InputError(f"These {len(rows)} rows ask {s.n * per_digit:,} {s.noun}-steps, more than one run may ask of "
                         f"this shared CPU ({MAX_DIGIT_STEPS:,}): choose {instead}")
    return rows


def asked_words(kind: str, s: Settings, num_classes: int) -> str:
    """' (asked for ...)': the class each digit of the rows was asked for (a random one each: from (seed, k), as
    sample_loop draws it), so that the rows' readings can be checked against it; '' where no row uses a class."""
    if s.label is None or (kind == SAMPLERS_ROWS and not s.guidance):
        return ""
    asked = " ".join(map(str, random_labels(s.seed, s.n, num_classes).tolist())) if s.label == RANDOM else s.label
    return f" (asked for {asked}{'; w = 0 ignores it' if kind == GUIDANCE_ROWS else ''})"


def row_title(kind: str, r: Settings) -> str:
    """A row's title: what differs between the rows (w, or the sampler and its steps)."""
    if kind == GUIDANCE_ROWS:
        return f"w = {r.guidance:g}" + {0.0: " (the null class)", 1.0: " (the class, unguided)"}.get(r.guidance, "")
    return f"{r.sampler.upper()}, {r.steps} steps" + (f", eta {r.eta:g}" if r.eta else "")


def shared_settings(kind: str, r: Settings) -> str:
    """In words, the settings every row shares (those row_title leaves out)."""
    what = r.class_words()
    if kind == SAMPLERS_ROWS:
        shared = [what]
        if r.label is not None:
            shared.append(f"w = {r.guidance:g}" + (" (which ignores the class)" if r.guidance == 0 else ""))
    else:
        shared = [f"{r.sampler.upper()}, {r.steps} steps"] + ([f"eta {r.eta:g}"] if r.eta else []) + [what]
    if r.autoguidance != 1:
        shared.append(f"autoguidance {r.autoguidance:g}")
    return ", ".join(shared)


@torch.inference_mode()
def compare_stream(model, sched: NoiseSchedule, kind: str, rows: list[Settings], classifier=None
                   ) -> Iterator[Progress | Comparison]:
    """Run each row's reverse chain from the same x_T; a Progress every few steps, then the Comparison (with a
    classifier, its text says which digits each row drew: the picture in words)."""
    ticker, finished, read = Ticker(sum(r.steps for r in rows)), [], []
    for r in rows:
        last = None
        for last in sample_loop(model, sched, r.n, r.seed, **r.sampler_kwargs()):
            if ticker.due():
                yield Progress(f"Row {len(finished) + 1} of {len(rows)} ({row_title(kind, r)}): step "
                               f"{last.index + 1} of {last.num_steps}, {ticker.elapsed()}")
        x0 = last.x_prev.clamp(-1, 1).cpu()  # (n, 1, 28, 28)
        finished.append(draw.titled(draw.digits(x0, cols=r.n, scale=3), row_title(kind, r)))
        if classifier is not None:
            read.append((row_title(kind, r), readings(classifier, x0)))
    first = rows[0]
    says = samplers_say(sched.T, first.label if first.guidance else None) if kind == SAMPLERS_ROWS else GUIDANCE_SAYS
    if kind == GUIDANCE_ROWS and first.label == RANDOM:
        says += (f" Each {first.noun}'s class is drawn from (seed, k), the same in every row; for one class, choose it "
                 "in the class menu.")
    asked = asked_words(kind, first, model.config.num_classes)
    rows_read = "; ".join(f"{title}: {' '.join(digits)}" for title, digits in read)
    marks = unsure([d for _, digits in read for d in digits])
    said = f" The MNIST classifier reads the rows{asked} as {rows_read}.{marks}" if read else ""
    yield Comparison(draw.vstack(finished, gap=4),
                     f"Seed {first.seed}, {first.n} {first.noun}{'s' * (first.n != 1)} a row, "
                     f"{shared_settings(kind, first)}; done in {ticker.elapsed()}.{said} {first.noun.capitalize()} "
                     f"k of every row starts from the same noise x_T, that of (seed, k): {worded(says)}")
