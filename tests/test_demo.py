"""The app's pure functions, tab by tab (ddpm.demo.*), on a tiny random U-Net (conftest: T = 20); the reverse-chain
jobs of tab 3 (and Compare's rows) are in test_demo_chains.py, tab 4's in test_demo_roundtrip.py, the digit sources
in test_sources.py, About and the runtime in test_demo_about.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm.config import SCHEDULES
from ddpm.data import load_sample, to_model_range
from ddpm.demo import draw, forward, generate, objective
from ddpm.demo.limits import MAX_DIGITS, InputError, check_float, check_int, check_seed, parse_label, shown
from ddpm.samplers import random_labels, sample_generators
from ddpm.schedule import NoiseSchedule
from demo_helpers import DIGIT, same, settings


# ---------------------------------------------------------------- limits

def test_check_int_accepts_whole_numbers_only():
    assert check_int("n", 3, 1, 5) == check_int("n", 3.0, 1, 5) == check_int("n", "3", 1, 5) == 3
    for bad in (3.5, float("nan"), None, True, "three", [3]):
        with pytest.raises(InputError, match="whole number"):
            check_int("n", bad, 1, 5)
    with pytest.raises(InputError, match="between 1 and 5"):
        check_int("n", 6, 1, 5)
    for empty in (None, "", "  "):  # a number box left empty says so, not "not None"
        with pytest.raises(InputError, match="^n holds no number: give a whole number between 1 and 5$"):
            check_int("n", empty, 1, 5)
    # the largest seed a browser's number box holds exactly (JavaScript numbers are doubles): 2**53 + 1 typed
    # there arrives as 2**53, which is refused rather than run as another seed than the one shown
    assert check_seed(2**53 - 1) == 2**53 - 1
    for bad in (-1, 2**53):
        with pytest.raises(InputError, match="seed must be between 0 and 9007199254740991"):
            check_seed(bad)
    with pytest.raises(InputError, match=r"not 1e\+308$"):  # not all 309 digits of int(1e308)
        check_seed(1e308)
    with pytest.raises(InputError, match="not a 400-digit number$"):
        check_seed(10**399)
    with pytest.raises(InputError, match="not a 400-digit negative number$"):
        check_seed(-10**399)


def test_check_float_and_labels():
    assert check_float("w", "2.5", 0, 10) == 2.5
    assert str(check_float("w", -0.0, 0, 10)) == "0.0"  # a setting never reads "-0"
    for bad in (-1, 11, float("inf"), "x", None):
        with pytest.raises(InputError):
            check_float("w", bad, 0, 10)
    assert parse_label("any") is None and parse_label(None) is None and parse_label("7") == 7
    assert parse_label("random") == "random" and parse_label("ANY") is None and parse_label("Random") == "random"
    assert shown("x" * 100) == repr("x" * 100)[:20] + "..."  # a page of text is cut in a message
    with pytest.raises(InputError):
        parse_label("10")


def test_the_pictures_scales_and_spacing():
    """eps panels map [-3, 3] to black..white, mid-grey 0; zoom stops at 12x; a stack's gap and a left title."""
    eps = torch.tensor([0.0, 1.5, -1.5, 3.0, -3.0, 5.0]).reshape(6, 1, 1, 1)
    assert draw.eps_to_uint8(eps).ravel().tolist() == [128, 191, 64, 255, 0, 255]
    assert draw.fit_scale(56) == 8 and draw.fit_scale(1) == 12 and draw.fit_scale(448) == 1
    a, b = Image.new("L", (5, 3), 255), Image.new("L", (4, 2), 255)
    stacked = np.asarray(draw.vstack([a, b], gap=7))
    assert stacked.shape == (3 + 7 + 2, 5) and (stacked[3:10] == draw.BG).all() and (stacked[10:, :4] == 255).all()
    left = np.asarray(draw.titled(Image.new("L", (400, 10)), "x", left=True))
    assert (left[:20, :20] > draw.BG).any() and not (left[:20, 190:210] > draw.BG).any()  # the title at the left


