"""The app's reverse-chain jobs (ddpm.demo.trajectory, ddpm.demo.roundtrip) on a tiny random U-Net (conftest:
T = 20): the x0-hat animation, noise and denoise, and how both stream their progress and stop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm.data import load_sample, to_model_range
from ddpm.demo import draw, forward, generate, interpolate, roundtrip, runtime, trajectory
from ddpm.demo.limits import InputError, MissingInput
from ddpm.demo.progress import Progress, Ticker, finish
from ddpm.samplers import sample_generators
from ddpm.schedule import NoiseSchedule
from conftest import tiny_config, tiny_model
from demo_helpers import DIGIT, same, settings


# ---------------------------------------------------------------- tab 3: trajectory

class FakeClassifier(torch.nn.Module):
    """Logits that favour class 3 more and more as x0_hat gets brighter in the middle."""

    def forward(self, x):
        z = torch.zeros(x.shape[0], 10)
        z[:, 3] = 4 + x[:, 0, 10:18, 10:18].mean(dim=(1, 2))
        return z


def test_ticker_reports_about_25_times_never_on_the_last_pass():
    """A job of 100 passes reports every 4th (not the 100th: its result follows); first=True also reports the
    first pass (the animation's first x0_hat), then every 4th after it; a job shorter than 25 passes, every pass."""
    plain, first, short = Ticker(100), Ticker(100, first=True), Ticker(3)
    assert [i for i in range(1, 101) if plain.due()] == list(range(4, 100, 4))
    assert [i for i in range(1, 101) if first.due()] == list(range(1, 101, 4))
    assert [short.due() for _ in range(3)] == [True, True, False] and short.elapsed().endswith(" s")
    thirty = Ticker(30)  # every ceil(30 / 25) = 2 passes, not every pass: at most UPDATES reports
    assert sum(thirty.due() for _ in range(30)) == 14


def test_times_under_a_second_keep_two_decimals():
    """'Done in 0.1 s (138 ms a step)' read as if the step took longer than the run: under a second, 0.14 s."""
    from ddpm.demo.progress import took

    assert (took(0.138), took(0.004), took(0.996), took(1.26), took(22.74)) == ("0.14 s", "0.00 s", "1.0 s", "1.3 s",
                                                                                 "22.7 s")


def test_keep_every():
    assert trajectory.keep_every(1000, 100) == 10 and trajectory.keep_every(50, 100) == 1


def test_trajectory_frames_panel_and_gif(model, sched, tmp_path):
    s = settings(sched.T, n=2, sampler="ddpm")
    traj = trajectory.run_trajectory(model, sched, s, classifier=FakeClassifier(), max_frames=6)
    k = trajectory.keep_every(sched.T, 6)
    kept = {i for i in range(sched.T) if i % k == 0} | {sched.T - 1}
    assert traj.frames == len(kept) + 1 <= 6 + 2  # kept steps (the last included) + the final sample
    assert traj.t[0] == sched.T and traj.t[-1] == 0 and traj.t == sorted(traj.t, reverse=True)
    assert traj.x_t.shape == traj.x0_hat.shape == traj.eps_hat.shape == (traj.frames, 2, 28, 28)
    assert np.array_equal(traj.x_t[-1], traj.x0_hat[-1])  # the final frame is the sample
    panel = trajectory.frame_panel(traj, 0)
    assert panel.width > 2.5 * panel.height  # three panels side by side
    assert same(trajectory.frame_panel(traj, 10**6), trajectory.frame_panel(traj, traj.frames - 1))  # clamped
    # the app's slider is in t, as the plot: each t shows the kept frame nearest it
    for t, i in ((sched.T, 0), (0, traj.frames - 1), (traj.t[2] + 1, 2), (-5, traj.frames - 1)):
        assert trajectory.nearest_frame(traj, t) == i, t
    with pytest.raises(InputError, match=f"t must be a number between 0 and {sched.T}, not"):
        trajectory.nearest_frame(traj, float("nan"))
    gif = Image.open(trajectory.save_gif(traj, tmp_path / "t.gif"))
    assert gif.format == "GIF" and gif.n_frames == traj.frames
    gif.seek(traj.frames - 1)
    assert gif.info["duration"] == 1500  # the final sample is held a moment
    df = trajectory.decision_plot(traj, at=7)
    assert set(df.digit) == {str(c) for c in range(10)} | {trajectory.NOW} and df.probability.between(0, 1).all()
    assert list(df[df.digit == trajectory.NOW].t) == [7, 7]  # the slider's t, as a vertical line
    for c in (3, 9):  # each digit's curve is its own probability (3 rises with FakeClassifier), at every step's t
        curve = df[df.digit == str(c)]
        assert np.array_equal(curve.probability, traj.probs[:, c]) and list(curve.t) == traj.probs_t
    assert trajectory.decision_legend(traj) == ["3"]  # every other class stays under p 0.02: a legend for a phone
    assert len(traj.probs_t) == sched.T  # every step, not only the kept frames
    assert "**3**" in trajectory.decided_at(traj) and "the first digit's x0_hat" in trajectory.decided_at(traj)
    # 20 steps kept every 4th: 0, 4, ..., 16, then the last step (index 19) and the final sample; the caption counts it
    assert f"{traj.frames} frames (every {k} steps, the last step and the final x_0)" in traj.summary


def test_frame_panel_bad_frames(model, sched):
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=1, steps=3), None)
    assert same(trajectory.frame_panel(traj, 99), trajectory.frame_panel(traj, traj.frames - 1))  # clipped
    assert same(trajectory.frame_panel(traj, 1.0), trajectory.frame_panel(traj, "1"))
    for bad in (None, float("nan"), "one", True):
        with pytest.raises(InputError, match=f"frame must be a number between 0 and {traj.frames - 1}, not"):
            trajectory.frame_panel(traj, bad)
    with pytest.raises(MissingInput, match="No trajectory yet"):
        trajectory.frame_panel(None, 0)


