"""The app's pure functions, tab by tab (ddpm.demo.*), on a tiny random U-Net (conftest: T = 20); the reverse-chain
jobs of tabs 3 and 4 are in test_demo_chains.py, the digit sources in test_sources.py."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import hub
from ddpm.data import load_sample, to_model_range
from ddpm.demo import about, forward, generate, objective, outputs, runtime
from ddpm.demo.limits import MAX_DIGITS, InputError, check_float, check_int, check_seed, parse_label
from ddpm.samplers import sample_generators
from ddpm.schedule import NoiseSchedule
from conftest import tiny_model
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
        with pytest.raises(InputError, match="^n is empty: give a whole number between 1 and 5$"):
            check_int("n", empty, 1, 5)
    # the largest seed a browser's number box holds exactly (JavaScript numbers are doubles): 2**53 + 1 typed
    # there arrives as 2**53, which is refused rather than run as another seed than the one shown
    assert check_seed(2**53 - 1) == 2**53 - 1
    for bad in (-1, 2**53):
        with pytest.raises(InputError, match="seed must be between 0 and 9007199254740991"):
            check_seed(bad)
    with pytest.raises(InputError, match=r"got 1e\+308$"):  # not all 309 digits of int(1e308)
        check_seed(1e308)
    with pytest.raises(InputError, match="got a 400-digit number$"):
        check_seed(10**399)


def test_check_float_and_labels():
    assert check_float("w", "2.5", 0, 10) == 2.5
    assert str(check_float("w", -0.0, 0, 10)) == "0.0"  # a setting never reads "-0"
    for bad in (-1, 11, float("inf"), "x", None):
        with pytest.raises(InputError):
            check_float("w", bad, 0, 10)
    assert parse_label("any") is None and parse_label(None) is None and parse_label("7") == 7
    assert parse_label("random") == "random"
    with pytest.raises(InputError):
        parse_label("10")


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
        ("closed-form jump (Eq. 4)", forward.jump(sched, x0, t, forward.fixed_eps(0)) - a * x0),
        (f"{t} Markov steps (Eq. 2)", forward.chain(sched, x0, t, 0) - a * x0))]
    assert all(row in v.text.splitlines() for row in rows), v.text
    assert f"log-SNR = {float(sched.log_snr[t - 1]):+.2f}." in v.text
    at_0 = v.scales[v.scales.t == 0].set_index("curve").value
    assert at_0[forward.SIGNAL] == 1.0 and at_0[forward.NOISE] == 0.0
    (images, labels), = strips
    assert labels == [f"t={u}" for u in range(0, T + 1, 10)] and np.array_equal(images[0], DIGIT)


def test_notation_names_where_signal_and_noise_are_equal():
    s = NoiseSchedule(1000)
    even = next(t for t in range(1, 1001) if float(s.alpha_bar[t - 1]) < 0.5)  # paper t: more noise than signal
    assert f"here at about t = {even})" in forward.notation(s)


def test_fixed_eps_is_stream_seed_0_and_the_chain_draws_its_own_noise():
    """fixed_eps is the draw of the generator of (seed, 0), the stream tab 4's reverse chains leave alone
    (roundtrip.REVERSE_FIRST); chain() draws from another: on the eps's, its one step at t = 1 would be the jump."""
    assert torch.equal(forward.fixed_eps(3), torch.randn((1, 1, 28, 28), generator=sample_generators(3, 1)[0]))
    s, x0 = NoiseSchedule(20), forward.digit_tensor(DIGIT)
    assert not torch.allclose(forward.chain(s, x0, 1, 0), forward.jump(s, x0, 1, forward.fixed_eps(0)))