# ---------------------------------------------------------------- tab 1: forward process

def test_forward_view_outputs():
    v = forward.forward_view(DIGIT, "linear", 250, 0, T=1000)
    for img in (v.x0, v.x_t, v.x_t_chain, v.strip):
        assert isinstance(img, Image.Image) and img.width >= 224
    assert set(v.scales.columns) == {"t", "value", "curve"} and set(v.log_snr.columns) == {"t", "value", "curve"}
    marker = v.scales[v.scales.curve == forward.MARKER]
    assert list(marker.t) == [250, 250]
    assert "t = 250" in v.text and "Eq. 4" in v.text and "Eq. 2" in v.text


def test_forward_t0_is_the_digit_and_same_seed_same_image():
    v0 = forward.forward_view(DIGIT, "cosine", 0, 3, T=100)
    assert same(v0.x0, v0.x_t) and same(v0.x0, v0.x_t_chain)
    a, b = forward.forward_view(DIGIT, "linear", 40, 3, T=100), forward.forward_view(DIGIT, "linear", 40, 3, T=100)
    c = forward.forward_view(DIGIT, "linear", 40, 4, T=100)
    assert same(a.x_t, b.x_t) and same(a.x_t_chain, b.x_t_chain) and not same(a.x_t, c.x_t)


def test_forward_view_numbers_curves_and_strip(monkeypatch):
    """The table's two rows are the jump's and the chain's own leftovers, the log-SNR is that of paper t (code
    index t - 1), the signal curve starts at 1 (and the noise at 0) at t = 0, and the strip runs from x_0 to x_T."""
    strips, real = [], forward.draw.labelled_strip
    monkeypatch.setattr(forward.draw, "labelled_strip",
                        lambda im, labels, **k: strips.append((im, labels)) or real(im, labels, **k))
    t, T = 40, 100
    v = forward.forward_view(DIGIT, "linear", t, 0, T=T)
    sched, x0 = NoiseSchedule(T, "linear"), forward.digit_tensor(DIGIT)
    a = float(sched.sqrt_alpha_bar[t - 1])
    rows = [f"| {name} | {float(r.mean()):+.3f} | {float(r.std()):.3f} |" for name, r in (
        ("one jump (Eq. 4)", forward.jump(sched, x0, t, forward.fixed_eps(0)) - a * x0),
        (f"{t} steps (Eq. 2)", forward.chain(sched, x0, t, 0) - a * x0))]
    assert all(row in v.text.splitlines() for row in rows), v.text
    assert f"log-SNR = {float(sched.log_snr[t - 1]):+.2f}." in v.text
    at_0 = v.scales[v.scales.t == 0].set_index("curve").value
    assert at_0[forward.SIGNAL] == 1.0 and at_0[forward.NOISE] == 0.0
    (images, labels), = strips
    assert labels == [f"t={u}" for u in range(0, T + 1, 10)] and np.array_equal(images[0], DIGIT)
    assert "| 1 step (Eq. 2) |" in forward.forward_view(DIGIT, "linear", 1, 0, T=T).text


def test_notation_names_where_signal_and_noise_are_equal():
    s = NoiseSchedule(1000)
    even = next(t for t in range(1, 1001) if float(s.alpha_bar[t - 1]) < 0.5)  # paper t: more noise than signal
    assert f"here at about t = {even})" in forward.notation(s)
    assert f"({float(s.alpha_bar[499]):.3f} at t = 500," in forward.notation(s)  # paper t = 500: code index 499


