"""Generate's pieces that the mutation rounds found unpinned: the null class's empty label, the last grids' key, its
progress count and the command line it writes; and a Fashion-MNIST model's words in its settings."""
from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from ddpm.demo import generate
from ddpm.demo.limits import InputError, parse_label
from demo_helpers import settings


def test_an_empty_label_is_the_null_class():
    assert parse_label("") is None


def test_last_grids_tell_apart_settings_that_differ_in_any_one_field():
    s, drawn = settings(20), generate.LastGrids()
    drawn.put((s, None), generate.Frame(Image.new("L", (1, 1)), "", True, summary="x"), 1.0)
    assert drawn.get((s, None)) is not None
    changed = dict(seed=1, n=3, sampler="ddpm", steps=4, label=3, guidance=2.0, eta=0.5, autoguidance=2.0,
                   class_names=("a",) * 10)
    assert set(changed) == {f.name for f in dataclasses.fields(s)}  # a new setting must be added here too
    for k, v in changed.items():
        assert drawn.get((dataclasses.replace(s, **{k: v}), None)) is None, k
    assert drawn.get((s, "other/weights")) is None


def test_generate_reports_count_the_steps_from_1(model, sched):
    *reports, done = generate.generate(model, sched, settings(sched.T, n=1, steps=5), updates=5)
    assert [r.text.split(" (now")[0] for r in reports] == [f"Denoising: step {i} of 5" for i in range(1, 5)]
    assert done.done


def test_the_command_line_gives_eta_back_exactly():
    assert "--eta 0.123456789 " in settings(20, eta=0.123456789).command()


def test_a_random_class_each_is_said_by_name_where_no_classifier_reads_the_grid(model, sched):
    """A Fashion-MNIST model has no classifier in the app: its caption still says which class each cell was drawn
    for, row by row (the cell's check, and the grid in words for a screen reader)."""
    from ddpm.data import CLASS_NAMES
    from ddpm.samplers import random_labels

    s = dataclasses.replace(settings(sched.T, n=4, label="random"), class_names=CLASS_NAMES["fashion-mnist"])
    *_, done = generate.generate(model, sched, s, updates=1)
    names = [CLASS_NAMES["fashion-mnist"][int(k)] for k in random_labels(0, 4, 10)]
    assert f"Asked for, row by row: {names[0]}, {names[1]}; {names[2]}, {names[3]}." in done.summary  # T-shirt/top
    one = dataclasses.replace(s, n=1)
    assert f"Asked for {names[0]}." in list(generate.generate(model, sched, one, updates=1))[-1].summary
    digits = " ".join(str(int(k)) for k in random_labels(0, 4, 10))  # MNIST's, should its classifier be missing
    *_, plain = generate.generate(model, sched, dataclasses.replace(s, class_names=None), updates=1)
    assert f"Asked for, row by row, {digits[:3]} / {digits[4:]}." in plain.summary
    assert "Asked for" not in list(generate.generate(model, sched, settings(sched.T, n=4), updates=1))[-1].summary


def test_a_fashion_mnist_models_settings_speak_of_images_and_take_class_names():
    # a Fashion-MNIST model's samples are images, in the slider's help and in the refusals alike
    assert generate.digits_help(64, 1000, False, "fashion-mnist").endswith("16,000 image-steps: 16 images of DDPM's "
                                                                          "1000 steps")
    with pytest.raises(InputError, match=r"^17 images of 1000 DDPM steps .*16,000 image-steps.*: at most 16 images"):
        settings(1000, n=17, sampler="ddpm", dataset="fashion-mnist")
    with pytest.raises(InputError, match="^number of images must be between 1 and 64"):
        settings(1000, n=65, dataset="fashion-mnist")
    # its classes by name too, as ddpm.sample --label takes them; an MNIST model's class stays a digit
    assert settings(1000, label=" sneaker", dataset="fashion-mnist").label == 7
    with pytest.raises(InputError, match=r"^class \('any', 'random', 0-9 or a name: T-shirt/top, Trouser, .*Ankle "
                                         r"boot\) must be a whole number between 0 and 9, not 'Sneakers'$"):
        settings(1000, label="Sneakers", dataset="fashion-mnist")
    with pytest.raises(InputError, match=r"^digit class \('any', 'random' or 0-9\) must be a whole number"):
        settings(1000, label="Sneaker")
