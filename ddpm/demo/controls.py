"""The sampler's settings as Gradio controls (seed, number of digits, sampler, steps, eta, class, w, autoguidance),
laid out once for Generate and the animation; a control that would change nothing for the model is greyed out."""
from __future__ import annotations

import gradio as gr

from ..autoguidance import T_MAX_FRACTION, default_t_max
from ..config import MAX_GUIDANCE
from ..data import CLASS_NAMES
from .about import is_bundled
from .generate import DEFAULT_GUIDANCE, DEFAULT_LABEL, DEFAULT_SAMPLER, class_choices, default_steps, digits_help
from .intro import said
from .limits import APP_MAX_AUTOGUIDANCE, MAX_STEPS, InputError
from .runtime import Runtime
from .widgets import Dropdown, Radio, Slider
from .wiring import user_errors


# a control that would change nothing is greyed out: the UI's own events, no API endpoint (a value outside the
# choices, POSTed to them, changes nothing: user_errors, quietly)
TOGGLE = dict(queue=False, show_progress="hidden", api_visibility="private")


def sampler_choices(T: int) -> list[tuple[str, str]]:
    """The sampler radio's (shown, value) pairs for a model of T steps."""
    return [(f"DDPM, all {T} steps, sigma_t^2 = beta_t (Ho et al. 2020)", "ddpm"),
            ("DDIM, fewer steps (Song et al. 2021)", "ddim")]


def sampler_controls(rt: Runtime, tab: str, n_max: int, n_default: int, run: str):
    """Seed, number of digits, the `run` button, then the sampler, steps, class, guidance, eta and autoguidance
    for the model of `rt`: shared by Generate and the animation. -> (the inputs, the button). The button comes
    before the settings that have defaults, so the output beside it is on screen when it is pressed. The help
    quotes the bundled model's measured figures only when it is the model loaded (a learner's own, or one of
    Fashion-MNIST, has not been measured so)."""
    T, conditional = rt.T, rt.model.config.num_classes > 0
    bundled = is_bundled(rt.source)
    measured = lambda text, otherwise="": text if bundled else otherwise  # noqa: E731
    with gr.Row():
        seed = gr.Number(0, label="seed", elem_id=f"{tab}-seed")  # no precision=0: Gradio would round 3.7 to 4 unsaid
        randomise = gr.Checkbox(False, label="new random seed each run")
    n = Slider(1, n_max, value=n_default, step=1, label=f"number of {rt.noun}s",
               info=digits_help(n_max, T, conditional, rt.dataset))
    go = gr.Button(run, variant="primary", elem_id=f"{tab}-go")
    sampler = Radio(sampler_choices(T), value=DEFAULT_SAMPLER, label="sampler", elem_id=f"{tab}-sampler")
    steps = Slider(1, min(MAX_STEPS, T), value=default_steps(T), step=1, label="DDIM steps",
                   interactive=DEFAULT_SAMPLER == "ddim", info="used by DDIM only")
    eta = Slider(0, 1, value=0, step=0.1, label="DDIM eta", elem_id=f"{tab}-eta",
                 interactive=DEFAULT_SAMPLER == "ddim",
                 info="fresh noise added at each DDIM step: 0 none (deterministic), 1 as much as DDPM with "
                      "sigma^2 = beta_tilde of the steps visited (Song et al. Eq. 16; the DDPM option above uses "
                      "beta_t)." + measured(" 1 gives the bundled model a higher Inception Score in 50 steps (IS: "
                      "higher is better, at most 10), for 'any' at a Frechet distance about a fifth worse (FD: lower "
                      "is better; 1.30 against 1.10; About's table has both)"))
    label_ = Dropdown(class_choices(rt.dataset) if conditional else [("any", "any")], value=DEFAULT_LABEL,
                      label="digit class" if rt.dataset == "mnist" else "class",
                      interactive=conditional,
                      info=said("any: no class given (the null class). random: each digit gets a class drawn from "
                                "the seed.", rt.dataset)
                      + measured(" A class gives the bundled model a higher IS (w = 1, 50 DDIM steps: 9.47 against "
                                 "9.38 for 'any'; its FD about the same, 1.12 against 1.10; at the default w = 1.5, "
                                 "IS 9.70 at FD 1.29)")
                      if conditional else "this model was trained without labels, so it takes no class")
    label_.names = CLASS_NAMES.get(rt.dataset, ()) if conditional else ()  # the API's "Sneaker" too, as "7"
    guidance = Slider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.5, label="guidance scale w",
                      interactive=conditional and DEFAULT_LABEL != "any", elem_id=f"{tab}-guidance",
                      info=said("needs a class. How hard to push toward it (classifier-free guidance, Ho & Salimans "
                                "2022; their w is this w - 1, diffusers' guidance_scale this w): 0 ignores the class, "
                                "1 is the plain conditional model, more gives digits the model reads more surely as "
                                "the class, less varied, until strokes speckle (", rt.dataset)
                      + measured("for the bundled model 1.5 gives the highest IS, at an FD 16% above w = 1's; 3 is too "
                                 "much: ") + "Compare sweeps w)"
                      if conditional else "this model takes no class, so there is nothing to guide toward")
    auto = Slider(0, APP_MAX_AUTOGUIDANCE, value=1.0, step=0.25, label="autoguidance w", elem_id=f"{tab}-autoguidance",
                  interactive=rt.guide is not None,
                  info="1: off. Above 1, the steps t <= "
                       f"{default_t_max(T) + 1} (about {T_MAX_FRACTION:g} T) are pushed away from the mistakes of a "
                       "small guide model (the model folder's guide/; Karras et al. 2024)" + measured(": a higher "
                       "IS for 'any' digits, for the bundled weights at a worse FD, and", otherwise=",") + " up to "
                       "40% slower. Below 1 they move toward the guide's (0: the guide alone on those steps)"
                  if rt.guide is not None else f"{rt.guide_note}, so autoguidance is off")
    ddim_only(sampler, steps, eta)
    label_.change(user_errors(lambda c: gr.Slider(interactive=c != "any"), quiet=InputError), label_, guidance,
                  **TOGGLE)
    return [seed, randomise, n, sampler, steps, label_, guidance, eta, auto], go  # new inputs last: older API calls fit


def ddim_only(sampler: gr.Radio, *sliders: gr.Slider) -> None:
    """Grey out the sliders that DDIM alone reads (its steps, its eta) while DDPM is chosen (TOGGLE)."""
    def grey(s):
        updates = [gr.Slider(interactive=s == "ddim") for _ in sliders]
        return updates if len(updates) > 1 else updates[0]  # Gradio takes one output's value bare
    sampler.change(user_errors(grey, quiet=InputError), sampler, list(sliders), **TOGGLE)