def test_fixed_eps_is_stream_seed_0_and_the_chain_draws_its_own_noise():
    """fixed_eps is the draw of the generator of (seed, 0), the stream tab 4's reverse chains leave alone
    (roundtrip.REVERSE_FIRST); chain() draws from another: on the eps's, its one step at t = 1 would be the jump."""
    assert torch.equal(forward.fixed_eps(3), torch.randn((1, 1, 28, 28), generator=sample_generators(3, 1)[0]))
    s, x0 = NoiseSchedule(20), forward.digit_tensor(DIGIT)
    assert not torch.allclose(forward.chain(s, x0, 1, 0), forward.jump(s, x0, 1, forward.fixed_eps(0)))
    g = sample_generators(0, 1, first=1)[0]  # chain's stream: two steps of Eq. 2 by hand, beta_1 then beta_2
    z1, z2 = torch.randn(x0.shape, generator=g), torch.randn(x0.shape, generator=g)
    x1 = (1 - s.betas[0]).sqrt() * x0 + s.betas[0].sqrt() * z1
    torch.testing.assert_close(forward.chain(s, x0, 2, 0), (1 - s.betas[1]).sqrt() * x1 + s.betas[1].sqrt() * z2)


def test_fixed_eps_makes_the_slider_morph_smoothly():
    s = NoiseSchedule(1000)
    x0 = to_model_range(torch.as_tensor(DIGIT)[None])
    eps = forward.fixed_eps(0)
    steps = [(forward.jump(s, x0, t + 1, eps) - forward.jump(s, x0, t, eps)).abs().mean() for t in range(1, 1000, 50)]
    assert max(steps) < 0.05  # neighbouring t differ a little, not by a fresh noise draw (~1.1)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_jump_and_chain_have_the_same_statistics(kind):
    """Eq. 4 (closed form) and t steps of Eq. 2 both give N(sqrt(alpha_bar) x0, (1 - alpha_bar) I)."""
    s = NoiseSchedule(1000, kind)
    x0 = to_model_range(torch.as_tensor(load_sample()[0][:8]))
    for t in (10, 300, 900):
        a, b = float(s.sqrt_alpha_bar[t - 1]), float(s.sqrt_one_minus_alpha_bar[t - 1])
        chain = forward.chain(s, x0, t, seed=1)
        jump = forward.jump(s, x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(2)))
        for x in (chain, jump):
            r = x - a * x0
            assert abs(float(r.mean())) < 0.05 and abs(float(r.std()) / b - 1) < 0.05


def test_forward_bad_numbers():
    with pytest.raises(InputError, match="t must be between 0 and 100"):
        forward.forward_view(DIGIT, "linear", 101, 0, T=100)
    with pytest.raises(InputError, match="schedule"):
        forward.forward_view(DIGIT, "sigmoid", 10, 0, T=100)
    with pytest.raises(InputError, match="seed"):
        forward.forward_view(DIGIT, "linear", 10, -5, T=100)


def test_objective_is_one_term_of_l_simple(model, sched):
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)  # zero-initialised, it would guess eps_hat = 0 everywhere
    v = objective.objective_view(model, sched, DIGIT, 7, 3)
    x0 = to_model_range(torch.as_tensor(DIGIT)[None])
    eps = forward.fixed_eps(3)  # tab 1's draw for the same seed
    x_t = sched.q_sample(x0, 6, eps)  # paper t = 7 is code index 6
    with torch.no_grad():
        eps_hat = model(x_t, torch.tensor([6]))
    loss = v.loss_curve[v.loss_curve.curve == objective.LOSS].set_index("t").value
    assert loss[7] == pytest.approx(float(((eps - eps_hat) ** 2).mean()), rel=1e-5)
    assert list(loss.index) == sorted(set(range(1, 21)))  # every t of T = 20, the chosen one included
    assert f"Loss at t = 7: {loss[7]:.3g}" in v.text and v.panel.width > 5 * 28
    marker = v.loss_curve[v.loss_curve.curve == forward.MARKER]
    assert list(marker.t) == [7, 7]
    assert "a label would lower it a little" in v.text and "teacher" not in v.text
    distilled = objective.objective_view(model, sched, DIGIT, 7, 3, null_target="a frozen teacher's predictions")
    assert "last trained their null class on a frozen teacher's predictions in eps's place" in distilled.text  # not a plain DDPM's loss
    assert "a label would lower" not in distilled.text


