"""Edges of the app's small modules that a mutation round found unguarded: tab 3's frame slider and decision
plot, About's training record and loss plot, the upload cache, the output folder, the progress clock and
ddpm.demo.timing's medians. Synthetic inputs, no network: each test runs in well under a second."""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from ddpm.demo import about, outputs, progress, sources, trajectory
from ddpm.schedule import NoiseSchedule
from conftest import POSIX, tiny_model
from demo_helpers import DIGIT, same, settings


def _clock(*readings):
    """A stand-in for the time module whose perf_counter gives these readings in turn."""
    it = iter(readings)
    return SimpleNamespace(perf_counter=lambda: next(it))


# ---------------------------------------------------------------- tab 3: the frame slider and the decision plot

def test_a_frame_below_the_first_shows_the_first_as_one_past_the_last_shows_the_last():
    """frame_panel clamps at both ends: -1 (a slider's box typed below 0) is frame 0, not the final sample (Python's
    index -1), and -100 is no IndexError."""
    u8 = np.stack([np.full((1, 28, 28), 40 * i, np.uint8) for i in range(4)])  # four frames, each its own grey
    traj = trajectory.Trajectory([30, 20, 10, 0], u8, u8, u8)
    first = trajectory.frame_panel(traj, 0)
    assert same(trajectory.frame_panel(traj, -1), first) and same(trajectory.frame_panel(traj, -100), first)


def test_a_long_runs_decision_plot_keeps_plot_points_per_class_from_t_T_to_1_and_a_full_height_marker():
    """1000 DDPM steps give each class PLOT_POINTS points, spread from t = T to t = 1 and each at its own step's
    probability; the slider's marker runs the plot's full height, p = 0 to 1."""
    T = 1000
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=T)
    u8 = np.zeros((2, 1, 28, 28), np.uint8)
    traj = trajectory.Trajectory([T, 0], u8, u8, u8, probs_t=list(range(T, 0, -1)), probs=probs)
    df = trajectory.decision_plot(traj, at=500)
    for c in (0, 9):
        curve = df[df.digit == str(c)]
        assert len(curve) == trajectory.PLOT_POINTS and curve.t.iloc[0] == T and curve.t.iloc[-1] == 1
        assert np.array_equal(curve.probability.to_numpy(), probs[T - curve.t.to_numpy(), c])
    now = df[df.digit == trajectory.NOW]
    assert list(now.t) == [500, 500] and list(now.probability) == [0.0, 1.0]


def test_a_class_asked_for_and_read_in_the_end_is_not_said_to_be_missed():
    """A run asked for a 7 whose x0_hat is read as a 7 only from t = 30: decided there, and no line saying the
    classifier does not read the class asked for (it does)."""
    one = np.zeros((5, 1, 28, 28), np.uint8)
    traj = trajectory.Trajectory([], one, one, one, probs_t=[50, 40, 30, 20, 10], given=7)
    traj.probs = np.full((5, 10), 0.01)
    traj.probs[:, 7] = [0.2, 0.2, 0.6, 0.7, 0.91]
    said = trajectory.decided_at(traj)
    assert "from t = 30 onward" in said and "does not read" not in said and said.endswith("refine its strokes.")


def test_the_words_under_the_plot_read_x0_hat_at_the_frame_shown():
    """The slider's t in words (the plot's line at t, for a screen reader): the kept frame's own step, its two likeliest
    classes; the final frame, x_0, by its last step; then when the digit was decided. No classifier: no words."""
    one = np.zeros((3, 2, 28, 28), np.uint8)  # frames t = 50, 20 and the final x_0 of two digits
    traj = trajectory.Trajectory([50, 20, 0], one, one, one, probs_t=[50, 40, 30, 20, 10])
    traj.probs = np.full((5, 10), 0.01)
    traj.probs[:, 7], traj.probs[:, 1] = [0.2, 0.3, 0.6, 0.8, 0.9], [0.7, 0.6, 0.3, 0.1, 0.05]
    assert trajectory.reading_at(traj, 1) == ("At t = 20 the classifier reads the first digit's x0_hat as 7 (p = 0.80; "
                                              "next 1, p = 0.10).")
    assert trajectory.reading_at(traj, 0).startswith("At t = 50 the classifier reads the first digit's x0_hat as 1 (p")
    assert trajectory.reading_at(traj, 2).startswith("At the last step (t = 10; the frame shown is its x_0) the "
                                                     "classifier reads the first digit's x0_hat as 7 (p = 0.90;")
    said = trajectory.decision_text(traj, 1)
    assert said.startswith("At t = 20 ") and said.endswith(trajectory.decided_at(traj)) and "from t = 30 onward" in said
    traj.probs = None
    assert trajectory.reading_at(traj, 1) == trajectory.decision_text(traj, 1) == ""

