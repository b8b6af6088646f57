"""Tab 1's forward and training views (ddpm.demo.forward, ddpm.demo.objective) on a tiny random U-Net (conftest:
T = 20): the plotted curves and markers, the numbers the texts name and the panel, each at the t it says."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm.demo import draw, forward, objective
from ddpm.schedule import NoiseSchedule
from demo_helpers import DIGIT


def test_forward_curves_hold_every_t_at_its_code_index_and_the_markers_span_each_plot():
    """T = 100 is under CURVE_POINTS: the curves hold every paper t from 1 (the scales from 0) at code index t - 1,
    and the chosen t's segment runs across each plot (the log-SNR's from its lowest to its highest value)."""
    T, t = 100, 40
    v, sched = forward.forward_view(DIGIT, "linear", t, 0, T=T), NoiseSchedule(T, "linear")
    snr = v.log_snr[v.log_snr.curve == forward.LOG_SNR]
    assert list(snr.t) == list(range(1, T + 1))
    np.testing.assert_allclose(snr.value, sched.log_snr.numpy(), rtol=1e-6)
    signal = v.scales[v.scales.curve == forward.SIGNAL]
    assert list(signal.t) == list(range(T + 1))
    np.testing.assert_allclose(signal.value[1:], sched.sqrt_alpha_bar.numpy(), rtol=1e-6)
    assert list(v.log_snr[v.log_snr.curve == forward.MARKER].value) == [snr.value.min(), snr.value.max()]
    assert list(v.scales[v.scales.curve == forward.MARKER].value) == [0.0, 1.0]


def test_notation_names_beta_at_its_first_and_last_t():
    s = NoiseSchedule(1000)  # linear: beta_1 = 1e-4, beta_2 = 1.2e-4, beta_T = 0.02
    assert f"(linear schedule: {float(s.betas[0]):.2g} at t = 1 up to {float(s.betas[-1]):.3g} at t = T)" in \
        forward.notation(s)


def test_notation_typesets_each_equation_beside_the_code_that_implements_it():
    """The notation ends with the paper's equations in $$ ... $$ (KaTeX), each naming a function that exists; the
    guidance equation only for a model with classes (an unconditional one has no null class to mix)."""
    import re

    from ddpm import samplers, schedule, training
    s = NoiseSchedule(1000)
    text, plain = forward.notation(s), forward.notation(s, conditional=False)
    tex = re.findall(r"\$\$(.+?)\$\$", text)
    assert len(tex) == len(forward.EQUATIONS) + 1 and len(re.findall(r"\$\$", plain)) == 2 * len(forward.EQUATIONS)
    assert all(t.count("{") == t.count("}") for t in tex)  # KaTeX would show an error in red for an unclosed one
    assert "guided_eps" in text and "guided_eps" not in plain
    assert r"\text{ if } t > 1, \text{ else } z = 0" in text  # Alg. 2 line 3, beside the step (seeds review)
    assert "- **x_0**: the digit, its pixels mapped from [0, 1] to [-1, 1] (2x - 1" in text
    for name in re.findall(r"`(\w+)`", forward.equations()):
        assert any(hasattr(m, name) for m in (samplers, training, schedule.NoiseSchedule)), name


def test_objective_panel_is_the_five_images_at_the_chosen_t(model, sched):
    """x_t, eps, eps_hat, the error eps - eps_hat and x0_hat, in that order, all at the chosen t (not the error or
    a noise panel at the curve's first t)."""
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)
    t = 15
    v = objective.objective_view(model, sched, DIGIT, t, 3)
    eps = forward.fixed_eps(3)
    x_t = sched.q_sample(forward.digit_tensor(DIGIT), t - 1, eps)
    with torch.no_grad():
        eps_hat = model(x_t, torch.tensor([t - 1]))
    want = draw.hstack([draw.titled(draw.digits(x, target=168), title) for x, title in (
        (x_t, f"x_t, t = {t}\n(the network's input)"), (draw.eps_to_uint8(eps), "eps\n(the noise drawn)"),
        (draw.eps_to_uint8(eps_hat), "eps_hat\n(its guess)"),
        (draw.eps_to_uint8(eps - eps_hat), "eps - eps_hat\n(the error)"),
        (sched.predict_x0(x_t, t - 1, eps_hat).clamp(-1, 1), "x0_hat\n(from eps_hat)"))])
    assert v.panel.size == want.size
    assert np.abs(np.asarray(v.panel, dtype=int) - np.asarray(want.convert("L"), dtype=int)).max() <= 1  # rounding


