"""Tab 4, noise and denoise your digit: q(x_t | x_0) to a chosen t, then the reverse chain from x_t.

Small t gives the same digit back; large t forgets it and the model invents a new one. The noise
eps is the same draw as in tab 1 for the same seed (forward.fixed_eps).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import numpy as np
import torch
from PIL import Image

from ..images import to_uint8_np
from ..samplers import (Step, check_request, check_sampling, guided_eps, reverse_step, reverse_timesteps,
                        sample_generators, sample_loop, steps_run)
from ..schedule import NoiseSchedule
from . import draw
from .forward import digit_tensor, fixed_eps, jump
from .generate import Settings, check_settings, readings, unsure
from .limits import MAX_DIGIT_STEPS, EmptyBox, InputError, MissingInput, check_int
from .progress import Progress, Ticker, finish
from .sources import pick_digit, worded

STRIP = 10  # columns "as t grows"
REVERSE_FIRST = 1  # a chain's reverse noise: the generator of (seed, 1); (seed, 0) drew the forward eps


class RoundtripOut(NamedTuple):
    """Tab 4's outputs in app.py, in the order of its event's output list."""
    x0: Any
    main: Any
    strip: Any
    text: Any


@dataclass
class RoundTrip:
    main: Image.Image  # x_0 | x_t | denoised, at the chosen t
    strip: Image.Image  # the same for t = T/10 .. T
    text: str
    summary: str = ""  # the text without its time (the app's start-up run is not timed for a user)


KEEP = object()  # an output after_digit_change leaves as it is (app.py: gr.skip())
RUNNING = "Denoising"  # how tab 4's progress captions begin while a run goes (roundtrip_stream, interpolate_stream)


def digit_changed(source: str, index=0, upload=None, sketch=None, last: np.ndarray | None = None
                  ) -> tuple[str | None, np.ndarray | None]:
    """Tab 4 once its digit's inputs move: (text, digit). A new digit: the last run's pictures go, and text says to
    press the button or, for a digit that cannot be used, why, in the words of the warning its preview shows. text
    None: they stay, with their caption, as the digit is `last`, the one the inputs last gave (the pictures shown are
    of it, or gone: a number emptied and typed again), or its number box is being typed into (emptied, or typed past
    its ends: the preview says why and the box goes back). digit: the digit now given (None if none), the next
    change's `last`."""
    try:
        if getattr(index, "refusal", None):  # the box emptied or typed past its ends (widgets.OutOfRange)
            return None, last
        digit = pick_digit(source, index, upload, sketch)
    except EmptyBox:  # a number being typed (the API's None)
        return None, last
    except MissingInput as e:  # no upload or drawing yet
        return f"*{e}*", None
    except InputError as e:  # a blank upload, a number refused
        return worded("*The new digit cannot be used: ") + f"{e}*", None
    if last is not None and np.array_equal(digit, last):
        return None, last
    return worded("*The digit changed: press **Noise and denoise** to run the chain on it.*"), digit


def stopped(caption, button: str, pictures: bool):
    """A caption that tab 4's change of digit leaves: as it is, unless it is a run's progress line, as the change
    stopped that run (app.py cancels it), so that it does not read as a run still going."""
    if isinstance(caption, str) and caption.startswith(RUNNING):
        before = " (the pictures are the run before it)" if pictures else ""
        return worded(f"*Stopped as the digit's inputs changed{before}: press **{button}** to run it again.*")
    return caption


@dataclass
class DigitMemo:
    """What tab 4 keeps across changes of its digit: the digit its inputs last gave, and the last run put away when
    they left it (that digit, and the five outputs after_digit_change takes), to be shown again if they come back to
    it: 61 -> 6 -> 61 as a number is typed over, an upload taken off and put back. changes: [how many times the
    inputs have moved], one list handed on from memo to memo: a run yields no more once they move (until_left).
    shown: what tab 4 shows now, by SHOWN's names, noted on the server as it goes out (shows): the page's pictures are
    not sent back, as inputs of a change event they let any caller have images of any size decoded outside the
    queue and kept in the session. One dict handed on, as changes is."""
    last: np.ndarray | None
    kept: tuple[np.ndarray, tuple] | None = None
    changes: list[int] = field(default_factory=lambda: [0])
    shown: dict = field(default_factory=dict)

    def __deepcopy__(self, memo: dict) -> "DigitMemo":
        """gr.State's copy for each new session: its own count and notes, the pictures shared (never changed in
        place): a copy of the start-up run's was 450 KB a session, for sessions kept an hour."""
        return DigitMemo(self.last, self.kept, list(self.changes), dict(self.shown))