def test_the_decision_plot_reads_a_long_chain_in_batches():
    """Tab 3 reads the first digit's x0_hat at every step: at 1000 DDPM steps, one batch of 1000 added 170 MB at its
    peak (a small laptop's), in batches of 100 it adds a tenth of that."""
    batches = []

    def classifier(x):
        batches.append(len(x))
        return torch.zeros(len(x), 10)

    model, sched = tiny_model(timesteps=250), NoiseSchedule(250, "linear")
    traj = trajectory.run_trajectory(model, sched, settings(sched.T, n=1, sampler="ddpm"), classifier, max_frames=4)
    assert batches == [100, 100, 50] and traj.probs.shape == (250, 10)


# ---------------------------------------------------------------- tab 5: About

def test_a_recipes_totals_are_not_called_the_last_sittings_and_its_commands_are_written_once():
    """Across sittings joined by --resume, steps and epochs are the run's totals: only lr and the label dropout are
    the last sitting's; the commands are a block of lines, not also a garbled `command:` line."""
    text = about._training_text({"command": "python train.py\npython train.py --resume", "steps": 9000, "epochs": 3,
                                 "lr": 1e-3})
    assert "- 9000 optimizer steps\n" in text and "- 3 epochs\n" in text and "learning rate 0.001 (the last" in text
    assert "command:" not in text and text.count("python train.py --resume") == 1


def test_a_flat_loss_log_is_plotted_up_to_its_highest_value_not_above_it(tmp_path):
    """y_max is 2.5 times the level after the first fall, but never above the loss itself: a log with no first fall
    (every row near 0.05) fills the plot rather than its lowest 40%."""
    loss = 0.05 + 0.001 * np.sin(np.arange(40))
    (tmp_path / "loss.csv").write_text("step,loss\n" + "".join(f"{50 * (i + 1)},{v}\n" for i, v in enumerate(loss)))
    assert about.loss_history(tmp_path).y_max == max(loss)


def test_about_counts_a_ddpm_samples_passes_as_T(model):
    T = model.config.timesteps
    assert f"one DDPM sample takes {T} U-Net passes" in about.about_markdown(model, "somewhere", None)


# ---------------------------------------------------------------- the upload cache and the output folder

def test_an_upload_written_again_at_the_same_time_but_another_size_is_read_again(tmp_path):
    """The cache knows a file by path, size and modification time: a file rewritten within the clock's resolution
    (the same mtime) but with another size is preprocessed again, not served from the cache."""
    p = tmp_path / "digit.png"
    Image.fromarray(np.kron(DIGIT, np.ones((4, 4), np.uint8))).save(p)
    stamp = (p.stat().st_atime_ns, p.stat().st_mtime_ns)
    first = sources.pick_digit(sources.UPLOAD, upload=str(p))
    Image.fromarray(np.kron(DIGIT[:, ::-1], np.ones((2, 2), np.uint8))).save(p)  # another digit, another size
    os.utime(p, ns=stamp)
    assert not np.array_equal(sources.pick_digit(sources.UPLOAD, upload=str(p)), first)


