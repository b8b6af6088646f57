"""Time the sampling targets on this machine: a 16-digit grid with 1000 DDPM steps and with 50 DDIM steps
(eta 0, and eta 1, which draws fresh noise at each step).

    python -m ddpm.benchmark                 # medians of 3 runs each, interleaved, as a table
    python -m ddpm.benchmark --json --repeats 5
    python -m ddpm.benchmark --autoguidance 1.5   # also each grid guided by the small weights/guide/
    python -m ddpm.benchmark --train-widths 16,32,64   # instead: training images/s at each base width
    python -m ddpm.benchmark --train-widths 32,64 --bf16   # and each under bfloat16 autocast

Runs are interleaved (DDPM, DDIM, DDIM eta 1, DDPM, ...) so both see the same machine load; report medians.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import platform
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from .autoguidance import add_autoguidance_args, autoguided, check_autoguidance_args
from .cli_args import path_arg, positive_int, stopped, whole_number
from .config import TrainConfig
from .hub import DEFAULT_WEIGHTS, ModelLoadError, load_pretrained
from .samplers import DDIM_STEPS, sample, steps_run, steps_problem
from .schedule import NoiseSchedule
from .training import train_step
from .unet import UNet, count_parameters

MAX_GRID = 1024  # digits per timed grid, sampled as one batch (a typo of 10^8 filled the memory, unsaid)
MAX_WIDTH = 256  # a base width timed for training (base 64 already takes seconds a step on 2 cores)


def widths_arg(value: str) -> list[int]:
    """argparse type of --train-widths: base widths, comma-separated, each 1 to MAX_WIDTH."""
    return [whole_number(1, MAX_WIDTH)(w) for w in value.split(",")]


def forward_cost(model, n: int = 16, repeats: int = 20) -> tuple[float, float, float]:
    """(MFLOP per image, median ms per forward pass of n images, the same in the plain NCHW layout).

    load_pretrained keeps conv weights channels_last; the NCHW copy is timed in the same loop,
    interleaved, so the ratio of the two is a fair side-by-side figure."""
    cfg = model.config
    x = torch.randn(n, cfg.in_channels, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0))
    t = torch.full((n,), cfg.timesteps // 2)  # a t of the model's own (any t costs the same)
    nchw = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    times: dict[str, list[float]] = {"model": [], "nchw": []}
    with torch.inference_mode():
        with FlopCounterMode(display=False) as fc:
            model(x, t)
        for i in range(repeats + 3):
            for name, m in (("model", model), ("nchw", nchw)):
                start = time.perf_counter()
                m(x, t)
                if i >= 3:
                    times[name].append(time.perf_counter() - start)
    return (fc.get_total_flops() / n / 1e6, statistics.median(times["model"]) * 1e3,
            statistics.median(times["nchw"]) * 1e3)


def run(weights: str, n: int = 16, repeats: int = 3, ddim_steps: int | None = None, autoguidance: float = 1.0,
        autoguidance_tmax: int | None = None, autoguidance_guide: str | None = None) -> dict:
    """Seconds to draw n digits with DDPM (all T steps) and DDIM (ddim_steps [50, or T if fewer], eta 0 and 1),
    each timed `repeats` times: {'seconds': {name: {'median', 'all'}}, ...}."""
    model = load_pretrained(weights)
    sched = NoiseSchedule(model.config.timesteps, model.config.schedule)
    if why := steps_problem("ddim", ddim_steps, model.config.timesteps):  # it would time fewer than asked
        raise ValueError(why.replace("--steps", "--ddim-steps"))
    ddim_steps = steps_run("ddim", ddim_steps, model.config.timesteps - 1)  # not given: 50, or T if fewer
    cases = {f"ddpm-{model.config.timesteps}": dict(sampler="ddpm"),
             f"ddim-{ddim_steps}": dict(sampler="ddim", steps=ddim_steps),
             f"ddim-{ddim_steps}-eta1": dict(sampler="ddim", steps=ddim_steps, eta=1.0)}  # fresh noise each step
    models = {name: model for name in cases}
    if autoguidance != 1:  # the same grids with the guide's extra forward passes, in the same interleaved loop
        guided = autoguided(model, weights, autoguidance, autoguidance_tmax, guide=autoguidance_guide)
        for name in list(cases):
            cases[f"{name}-autoguided{autoguidance:g}"], models[f"{name}-autoguided{autoguidance:g}"] = cases[name], guided
    times: dict[str, list[float]] = {k: [] for k in cases}
    with torch.inference_mode():
        for r in range(repeats):
            for name, kw in cases.items():
                start = time.perf_counter()
                sample(models[name], sched, n, seed=r, **kw)
                times[name].append(time.perf_counter() - start)
    mflop, ms, ms_nchw = forward_cost(model, n)
    return {"n": n, "repeats": repeats, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "parameters": count_parameters(model), "mflop_per_image": round(mflop, 1),
            "forward_ms": round(ms, 2), "forward_ms_nchw": round(ms_nchw, 2),
            "seconds": {k: {"median": round(statistics.median(v), 3), "all": [round(x, 3) for x in v]}
                        for k, v in times.items()}}


def train_rates(weights: str, widths: list[int], repeats: int = 3, bf16: bool = False) -> dict:
    """Images per second of one training step (Alg. 1 with AdamW: training.train_step, train.py's default batch and
    recipe) of a fresh network of the weights' shape at each base width, on a random batch; one untimed step first,
    then the widths interleaved: {'images_per_s': {width: {'median', 'all'}}, ...}. What a wider network would
    cost to train here, before training it. bf16: each width also under bfloat16 autocast (train.py's
    --mixed-precision bf16), interleaved with its float32 step: 'images_per_s_bf16'."""
    shape, cfg = load_pretrained(weights).config, TrainConfig()
    sched, gen = NoiseSchedule(shape.timesteps, shape.schedule), torch.Generator().manual_seed(0)
    x0 = torch.rand(cfg.batch_size, shape.in_channels, shape.image_size, shape.image_size, generator=gen) * 2 - 1
    y = torch.randint(0, shape.num_classes, (cfg.batch_size,), generator=gen) if shape.num_classes else None
    nets = {w: UNet(dataclasses.replace(shape, base_channels=w)).train() for w in widths}
    opts = {w: torch.optim.AdamW(net.parameters(), lr=cfg.lr) for w, net in nets.items()}
    kinds = {"images_per_s": None} | ({"images_per_s_bf16": torch.bfloat16} if bf16 else {})
    rates = {kind: {w: [] for w in widths} for kind in kinds}
    for r in range(repeats + 1):
        for w in widths:
            for kind, amp_dtype in kinds.items():
                start = time.perf_counter()
                train_step(nets[w], sched, opts[w], x0, y, gen, cfg, cfg.lr, amp_dtype=amp_dtype)
                if r:  # the first is a warm-up
                    rates[kind][w].append(cfg.batch_size / (time.perf_counter() - start))
    return {"batch_size": cfg.batch_size, "repeats": repeats, "threads": torch.get_num_threads(),
            "parameters": {w: count_parameters(net) for w, net in nets.items()},
            **{kind: {w: {"median": round(statistics.median(v), 1), "all": [round(x, 1) for x in v]}
                      for w, v in by_width.items()} for kind, by_width in rates.items()}}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ddpm.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=path_arg, default=str(DEFAULT_WEIGHTS),
                   help="model folder or Hub repo id [bundled weights]")
    p.add_argument("--n", type=whole_number(1, MAX_GRID), default=16,
                   help=f"digits per grid, 1 to {MAX_GRID} [%(default)s]")
    p.add_argument("--repeats", type=positive_int, default=3, help="runs of each sampler [%(default)s]")
    p.add_argument("--ddim-steps", type=positive_int, default=None,
                   help=f"DDIM steps, at most T [{DDIM_STEPS}, or T for a model of fewer timesteps]")
    add_autoguidance_args(p)
    p.add_argument("--train-widths", type=widths_arg, default=None, metavar="W,W,...",
                   help="instead of the grids: training images/s of a network of the weights' shape at each base "
                        "width (--base-channels), e.g. 16,32,64")
    p.add_argument("--bf16", action="store_true",
                   help="with --train-widths: each width also under bfloat16 autocast (train.py's --mixed-precision "
                        "bf16), interleaved")
    p.add_argument("--json", action="store_true", help="print JSON only")
    a = p.parse_args(argv)
    check_autoguidance_args(p, a)
    if a.bf16 and not a.train_widths:
        p.error("--bf16 times training steps: give it with --train-widths")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        res = train_rates(a.weights, a.train_widths, a.repeats, a.bf16) if a.train_widths else run(
            a.weights, a.n, a.repeats, a.ddim_steps, a.autoguidance, a.autoguidance_tmax, a.autoguidance_guide)
    except (ModelLoadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return stopped("no figure is printed before every run has been timed")
    threads = f"{res['threads']} thread{'s' * (res['threads'] != 1)}"
    if a.json:
        print(json.dumps(res, indent=2))
    elif a.train_widths:
        print(f"one training step on a random batch of {res['batch_size']}, {threads}, median of {res['repeats']}:")
        for w, v in res["images_per_s"].items():
            bf16 = res.get("images_per_s_bf16", {}).get(w)
            print(f"base width {w} ({res['parameters'][w]:,} parameters): {v['median']:.1f} images/s  "
                  f"(runs: {v['all']})" + (f"; bf16 autocast {bf16['median']:.1f} ({bf16['all']})" if bf16 else ""))
    else:
        print(f"{res['parameters']:,} parameters, {res['mflop_per_image']} MFLOP/image, "
              f"{res['forward_ms']} ms per forward pass of {a.n} (NCHW layout: {res['forward_ms_nchw']} ms), "
              f"{threads} on {res['cpu']}")
        for k, v in res["seconds"].items():
            print(f"{a.n}-digit grid, {k}: median {v['median']:.2f} s  (runs: {v['all']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