def test_objective_at_a_t_off_the_curves_grid_is_that_ts():
    """On T = 1000 the curve's 60 log-spaced t's miss most t's (500 among them): the chosen t joins them, so the
    loss the curve, the text and the panel show is t = 500's, not that of its neighbour on the grid (557)."""
    from conftest import tiny_model

    model, sched, eps = tiny_model(timesteps=1000), NoiseSchedule(1000), forward.fixed_eps(3)
    v = objective.objective_view(model, sched, DIGIT, 500, 3)
    x_t = sched.q_sample(forward.digit_tensor(DIGIT), 499, eps)
    with torch.no_grad():
        want = float(((eps - model(x_t, torch.tensor([499]))) ** 2).mean())
    loss = v.loss_curve[v.loss_curve.curve == objective.LOSS].set_index("t").value
    assert loss[500] == pytest.approx(want, rel=1e-4) and f"**Loss at t = 500: {loss[500]:.3g}**" in v.text


def test_objective_texts_numbers_are_those_they_name(model, sched):
    """t = 0 says it shows t = 1; the all-zeros baseline is eps's mean square; x0_hat's error factor is t = 1's;
    the chosen t's segment runs from 0 to the curve's highest loss."""
    eps = forward.fixed_eps(3)
    v0 = objective.objective_view(model, sched, DIGIT, 0, 3)
    assert "**Loss at t = 1:" in v0.text and "(t = 0 is the clean digit, with nothing to predict)" in v0.text
    v = objective.objective_view(model, sched, DIGIT, 7, 3)
    assert "t = 0 is the clean digit" not in v.text
    assert f"(a network that output zeros: {float((eps ** 2).mean()):.2f})" in v.text
    assert f"x0_hat's error is eps's times sqrt(1 - alpha_bar_t) / sqrt(alpha_bar_t), " \
           f"{float(sched.sqrt_recipm1_alpha_bar[0]):.2g} at t = 1:" in v.text
    loss = v.loss_curve[v.loss_curve.curve == objective.LOSS].set_index("t").value
    assert loss[7] < loss.max()  # else the segment's top could not tell the two apart
    assert list(v.loss_curve[v.loss_curve.curve == forward.MARKER].value) == [0.0, float(loss.max())]


def test_kept_loss_curves_rerun_one_image_for_a_moved_t_and_show_the_same_view():
    """The app's LossCurves: a t moved on the same digit and seed runs the network on that t's image alone (off the
    curve's grid) or on none (on it), and the view is the one computed afresh; a 17th (digit, seed) drops the
    least recently used of 16."""
    from conftest import tiny_model

    model, sched, curves = tiny_model(timesteps=1000), NoiseSchedule(1000), objective.LossCurves()
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)
    batches = []
    model.register_forward_hook(lambda m, args, out: batches.append(len(out)))
    first = objective.objective_view(model, sched, DIGIT, 500, 3, curves=curves)
    grid = len(np.unique(np.geomspace(1, 1000, objective.LOSS_POINTS).round()))
    assert batches == [grid, 1]
    for t, runs in ((501, [1, grid, 1]), (1000, [grid])):  # off the grid, then on it: kept, then afresh
        batches.clear()
        kept, fresh = (objective.objective_view(model, sched, DIGIT, t, 3, curves=c) for c in (curves, None))
        assert batches == runs
        assert kept.text == fresh.text and np.array_equal(np.asarray(kept.panel), np.asarray(fresh.panel))
        assert np.allclose(kept.loss_curve.value, fresh.loss_curve.value, rtol=1e-5)
    assert first.text != kept.text
    for seed in range(4, 20):  # 16 more pairs: (DIGIT, 3) is the oldest, dropped
        objective.objective_view(model, sched, DIGIT, 500, seed, curves=curves)
    assert len(curves.kept) == 16 and (DIGIT.tobytes(), 3) not in curves.kept
    other = np.ascontiguousarray(DIGIT[:, ::-1])  # another digit, the same seed and t: its own curve, not DIGIT's
    kept, fresh = (objective.objective_view(model, sched, other, 500, 19, curves=c) for c in (curves, None))
    assert kept.text == fresh.text and np.array_equal(np.asarray(kept.panel), np.asarray(fresh.panel))
