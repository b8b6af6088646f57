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

from .forward import forward_view
from .generate import check_settings, generate
from .roundtrip import roundtrip
from .runtime import load_runtime
from .sources import EXAMPLE, pick_digit
from .trajectory import run_trajectory, save_gif


def actions(rt, gif: Path) -> dict:
    """The default action of each tab (the settings app.py starts with); tab 3 writes its GIF to `gif`."""
    T, digit = rt.T, pick_digit(EXAMPLE, 0)

    def sample(sampler):
        s = check_settings(0, 16, sampler, 50, "any", 3.0, T)
        return lambda: [None for _ in generate(rt.model, rt.sched, s)]

    return {
        "1 forward process (t = T/4)": lambda: forward_view(digit, "linear", T // 4, 0, T),
        "2 generate, 16 digits, DDIM 50": sample("ddim"),
        "3 x0-hat animation, 1 digit, DDIM 50, with GIF": lambda: save_gif(
            run_trajectory(rt.model, rt.sched, check_settings(0, 1, "ddim", 50, "any", 3.0, T), rt.classifier), gif),
        "4 noise and denoise, t = T/2, DDIM 50": lambda: roundtrip(
            rt.model, rt.sched, digit, T // 2, check_settings(0, 1, "ddim", 50, "any", 1.0, T)),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="runs of each action [%(default)s]")
    a = p.parse_args(argv)
    rt = load_runtime()
    print(f"{torch.get_num_threads()} threads")
    times: dict[str, list[float]] = {}
    with torch.inference_mode(), tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, a.repeats)):
            for name, fn in actions(rt, Path(tmp) / "t.gif").items():
                t0 = time.perf_counter()
                fn()
                times.setdefault(name, []).append(time.perf_counter() - t0)
    for name, v in times.items():
        print(f"{name}: median {statistics.median(v):.2f} s  (runs: {[round(x, 2) for x in v]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
