"""The app's x0-hat animation (ddpm.demo.trajectory), Compare's rows and the progress ticker, on a tiny random
U-Net (conftest: T = 20)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import samplers
from ddpm.data import load_sample, to_model_range
from ddpm.demo import generate, runtime, trajectory
from ddpm.demo.limits import InputError, MissingInput
from ddpm.demo.progress import Progress, Ticker
from ddpm.schedule import NoiseSchedule
from conftest import tiny_model
from demo_helpers import same, settings


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
    assert np.array_equal(traj.eps_hat[-1], traj.eps_hat[-2])  # beside it, the last step's eps_hat
    assert not np.array_equal(traj.eps_hat[-1], traj.eps_hat[0])
    assert trajectory.keep_every(1000) == 10  # 1000 DDPM steps: 100 frames (and the last step and x_0) at most
    # an arrow key: one frame (frames 4 t apart, but a step of 4 would pass the last step's t = 1 by)
    assert trajectory.frame_slider(traj) == dict(maximum=sched.T, value=0, step=2)
    for sampler, steps in [("ddpm", 1000)] + [("ddim", k) for k in (3, 7, 50, 60, 190, 1000)]:
        codes = samplers.reverse_timesteps(sampler, 999, steps)  # T = 1000; kept as run_trajectory keeps them
        every = trajectory.keep_every(len(codes))
        run = SimpleNamespace(t=[c + 1 for i, c in enumerate(codes) if i % every == 0 or i == len(codes) - 1] + [0])
        stops = range(0, run.t[0] + 1, trajectory.frame_slider(run)["step"])  # (at DDIM 7, t = T was no stop's)
        assert {trajectory.nearest_frame(run, stop) for stop in stops} == set(range(len(run.t))), (sampler, steps)
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


def test_the_classifier_reads_the_first_digits_x0_hat_at_each_steps_paper_t(model, sched):
    """The decision plot's P(class | x0_hat_t): the classifier is given digit 0's x0_hat (not its x_t) at every step,
    and each probability sits at the paper t of that step's x_t (T .. 1, as the frames and the slider), not at the
    code index t - 1."""
    from ddpm.samplers import sample_loop

    class Recording(torch.nn.Module):
        def forward(self, x):
            self.seen = x.clone()
            return torch.zeros(x.shape[0], 10)

    s, clf = settings(sched.T, n=2, steps=4), Recording()
    traj = trajectory.run_trajectory(model, sched, s, classifier=clf)
    steps = list(sample_loop(model, sched, s.n, s.seed, **s.sampler_kwargs()))
    assert traj.probs_t == [step.paper_t for step in steps] == [20, 15, 10, 5]
    assert torch.allclose(clf.seen, torch.cat([step.x0_hat[:1] for step in steps]), atol=1e-6)


def test_a_frame_between_two_is_the_nearest_and_the_thresholds_are_inclusive_as_said():
    """A frame number between two (the API takes floats) shows the nearest frame, not the one below; a class whose
    probability reaches PLOT_MIN_P (not only passes it) is in the legend; the final class must keep more than half
    (p = 0.5 exactly is not decided)."""
    u8 = np.stack([np.full((1, 28, 28), 40 * i, np.uint8) for i in range(4)])  # four frames, each its own grey
    traj = trajectory.Trajectory([30, 20, 10, 0], u8, u8, u8)
    assert same(trajectory.frame_panel(traj, 1.6), trajectory.frame_panel(traj, 2))
    assert not same(trajectory.frame_panel(traj, 1), trajectory.frame_panel(traj, 2))
    traj.probs_t, traj.probs = [30, 20, 10], np.full((3, 10), 0.0)
    traj.probs[:, 4], traj.probs[:, 7] = [0.95, 0.5, 0.95], [0.0, trajectory.PLOT_MIN_P, 0.0]
    assert trajectory.decision_legend(traj) == ["4", "7"]
    assert "from t = 10 onward" in trajectory.decided_at(traj)  # t = 20's p of 0.5 is no majority


def test_trajectory_without_classifier(model, sched):
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=1))
    assert traj.probs is None and trajectory.decision_plot(traj) is None and trajectory.decided_at(traj) == ""
    assert trajectory.decision_legend(traj) is None
    assert traj.frames == 6  # 5 DDIM steps + the final sample
    # the first digit's class, when one was asked for: decided_at tells the label's pick from the classifier's guess
    given = [trajectory.run_trajectory(model, sched, settings(sched.T, n=1, steps=1, seed=4, **kw)).given
             for kw in (dict(label="any"), dict(label="3"), dict(label="3", guidance=0.0), dict(label="random"))]
    assert given == [None, 3, None, int(samplers.random_labels(4, 1, 10)[0])]  # w = 0 ignores the class


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
    # no class chosen: w still has one to push toward, each digit's own from (seed, k), as "random" draws it
    assert {r.label for r in compare.compare_rows("guidance", settings(1000, steps=10), 1000)} == {samplers.RANDOM}
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
    assert "most end as another digit than DDIM's" in compare.samplers_say(1000)
    assert "Each digit has the same class in every row; DDPM and eta 1" in compare.samplers_say(1000, 7)
    assert "most end as another digit than DDIM's" not in compare.samplers_say(1000, "random")
    assert compare.samplers_say(1000, 7).endswith("of their shapes: the same digit in strokes of their own, seldom "
                                                  "DDIM's.")  # not that they seldom look like its digit
    w0 = list(compare.compare_stream(model, sched, "samplers",
                                     compare.compare_rows("samplers", settings(20, n=1, steps=2, label="3", guidance=0),
                                                          20)))[-1]
    assert "most end as another digit than DDIM's" in w0.text  # w = 0 ignores the class: the null class's digits
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


def test_the_samplers_rows_set_their_own_eta_whatever_the_tabs(model, sched):
    """The samplers rows are DDPM, the deterministic DDIM (eta 0), DDIM with eta 1 and fewer DDIM steps (eta 0),
    whatever eta the tab was left at: DDPM takes no eta (sample_loop refuses one), and a DDIM row at the tab's eta
    would not be the deterministic map from x_T the caption describes."""
    from ddpm.demo import compare

    rows = compare.compare_rows("samplers", settings(sched.T, n=1, steps=5, eta=0.5), sched.T)
    assert [(r.sampler, r.steps, r.eta) for r in rows] == [("ddpm", 20, 0), ("ddim", 20, 0), ("ddim", 20, 1),
                                                          ("ddim", 10, 0)]
    assert isinstance(list(compare.compare_stream(model, sched, "samplers", rows))[-1], compare.Comparison)


def test_compare_picture_is_each_rows_chain_from_the_same_x_T_in_row_order(model, sched):
    """Compare's picture: row i is rows[i]'s chain, from the tab's seed (the same x_T in every row, guidance rows too),
    its digits side by side in one line, titled by row_title; not the rows reversed, a seed of their own, or a grid."""
    from ddpm.demo import compare, draw
    from ddpm.samplers import sample_loop

    for kind, s in (("samplers", settings(sched.T, n=3, steps=5, seed=4)),
                    ("guidance", settings(sched.T, n=3, steps=3, seed=4, label="3", guidance=2.0))):
        rows = compare.compare_rows(kind, s, sched.T)
        assert {r.seed for r in rows} == {4}
        done = list(compare.compare_stream(model, sched, kind, rows))[-1]
        want = draw.vstack([draw.titled(draw.digits(list(sample_loop(model, sched, r.n, 4, **r.sampler_kwargs()))[-1]
                                                    .x_prev.clamp(-1, 1), cols=3, scale=3), compare.row_title(kind, r))
                            for r in rows], gap=4)
        assert same(done.image, want), kind


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
    p[0, 8] = 0.95  # a start read as an 8: the decision is the last frame's class, 7, not the first's
    assert "reads x0_hat as a **7**" in trajectory.decided_at(traj)
    p[0, 8] = 0.01
    p[-1, 7] = 0.3
    assert "unsure" in trajectory.decided_at(traj)
    traj.probs = np.full((5, 10), 0.01)
    traj.probs[:, 8] = [0.9, 0.2, 0.6, 0.7, 0.91]  # the first run, read as an 8
    assert "as an **8** with p > 0.5" in trajectory.decided_at(traj)
    # an 8 from the first frame: the blur's reading is no decision (it said "from t = 50 onward", from pure noise)
    traj.probs[:, 8] = 0.9
    assert "from t = 50 onward" not in trajectory.decided_at(traj)
    said = trajectory.decided_at(traj)
    assert "at every step, from the chain's start at t = 50, where x0_hat is still a blur of all digits, which this " \
           "classifier" in said and "cannot tell when the digit was decided" in said
    traj.given = 8  # the class asked for: the label picked it (a run with label 1 at w = 5 read a 1 from t = T)
    assert trajectory.decided_at(traj).endswith("as an **8**, the class asked for, with p > 0.5 at every step, from "
                                                "the chain's start at t = 50, where x0_hat is already a rough sketch "
                                                "of that class: the label picked this digit.")
    traj.probs[3, 8] = 0.3  # a late dip (a speckled x0_hat at w = 5): said as such, not a decision at t = 10
    assert trajectory.decided_at(traj).endswith("the label picked this digit. It does so at 4 of the 5 steps, and for "
                                                "good from t = 10; at the other one, this classifier, which saw clean "
                                                "digits only, reads the blurry or speckled x0_hat otherwise.")
    traj.probs[3, 8] = 0.9
    traj.given = 1  # another class asked for, an 8 read from the start: the blur is the 1's, and the 1 not read
    said = trajectory.decided_at(traj)
    assert "a blur of the class asked for, 1, which this classifier" in said and "cannot tell" in said
    assert said.endswith("The class asked for was 1, which the classifier does not read in the end.")
    traj.probs[:, 8] = [0.9, 0.2, 0.6, 0.7, 0.91]  # a late dip read as another digit (a speckled x0_hat at w = 5)
    traj.probs[1, 3] = 0.75
    assert "Before that it read x0_hat with p > 0.5 as 3: this classifier saw clean digits only, so on a " \
           "blurry or speckled x0_hat" in trajectory.decided_at(traj)
    traj.given, traj.probs[:, 8], traj.probs[1, 3] = None, 0.9, 0.01
    traj.probs[0, 8] = 0.2  # held from the second frame: a decision at its t, not the blur's reading
    assert "from t = 40 onward" in trajectory.decided_at(traj) and "blur" not in trajectory.decided_at(traj)


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


def test_each_frame_holds_its_steps_x_t_x0_hat_and_eps_hat(model, sched):
    """The frames are the chain's own steps: x_t the step's input, x0_hat its prediction (not the next x_t), eps_hat
    its predicted noise, and the last frame the sample x_prev of the last step."""
    from ddpm.demo import draw
    from ddpm.images import to_uint8_np
    from ddpm.samplers import sample_loop

    for s in (settings(sched.T, n=2, steps=4), settings(sched.T, n=1, sampler="ddpm")):
        traj = trajectory.run_trajectory(model, sched, s)
        steps = list(sample_loop(model, sched, s.n, s.seed, **s.sampler_kwargs()))
        assert traj.frames == len(steps) + 1  # every step kept (T = 20 < MAX_FRAMES), then the sample
        assert np.array_equal(traj.x_t[:-1], np.stack([to_uint8_np(step.x_t) for step in steps]))
        assert np.array_equal(traj.x0_hat[:-1], np.stack([to_uint8_np(step.x0_hat) for step in steps]))
        assert np.array_equal(traj.eps_hat[:-1], np.stack([draw.eps_to_uint8(step.eps_hat) for step in steps]))
        assert np.array_equal(traj.x_t[-1], to_uint8_np(steps[-1].x_prev))


def _columns_of(img: Image.Image, value: int, axis: int) -> np.ndarray:
    """Where a picture holds a digit of this uniform grey (many pixels of it: not a title's anti-aliased edge)."""
    a = np.asarray(img.convert("L"))
    return np.flatnonzero((a == value).sum(axis=axis) > 50)


def test_panels_and_film_rows_show_x_t_x0_hat_eps_hat_in_their_titled_places(tmp_path):
    """The frame shows x_t | x0_hat | eps_hat left to right, as titled; the film strip x_t above and x0_hat below;
    the GIF loops forever (loop=0), as the app's animation is meant to."""
    x_t, x0_hat, eps = (np.full((3, 1, 28, 28), v, np.uint8) for v in (37, 201, 120))
    traj = trajectory.Trajectory([20, 10, 0], x_t, x0_hat, eps)
    panel = trajectory.frame_panel(traj, 0)
    left = [_columns_of(panel, v, axis=0) for v in (37, 201, 120)]
    assert all(len(c) for c in left) and left[0].max() < left[1].min() and left[1].max() < left[2].min()
    film = trajectory.film_strip(traj)
    top, bottom = _columns_of(film, 37, axis=1), _columns_of(film, 201, axis=1)
    assert len(top) and len(bottom) and top.max() < bottom.min()
    gif = Image.open(trajectory.save_gif(traj, tmp_path / "t.gif"))
    assert gif.info["loop"] == 0


def test_a_class_asked_for_but_read_only_later_is_decided_where_it_is_read():
    from ddpm.demo import trajectory
    one = np.zeros((5, 1, 28, 28), np.uint8)
    traj = trajectory.Trajectory([], one, one, one, probs_t=[50, 40, 30, 20, 10], given=7)
    traj.probs = np.full((5, 10), 0.01)
    traj.probs[:, 7] = [0.2, 0.2, 0.6, 0.7, 0.91]
    said = trajectory.decided_at(traj)
    assert "from t = 30 onward" in said and "the label picked" not in said


def test_compare_reports_count_each_rows_steps_from_1_through_the_last_row(model, sched):
    """Each report names its row and the step within it, counted from 1, and they go on through the last row (the
    Ticker counts every row's steps, so Gradio can stop a long comparison in any row); an autoguidance weight below 1
    is named in the caption as one above it is."""
    import re

    from ddpm.demo import compare

    rows = compare.compare_rows("guidance", settings(sched.T, n=1, steps=2, label="3", guidance=2.0), sched.T)
    *reports, _ = compare.compare_stream(model, sched, "guidance", rows)  # 10 steps: a report after each but the last
    said = [re.match(r"Row (\d) of 5 \(.*\): step (\d) of 2, ", r.text).groups() for r in reports]
    assert said == [(str(row), str(step)) for row in range(1, 6) for step in (1, 2)][:-1]
    assert compare.shared_settings("samplers", settings(1000, autoguidance=0.5)).endswith(", autoguidance 0.5")
