"""A Fashion-MNIST model's page speaks of images, not digits (sources.worded): tab 1's reading and notation, the
loss view, tab 4's pictures, captions and notices, the interpolation, Compare's radio and caption, About's loss
text and Generate's command line; an MNIST model's keep their digits."""
from __future__ import annotations

import re
from pathlib import Path

from ddpm.demo import about, compare, forward, interpolate, objective, roundtrip, sources
from ddpm.demo.progress import finish
from demo_helpers import DIGIT, settings

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"  # its loss.csv, for About's loss text


def texts(model, sched, dataset: str) -> dict[str, str]:
    """Every text the functions above give for one small run each, for a model of `dataset`."""
    sources.use(dataset)  # as load_runtime does for the app's model (conftest puts MNIST back after each test)
    T, s = sched.T, roundtrip.chain_settings(0, "ddim", 3, sched.T)
    trip = roundtrip.roundtrip(model, sched, DIGIT, 5, s)
    kinds, radio = compare.choices(T, conditional=True, guided=False)
    rows = compare.compare_rows("samplers", settings(T, n=1, dataset=dataset), T)
    return {
        "tab 1 at t = 0": forward.forward_view(DIGIT, "linear", 0, 0, T).text,
        "notation": forward.notation(sched),
        "loss view": objective.objective_view(model, sched, DIGIT, 3, 0).text,
        "tab 4's caption": trip.text,
        "a new digit": roundtrip.digit_changed(sources.EXAMPLE, 1, last=DIGIT)[0],
        "a run stopped": roundtrip.stopped("Denoising: step 1 of 3", "Noise and denoise", True),
        "interpolation": finish(interpolate.interpolate_stream(model, sched, DIGIT, DIGIT, 5, s)).text,
        "Compare's radio": radio,
        "Compare's caption": finish(compare.compare_stream(model, sched, "samplers", rows)).text,
        "About's loss": about.loss_history(WEIGHTS).text,
        "Generate's command": settings(T, dataset=dataset).command(),
    }


def test_a_fashion_mnist_models_texts_say_image_where_mnists_say_digit(model, sched):
    mnist, fashion = texts(model, sched, "mnist"), texts(model, sched, "fashion-mnist")
    for name, text in fashion.items():
        assert not re.search(r"\bdigits?\b", text, re.I), f"{name}: {text}"
        assert re.search(r"\bdigits?\b", mnist[name]), name  # as written, for MNIST
    assert "the image itself" in fashion["tab 1 at t = 0"] and fashion["Generate's command"].endswith("images.png")
