"""Tab 3, one seeded trajectory: x_t | x0_hat | eps_hat at every kept step, a GIF, and
"when is the digit decided?" from an MNIST classifier applied to x0_hat.

Frames show t as in the paper: the step that denoises code index t goes from x_{t+1} to x_{t_prev+1} (to x_t for
DDPM, whose t_prev is t - 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..classifier import predict
from ..images import grid_cols, to_uint8_np
from ..samplers import RANDOM, random_labels, sample_loop
from ..schedule import NoiseSchedule
from . import draw
from .forward import MARKER_COLOR
from .generate import Settings
from .limits import MAX_FRAMES, InputError, MissingInput, check_float, shown
from .progress import Progress, Ticker, finish

PLOT_POINTS = 200  # points per class curve
FILM_COLUMNS = 11  # stills in the film strip, t = 0 .. T
PLOT_MIN_P = 0.05  # the legend names the classes that reach this: short enough for a phone
NOW = "t shown"  # the decision plot's marker of the slider's t (a series of its own, left out of the legend)
# one fixed colour per digit, so a digit keeps its colour from run to run: matplotlib's tab10, but 7 in tab20b's dark
# olive (tab10's grey is the marker's, and a violet would sit too near 4's), and 1, 6, 8 and 9 darker, as tab10's
# orange, pink, yellow olive and cyan were below 3:1 on white; 8 a periwinkle, as a gold beside 1's orange and 3's
# red was one colour to a deuteranope (and 3 and 8, 1 and 8 are the pairs a digit hesitates between)
DIGIT_COLORS = dict(zip("0123456789", ["#1f77b4", "#c45a00", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#c2187a",
                                       "#637939", "#7f7fff", "#00838f"])) | {NOW: MARKER_COLOR}


class TrajectoryOut(NamedTuple):
    """Tab 3's outputs in app.py, in the order of its event's output list."""
    panel: Any
    frame: Any
    gif: Any
    plot: Any
    decided: Any
    status: Any
    seed: Any
    film: Any  # x_t and x0_hat of the first digit at a few t's (after the older outputs: API callers' places stay)
    state: Any  # the finished Trajectory, for the frame slider


@dataclass
class Trajectory:
    t: list[int]  # paper t of each frame's x_t (0 for the final frame)
    x_t: np.ndarray  # uint8 (F, n, 28, 28)
    x0_hat: np.ndarray  # uint8 (F, n, 28, 28)
    eps_hat: np.ndarray  # uint8 (F, n, 28, 28), eps_hat / 3 mapped to black..white
    probs_t: list[int] = field(default_factory=list)  # paper t of every step (not only kept frames)
    probs: np.ndarray | None = None  # (steps, 10) classifier probabilities on x0_hat of digit 0
    summary: str = ""  # the run in words, without its time (the app's start-up run is not timed for a user)
    given: int | None = None  # the class the first digit was asked for (a label, or random's, with w > 0), if any
    took: str = ""

    @property
    def frames(self) -> int:
        return len(self.t)

    @property
    def text(self) -> str:
        return f"{self.summary} in {self.took}."


def keep_every(num_steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Store every k-th step so a run keeps at most max_frames of them (plus its last step and the final x_0)."""
    return max(1, math.ceil(num_steps / max_frames))