def test_the_animation_shows_the_first_x0_hat_and_each_panel_names_its_t(monkeypatch):
    """The first report comes after the first step (its x0_hat is already a guess), not `every` steps later; the
    x_t panel names the paper t of the step's x_t, and the final frame's eps_hat the last step's t (not t = 0)."""
    titles, real = [], trajectory.three_panels
    monkeypatch.setattr(trajectory, "three_panels",
                        lambda *a, **k: titles.append((a[3], a[4] if len(a) > 4 else None)) or real(*a, **k))
    s = settings(50, n=1, steps=50)  # 50 steps: a report every 2nd (Ticker), so a missed first step shows
    *reports, traj = trajectory.trajectory_stream(tiny_model(timesteps=50), NoiseSchedule(50), s)
    assert reports[0].text.startswith("Denoising: step 1 of 50 (t = 50), ")
    assert reports[1].text.startswith("Denoising: step 3 of 50 (t = 48), ")
    assert [x for x, _ in titles] == [f"x_t, t = {t}" for t in range(50, 0, -2)]
    titles.clear()
    trajectory.frame_panel(traj, traj.frames - 1)
    assert titles == [("x_0 (final sample)", "eps_hat of the last step (t = 1)")]


def test_trajectory_without_classifier(model, sched):
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=1))
    assert traj.probs is None and trajectory.decision_plot(traj) is None and trajectory.decided_at(traj) == ""
    assert trajectory.decision_legend(traj) is None
    assert traj.frames == 6  # 5 DDIM steps + the final sample


def test_the_film_strip_shows_the_first_digits_chain_from_the_sample_to_noise(model, sched):
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=2, steps=4))  # frames t = 20, 15, 10, 5, 0
    film = np.asarray(trajectory.film_strip(traj))
    one = np.asarray(trajectory.film_strip(trajectory.run_trajectory(model, sched, settings(sched.T, n=1, steps=4))))
    assert np.array_equal(film, one)  # the first digit only: the same with a second one beside it
    assert [traj.t[i] for i in trajectory.film_frames(traj)] == [0, 5, 10, 15, 20]  # the sample on the left
    assert [traj.t[i] for i in trajectory.film_frames(traj, columns=2)] == [0, 20]
    assert np.asarray(trajectory.film_strip(traj, columns=2)).shape[1] < film.shape[1]
    # DDPM keeps every k-th step and the last (t = 1): the stills still fall on round t's, not 0, 2, 5, 7 ...
    ddpm = trajectory.run_trajectory(model, sched, settings(sched.T, n=1, sampler="ddpm"), max_frames=4)
    assert 1 in ddpm.t and [ddpm.t[i] for i in trajectory.film_frames(ddpm, columns=5)] == [0, 5, 10, 15, 20]