def test_objective_panel_and_numbers_are_at_the_chosen_t(model, sched):
    """x0_hat comes from Eq. 15 at the chosen t (code index t - 1); the text's numbers sit at the t's they name."""
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)
    v = objective.objective_view(model, sched, DIGIT, 3, 3)  # small t: an index off by one shows most
    x0, eps = to_model_range(torch.as_tensor(DIGIT)[None]), forward.fixed_eps(3)
    x_t = sched.q_sample(x0, 2, eps)
    with torch.no_grad():
        x0_hat = sched.predict_x0(x_t, 2, model(x_t, torch.tensor([2]))).clamp(-1, 1)
    want = draw.titled(draw.digits(x0_hat, target=168), "x0_hat\n(from eps_hat)").convert("L")
    gap = 10  # draw.hstack's
    got = v.panel.crop((v.panel.width - gap - want.width, gap, v.panel.width - gap, gap + want.height))
    assert np.array_equal(np.asarray(got), np.asarray(want))
    loss = v.loss_curve[v.loss_curve.curve == objective.LOSS].set_index("t").value
    assert f"(here the loss peaks at t = {int(loss.idxmax())})" in v.text
    b, a, ab = sched.betas, sched.alphas, sched.alpha_bar  # Eq. 12's weight at paper t: code index t - 1
    w = lambda t: float(b[t - 1] / (2 * a[t - 1] * (1 - ab[t - 1])))  # noqa: E731
    mid = sched.T // 2
    assert f"{w(2):.2g} at t = 2, {w(mid):.2g} at t = {mid}; {w(2) / w(mid):.0f} times as much;" in v.text
    assert "the small-t terms about as much as the middle ones" in v.text  # T = 20: not "far more" (T = 1000: 50x)


def test_objective_at_t_0_shows_the_first_noisy_step_and_refuses_bad_input(model, sched):
    assert "Loss at t = 1:" in objective.objective_view(model, sched, DIGIT, 0, 0).text
    for t, seed in ((21, 0), (2.5, 0), (5, -1)):
        with pytest.raises(InputError):
            objective.objective_view(model, sched, DIGIT, t, seed)


# ---------------------------------------------------------------- tab 2: generate

def test_check_settings_limits():
    T = 20
    assert settings(T, sampler="ddpm", steps=3).steps == T  # DDPM always runs every step
    assert settings(T, label="4").label == 4
    # w = 0 samples the null class whatever the class (samplers.guided_eps): the caption says so
    assert "digit 4, guidance w = 0 (w = 0 ignores the class" in settings(T, label="4", guidance=0).describe()
    assert "ignores" not in settings(T, label="4", guidance=0.5).describe() + settings(T, guidance=0).describe()
    assert "2 digits, DDIM, 1 step, seed 0" in settings(T, steps=1).describe()
    for bad in (dict(n=0), dict(n=MAX_DIGITS + 1), dict(steps=0), dict(steps=T + 1), dict(guidance=-1),
                dict(sampler="euler"), dict(seed=1.5), dict(label="x")):
        with pytest.raises(InputError):
            settings(T, **bad)
    # a NaN sent past the sliders (raw HTTP): named as the slider is, so one input has one name
    for bad, name in ((dict(guidance=math.nan), "guidance scale w"), (dict(autoguidance=math.nan), "autoguidance w")):
        with pytest.raises(InputError, match=f"^{name} must be"):
            settings(T, **bad)