@torch.inference_mode()
def trajectory_stream(model, sched: NoiseSchedule, s: Settings, classifier=None,
                      max_frames: int = MAX_FRAMES) -> Iterator[Progress | Trajectory]:
    """Run one seeded reverse chain and keep frames every k steps (k = keep_every); every few steps, yield a
    Progress with the step's x_t | x0_hat | eps_hat (ddpm.demo.progress), so x0_hat can be watched as it
    emerges; then the Trajectory."""
    k = keep_every(s.steps, max_frames)
    ticker = Ticker(s.steps, first=True)  # the first step too: its x0_hat is already a guess
    ts, xs, x0s, epss, first_x0, all_t = [], [], [], [], [], []
    step = None
    for step in sample_loop(model, sched, s.n, s.seed, **s.sampler_kwargs()):
        if ticker.due():
            now = three_panels(to_uint8_np(step.x_t), to_uint8_np(step.x0_hat), draw.eps_to_uint8(step.eps_hat),
                               f"x_t, t = {step.paper_t}")
            yield Progress(f"Denoising: step {step.index + 1} of {step.num_steps} (t = {step.paper_t}), "
                           f"{ticker.elapsed()}", now)
        first_x0.append(step.x0_hat[:1])
        all_t.append(step.paper_t)
        if step.index % k == 0 or step.index == step.num_steps - 1:
            ts.append(step.paper_t)
            xs.append(to_uint8_np(step.x_t))
            x0s.append(to_uint8_np(step.x0_hat))
            epss.append(draw.eps_to_uint8(step.eps_hat))
    final = to_uint8_np(step.x_prev)  # x_0, the sample
    ts.append(0)
    xs.append(final)
    x0s.append(final)
    epss.append(epss[-1])
    traj = Trajectory(ts, np.stack(xs), np.stack(x0s), np.stack(epss))
    if classifier is not None:
        traj.probs_t = all_t
        logits = predict(classifier, torch.cat(first_x0), batch_size=100)  # 1000 steps at once: +170 MB at its peak
        traj.probs = torch.softmax(logits.float(), dim=1).numpy()
    if s.label is not None and s.guidance:  # the first digit's class (random's: drawn from (seed, 0))
        traj.given = int(random_labels(s.seed, 1, model.config.num_classes)[0] if s.label == RANDOM else s.label)
    kept = "every step" if k == 1 else f"every {k} steps" + (", the last step" if (s.steps - 1) % k else "")
    traj.summary, traj.took = f"{s.describe()}; {traj.frames} frames ({kept} and the final x_0)", ticker.elapsed()
    yield traj


def run_trajectory(model, sched: NoiseSchedule, s: Settings, classifier=None, max_frames: int = MAX_FRAMES) -> Trajectory:
    """trajectory_stream without the progress: the Trajectory."""
    return finish(trajectory_stream(model, sched, s, classifier, max_frames))


def frame_panel(traj: Trajectory, i: int) -> Image.Image:
    """Frame i as three synchronised panels: x_t | x0_hat | eps_hat. i past either end shows the end frame
    (a slider left where a longer run had it)."""
    last = _finished(traj).frames - 1
    i = int(np.clip(round(_number("frame", i, last)), 0, last))
    t = traj.t[i]
    # nothing is predicted at t = 0: the final frame repeats the last step's eps_hat, and says so
    if t == 0:
        return three_panels(traj.x_t[i], traj.x0_hat[i], traj.eps_hat[i], "x_0 (final sample)",
                            f"eps_hat of the last step (t = {traj.t[i - 1]})" if i else "eps_hat (predicted noise)",
                            x0_label="x_0 again (nothing left to predict)")
    return three_panels(traj.x_t[i], traj.x0_hat[i], traj.eps_hat[i], f"x_t, t = {t}")


def frame_slider(traj: Trajectory) -> dict:
    """The frame slider's range for a run, at its final sample (t = 0), and its step: the t between two kept frames
    (the most common gap), so that an arrow key moves it one frame, not one t of the 20 between DDIM 50's frames;
    less where a frame would be no stop's nearest (DDPM's last step, t = 1; DDIM 7's t = T): every frame is reached."""
    top = int(traj.t[0])
    step = max(1, int(np.median(-np.diff(traj.t)))) if len(traj.t) > 1 else 1
    while step > 1 and len({nearest_frame(traj, stop) for stop in range(0, top + 1, step)}) < len(traj.t):
        step -= 1
    return dict(maximum=top, value=0, step=step)


def nearest_frame(traj: Trajectory, t) -> int:
    """The kept frame nearest to paper t (the slider's t: T is pure noise, 0 the sample); frame_panel shows it."""
    return int(np.argmin(np.abs(np.asarray(_finished(traj).t) - _number("t", t, traj.t[0]))))


def _finished(traj: Trajectory | None) -> Trajectory:
    """traj, or why there is none to show (frame_panel and nearest_frame called without a run; the app's state
    starts as its start-up run, and app.scrub says why while a run is going)."""
    if traj is None:
        raise MissingInput("No trajectory yet: run one first.")
    return traj


def _number(name: str, value, top: int) -> float:
    """value as a finite float (a slider past either end is clamped by the caller); the message names 0..top."""
    try:
        return check_float(name, value, -math.inf, math.inf)
    except InputError:
        raise InputError(f"{name} must be a number between 0 and {top}, not {shown(value)}") from None