def test_fixed_eps_makes_the_slider_morph_smoothly():
    s = NoiseSchedule(1000)
    x0 = to_model_range(torch.as_tensor(DIGIT)[None])
    eps = forward.fixed_eps(0)
    steps = [(forward.jump(s, x0, t + 1, eps) - forward.jump(s, x0, t, eps)).abs().mean() for t in range(1, 1000, 50)]
    assert max(steps) < 0.05  # neighbouring t differ a little, not by a fresh noise draw (~1.1)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
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
    assert f"Loss at t = 7: {loss[7]:.4f}" in v.text and v.panel.width > 5 * 28
    marker = v.loss_curve[v.loss_curve.curve == forward.MARKER]
    assert list(marker.t) == [7, 7]
    assert "a label would lower it a little" in v.text and "teacher" not in v.text
    distilled = objective.objective_view(model, sched, DIGIT, 7, 3, null_target="a frozen teacher's predictions")
    assert "last trained on a frozen teacher's predictions in eps's place" in distilled.text  # not a plain DDPM's loss
    assert "a label would lower" not in distilled.text


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
    assert settings(sched.T, sampler="ddpm", eta=1.0).eta == 0.0  # DDPM always adds its full noise
    for bad in (dict(eta=-0.1), dict(eta=1.5), dict(eta="x")):
        with pytest.raises(InputError, match="DDIM eta"):
            settings(sched.T, **bad)
    last = lambda s: list(generate.generate(model, sched, s))[-1]
    s0, s1 = settings(sched.T, seed=4), settings(sched.T, seed=4, eta=1.0)
    assert "eta 1" in last(s1).text and "eta" not in last(s0).text
    assert not torch.equal(last(s0).samples, last(s1).samples)
    assert torch.equal(last(s1).samples, last(s1).samples)  # still the same digits for the same seed


def test_resolve_seed():
    assert generate.resolve_seed(7, False) == 7
    for bad in ("abc", 2, None):
        with pytest.raises(InputError, match="new random seed must be true or false"):
            generate.resolve_seed(7, bad)
    seeds = {generate.resolve_seed(7, True) for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)


def test_generate_streams_then_finishes_reproducibly(model, sched):
    s = settings(sched.T, n=3, sampler="ddpm", seed=11)
    frames = list(generate.generate(model, sched, s, updates=5))
    assert [f.done for f in frames] == [False] * (len(frames) - 1) + [True]
    assert 4 <= len(frames) <= 7  # ~updates refreshes, not one per step
    assert "step" in frames[0].text and "Done" in frames[-1].text and "seed 11" in frames[-1].text
    ddim = list(generate.generate(model, sched, settings(sched.T, n=1, sampler="ddim", steps=4), updates=4))
    assert [f.text.split("now at ")[1].split(")")[0] for f in ddim[:-1]] == ["t = 15", "t = 10", "t = 5"]  # paper t of x_prev
    final = frames[-1]
    assert final.samples.shape == (3, 1, 28, 28) and final.samples.abs().max() <= 1
    again = list(generate.generate(model, sched, s, updates=5))[-1]
    assert torch.equal(final.samples, again.samples) and same(final.image, again.image)
    other = list(generate.generate(model, sched, settings(sched.T, n=3, sampler="ddpm", seed=12)))[-1]
    assert not torch.equal(final.samples, other.samples)


def test_the_finished_grid_says_what_the_classifier_reads_row_by_row(model, sched):
    fake = lambda x: torch.eye(10)[torch.arange(len(x)) % 10]  # reads sample k as digit k  # noqa: E731
    *_, done = generate.generate(model, sched, settings(sched.T, n=5), classifier=fake)
    assert "The MNIST classifier reads them, row by row, as 0 1 2 / 3 4." in done.text  # 5 digits: rows of 3
    assert done.text.endswith(done.summary) and done.summary.startswith("5 digits, DDIM")  # the caption sans time
    assert "classifier" not in list(generate.generate(model, sched, settings(sched.T, n=5)))[-1].text