def test_one_run_may_not_hold_the_shared_cpu_for_minutes():
    """n x steps is capped: 16 digits of 1000 DDPM steps, or 64 of 250 DDIM steps, not 64 of 1000."""
    assert settings(1000, n=16, sampler="ddpm").n == 16 and settings(1000, n=MAX_DIGITS, steps=250).steps == 250
    with pytest.raises(InputError, match="64 digits of 1000 DDPM steps .* at most 16 digits, or DDIM with fewer"):
        settings(1000, n=64, sampler="ddpm")
    with pytest.raises(InputError, match="at most 63 digits, or fewer steps$"):
        settings(1000, n=64, steps=251)
    # guidance with a class runs the null class and the class: two passes a step, so half the digits
    assert settings(1000, n=16, sampler="ddpm", label="3", guidance=1.0).n == 16  # w = 1: the class alone
    with pytest.raises(InputError, match="DDPM steps with a class's guidance .* at most 8 digits, .* or 'any' or w = 1"):
        settings(1000, n=9, sampler="ddpm", label="random", guidance=3.0)
    # the digits slider says as much, for the model it serves
    assert generate.digits_help(64, 1000, True) == ("a run draws at most 16,000 digit-steps: 16 digits of DDPM's 1000 "
                                                   "steps, 8 with a class's guidance")
    assert generate.digits_help(64, 1000, False).endswith("16 digits of DDPM's 1000 steps")
    assert generate.digits_help(16, 50, True) is None  # every setting fits: no help needed
    assert generate.digits_help(16, 1000, False) is None  # 16 x 1000 = 16,000 digit-steps: fits exactly


def test_the_command_line_keeps_autoguidance_and_quotes_the_weights():
    assert "--autoguidance 2 --out digits.png" in settings(30, autoguidance=2.0).command()
    assert "--autoguidance" not in settings(30).command()
    assert settings(20).command("my run").endswith(" --weights 'my run' --out digits.png")


def test_ddim_eta_adds_seeded_noise(model, sched):
    assert settings(sched.T, sampler="ddpm", eta=1.0).eta == 0.0  # DDPM: its variance sets its noise
    for bad in (dict(eta=-0.1), dict(eta=1.5), dict(eta="x")):
        with pytest.raises(InputError, match="DDIM eta"):
            settings(sched.T, **bad)
    last = lambda s: list(generate.generate(model, sched, s))[-1]
    s0, s1 = settings(sched.T, seed=4), settings(sched.T, seed=4, eta=1.0)
    assert "eta 1" in last(s1).text and "eta" not in last(s0).text
    assert not torch.equal(last(s0).samples, last(s1).samples)
    assert torch.equal(last(s1).samples, last(s1).samples)  # still the same digits for the same seed


def test_ddim_only_greys_ddims_sliders_while_ddpm_is_chosen(model):
    """Tabs 2 and 3 grey DDIM's steps and eta, tab 4 its steps alone, while DDPM is chosen (a control that would change
    nothing is greyed); a value POSTed outside the choices changes nothing, quietly. Only the browser test saw this:
    the test flipped, eta left out, a one-slider list, or a loud refusal each passed a mutation run."""
    from types import SimpleNamespace

    import gradio as gr

    from ddpm.demo.controls import ddim_only, sampler_controls
    from ddpm.demo.widgets import NotAChoice

    rt = SimpleNamespace(T=20, model=model, dataset="mnist", noun="digit", guide=None, guide_note="no guide/",
                         source="m")
    with gr.Blocks() as demo:
        inputs, _ = sampler_controls(rt, "tab", 4, 1, "Go")
        radio, one = gr.Radio(["ddpm", "ddim"]), gr.Slider(1, 20)
        ddim_only(radio, one)
    sampler, steps, eta = inputs[3], inputs[4], inputs[7]
    [grey] = [f for f in demo.fns.values() if (sampler._id, "change") in f.targets]
    [grey_one] = [f for f in demo.fns.values() if (radio._id, "change") in f.targets]
    assert [o._id for o in grey.outputs] == [steps._id, eta._id] and [o._id for o in grey_one.outputs] == [one._id]
    for chosen, live in (("ddpm", False), ("ddim", True)):
        assert [u.interactive for u in grey.fn(chosen)] == [live, live]
        assert isinstance(grey_one.fn(chosen), gr.Slider) and grey_one.fn(chosen).interactive is live  # bare: one
    assert isinstance(grey.fn(NotAChoice("bogus", "sampler must be ...")), type(gr.skip()))