def three_panels(x_t: np.ndarray, x0_hat: np.ndarray, eps_hat: np.ndarray, x_label: str,
                 eps_label: str = "eps_hat (predicted noise)", x0_label: str = "x0_hat (predicted x_0)") -> Image.Image:
    """uint8 (n, 28, 28) each, as three grids side by side: x_t | x0_hat | eps_hat."""
    cols, target = grid_cols(x_t.shape[0]), 224
    return draw.hstack([
        draw.titled(draw.digits(x_t, cols=cols, target=target), x_label),
        draw.titled(draw.digits(x0_hat, cols=cols, target=target), x0_label),
        draw.titled(draw.digits(eps_hat, cols=cols, target=target), eps_label),
    ])


def film_frames(traj: Trajectory, columns: int = FILM_COLUMNS) -> list[int]:
    """At most `columns` kept frames, the nearest to t evenly spread from 0 to T (t = 0, 100, ..., 1000, not
    whichever t every k-th frame has), in the order the film shows them: t = 0 (the sample) first."""
    targets = np.linspace(0, traj.t[0], min(columns, traj.frames))
    return list(dict.fromkeys(nearest_frame(traj, t) for t in targets))  # each frame once, in order


def film_strip(traj: Trajectory, columns: int = FILM_COLUMNS) -> Image.Image:
    """The first digit's reverse chain as stills at `columns` kept frames: x_t above, x0_hat below, t = 0 (the sample)
    on the left and t = T on the right, as the slider and the plot run."""
    idx = film_frames(traj, columns)
    labels = [f"t={traj.t[i]}" for i in idx]
    return draw.titled_rows([(draw.labelled_strip(traj.x_t[idx, 0], labels), "x_t"),
                             (draw.labelled_strip(traj.x0_hat[idx, 0], labels), "x0_hat")])


def save_gif(traj: Trajectory, path: str | Path, ms: int = 80, hold_ms: int = 1500) -> Path:
    """All frames as an animated GIF (Pillow), looping, holding the final sample a moment. optimize: each frame after
    the first carries only the pixels that changed (the rest transparent, over the frame before), in a palette of
    the greys it uses: the same pixels, the start-up run's GIF 40% smaller (1.57 to 0.93 MB for a phone's link)."""
    frames = [frame_panel(traj, i) for i in range(traj.frames)]
    # a GIF is its first frame's size, and a frame wider is cut: the final one's longer labels ("eps_hat of the last
    # step (t = 1)") made it the widest, its label cut short for the moment the sample is held. All as wide as it
    size = (max(f.width for f in frames), max(f.height for f in frames))
    frames = [f if f.size == size else _padded(f, size) for f in frames]
    durations = [ms] * (len(frames) - 1) + [hold_ms]
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)
    return path


