"""Tab 5 (About: the model folder and its loss log) and what the app loads and keeps at run time (the model, its
guide, the output files), on tiny models (conftest)."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import hub
from ddpm.demo import about, generate, intro, objective, outputs, runtime
from ddpm.demo.limits import InputError
from ddpm.schedule import NoiseSchedule
from conftest import tiny_model
from demo_helpers import DIGIT, settings


# ---------------------------------------------------------------- tab 5: about, and the runtime

def test_about_reads_the_model_folder(model, tmp_path):
    md = about.about_markdown(model, "somewhere", None)
    assert "arxiv.org/abs/2006.11239" in md and "Not evaluated yet" in md and "No training record" in md
    assert "ddpm.card" not in md and "when it next starts" in md  # the app reads eval.json itself
    hub_md = about.about_markdown(model, "you/ddpm-mnist", tmp_path / "cache")  # a Hub repo: its folder is a cache
    assert "--weights you/ddpm-mnist --out eval.json" in hub_md and "hf upload you/ddpm-mnist eval.json" in hub_md
    assert "cache" not in hub_md
    guided = about.about_markdown(model, "somewhere", None, model)
    assert "autoguidance uses" not in md and "autoguidance uses a" in guided
    T = model.config.timesteps  # each DDPM sample's guide passes: the steps t <= round(0.6 T) + 1 (the paper's t)
    assert "passes of the small guide" not in md and f"adds {round(0.6 * T) + 1} passes of the small guide" in guided
    (tmp_path / "training.json").write_text(json.dumps({"command": "python train.py --max-minutes 80",
                                                       "train_minutes": 80.0, "steps": 9000}))
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": {"ddpm-1000": {
        "n": 1000, "fd": 2.25, "fd_ratio": 4.5, "inception_score": 9.1, "class_share": [0.1] * 10,
        "memorised": 0.0}}}))
    md = about.about_markdown(model, str(tmp_path), tmp_path)
    assert "python train.py --max-minutes 80" in md and "trained for 80 min\n" in md
    assert "2.250" in md and "9.10" in md
    (tmp_path / "training.json").write_text(json.dumps({"command": "python train.py --epochs 2  # 1 min\n"
                                                                   "python train.py --resume --epochs 3"}))
    md = about.about_markdown(model, str(tmp_path), tmp_path)  # a recipe of two runs: a code block, a line each
    assert "\n      python train.py --epochs 2  # 1 min\n      python train.py --resume --epochs 3\n" in md
    (tmp_path / "training.json").write_text(json.dumps({"command": 5, "steps": 9000}))  # a hand edit: no text
    md = about.about_markdown(model, str(tmp_path), tmp_path)  # (a TypeError stopped the app's start)
    assert "command:" not in md and "9000" in md


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


def test_read_more_cites_the_models_own_data():
    """A Fashion-MNIST model's reading list cites Xiao et al. (its data's paper); MNIST's cites LeCun et al. alone."""
    assert "Fashion" not in about.read_more() and "yann.lecun.com" in about.read_more()
    assert "[Xiao, Rasul & Vollgraf 2017, Fashion-MNIST](https://arxiv.org/abs/1708.07747)" in \
        about.read_more("fashion-mnist")


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
    assert "--null-teacher" in text and "with autoguidance of weight 2" in text
    assert about.null_class_target(tmp_path) == "a frozen teacher's predictions with autoguidance of weight 2"
    hub.save_pretrained(tiny_model(), tmp_path, same_run=True)  # as train() saves beside its records; About's first
    # paragraph says so, "distillation" only if guided
    md = about.about_markdown(hub.load_pretrained(tmp_path), str(tmp_path), tmp_path)
    assert "(guidance distillation). The teacher was this model before that step; autoguidance" in md
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
    assert "a sinusoidal embedding of t (the Transformer's), through a small MLP, added inside every\n  residual " \
           "block.\n" in md  # how t enters; the class's embedding only where there is one
    assert [line for line in md.splitlines() if "digit" in line] == [line for line in md.splitlines()
                                                                     if "against MNIST's digits" in line]
    save_pretrained(tiny_model(timesteps=30), tmp_path / "c", meta={"dataset": "fashion-mnist", "null_teacher": "t",
                                                                    "null_teacher_autoguidance": 2.0})
    md = about.about_markdown(tiny_model(timesteps=30), "c", tmp_path / "c")
    assert "samples any image or one of a chosen class with" in md and "(or the null class, 'any image')" in md
    assert "residual block (the class's own embedding added to it)." in md
    assert "make its 'any image' samples read more clearly as one of its classes: in its last" in md
    assert "Not scored: `ddpm.evaluate` measures against MNIST" in md and "python -m ddpm.evaluate" not in md
    rt = runtime.load_runtime(str(tmp_path / "u"))
    assert rt.dataset == "fashion-mnist" and rt.classifier is None
    assert "trained on Fashion-MNIST, so no chart shows when an image's class is decided" in rt.classifier_note
    assert generate.class_choices("fashion-mnist")[5] == ("3: Dress", "3")  # by name; the API's values stay 0-9
    assert generate.class_choices("mnist") == generate.CLASS_CHOICES
    fashion = intro.header("fashion-mnist")
    assert "**This model was trained on Fashion-MNIST.**" in fashion and "digit emerge" not in fashion
    assert fashion.startswith("# DDPM on Fashion-MNIST, from scratch\nWatch Gaussian noise destroy an image")
    assert "**4. Your image**" in fashion and intro.title("fashion-mnist") == "DDPM on Fashion-MNIST, from scratch"
    said = intro.said(intro.ROUNDTRIP, "fashion-mnist")
    assert said.startswith("## Your image, noised and denoised\nNoise your image")
    assert "x_0 is the image" in intro.forward_intro(NoiseSchedule(20), "fashion-mnist")
    assert intro.said(intro.GENERATE) == intro.GENERATE and "digit" in intro.GENERATE  # MNIST's words as written
    assert rt.noun == "image" and runtime.load_runtime().noun == "digit"  # the number slider's and the refusals' word
    assert "This model was trained" not in intro.header("mnist")