def test_resolve_seed():
    assert generate.resolve_seed(7, False) == 7
    for bad in ("abc", 2, None):
        with pytest.raises(InputError, match="new random seed must be true or false"):
            generate.resolve_seed(7, bad)
    seeds = {generate.resolve_seed(7, True) for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)
    for bad in (3.7, None):  # a typed seed is checked: 3.7 was drawn as seed 3 unsaid
        with pytest.raises(InputError, match="seed (must be a whole number|holds no number)"):
            generate.resolve_seed(bad, False)


def test_generate_streams_then_finishes_reproducibly(model, sched):
    s = settings(sched.T, n=3, sampler="ddpm", seed=11)
    frames = list(generate.generate(model, sched, s, updates=5))
    assert [f.done for f in frames] == [False] * (len(frames) - 1) + [True]
    assert 4 <= len(frames) <= 7  # ~updates refreshes, not one per step
    assert "step" in frames[0].text and "Done" in frames[-1].text and "seed 11" in frames[-1].text
    ddim = list(generate.generate(model, sched, settings(sched.T, n=1, sampler="ddim", steps=4), updates=4))
    assert [f.text.split("now at ")[1].split(")")[0] for f in ddim[:-1]] == ["t = 15", "t = 10", "t = 5"]  # paper t of x_prev
    assert "draws this digit again" in ddim[-1].text and "draws these digits again" in frames[-1].text  # n = 1, 3
    final = frames[-1]
    assert final.samples.shape == (3, 1, 28, 28) and final.samples.abs().max() <= 1
    again = list(generate.generate(model, sched, s, updates=5))[-1]
    assert torch.equal(final.samples, again.samples) and same(final.image, again.image)
    other = list(generate.generate(model, sched, settings(sched.T, n=3, sampler="ddpm", seed=12)))[-1]
    assert not torch.equal(final.samples, other.samples)


def test_generate_pressed_again_unchanged_shows_its_grid_at_once(model, sched):
    """A double click on Generate ran the whole job twice (84 s with DDPM, for the same digits)."""
    drawn = generate.LastGrids(size=2)
    s = settings(sched.T, n=3, sampler="ddim", steps=4, seed=11)
    first = list(generate.generate(model, sched, s, drawn=drawn))
    again = list(generate.generate(model, sched, s, drawn=drawn))
    assert len(first) > 1 and len(again) == 1 and again[0].done  # no denoising frames: the grid, at once
    assert torch.equal(again[0].samples, first[-1].samples) and same(again[0].image, first[-1].image)
    assert again[0].text.startswith("Drawn before with these settings, by you or another visitor (in ")
    assert "the same seed draws the same digits" in again[0].text and again[0].text.endswith(first[-1].summary)
    # another seed, or the same settings for another --weights line, is drawn
    assert len(list(generate.generate(model, sched, settings(sched.T, n=3, sampler="ddim", steps=4, seed=12),
                                      drawn=drawn))) > 1
    assert len(list(generate.generate(model, sched, s, weights="other", drawn=drawn))) > 1
    assert drawn.get((s, None)) is None  # only the last two are kept
    one = settings(sched.T, n=1, sampler="ddim", steps=4, seed=11)
    list(generate.generate(model, sched, one, drawn=drawn))
    assert "the same seed draws the same digit. " in drawn.get((one, None)).text  # not "digits" for one
    assert len(list(generate.generate(model, sched, s))) > 1  # without `drawn` (the API of ddpm.demo.timing), drawn