def _padded(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """img at the top left of a frame of `size`, the rest the panels' background."""
    out = Image.new(img.mode, size, draw.BG)
    out.paste(img, (0, 0))
    return out


def decision_plot(traj: Trajectory, at: int = 0) -> pd.DataFrame | None:
    """Long-form (t, probability, digit) for gr.LinePlot: P(class | x0_hat_t) for digit 0 of the run, every class,
    and the vertical segment of the NOW series at t = `at` (the slider's t)."""
    if traj.probs is None:
        return None
    idx = np.unique(np.linspace(0, len(traj.probs_t) - 1, min(PLOT_POINTS, len(traj.probs_t))).round().astype(int))
    t = np.asarray(traj.probs_t)[idx]
    return pd.concat([pd.DataFrame({"t": t, "probability": traj.probs[idx, c], "digit": str(c)}) for c in range(10)]
                     + [pd.DataFrame({"t": [at, at], "probability": [0.0, 1.0], "digit": NOW})], ignore_index=True)


def decision_legend(traj: Trajectory) -> list[str] | None:
    """The classes whose probability reaches PLOT_MIN_P somewhere (never none: ten p's sum to 1); the others stay
    flat near 0 and are left out of the plot's legend."""
    if traj.probs is None:
        return None
    return [str(c) for c in range(10) if traj.probs[:, c].max() >= PLOT_MIN_P]


def reading_at(traj: Trajectory, i: int) -> str:
    """What the classifier reads the first digit's x0_hat as at frame i (the slider's t), in words: the plot's line
    at t for a screen reader, and the figure behind it. The final frame, x_0, is read by its last step's x0_hat."""
    if traj.probs is None:
        return ""
    t = traj.t[i]
    j = traj.probs_t.index(t) if t else len(traj.probs_t) - 1  # every kept frame's t is one step's
    p = traj.probs[j]
    first, second = (int(c) for c in np.argsort(p)[::-1][:2])
    at = f"At t = {t}" if t else f"At the last step (t = {traj.probs_t[j]}; the frame shown is its x_0)"
    return (f"{at} the classifier reads {_whose(traj)} as {first} (p = {p[first]:.2f}; next {second}, "
            f"p = {p[second]:.2f}).")


def decision_text(traj: Trajectory, i: int) -> str:
    """Tab 3's words under the plot for frame i: the reading at its t, then when the digit was decided."""
    return "\n\n".join(filter(None, [reading_at(traj, i), decided_at(traj)]))


def _whose(traj: Trajectory) -> str:
    """Whose x0_hat the classifier read: the first digit's, of several (it follows digit 0 only)."""
    return "the first digit's x0_hat" if traj.x_t.ndim > 1 and traj.x_t.shape[1] > 1 else "x0_hat"


def decided_at(traj: Trajectory) -> str:
    """The largest t from which the final class keeps more than half the probability to the end, the other digits
    the classifier read x0_hat as before it, and the class asked for if the classifier reads another. No such t when
    the final class held it from the chain's start, where x0_hat is a blur: of the class asked for (the label picked
    the digit), or of all digits, which the bundled classifier reads as an 8 most of the time (55 of 64 seeds)."""
    if traj.probs is None:
        return ""
    final = int(traj.probs[-1].argmax())
    above = traj.probs[:, final] > 0.5
    if not above[-1]:
        return f"The classifier is unsure even at the end (best guess {final}, p = {traj.probs[-1, final]:.2f})."
    first = len(above) - int(np.argmin(above[::-1])) if not above.all() else 0  # first index of the final run
    whose = _whose(traj)
    a = "an" if final == 8 else "a"
    other = (f" The class asked for was {traj.given}, which the classifier does not read in the end."
             if traj.given not in (None, final) else "")
    if traj.given == final and above[0]:  # x0_hat at t = T (E[x_0 | x_T, label]) already sketches that class
        dips = int((~above).sum())
        rest = "one" if dips == 1 else dips  # (`other`, above, is the class-asked sentence)
        steps = (f" It does so at {len(above) - dips} of the {len(above)} steps, and for good from t = "
                 f"{traj.probs_t[first]}; at the other {rest}, this classifier, which saw clean digits only, reads "
                 "the blurry or speckled x0_hat otherwise.") if dips else ""
        return (f"The classifier reads {whose} as {a} **{final}**, the class asked for, with p > 0.5"
                f"{'' if dips else ' at every step'}, from the chain's start at t = {traj.probs_t[0]}, where x0_hat is "
                f"already a rough sketch of that class: the label picked this digit.{steps}")
    if first == 0:  # from the chain's start, where x0_hat is a blur (E[x_0 | x_T], about the mean digit)
        start = (f"The classifier reads {whose} as {a} **{final}** with p > 0.5 at every step, from the chain's start "
                 f"at t = {traj.probs_t[0]}, where x0_hat is still a blur")
        of = "of all digits," if traj.given is None else f"of the class asked for, {traj.given},"
        return (f"{start} {of} which this classifier, trained on clean digits only, reads as {a} {final}: here its "
                f"probabilities cannot tell when the digit was decided (another seed shows it).{other}")
    text = (f"The classifier reads {whose} as {a} **{final}** with p > 0.5 from t = "
            f"{traj.probs_t[first]} onward (the chain starts at t = {max(traj.probs_t)}); after that the steps only "
            "refine its strokes.")
    early = traj.probs[:first]
    earlier = sorted({int(c) for c, p in zip(early.argmax(1), early.max(1)) if p > 0.5 and c != final})
    if earlier:  # the classifier only ever saw clean digits: on a blurry (or, at a high w, speckled) x0_hat it guesses
        text += (f" Before that it read {whose} with p > 0.5 as {' or '.join(map(str, earlier))}: this classifier "
                 "saw clean digits only, so on a blurry or speckled x0_hat its probabilities are a guess, not a "
                 "decision.")
    return text + other