def test_compare_rows_share_the_seed_and_stay_within_one_runs_cost(model, sched):
    from ddpm.demo import compare

    s = settings(1000, n=16, steps=50, label="3", guidance=2.0)
    rows = compare.compare_rows("samplers", s, 1000)
    assert [(r.sampler, r.steps, r.eta) for r in rows] == [("ddpm", 1000, 0), ("ddim", 50, 0), ("ddim", 50, 1),
                                                          ("ddim", 10, 0)]
    assert {(r.seed, r.n, r.label, r.guidance) for r in rows} == {(0, compare.COMPARE_DIGITS, 3, 2.0)}
    assert [r.guidance for r in compare.compare_rows("guidance", s, 1000)] == list(compare.SWEEP)
    with pytest.raises(InputError, match="These 5 rows ask 48,000 digit-steps.*DDIM with fewer steps, or at most 2 "
                                         "digits a row"):  # DDPM: w = 0, 1 one pass a step, the others two
        compare.compare_rows("guidance", settings(1000, n=6, sampler="ddpm", label="3", guidance=2.0), 1000)
    with pytest.raises(InputError, match="needs a class"):
        compare.compare_rows("guidance", settings(1000), 1000)
    with pytest.raises(InputError, match="without labels, so it has no guidance scale to sweep"):
        compare.compare_rows("guidance", s, 1000, conditional=False)
    assert compare.samplers_rows_words(1000) == "DDPM, DDIM 50, DDIM 50 with eta 1, DDIM 10"
    small = compare.compare_rows("samplers", settings(sched.T, n=2, steps=5), sched.T)
    assert [r.steps for r in small] == [20, 20, 20, 10]  # T = 20: so the radio says (it said DDIM 50)
    assert compare.samplers_rows_words(sched.T) == "DDPM, DDIM 20, DDIM 20 with eta 1, DDIM 10"
    *reports, done = compare.compare_stream(model, sched, "samplers", small)
    assert reports and all(isinstance(r, Progress) for r in reports) and "Row 1 of 4 (DDPM, 20 steps)" in reports[0].text
    assert done.image.width > 2 * 84 and "Seed 0, 2 digits a row" in done.text
    assert "with 10 steps most often to the same one as with 20" in done.text  # not "as with 50" on T = 20
    ten = compare.compare_rows("samplers", settings(10, n=1, steps=5), 10)  # T = 10: DDIM 10 once, not twice
    assert [(r.sampler, r.steps, r.eta) for r in ten] == [("ddpm", 10, 0), ("ddim", 10, 0), ("ddim", 10, 1)]
    assert compare.samplers_rows_words(10) == "DDPM, DDIM 10, DDIM 10 with eta 1"
    assert "most often to the same one" not in compare.samplers_say(10)
    # with a class every row draws it: the noise decides the shapes, not the digits
    assert "they seldom end as DDIM's digit" in compare.samplers_say(1000)
    assert "The class is the label's in every row" in compare.samplers_say(1000, 7)
    assert "seldom end as DDIM's digit" not in compare.samplers_say(1000, "random")
    w0 = list(compare.compare_stream(model, sched, "samplers",
                                     compare.compare_rows("samplers", settings(20, n=1, steps=2, label="3", guidance=0),
                                                          20)))[-1]
    assert "they seldom end as DDIM's digit" in w0.text  # w = 0 ignores the class: the null class's digits
    # the caption names what the rows share, the settings each row leaves out of its title
    sweep = compare.compare_rows("guidance", settings(1000, n=3, steps=20, eta=0.5, label="random", guidance=2,
                                                      autoguidance=1.5), 1000)
    assert compare.shared_settings("guidance", sweep[0]) == "DDIM, 20 steps, eta 0.5, a random digit each, autoguidance 1.5"
    assert "w = 0 (which ignores the class)" in compare.shared_settings("samplers", settings(1000, label="3", guidance=0))
    assert [compare.row_title("guidance", r) for r in sweep] == [
        "w = 0 (the null class)", "w = 1 (the class, unguided)", "w = 1.5", "w = 2", "w = 3"]
    # exactly one run's digit-steps is allowed: 4 digits x 500 steps x (1 + 1 + 2 + 2 + 2) passes = 16,000
    assert len(compare.compare_rows("guidance", settings(1000, n=4, steps=500, label="3", guidance=2), 1000)) == 5
    with pytest.raises(InputError, match="choose DDIM with fewer steps, or another model$"):  # not even one digit fits
        compare.compare_rows("guidance", settings(2001, n=1, sampler="ddpm", label="3", guidance=2), 2001)