def test_last_grids_keeps_the_last_size_used_and_forgets_the_least_recently_used():
    """LastGrids(size=2) holds two grids, not one; a grid shown again counts as used, so the next new grid pushes
    out the one used longest ago, not the one drawn first."""
    drawn, frame = generate.LastGrids(size=2), generate.Frame(Image.new("L", (1, 1)), "done", True, summary="s")
    a, b, c = ((settings(20, seed=k), None) for k in range(3))
    drawn.put(a, frame, 1.0)
    drawn.put(b, frame, 1.0)
    assert drawn.get(a) is not None and drawn.get(b) is not None  # both kept
    drawn.get(a)  # a shown again: b is now the least recently used
    drawn.put(c, frame, 1.0)
    assert drawn.get(b) is None and drawn.get(a) is not None and drawn.get(c) is not None


def test_the_finished_grid_says_what_the_classifier_reads_row_by_row(model, sched):
    fake = lambda x: torch.eye(10)[torch.arange(len(x)) % 10]  # reads sample k as digit k  # noqa: E731
    *_, done = generate.generate(model, sched, settings(sched.T, n=5), classifier=fake)
    assert "The MNIST classifier reads them, row by row, as 0 1 2 / 3 4." in done.text  # 5 digits: rows of 3
    assert done.text.endswith(done.summary) and done.summary.startswith("5 digits, DDIM")  # the caption sans time
    assert "classifier" not in list(generate.generate(model, sched, settings(sched.T, n=5)))[-1].text
    fake_one = list(generate.generate(model, sched, settings(sched.T, n=1), classifier=fake))[-1].text
    assert "The MNIST classifier reads it as 0." in fake_one and "row by row" not in fake_one  # one digit
    # a random class each: the labels drawn are said, and counted against the reading
    *_, mixed = generate.generate(model, sched, settings(sched.T, n=5, label="random"), classifier=fake)
    asked = random_labels(0, 5, 10).tolist()
    words = " ".join(map(str, asked[:3])) + " / " + " ".join(map(str, asked[3:]))
    hits = sum(a == k for k, a in enumerate(asked))
    assert f"Asked for, row by row, {words}; the MNIST classifier reads them as 0 1 2 / 3 4: {hits} of 5 as asked." \
        in mixed.text
    unasked = list(generate.generate(model, sched, settings(sched.T, n=5, label="random", guidance=0), classifier=fake))
    assert "Asked for" not in unasked[-1].text and "reads them, row by row, as 0 1 2 / 3 4." in unasked[-1].text
    # one class asked of all: counted against the reading too (what guidance's w is for)
    *_, threes = generate.generate(model, sched, settings(sched.T, n=5, label="3", guidance=2.0), classifier=fake)
    assert "reads them, row by row, as 0 1 2 / 3 4: 1 of 5 as the 3 asked for." in threes.text
    one = list(generate.generate(model, sched, settings(sched.T, n=1, label="3", guidance=2.0), classifier=fake))[-1]
    assert "Asked for 3; the MNIST classifier reads it as 0." in one.text
    drawn = list(generate.generate(model, sched, settings(sched.T, n=1, label="random"), classifier=fake))[-1]
    assert f"Asked for {int(random_labels(0, 1, 10)[0])}; the MNIST classifier reads it as 0." in drawn.text
    ignored = list(generate.generate(model, sched, settings(sched.T, n=5, label="3", guidance=0), classifier=fake))
    assert "asked for" not in ignored[-1].text.lower()  # w = 0 ignores the class


def test_generate_ddim_with_guidance(model, sched):
    s = settings(sched.T, n=4, steps=4, label="3", guidance=2.0)
    frames = list(generate.generate(model, sched, s))
    assert frames[-1].done and frames[-1].image.width > 100 and "digit 3" in frames[-1].text
    mixed = list(generate.generate(model, sched, settings(sched.T, n=4, steps=4, label="random", guidance=2.0)))[-1]
    assert "a random digit each" in mixed.text and not torch.equal(mixed.samples, frames[-1].samples)