SHOWN = ("main", "strip", "text", "mix", "mix_text")  # the outputs after_digit_change takes, in its order


def shows(memo: DigitMemo | None, **outputs) -> None:
    """Note in memo.shown what tab 4 now shows; an output left as it is (KEEP, gr.skip()'s dict) keeps its note."""
    if memo is not None:
        memo.shown.update({k: v for k, v in outputs.items()
                           if k in SHOWN and v is not KEEP and not isinstance(v, dict)})


def shown_as_it_goes(*names: str):
    """A tab 4 run (a generator whose last argument is the memo) whose outputs, in `names`' order, are noted in
    memo.shown as each goes out."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args):
            for out in fn(*args):
                shows(args[-1] if args and isinstance(args[-1], DigitMemo) else None, **dict(zip(names, out)))
                yield out
        return run
    return wrap


def digit_change_outputs(source, index, upload, sketch, memo: DigitMemo) -> tuple:
    """after_digit_change on what tab 4 shows (memo.shown), the outputs it returns noted as shown."""
    *outputs, new = after_digit_change(source, index, upload, sketch, memo, *(memo.shown.get(k) for k in SHOWN))
    shows(new, **dict(zip(SHOWN, outputs)))
    return (*outputs, new)


def until_left(stream: Iterator, memo: DigitMemo | None) -> Iterator:
    """`stream`'s items until tab 4's digit inputs change (memo.changes moves on from its count as the run began):
    the change cancels the run, but a caption yielded before the cancel lands would be shown over the change's own
    ("Denoising ... step 48 of 50" under emptied pictures, as if the run hung), and a last picture over the emptied
    ones. A run begun after the change, even from the memo before it, goes on."""
    began = None if memo is None else memo.changes[0]
    for item in stream:
        if memo is not None and memo.changes[0] != began:
            return
        yield item


def _grey(picture):
    """An output picture as shown (a PIL image, or an RGB array), kept as the grey PNG it was: a third the memory."""
    return None if picture is None else Image.fromarray(np.asarray(picture)).convert("L")


def after_digit_change(source, index, upload, sketch, memo: DigitMemo, *shown) -> tuple:
    """Tab 4's outputs once its digit's inputs move, from those `shown` (the round trip's main picture, strip and
    text, the interpolation's picture and text), then the new DigitMemo (an output KEEP is left as it is). The same
    digit keeps them (digit_changed); a new one puts them away and empties them, as tab 1's views follow the digit,
    and the digit they were put away with brings them back."""
    main, strip, text, i_image, i_text = shown
    pictures = main is not None or i_image is not None
    said, digit = digit_changed(source, index, upload, sketch, memo.last)
    if said is None:  # the same digit: a run going may go on (a late change event would stop one just pressed)
        return (KEEP, KEEP, stopped(text, "Noise and denoise", main is not None), KEEP,
                stopped(i_text, "Interpolate", i_image is not None),
                DigitMemo(digit, memo.kept, memo.changes, memo.shown))
    memo.changes[0] += 1  # a new digit: the runs going stop yielding (until_left); the memos returned share the count
    kept = memo.kept
    if memo.last is not None and pictures:  # the last digit's run, put away
        kept = (memo.last, (_grey(main), _grey(strip), stopped(text, "Noise and denoise", main is not None),
                            _grey(i_image), stopped(i_text, "Interpolate", i_image is not None)))
    if digit is not None and kept is not None and np.array_equal(digit, kept[0]):  # back to it: shown again
        return (*kept[1], DigitMemo(digit, None, memo.changes, memo.shown))
    return None, None, said, None, "", DigitMemo(digit, kept, memo.changes, memo.shown)


def denoise_steps(model, sched: NoiseSchedule, x_t: torch.Tensor, t: int, s: Settings) -> Iterator[Step]:
    """The reverse chain from x_t at paper t (code index t - 1) down to x_0, step by step: min(steps, t) steps
    (DDPM: t), the last one's x_prev is x_0. It samples the null class (any digit): the label and guidance of
    `s` are not used here.

    Its noise comes from the generators of (seed, 1), (seed, 2), ...: the generator of (seed, 0) drew the
    forward eps (forward.fixed_eps), and reusing it would make the first reverse step's noise that same eps."""
    return sample_loop(model, sched, x_t.shape[0], s.seed, sampler=s.sampler, steps=s.steps, eta=s.eta,
                       x_start=x_t, t_start=t - 1, first=REVERSE_FIRST)


def chains(model, sched: NoiseSchedule, noisy: list[torch.Tensor], starts: list[int], s: Settings
           ) -> Iterator[tuple[list[int], list[torch.Tensor]]]:
    """denoise_steps for every x_u in `noisy` ((1, 1, 28, 28) each, at paper t = u in `starts`), run as one batch:
    the chains are lined up to end together, each joining the batch when as many steps are left as it has, and one
    network pass serves every chain running, each at its own t (the longest chain's number of passes, not the sum of
    all of theirs: with DDPM every chain running is at the same t). Chain j draws its noise from its own copy of the
    generator of (seed, REVERSE_FIRST), in the order it would alone, so it ends where denoise_steps ends it (up to
    the float rounding of a batch of another size). Yields (the code t each running chain has just left, the chains'
    x) after each step; at the end each x is its chain's x_0."""
    check_sampling(model, s.sampler)  # as sample_loop does: dropout in training mode would not follow the seed
    check_request(model.config, sched.T, 1, s.sampler, s.steps, None, 1.0, s.eta, from_noise=False)  # and eta
    paths = [reverse_timesteps(s.sampler, u - 1, s.steps) for u in starts]  # each chain's code t's, as alone
    n = max(map(len, paths))
    gens = [sample_generators(s.seed, 1, REVERSE_FIRST)[0] for _ in starts]
    x = [x_u.to(next(model.parameters()).device) for x_u in noisy]
    joins = [n - len(path) for path in paths]  # the step at which chain j joins, so that all end together
    for i in range(n):
        running = [j for j in range(len(paths)) if i >= joins[j]]
        ks = [i - joins[j] for j in running]  # each running chain's own step
        ts = [paths[j][k] for j, k in zip(running, ks)]
        x_t = torch.cat([x[j] for j in running])  # (len(running), 1, 28, 28)
        eps_hat = guided_eps(model, x_t, torch.tensor(ts), None)  # the null class, each chain at its own t
        for row, (j, k, t) in enumerate(zip(running, ks, ts)):
            t_prev = paths[j][k + 1] if k + 1 < len(paths[j]) else -1
            # reverse_step's variance and clipping, as sample_loop's defaults (denoise_steps) are
            x[j], _ = reverse_step(sched, x_t[row:row + 1], t, t_prev, eps_hat[row:row + 1], [gens[j]], s.sampler,
                                   s.eta)
        yield ts, x


def chain_settings(seed, sampler, steps, T: int) -> Settings:
    """Tab 4's settings for one chain from x_t (checked): the null class, so no label and no guidance."""
    return check_settings(seed, 1, sampler, steps, "any", 1.0, T)


def check_chains(starts: list[int], s: Settings, what: str) -> None:
    """Tab 4's chains from these paper t's (one batch), refused past the digit-steps one run may ask: the strip's
    chains run up to T, so on a long chain (T = 4000) DDPM would hold the model for minutes."""
    cost = sum(steps_run(s.sampler, s.steps, u - 1) for u in starts)
    if cost > MAX_DIGIT_STEPS:
        raise InputError(worded(f"{what}, {s.sampler.upper()} from t = {max(starts)} down, ask {cost:,} digit-steps: "
                                f"more than one run may ask of this shared CPU ({MAX_DIGIT_STEPS:,}); choose DDIM "
                                "with fewer steps" + (", or a smaller t" if len(set(starts)) == 1 else "")))


def chain_words(s: Settings, t: int) -> str:
    """How the chain from x_t at paper t runs, in words: 'all 300 steps (DDPM)' or '20 DDIM steps' (min(steps, t))."""
    n = steps_run(s.sampler, s.steps, t - 1)
    if s.sampler == "ddpm":
        return f"all {n} steps (DDPM)" if n != 1 else "1 step (DDPM)"
    return f"{n} DDIM step{'s' * (n != 1)}"


def strip_ts(T: int, n: int = STRIP) -> list[int]:
    """The paper t's the strip noises to and denoises from: n evenly spaced up to T, at least 1 (a chain from t = 0
    has no step), each once (a model of T < n timesteps has fewer)."""
    return sorted({max(1, int(v)) for v in np.linspace(T / n, T, n).round()})


@torch.inference_mode()
def roundtrip_stream(model, sched: NoiseSchedule, x0_u8: np.ndarray, t, s: Settings, classifier=None
                     ) -> Iterator[Progress | RoundTrip]:
    """Noise uint8 (28, 28) x0 to paper t with the fixed eps of s.seed, denoise, and repeat across t; yield a
    Progress every few steps of the 1 + STRIP chains (ddpm.demo.progress), then the RoundTrip (with a classifier,
    its text says which digit each chain came back as: the pictures in words)."""
    t = check_int("t", t, 1, sched.T)
    x0 = digit_tensor(x0_u8)  # (1, 1, 28, 28)
    eps = fixed_eps(s.seed, x0.shape)
    ts = strip_ts(sched.T)
    starts = [t, *ts]  # the chosen t, then the strip's
    check_chains(starts, s, f"Your chain and the strip's {len(ts)} chains")
    noisy = [jump(sched, x0, u, eps) for u in starts]  # (1, 1, 28, 28) each: x_t at each start
    ticker = Ticker(max(steps_run(s.sampler, s.steps, u - 1) for u in starts))  # passes: the longest chain's steps
    for now, x in chains(model, sched, noisy, starts, s):
        if ticker.due():
            # DDPM's chains all leave code t = now[0] together, landing at the paper's t = now[0]
            at = f"now at t = {now[0]}" if s.sampler == "ddpm" else "each on its own DDIM steps"
            yield Progress(f"Denoising: {len(now)} of {len(starts)} chains as one batch, {at}, step {ticker.done} of "
                           f"{ticker.total}, {ticker.elapsed()}")
    back = [x_0.clamp(-1, 1).cpu() for x_0 in x]  # (the model's device: the pictures and the classifier are the CPU's)
    main = draw.hstack([
        draw.titled(draw.digits(x0, scale=6), worded("x_0, your digit")),
        draw.titled(draw.digits(noisy[0].clamp(-1, 1), scale=6), f"x_t, t = {t}"),
        draw.titled(draw.digits(back[0], scale=6), "denoised from x_t"),
    ])
    labels = [f"t={u}" for u in ts]
    noised = worded("x_t: the digit noised to t (same eps)")
    strip = draw.titled_rows([
        (draw.labelled_strip(to_uint8_np(torch.cat(noisy[1:])), labels), noised),
        (draw.labelled_strip(to_uint8_np(torch.cat(back[1:])), labels), "the reverse chain from x_t"),
    ])
    run = (f"Noised to t = {t} with seed {s.seed}, then denoised with {chain_words(s, t)}; the strip's "
           f"{len(starts) - 1} chains each start from their own t.")
    run += f" {came_back(classifier, x0, back, t, ts)}" if classifier is not None else ""
    reading = worded("Small t keeps your digit; as t nears T the model sees less of it and draws a digit of its own, "
                     "which the seed picks (the seed fixes the noise): try other seeds there to see other digits.")
    yield RoundTrip(main, strip, f"{run} All {len(starts)} took {ticker.elapsed()}. {reading}", f"{run} {reading}")


def came_back(classifier, x0: torch.Tensor, back: list[torch.Tensor], t: int, ts: list[int]) -> str:
    """What the MNIST classifier reads in your digit x0 (1, 1, 28, 28) and in each chain's end (back: yours from
    t, then the strip's from each of ts), all in [-1, 1]."""
    read = readings(classifier, torch.cat([x0, *back]))  # (2 + len(ts),)
    yours, back_t = read[:2]  # the class, not the picture, comes back: a 7 as another 7
    a = "an" if yours.rstrip("?") == "8" else "a"
    if "?" in yours + back_t:  # either unsure: no fact made of it
        kept = "read the same" if yours.rstrip("?") == back_t.rstrip("?") else "read as another digit"
    else:
        kept = f"{'still' if back_t == yours else 'no longer'} {a} {yours}"
    return (f"The MNIST classifier reads your digit as {yours} and the one denoised from t = {t} as {back_t} "
            f"({kept}); the strip's, from t = {ts[0]} to {ts[-1]}, as {' '.join(read[2:])}.{unsure(read)}")


def roundtrip(model, sched: NoiseSchedule, x0_u8: np.ndarray, t, s: Settings, classifier=None) -> RoundTrip:
    """roundtrip_stream without the progress: the RoundTrip."""
    return finish(roundtrip_stream(model, sched, x0_u8, t, s, classifier))
