"""The sampler's controls as sampler_controls lays them out for a model (demo/controls.py): their ends, first values,
which are greyed out at the start, and the events that grey them, as a learner or an API caller meets them."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from conftest import tiny_model
from ddpm.autoguidance import default_t_max
from ddpm.config import MAX_GUIDANCE
from ddpm.data import noun
from ddpm.demo.controls import sampler_controls
from ddpm.demo.generate import DEFAULT_GUIDANCE


def controls(conditional: bool = True, guide: bool = False, dataset: str = "mnist", T: int = 30):
    """(demo, {name: control}) for a tiny model of T steps, 6 digits at most, 4 at first."""
    model = tiny_model(timesteps=T, num_classes=10 if conditional else 0)
    rt = SimpleNamespace(T=T, model=model, dataset=dataset, noun=noun(dataset), guide=model if guide else None,
                         guide_note="no guide/", source="mine")
    with gr.Blocks() as demo:
        ins, _ = sampler_controls(rt, "tab", 6, 4, "Go")
    names = ["seed", "randomise", "n", "sampler", "steps", "label", "guidance", "eta", "auto"]
    return demo, dict(zip(names, ins))


def test_the_controls_start_as_the_sampler_defaults_with_their_ends():
    """n from 1 to its most, DDIM's steps up to T, eta 0 to 1 from 0, w up to MAX_GUIDANCE from the default, and
    autoguidance off (w = 1), a fixed seed: the first press draws what the app's defaults say."""
    _, c = controls()
    assert (c["n"].minimum, c["n"].maximum, c["n"].value) == (1, 6, 4)
    assert (c["steps"].minimum, c["steps"].maximum) == (1, 30)
    assert (c["eta"].minimum, c["eta"].maximum, c["eta"].value) == (0, 1, 0)
    assert (c["guidance"].maximum, c["guidance"].value) == (MAX_GUIDANCE, DEFAULT_GUIDANCE)
    assert c["auto"].value == 1.0 and c["randomise"].value is False


def test_the_sampler_radio_sends_ddpm_or_ddim_and_says_ddpm_runs_all_t_steps():
    """Each sampler's button sends its own name (DDPM's had sent 'ddim' unnoticed), DDPM's saying its T steps."""
    _, c = controls(T=30)
    assert [v for _, v in c["sampler"].choices] == ["ddpm", "ddim"]
    assert c["sampler"].choices[0][0].startswith("DDPM, all 30 steps") and c["sampler"].value == "ddim"


@pytest.mark.parametrize("guide", [False, True])
def test_what_is_greyed_at_the_start(guide):
    """DDIM chosen: its steps and eta are live; the class is 'any', so w is greyed; autoguidance is live only with a
    guide, whose help names the steps it pushes (t <= default_t_max(T) + 1, counted from 1)."""
    _, c = controls(guide=guide)
    assert c["steps"].interactive is not False and c["eta"].interactive is not False
    assert c["guidance"].interactive is False and c["label"].interactive is not False
    assert (c["auto"].interactive is not False) == guide
    assert (f"the steps t <= {default_t_max(30) + 1} (about 0.6 T)" in c["auto"].info) == guide


def test_a_fashion_models_class_is_no_digit_class():
    """The class dropdown says "digit class" for MNIST, "class" for Fashion-MNIST (a screen reader names it so)."""
    _, mnist = controls()
    _, fashion = controls(dataset="fashion-mnist")
    assert mnist["label"].label == "digit class" and fashion["label"].label == "class"
    assert mnist["n"].label == "number of digits" and fashion["n"].label == "number of images"
    for name in ("label", "guidance"):  # their help speaks of the model's images too
        assert "digit" in mnist[name].info and "digit" not in fashion[name].info


def test_a_fashion_models_class_menu_takes_a_class_by_its_name():
    """The README's API line: a Fashion-MNIST model takes "Sneaker" as "7" (the menu refused it before the app's own
    parse_label saw it); an MNIST model's menu refuses the name, in words."""
    from ddpm.demo.widgets import NotAChoice

    _, mnist = controls()
    _, fashion = controls(dataset="fashion-mnist")
    assert fashion["label"].preprocess(" sneaker") == "7" and fashion["label"].preprocess("7") == "7"
    assert fashion["label"].preprocess("any") == "any"
    for menu, value in ((fashion["label"], "Sneakers"), (mnist["label"], "Sneaker")):
        refused = menu.preprocess(value)
        assert isinstance(refused, NotAChoice) and f"not {value!r}" in refused.refusal


def test_choosing_a_class_makes_w_live_in_the_page_alone():
    """The class's change event (guidance its only output) greys w for 'any' and frees it for a class; it and the
    sampler's run unqueued, without a progress bar, and are no API endpoint."""
    demo, c = controls()
    [toggle] = [f for f in demo.fns.values() if (c["label"]._id, "change") in f.targets]
    assert [o._id for o in toggle.outputs] == [c["guidance"]._id]
    assert toggle.fn("3").interactive is True and toggle.fn("any").interactive is False
    for f in demo.fns.values():
        assert (f.queue, f.show_progress, f.api_visibility) == (False, "hidden", "private")
