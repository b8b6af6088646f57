"""Time each app tab's main action with its default settings, as the app runs it (no Gradio).

    python -m ddpm.demo.timing               # medians of 3 runs, interleaved, on the app's model ($DDPM_MODEL
                                             # if set, else the bundled weights)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..cli_args import positive_int, stopped
from ..hub import ModelLoadError
from .compare import SWEPT, compare_rows, compare_stream
from .forward import forward_view
from .generate import DEFAULT_GUIDANCE, DEFAULT_LABEL, DEFAULT_SAMPLER, check_settings, default_steps, generate
from .bits import bits_text
from .interpolate import COLUMNS, default_t, interpolate_stream
from .objective import objective_view
from .roundtrip import chain_settings, roundtrip
from .runtime import load_runtime
from .sources import EXAMPLE, example_digit, pick_digit
from .progress import finish
from .trajectory import film_strip, run_trajectory, save_gif


def actions(rt, gif: Path) -> dict:
    """The default action of each tab (the settings app.py starts with); tab 3 writes its GIF to `gif`."""
    T, digit = rt.T, pick_digit(EXAMPLE, 0)
    steps = default_steps(T)
    choice = (DEFAULT_SAMPLER, steps, DEFAULT_LABEL, DEFAULT_GUIDANCE)
    grid, one = check_settings(0, 16, *choice, T), chain_settings(0, DEFAULT_SAMPLER, steps, T)
    sevens = check_settings(0, 16, DEFAULT_SAMPLER, steps, "7", DEFAULT_GUIDANCE, T)
    what = f"{DEFAULT_SAMPLER.upper()} {steps}"

    def compare(kind, s):
        return lambda: finish(compare_stream(rt.model, rt.sched, kind, compare_rows(kind, s, T), rt.classifier))

    def trajectory():
        traj = run_trajectory(rt.model, rt.sched, one, rt.classifier)
        return save_gif(traj, gif), film_strip(traj)

    return {
        "1 forward process (t = T/4)": lambda: forward_view(digit, rt.sched.kind, T // 4, 0, T),
        "1 what the network learns (t = T/4)": lambda: objective_view(rt.model, rt.sched, digit, T // 4, 0),
        "1 the bound on -log p(x_0) (T network passes)": lambda: bits_text(rt.model, rt.sched, digit, 0),
        f"2 generate, 16 digits, {what}": lambda: [None for _ in generate(rt.model, rt.sched, grid,
                                                                           classifier=rt.classifier)],
        "2 compare the samplers, 6 digits a row": compare("samplers", grid),
        f"3 x0-hat animation, 1 digit, {what}, with GIF and film strip": trajectory,
        f"4 noise and denoise, t = T/2, {what} (11 chains in one batch)": lambda: roundtrip(
            rt.model, rt.sched, digit, T // 2, one, rt.classifier),
        "4 noise and denoise, t = T, DDPM (11 chains in one batch)": lambda: roundtrip(
            rt.model, rt.sched, digit, T, chain_settings(0, "ddpm", steps, T), rt.classifier),
        f"4 interpolate, {COLUMNS} mixes, t = T/3, {what}": lambda: finish(
            interpolate_stream(rt.model, rt.sched, digit, example_digit(1), default_t(T), one,
                               rt.classifier)),
    } | ({f"2 compare w = {SWEPT}, digit 7, 6 digits a row, {what}": compare("guidance", sevens)}
         if rt.model.config.num_classes else {})  # a model without labels has no w to sweep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm.demo.timing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=positive_int, default=3, help="runs of each action [%(default)s]")
    a = p.parse_args(argv)
    times: dict[str, list[float]] = {}
    try:
        try:
            rt = load_runtime()
        except ModelLoadError as e:  # as app.py says it: $DDPM_MODEL names no model
            print(f"error: cannot load the model: {e}\nSet DDPM_MODEL to a model folder or a Hub repo id.",
                  file=sys.stderr)
            return 2
        print(f"{torch.get_num_threads()} threads")
        with torch.inference_mode(), tempfile.TemporaryDirectory() as tmp:
            for _ in range(a.repeats):
                for name, fn in actions(rt, Path(tmp) / "t.gif").items():
                    t0 = time.perf_counter()
                    fn()
                    times.setdefault(name, []).append(time.perf_counter() - t0)
    except KeyboardInterrupt:
        return stopped("no median is printed before every action has run --repeats times")
    for name, v in times.items():
        print(f"{name}: median {statistics.median(v):.2f} s  (runs: {[round(x, 2) for x in v]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