def test_a_dataset_with_named_classes_is_captioned_by_them(model, sched):
    fashion = settings(sched.T, label="3", dataset="fashion-mnist")
    assert "2 images" in fashion.describe() and "class 3 (Dress), guidance w = 1" in fashion.describe()
    assert [settings(sched.T, label=c, dataset="fashion-mnist").class_words() for c in ("any", "random")] == [
        "any class", "a random class each"]
    assert "2 digits" in settings(sched.T, label="3").describe() and "digit 3," in settings(sched.T, label="3").describe()
    *_, done = generate.generate(model, sched, fashion)
    assert "class 3 (Dress)" in done.text and "draws these images again" in done.text


def test_decided_at_reads_the_last_stable_run():
    one = np.zeros((5, 1, 28, 28), np.uint8)  # five frames of one digit
    traj = trajectory.Trajectory([], one, one, one)
    traj.probs_t = [50, 40, 30, 20, 10]
    p = np.full((5, 10), 0.01)
    p[:, 7] = [0.9, 0.2, 0.6, 0.7, 0.91]
    traj.probs = p
    assert "from t = 30 onward" in trajectory.decided_at(traj)
    assert "reads x0_hat as a **7**" in trajectory.decided_at(traj)  # one digit: not "the first digit's"
    assert "(the chain starts at t = 50)" in trajectory.decided_at(traj)
    assert "Before that" not in trajectory.decided_at(traj)  # nothing else passed 0.5 before t = 30
    p[1, 8] = 0.75  # a blurry x0_hat read as an 8 on the way
    assert "with p > 0.5 as 8:" in trajectory.decided_at(traj)
    p[-1, 7] = 0.3
    assert "unsure" in trajectory.decided_at(traj)
    traj.probs = np.full((5, 10), 0.01)
    traj.probs[:, 8] = [0.9, 0.2, 0.6, 0.7, 0.91]  # the first run, read as an 8
    assert "as an **8** with p > 0.5" in trajectory.decided_at(traj)


def test_shipped_classifier_reads_digits_and_x0_hat(model, sched, monkeypatch):
    clf, note = runtime.load_classifier()
    assert clf is not None, note  # ddpm/assets/classifier.safetensors is in the repo
    logits = clf(to_model_range(torch.as_tensor(load_sample()[0][:50])))
    assert logits.shape == (50, 10)
    assert (logits.argmax(1).numpy() == load_sample()[1][:50]).mean() > 0.9
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=1), classifier=clf)
    assert traj.probs.shape == (5, 10) and np.allclose(traj.probs.sum(1), 1, atol=1e-5)
    import ddpm.classifier

    def missing(*a, **k):
        raise FileNotFoundError("classifier.safetensors")
    monkeypatch.setattr(ddpm.classifier, "load_classifier", missing)
    clf, note = runtime.load_classifier()  # the app still starts, and says why the probabilities are missing
    assert clf is None and "could not be loaded (FileNotFoundError" in note


# ---------------------------------------------------------------- tab 4: noise and denoise