def test_generate_ddim_with_guidance(model, sched):
    s = settings(sched.T, n=4, steps=4, label="3", guidance=2.0)
    frames = list(generate.generate(model, sched, s))
    assert frames[-1].done and frames[-1].image.width > 100 and "digit 3" in frames[-1].text
    mixed = list(generate.generate(model, sched, settings(sched.T, n=4, steps=4, label="random", guidance=2.0)))[-1]
    assert "a random digit each" in mixed.text and not torch.equal(mixed.samples, frames[-1].samples)


# ---------------------------------------------------------------- tab 5: about, and the runtime

def test_about_reads_the_model_folder(model, tmp_path):
    md = about.about_markdown(model, "somewhere", None)
    assert "arxiv.org/abs/2006.11239" in md and "Not evaluated yet" in md and "No training record" in md
    assert "ddpm.card" not in md and "when it next starts" in md  # the app reads eval.json itself
    hub_md = about.about_markdown(model, "you/ddpm-mnist", tmp_path / "cache")  # a Hub repo: its folder is a cache
    assert "--weights you/ddpm-mnist --out eval.json" in hub_md and "hf upload you/ddpm-mnist eval.json" in hub_md
    assert "cache" not in hub_md
    assert "autoguidance uses" not in md and "autoguidance uses a" in about.about_markdown(model, "somewhere", None, model)
    (tmp_path / "training.json").write_text(json.dumps({"command": "python train.py --max-minutes 80",
                                                       "train_minutes": 80.0, "steps": 9000}))
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": {"ddpm-1000": {
        "n": 1000, "fd": 2.25, "fd_ratio": 4.5, "inception_score": 9.1, "class_share": [0.1] * 10,
        "memorised": 0.0}}}))
    md = about.about_markdown(model, str(tmp_path), tmp_path)
    assert "python train.py --max-minutes 80" in md and "trained for 80.0 min\n" in md
    assert "2.250" in md and "9.10" in md
    (tmp_path / "training.json").write_text(json.dumps({"command": "python train.py --epochs 2  # 1 min\n"
                                                                   "python train.py --resume --epochs 3"}))
    md = about.about_markdown(model, str(tmp_path), tmp_path)  # a recipe of two runs: a code block, a line each
    assert "\n      python train.py --epochs 2  # 1 min\n      python train.py --resume --epochs 3\n" in md


def test_about_names_a_folder_in_the_working_directory_by_its_relative_path(model, tmp_path, monkeypatch):
    """The bundled weights/ shows as `weights/` (and says so), not as the server's absolute path."""
    (tmp_path / "weights").mkdir()
    monkeypatch.chdir(tmp_path)
    assert "**Weights:** `weights/`\n" in about.about_markdown(model, str(tmp_path / "weights"), None)
    monkeypatch.setattr(about, "DEFAULT_WEIGHTS", tmp_path / "weights")
    assert "**Weights:** `weights/` (the bundled weights)" in about.about_markdown(model, "weights", None)
    assert "**Weights:** `you/ddpm-mnist`" in about.about_markdown(model, "you/ddpm-mnist", None)
    assert f"**Weights:** `{tmp_path.parent}`" in about.about_markdown(model, str(tmp_path.parent), None)  # elsewhere


def test_about_leaves_the_links_to_the_app_when_asked(model):
    md = about.about_markdown(model, "somewhere", None, links=False)
    assert "Read more" not in md and "## Quality" in md and "arxiv.org/abs/2006.11239" in about.read_more()


