"""Samples over training (ddpm.history, the About tab's picture): each stage is the weights git kept, loaded from
its own config.json and model.safetensors; every row takes the same x_T; the About text's loss figures are
loss.csv's."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import tiny_model
from ddpm import history
from ddpm.demo import about
from ddpm.hub import DEFAULT_WEIGHTS, save_pretrained



def test_every_row_takes_the_same_x_T_and_the_picture_has_the_shipped_ones_layout():
    model = tiny_model()
    rows = np.asarray(history.progress_picture([(model, "after 1 step (0 min)")] * 2, n=4, steps=2))
    h = (rows.shape[0] - 6) // 2  # two rows, 6 px apart (draw.titled_rows)
    assert np.array_equal(rows[:h], rows[h + 6:])  # one model, one x_T per column: the same digits
    shipped = Image.open(DEFAULT_WEIGHTS / history.PROGRESS_NAME)
    five = history.progress_picture([(model, f"after {s:,} steps (0 min)") for s in (6400, 15256, 27612, 58500, 77688)],
                                    steps=2)
    assert shipped.size == five.size and shipped.mode == "L"  # 5 rows of 10 digits


def test_a_stage_is_read_from_the_files_git_kept(tmp_path):
    src = tmp_path / "src"
    save_pretrained(tiny_model(), src)
    (src / "training.json").write_text('{"steps": 6400, "train_minutes": 88.1}')
    model, title = history.stage(lambda name: (src / name).read_bytes(), tmp_path / "stage")
    assert title == "after 6,400 steps (88 min)" and model.config.timesteps == 20


def test_the_stages_are_in_this_repositorys_history_as_the_label_says():
    try:
        found = [json.loads(history.git_reader(c)("training.json")) for c in history.STAGES]
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no git history here (a copy without .git, or a shallow clone)")
    assert tuple(doc["steps"] for doc in found) == history.STAGE_STEPS
    assert about.PROGRESS_LABEL.endswith("after 6,400, 15,256, 27,612, 58,500 and 77,688 optimizer steps")
    epochs = [doc["epochs"] for doc in found]
    assert (epochs[-1] - epochs[-2], found[-1]["command"].count("--null-teacher ")) == (41, 1)  # the text's 41 and 8
    assert "--epochs 158 " in found[-1]["command"] and "--epochs 166 " in found[-1]["command"]


def test_the_about_texts_loss_figures_are_loss_csvs():
    log = pd.read_csv(DEFAULT_WEIGHTS / "loss.csv")
    first, fourth, last = (log[log.step <= s].tail(20).loss.median() for s in (6400, 58500, 77688))
    assert f"falls only from {first:.3f} to {fourth:.3f}, yet" in about.PROGRESS_TEXT
    assert f"which is what drops the loss to {last:.3f}." in about.PROGRESS_TEXT


def test_the_picture_is_the_bundled_models_alone(tmp_path, monkeypatch):
    shown = about.training_progress(DEFAULT_WEIGHTS, str(DEFAULT_WEIGHTS))
    assert shown is not None and Path(shown.path).is_file() and "Samples over training" in shown.text
    assert about.training_progress(tmp_path, str(tmp_path)) is None  # another model: its history is not this one
    (tmp_path / history.PROGRESS_NAME).write_bytes((DEFAULT_WEIGHTS / history.PROGRESS_NAME).read_bytes())
    (tmp_path / "training.json").write_text('{"steps": 80000}')  # the bundled weights trained on with --resume
    monkeypatch.setattr(about, "is_bundled", lambda source: True)
    assert about.training_progress(tmp_path, str(tmp_path)) is None  # a stale picture is not shown
    assert about.training_progress(None, "you/ddpm-mnist") is None


def test_the_command_draws_a_row_per_stage_from_the_files_each_kept(monkeypatch, tmp_path, capsys):
    src = tmp_path / "src"
    save_pretrained(tiny_model(timesteps=50), src)  # T = 50: the picture's 50 DDIM steps
    (src / "training.json").write_text('{"steps": 6400, "train_minutes": 88.1}')
    monkeypatch.setattr(history, "git_reader", lambda commit: lambda name: (src / name).read_bytes())
    assert history.main(["--out", str(tmp_path / "p.png")]) == 0
    assert Image.open(tmp_path / "p.png").size == Image.open(DEFAULT_WEIGHTS / history.PROGRESS_NAME).size
    assert f"wrote {tmp_path / 'p.png'}: 5 stages of training, 10 samples each" in capsys.readouterr().out


def test_without_git_history_the_command_says_so(monkeypatch, tmp_path, capsys):
    def no_history(commit):
        def read(name):
            raise subprocess.CalledProcessError(128, "git show", stderr=b"fatal: invalid object name '33d8264'")
        return read
    monkeypatch.setattr(history, "git_reader", no_history)
    assert history.main(["--out", str(tmp_path / "p.png")]) == 2
    assert "error: the weights' history is read with git from a full clone of this repository: fatal: invalid " \
           "object name" in capsys.readouterr().err and not (tmp_path / "p.png").exists()