def test_roundtrip(model, sched):
    r = roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=3))
    assert r.main.width > 2.5 * r.main.height * 0.8 and r.strip.width > r.strip.height
    assert "t = 10" in r.text and "denoised with 3 DDIM steps;" in r.text
    few = roundtrip.roundtrip(model, sched, DIGIT, 2, settings(sched.T, n=1, steps=3)).text  # at most t of them
    assert "denoised with 2 DDIM steps;" in few and "with 1 DDIM step;" in roundtrip.roundtrip(
        model, sched, DIGIT, 1, settings(sched.T, n=1, steps=3)).text
    ddpm = settings(sched.T, sampler="ddpm")
    assert [roundtrip.chain_words(ddpm, t) for t in (7, 1)] == ["all 7 steps (DDPM)", "1 step (DDPM)"]
    assert "the strip's 10 chains each start from their own t. All 11 took " in r.text
    r2 = roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=3))
    assert same(r.main, r2.main) and same(r.strip, r2.strip)
    with pytest.raises(InputError, match="t must be between 1 and 20"):
        roundtrip.roundtrip(model, sched, DIGIT, 0, settings(sched.T, n=1))


def test_a_new_digit_says_press_or_why_it_cannot_be_used(tmp_path):
    """Tab 4's text once its digit changes: a blank upload said 'press Noise and denoise' under the preview's
    'No digit found' warning."""
    from ddpm.demo.sources import EXAMPLE, UPLOAD

    assert "press **Noise and denoise**" in roundtrip.digit_changed(EXAMPLE, 3)
    assert roundtrip.digit_changed(UPLOAD, 0, None).startswith("*No image uploaded")
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    text = roundtrip.digit_changed(UPLOAD, 0, str(tmp_path / "blank.png"))
    assert text.startswith("*The new digit cannot be used: No digit found") and "press" not in text
    from ddpm.demo.widgets import Slider

    number = Slider(0, 299, value=0, step=1, label="MNIST test digit #")  # its box typed past the end, or emptied
    assert roundtrip.digit_changed(EXAMPLE, number.preprocess(99999)) == \
        "*The new digit cannot be used: MNIST test digit # must be between 0 and 299, not 99999*"
    assert "is empty" in roundtrip.digit_changed(EXAMPLE, number.preprocess(None))  # not an InputError's traceback
    assert "cannot be used: MNIST example number must be" in roundtrip.digit_changed(EXAMPLE, 2.5)  # (the API)


def test_roundtrip_main_panels_are_x0_x_t_and_the_chain_from_x_t(model, sched):
    """The main picture is x_0 | x_t at the chosen t (the fixed eps) | the reverse chain from that x_t: not the
    strip's first chain, nor x_T. DDIM, so the chain from x_t can be rerun exactly."""
    s = settings(sched.T, n=1, steps=3, seed=2)
    x0 = forward.digit_tensor(DIGIT)
    for t in (7, 13):
        r = roundtrip.roundtrip(model, sched, DIGIT, t, s)
        x_t = forward.jump(sched, x0, t, forward.fixed_eps(s.seed))
        back = finish(roundtrip.denoise_steps(model, sched, x_t, t, s)).x_prev.clamp(-1, 1)
        want = draw.hstack([draw.titled(draw.digits(x0, scale=6), "x_0, your digit"),
                            draw.titled(draw.digits(x_t.clamp(-1, 1), scale=6), f"x_t, t = {t}"),
                            draw.titled(draw.digits(back, scale=6), "denoised from x_t")])
        assert same(r.main, want), t


def test_roundtrip_ddpm_chains_run_on_the_models_device(sched):
    """The chains move to the model's device (a GPU's): a model on the meta device sees only meta tensors."""
    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1, device="meta"))
            self.config, self.seen = tiny_config(), set()

        def forward(self, x, t, *args, **kw):
            self.seen.add(x.device.type)
            return torch.zeros_like(x)

    stub = Stub().eval()
    noisy = [forward.jump(sched, forward.digit_tensor(DIGIT), u, forward.fixed_eps(0)) for u in (3, 5)]
    list(roundtrip.ddpm_chains(stub, sched, noisy, [3, 5], 0))
    assert stub.seen == {"meta"}


def test_roundtrip_reverse_noise_is_not_the_forward_eps(model, sched, monkeypatch):
    """The forward eps comes from the generator of (seed, 0); the reverse chain must draw from other streams."""
    seen, real = [], roundtrip.sample_loop
    monkeypatch.setattr(roundtrip, "sample_loop", lambda *a, **k: seen.append(k) or real(*a, **k))
    roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, sampler="ddim", eta=1.0, seed=5))
    assert seen and all(k["first"] >= 1 for k in seen)  # DDPM's batched chains: the test below