def test_loss_history_reads_train_pys_log(tmp_path):
    assert about.loss_history(None) is None and about.loss_history(tmp_path) is None  # nothing to plot: no plot
    rows = [(50 * (i + 1), 0, 0.9 if i == 0 else 0.05 - i * 1e-5, 300.0, 1e-3) for i in range(1000)]
    (tmp_path / "loss.csv").write_text("step,epoch,loss,images_per_s,lr\n" +
                                       "".join(",".join(map(str, r)) + "\n" for r in rows))
    h = about.loss_history(tmp_path)
    assert len(h.curve) == about.LOSS_POINTS and h.curve.step.iloc[-1] == 50_000  # neighbouring rows averaged
    assert h.curve.loss.iloc[1] == pytest.approx(np.mean([0.05 - i * 1e-5 for i in (3, 4, 5)]))
    assert h.y_max == pytest.approx(2.5 * np.median([r[2] for r in rows[100:]]))  # the first fall is cut off
    assert "goes from 0.90 at step 50 to 0.049 by step 5050" in h.text and "teacher" not in h.text
    (tmp_path / "training.json").write_text(json.dumps({"null_teacher": "runs/teacher",
                                                       "null_teacher_autoguidance": 2.0}))
    text = about.loss_history(tmp_path).text
    assert "--null-teacher" in text and "autoguided at w = 2" in text
    assert about.null_class_target(tmp_path) == "a frozen teacher's predictions autoguided at w = 2"
    hub.save_pretrained(tiny_model(), tmp_path)  # About's first paragraph says so, "distillation" only if guided
    assert "(guidance distillation)" in about.about_markdown(hub.load_pretrained(tmp_path), str(tmp_path), tmp_path)
    (tmp_path / "training.json").write_text(json.dumps({"null_teacher": "runs/teacher"}))
    first = about.about_markdown(hub.load_pretrained(tmp_path), str(tmp_path), tmp_path).split("## The model")[0]
    assert "trained on a frozen teacher's predictions instead of the drawn noise." in first and "distill" not in first
    (tmp_path / "training.json").write_text(json.dumps({"null_teacher": "x", "null_teacher_autoguidance": "two"}))
    assert "frozen teacher's predictions instead" in about.loss_history(tmp_path).text  # a stray value: no crash
    (tmp_path / "loss.csv").write_text("step,loss\n50,0.9\n100,inf\n150,nan\n200,0.5\n")  # a run that overflowed
    h = about.loss_history(tmp_path)
    assert list(h.curve.step) == [50, 200] and "2 logged values were not finite" in h.text and "tenth" not in h.text
    for bad in ("not,a\nloss,log\n", "step,loss\n50,abc\n100,def\n"):
        (tmp_path / "loss.csv").write_text(bad)
        assert about.loss_history(tmp_path) is None  # the About tab shows no plot rather than failing
    (tmp_path / "loss.csv").write_text("step,loss\n50,0.9\n")  # a run of under 100 steps: a line, no curve yet
    h = about.loss_history(tmp_path)
    assert h.curve is None and "one row so far (step 50, loss 0.9000)" in h.text


def test_model_source_env(monkeypatch):
    monkeypatch.delenv(runtime.MODEL_ENV, raising=False)
    assert runtime.model_source().endswith("weights")
    monkeypatch.setenv(runtime.MODEL_ENV, "runs/interim")
    assert runtime.model_source() == "runs/interim"
    monkeypatch.setenv(runtime.MODEL_ENV, "")  # set but empty: the bundled weights, not the working directory
    assert runtime.model_source().endswith("weights")


def test_a_model_of_another_kind_is_described_as_it_is(tmp_path):
    """An unconditional model takes no class (it would be dropped silently) and has no null class in its texts; a
    Fashion-MNIST model is named, and the MNIST classifier does not read its clothes as digits."""
    from ddpm.hub import save_pretrained

    from conftest import tiny_model

    uncond = tiny_model(num_classes=0, timesteps=30)
    with pytest.raises(InputError, match="^This model was trained without labels, so it takes no class: choose 'any'"):
        settings(30, label="3", conditional=False)
    assert settings(30, conditional=False).label is None
    text = objective.objective_view(uncond, NoiseSchedule(30), DIGIT, 7, 3).text
    assert "gets no label, as in its training: this model takes none." in text and "null class" not in text
    save_pretrained(uncond, tmp_path / "u", meta={"dataset": "fashion-mnist", "label_dropout": 0.2})
    md = about.about_markdown(uncond, "u", tmp_path / "u")
    assert "on 28x28 images (this model: Fashion-MNIST)" in md and "null class" not in md
    assert "Not scored: `ddpm.evaluate` measures against MNIST" in md and "python -m ddpm.evaluate" not in md
    rt = runtime.load_runtime(str(tmp_path / "u"))
    assert rt.dataset == "fashion-mnist" and rt.classifier is None and "trained on Fashion-MNIST" in rt.classifier_note
    assert generate.class_choices("fashion-mnist")[5] == ("3: Dress", "3")  # by name; the API's values stay 0-9
    assert generate.class_choices("mnist") == generate.CLASS_CHOICES