def test_tab_one_says_how_much_of_the_digit_x_T_keeps():
    """sqrt(alpha_bar_T) of the model's own schedule: about 0.0064 for linear's T = 1000, cosine's about 5e-5."""
    assert ("(sqrt(alpha_bar_T) = 0.0064 of the digit is left on the model's linear schedule;"
            in intro.forward_intro(NoiseSchedule(1000)))
    assert ("(sqrt(alpha_bar_T) = 4.9e-05 of the digit is left on the model's cosine schedule;"
            in intro.forward_intro(NoiseSchedule(1000, "cosine")))
    assert "noised with the model's own cosine schedule" in intro.objective_intro("cosine")


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
    with pytest.raises(InputError, match="^autoguidance w must be a number between 0 and 4, not 5$"):
        settings(30, autoguidance=5)


def test_output_files_are_pruned(monkeypatch, tmp_path):
    monkeypatch.setattr(outputs, "output_dir", lambda: tmp_path)
    old = tmp_path / "ddpm-samples-seed0-0123abcd.png"  # a name new_path gives: the pruning deletes no other
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200,) * 2)
    p = outputs.save_png(Image.new("L", (4, 4)), "grid")
    assert p.exists() and p.suffix == ".png" and not old.exists()
    with Image.open(outputs.save_png(Image.new("L", (4, 4)), "grid", "python -m ddpm.sample --seed 3")) as im:
        assert im.info["Comment"] == "python -m ddpm.sample --seed 3"  # a saved grid says how to draw it again
    young = tmp_path / "young.png"
    young.write_bytes(b"x")
    os.utime(young, (time.time() - 60,) * 2)  # a minute old: a download under way keeps its file
    assert outputs.new_path("grid", ".png") != outputs.new_path("grid", ".png") and young.exists()  # two users, one seed