def test_roundtrip_ddpm_chains_run_as_one_batch_end_where_each_would_alone(model, sched):
    """The strip's DDPM chains share one network pass per t (ddpm_chains), yet each draws its own noise as
    denoise_steps does alone, from (seed, 1): the same x_0 up to batched float rounding."""
    s = settings(sched.T, n=1, sampler="ddpm", seed=3)
    starts = [7, *roundtrip.strip_ts(sched.T)]
    x0 = forward.digit_tensor(DIGIT)
    noisy = [forward.jump(sched, x0, u, forward.fixed_eps(s.seed)) for u in starts]
    steps = list(roundtrip.ddpm_chains(model, sched, noisy, starts, s.seed))
    assert [t for t, _ in steps] == list(range(sched.T - 1, -1, -1))  # T batched steps, down to t = 0
    for u, x_u, batched in zip(starts, noisy, steps[-1][1]):
        alone = finish(roundtrip.denoise_steps(model, sched, x_u, u, s)).x_prev
        assert torch.allclose(batched, alone, atol=1e-4), u


def test_roundtrip_ddpm_chains_refuse_dropout_in_training_mode(sched):
    """The batched chains skip sample_loop, so they ask for eval mode themselves (dropout would not follow the seed)."""
    from conftest import tiny_model

    noisy = [forward.jump(sched, forward.digit_tensor(DIGIT), 5, forward.fixed_eps(0))]
    with pytest.raises(ValueError, match="training mode"):
        next(roundtrip.ddpm_chains(tiny_model(dropout=0.5).train(), sched, noisy, [5], 0))


def test_roundtrip_small_t_keeps_the_digit(model, sched):
    """At t = 1 almost no noise is added, so the reverse chain must give (nearly) the digit back."""
    x0 = to_model_range(torch.as_tensor(DIGIT)[None])
    x_t = forward.jump(sched, x0, 1, forward.fixed_eps(0))
    back = finish(roundtrip.denoise_steps(model, sched, x_t, 1, settings(sched.T, n=1, sampler="ddpm"))).x_prev
    assert (back - x0).abs().mean() < 0.1