def test_load_runtime_from_a_folder(tmp_path):
    from ddpm.hub import save_pretrained

    from conftest import tiny_model

    save_pretrained(tiny_model(timesteps=30), tmp_path)
    rt = runtime.load_runtime(str(tmp_path), with_classifier=False)
    assert rt.T == 30 and rt.folder == tmp_path and rt.classifier is None and rt.classifier_note
    assert rt.guide is None and rt.sampling_model(1.0) is rt.model
    for w in (2.0, 0.5):  # below 1 too: autoguidance is never silently off
        with pytest.raises(InputError, match="no guide/ folder"):
            rt.sampling_model(w)


def test_autoguidance_in_the_app_uses_the_guide_folder(tmp_path, capsys):
    from ddpm.autoguidance import Autoguided
    from ddpm.hub import save_pretrained

    from conftest import tiny_model

    save_pretrained(tiny_model(0, timesteps=30), tmp_path)
    save_pretrained(tiny_model(1, timesteps=20), tmp_path / "guide")  # another schedule: not a usable guide
    rt = runtime.load_runtime(str(tmp_path), with_classifier=False)
    assert rt.guide is None and "guide/ could not be loaded (the guide does not match" in rt.guide_note
    assert "warning: this model's guide/ could not be loaded" in capsys.readouterr().err  # the log says so
    with pytest.raises(InputError, match="^This model's guide/ could not be loaded .*autoguidance is off"):
        rt.sampling_model(2.0)  # not "has no guide/ folder": it has one, and the log says what is wrong with it
    save_pretrained(tiny_model(1, timesteps=30), tmp_path / "guide")
    rt = runtime.load_runtime(str(tmp_path), with_classifier=False)
    assert rt.guide_note == ""
    ag = rt.sampling_model(2.0)
    assert isinstance(ag, Autoguided) and ag.t_max == 18  # 0.6 T
    assert isinstance(rt.sampling_model(0.5), Autoguided)  # w < 1 (the slider allows 0 to 4) guides too
    s = settings(30, autoguidance=2.0)
    assert s.autoguidance == 2.0 and "autoguidance 2" in s.describe() and "autoguidance" not in settings(30).describe()
    plain = list(generate.generate(rt.model, rt.sched, settings(30)))[-1].samples
    guided = list(generate.generate(ag, rt.sched, s))[-1].samples
    assert not torch.equal(plain, guided)
    with pytest.raises(InputError, match="autoguidance must be a number between 0.0 and 4.0"):
        settings(30, autoguidance=5)


def test_output_files_are_pruned(monkeypatch, tmp_path):
    monkeypatch.setattr(outputs, "output_dir", lambda: tmp_path)
    old = tmp_path / "old.png"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200,) * 2)
    p = outputs.save_png(Image.new("L", (4, 4)), "grid")
    assert p.exists() and p.suffix == ".png" and not old.exists()
    with Image.open(outputs.save_png(Image.new("L", (4, 4)), "grid", "python -m ddpm.sample --seed 3")) as im:
        assert im.info["Comment"] == "python -m ddpm.sample --seed 3"  # a saved grid says how to draw it again