def test_the_empty_folders_gradio_leaves_in_its_cache_are_swept_now_and_then(monkeypatch, tmp_path):
    """Gradio's delete_cache removes the files it handed out, not the folder each sat in: a Space up for days kept
    one per streamed frame. Handing out a file sweeps the old empty ones (every SWEEP_EVERY_S at most), and only
    those named as Gradio names them: GRADIO_TEMP_DIR may be a general folder such as /scratch."""
    monkeypatch.setattr(outputs, "output_dir", lambda: tmp_path / "ours")
    (tmp_path / "ours").mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache := tmp_path / "gradio"))
    monkeypatch.setattr(outputs, "_last_sweep", [0.0])
    old_empty, old_full, young_empty, later_empty = (f"{i}" * 64 for i in "abcd")  # a SHA-256 hex digest each
    for name in (old_empty, old_full, young_empty, later_empty, "placeholder", "x" * 64):
        (cache / name).mkdir(parents=True)
    os.utime(cache / young_empty, (time.time() - 7200,) * 2)  # emptied by delete_cache an hour ago: may be reused
    (cache / old_full / "image.png").write_bytes(b"x")
    for name in (old_empty, old_full, later_empty, "placeholder", "x" * 64):
        os.utime(cache / name, (time.time() - outputs.EMPTY_FOR_S - 60,) * 2)
    outputs.new_path("grid", ".png")
    # a young one may be filling; one Gradio did not name is the user's
    assert sorted(f.name for f in cache.iterdir()) == sorted(["x" * 64, old_full, "placeholder", young_empty])
    (cache / later_empty).mkdir()
    os.utime(cache / later_empty, (time.time() - outputs.EMPTY_FOR_S - 60,) * 2)
    outputs.new_path("grid", ".png")
    assert (cache / later_empty).exists()  # not again within SWEEP_EVERY_S: a request lists no big folder each time


def test_about_counts_one_epoch_as_one():
    text = about._training_text({"epochs": 1, "steps": 1, "images": 2, "batch_size": 1})
    assert "- 1 epoch\n" in text + "\n" and "1 optimizer step" in text and "2 training images" in text
    assert "1 epochs" not in text and "1 optimizer steps" not in text
    # a recipe of several sittings records the last one's lr and label dropout: said so, as the card says it
    one = about._training_text({"lr": 0.002, "label_dropout": 0.2, "command": "python train.py"})
    assert "- learning rate 0.002\n" in one and "(the last sitting's)" not in one
    two = about._training_text({"lr": 3e-4, "label_dropout": 0.5, "command": "python train.py\npython train.py --resume"})
    assert "- learning rate 0.0003 (the last sitting's)" in two and "null class: 0.5 (the last sitting's)" in two


@pytest.mark.parametrize("bundled", [True, False])
def test_the_controls_quote_the_bundled_models_figures_for_it_alone(bundled, tmp_path):
    """The eta, class, w and autoguidance help quote IS and FD measured on the bundled weights: beside a learner's
    own model, or one of Fashion-MNIST, those figures describe another model (each said "the bundled model")."""
    import gradio as gr

    from ddpm.demo.controls import sampler_controls

    model = tiny_model(timesteps=30, num_classes=10)
    rt = runtime.Runtime(model, NoiseSchedule(30), str(hub.DEFAULT_WEIGHTS if bundled else tmp_path), tmp_path,
                         None, "no classifier", guide=tiny_model(timesteps=30, num_classes=10), guide_note="",
                         dataset="mnist" if bundled else "fashion-mnist")
    with gr.Blocks():
        ins, _ = sampler_controls(rt, "t", 4, 1, "Run")
    info = {c.label: c.info for c in ins if getattr(c, "info", None)}
    figures = ["1.30 against 1.10", "9.47 against 9.38", "16% above w = 1's", "for the bundled weights at a worse FD"]
    assert [any(f in text for text in info.values()) for f in figures] == [bundled] * 4, info
    assert "until strokes speckle (Compare sweeps w)" in info["guidance scale w"] or bundled
    assert "Karras et al. 2024), up to 40% slower. Below 1" in info["autoguidance w"] or bundled