class Counting(torch.nn.Module):
    """The model, counting its forward passes."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config, self.calls = model, model.config, 0

    def forward(self, *args, **kw):
        self.calls += 1
        return self.model(*args, **kw)


@pytest.mark.parametrize("job", ["trajectory", "roundtrip"])
def test_long_jobs_report_progress_and_stop_when_their_stream_is_closed(model, sched, job):
    """The app stops a job whose tab has gone by not asking its generator for more: the network must stop too."""
    def stream(m):
        if job == "trajectory":
            return trajectory.trajectory_stream(m, sched, settings(sched.T, n=1, sampler="ddpm"))
        return roundtrip.roundtrip_stream(m, sched, DIGIT, sched.T, settings(sched.T, n=1, sampler="ddpm"))

    whole = Counting(model)
    items = list(stream(whole))
    lines, result = items[:-1], items[-1]
    assert 10 <= len(lines) <= 25 and all(isinstance(x, Progress) and x.text.startswith("Denoising: ") for x in lines)
    # the animation shows x_t | x0_hat | eps_hat while it runs; noise and denoise, the line alone
    assert all((x.picture is not None) == (job == "trajectory") for x in lines)
    # the first report comes after the first step, from paper t = T = 20 to 19
    assert ("step 1 of 20 (t = 20)" if job == "trajectory" else "now at t = 19, step 1 of 20") in lines[0].text
    if job == "roundtrip":  # the batch holds only the chains begun: at t = 19 the one from T = 20, not the strip's
        assert lines[0].text.startswith("Denoising: 2 of 11 chains as one batch")  # t and the strip's t = 20
        assert lines[-1].text.startswith("Denoising: 11 of 11 chains")
    assert isinstance(result, trajectory.Trajectory if job == "trajectory" else roundtrip.RoundTrip)
    # trajectory: one chain of T steps; roundtrip: the chain from t = T and the strip's ten as one batch of T steps
    assert whole.calls == sched.T
    cut = Counting(model)
    s = stream(cut)
    assert next(s).text.startswith("Denoising: ")
    s.close()  # what Gradio does when the browser goes away
    assert cut.calls <= whole.calls // 10


def test_interpolation_mixes_the_two_noised_digits_and_lambda_0_is_tab_4s_chain(model, sched):
    """Ho et al. Sec. 4.4: x_bar_t = (1 - lambda) x_t + lambda x'_t with x_t, x'_t fixed; lambda = 0 is your digit
    noised exactly as tab 4 noises it, and denoised as tab 4 denoises it (with DDPM's fresh noise too)."""
    other, t = load_sample()[0][1], 12
    for s in (settings(sched.T, n=1, steps=4), settings(sched.T, n=1, sampler="ddpm")):
        *reports, r = interpolate.interpolate_stream(model, sched, DIGIT, other, t, s)
        assert reports and all(isinstance(p, Progress) for p in reports) and "t = 12" in r.text
        x_t = forward.jump(sched, forward.digit_tensor(DIGIT), t, forward.fixed_eps(0))
        x_t_other = forward.jump(sched, forward.digit_tensor(other), t, interpolate.other_eps(0))
        lam = interpolate.lambdas().view(-1, 1, 1, 1)
        assert r.x_bar_t.shape == r.x_bar_0.shape == (interpolate.COLUMNS, 1, 28, 28)
        assert torch.allclose(r.x_bar_t, (1 - lam) * x_t + lam * x_t_other, atol=1e-6)
        assert torch.equal(r.x_bar_t[0], x_t[0]) and torch.allclose(r.x_bar_t[-1], x_t_other[0], atol=1e-6)
        # the first row mixes the clean digits the same way round: lambda = 0 is yours, lambda = 1 the other
        x0, x0_other = forward.digit_tensor(DIGIT), forward.digit_tensor(other)
        assert torch.equal(r.pixels[0], x0[0]) and torch.allclose(r.pixels[-1], x0_other[0], atol=1e-6)
        *_, alone = roundtrip.denoise_steps(model, sched, x_t, t, s)
        assert torch.allclose(r.x_bar_0[0], alone.x_prev.clamp(-1, 1)[0], atol=1e-4)
        again = finish(interpolate.interpolate_stream(model, sched, DIGIT, other, t, s))
        assert same(r.image, again.image) and torch.equal(r.x_bar_0, again.x_bar_0)
    # eps' is a stream of its own: not tab 1's eps (seed, 0), nor a column's reverse noise (seed, REVERSE_FIRST ..)
    gens = sample_generators(0, 1) + sample_generators(0, interpolate.COLUMNS, first=roundtrip.REVERSE_FIRST)
    used = [torch.randn((1, 1, 28, 28), generator=g) for g in gens]
    assert not any(torch.allclose(interpolate.other_eps(0), u) for u in used)
    with pytest.raises(InputError, match="t must be between 1 and 20"):
        finish(interpolate.interpolate_stream(model, sched, DIGIT, other, 0, settings(sched.T, n=1)))
    eta = settings(sched.T, n=1, steps=2, eta=0.5)  # DDIM with eta > 0 is not noiseless
    assert "each column also draws its own reverse noise" in finish(
        interpolate.interpolate_stream(model, sched, DIGIT, other, t, eta)).text
    assert interpolate.default_t(1000) == 333 and interpolate.default_t(20) == 7  # near T/3


def test_strip_ts():
    assert roundtrip.strip_ts(1000) == list(range(100, 1001, 100))
    assert roundtrip.strip_ts(20) == list(range(2, 21, 2))
    assert roundtrip.strip_ts(5) == [1, 2, 3, 4, 5] and roundtrip.strip_ts(2) == [1, 2]  # never t = 0: no step


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_noise_and_denoise_runs_on_a_model_of_two_timesteps(sampler):
    """The app runs tab 4 at start-up: on T = 2 to 5 its strip held t = 0, a chain of no step, and app.py died."""
    sched2, model2 = NoiseSchedule(2), tiny_model(timesteps=2)
    done = finish(roundtrip.roundtrip_stream(model2, sched2, DIGIT, 1, roundtrip.chain_settings(0, sampler, 2, 2)))
    assert f"denoised with {'1 step (DDPM)' if sampler == 'ddpm' else '1 DDIM step'};" in done.text