@POSIX
def test_the_output_folder_is_one_temp_folder_found_again_and_a_vanished_file_is_no_error(tmp_path, monkeypatch):
    """output_dir is <temp>/ddpm-app-<uid>, this user's alone, on every call (the second call found it made);
    new_path's pruning skips a file another request removed between listing and stat (stood in for by a dangling
    link), and a file the app did not name."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ours = tmp_path / f"ddpm-app-{os.getuid()}"
    assert outputs.output_dir() == outputs.output_dir() == ours and ours.stat().st_mode & 0o777 == 0o700
    (ours / "grid-0123abcd.png").symlink_to(tmp_path / "nothing.png")
    (notes := ours / "notes.txt").write_text("x")
    os.utime(notes, (0, 0))
    assert outputs.new_path("grid", ".png").parent == ours and notes.exists()


@POSIX
def test_a_folder_planted_as_a_link_or_made_by_another_user_is_passed_over(tmp_path, monkeypatch, capsys):
    """A lab server's /tmp is shared: another user's ddpm-app folder (0755) made the app fail at start, and a link
    planted in its place had the pruning delete the old files of the folder it points to."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(outputs, "_fallback", {}, raising=False)  # a fresh process
    (victim := tmp_path / "victim").mkdir()
    for name in ("thesis.tex", "grid-0123abcd.png"):
        (victim / name).write_text("x")
        os.utime(victim / name, (0, 0))
    for name in ("ddpm-app", f"ddpm-app-{os.getuid()}"):
        (tmp_path / name).symlink_to(victim)
    d = outputs.new_path("grid", ".png").parent
    assert sorted(os.listdir(victim)) == ["grid-0123abcd.png", "thesis.tex"]
    assert d.parent == tmp_path and not d.is_symlink() and d.stat().st_mode & 0o777 == 0o700
    assert outputs.output_dir() == d  # one fresh folder, kept, and said once
    assert capsys.readouterr().err.count("is a link or not this user's own folder") == 1

    real = os.getuid()
    monkeypatch.setattr(outputs.os, "getuid", lambda: real + 1)  # the folder of that name is another user's
    (theirs := tmp_path / f"ddpm-app-{real + 1}").mkdir()
    assert outputs.new_path("grid", ".png").parent not in (theirs, tmp_path / "ddpm-app", d)


# ---------------------------------------------------------------- the progress clock and ddpm.demo.timing

def test_a_jobs_elapsed_time_counts_up_from_its_start_in_the_texts_format(monkeypatch):
    monkeypatch.setattr(progress, "time", _clock(100.0, 100.138, 103.26))
    ticker = progress.Ticker(10)
    assert ticker.elapsed() == "0.14 s" and ticker.elapsed() == "3.3 s"  # not '0.1 s', and never negative


def test_timing_prints_the_median_of_repeats_runs_of_each_action(monkeypatch, capsys):
    """Each action runs --repeats times (3 by default), and the line gives the median of those runs, then each."""
    from ddpm.demo import timing

    runs = []
    monkeypatch.setattr(timing, "load_runtime", lambda: None)
    monkeypatch.setattr(timing, "actions", lambda rt, gif: {"tab": lambda: runs.append(1)})
    monkeypatch.setattr(timing, "time", _clock(0.0, 1.0, 10.0, 13.0, 20.0, 22.0))  # runs of 1, 3 and 2 s
    assert timing.main([]) == 0
    assert len(runs) == 3 and "tab: median 2.00 s  (runs: [1.0, 3.0, 2.0])" in capsys.readouterr().out


def test_timings_actions_run_what_their_names_say(monkeypatch, tmp_path):
    """'1 forward process (t = T/4)' views t = T // 4, and '2 generate, 16 digits' draws 16: a timing of other
    settings than the app starts with would be quoted for them."""
    from ddpm.demo import timing
    from ddpm.schedule import NoiseSchedule
    from conftest import tiny_model

    seen = {}
    monkeypatch.setattr(timing, "forward_view", lambda digit, kind, t, seed, T: seen.setdefault("t", t))
    monkeypatch.setattr(timing, "generate", lambda model, sched, s, **kw: seen.setdefault("n", s.n) and [])
    rt = SimpleNamespace(T=20, sched=NoiseSchedule(20), model=tiny_model(), classifier=None)
    acts = timing.actions(rt, tmp_path / "t.gif")
    for name in acts:
        if name.startswith(("1 forward", "2 generate, 16 digits")):
            acts[name]()
    assert seen == {"t": 20 // 4, "n": 16}
