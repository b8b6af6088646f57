"""Paths given to the command lines: a leading ~ is the home folder in every path flag and in $DDPM_MODEL (a shell
leaves `--out=~/runs/m` as typed, and a run made a folder named ~ where it ran); `python -m ddpm.card` with no
folder means the bundled weights wherever it is run from; `python -m ddpm.history` checks its --out before its
minute-and-a-half run."""
import os

import pytest

from ddpm import benchmark, card, evaluate, history, hub, likelihood, push, sample
from ddpm.demo import runtime


@pytest.fixture
def home(tmp_path, monkeypatch):
    if os.name == "nt":  # expanduser reads USERPROFILE there
        monkeypatch.setenv("USERPROFILE", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_path_flags_read_a_leading_tilde_as_home(home):
    import train

    t = train.parse_args(["--out=~/runs/m", "--data-dir=~/data", "--null-teacher=~/teacher"])
    assert (t.out, t.data_dir, t.null_teacher) == (str(home / "runs/m"), str(home / "data"), str(home / "teacher"))
    s = sample.parse_args(["--weights=~/m", "--out=~/digits.png", "--autoguidance", "2", "--autoguidance-guide=~/g"])
    assert (s.weights, s.out, s.autoguidance_guide) == (str(home / "m"), str(home / "digits.png"), str(home / "g"))
    e = evaluate.parse_args(["--from-samples", "~/a.npz", "~/b.npz", "--out=~/eval.json", "--data-dir=~/d"])
    assert e.from_samples == [str(home / "a.npz"), str(home / "b.npz")]
    assert (e.out, e.data_dir) == (str(home / "eval.json"), str(home / "d"))
    e = evaluate.parse_args(["--weights=~/m", "--save-samples=~/s.npz", "--classifier=~/c.safetensors"])
    assert (e.save_samples, e.classifier) == (str(home / "s.npz"), str(home / "c.safetensors"))
    assert likelihood.parse_args(["--weights=~/m"]).weights == str(home / "m")
    assert benchmark.parse_args(["--weights=~/m"]).weights == str(home / "m")
    assert sample.parse_args(["--weights=user/repo"]).weights == "user/repo"  # a Hub id as it was


def test_folders_and_the_app_model_read_a_leading_tilde_as_home(home, monkeypatch, capsys):
    assert card.main(["~/gone"]) == 2 and str(home / "gone") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        push.main(["~/gone", "you/ddpm"])
    assert str(home / "gone") in capsys.readouterr().err
    monkeypatch.setenv(runtime.MODEL_ENV, "~/runs/m")
    assert runtime.model_source() == str(home / "runs/m")


def test_card_without_a_folder_means_the_bundled_weights_from_anywhere(tmp_path, monkeypatch):
    seen = []
    monkeypatch.chdir(tmp_path)  # no weights/ here: the card of ./weights was asked, "weights does not exist"
    monkeypatch.setattr(card, "folder_problem", lambda folder: seen.append(folder) or "stopped here")
    assert card.main([]) == 2 and seen == [hub.DEFAULT_WEIGHTS]


def test_history_refuses_an_out_it_cannot_write_before_its_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(history, "stage", lambda *a: pytest.fail("ran before the refusal"))
    (tmp_path / "file").write_text("")
    for out, why in ((tmp_path, "is a folder: name a file in it"), (tmp_path / "p.jpg", "--out must end in .png"),
                     (tmp_path / "file" / "p.png", "is a file, not a folder")):
        with pytest.raises(SystemExit):
            history.main(["--out", str(out)])
        assert why in capsys.readouterr().err


def test_the_next_commands_train_prints_run_as_shown_from_another_folder_and_for_a_dashed_name(tmp_path, monkeypatch):
    """train.py's last words name the folder so that each command parses: from another folder than the project's,
    a cd to it first and the run's folder named whole; a folder named -x as ./-x (else a flag), and a recorded
    --out=-x joined to its flag."""
    import shlex

    import train
    from conftest import tiny_model
    from ddpm.train_args import typed

    run = tmp_path / "-x"
    hub.save_pretrained(tiny_model(), run, meta={"steps": 1})
    project = os.path.dirname(os.path.abspath(train.__file__))
    monkeypatch.chdir(tmp_path)  # elsewhere: cd to the project, then the folder named whole
    lines = card.what_next("-x").splitlines()
    assert lines[1] == f"  cd {shlex.quote(project)}   # the project's folder, where these commands run"
    assert lines[2].startswith(f"  DDPM_MODEL={shlex.quote(str(run))} python app.py")
    assert lines[-1].startswith(f"  python -m ddpm.push {shlex.quote(str(run))} YOUR_NAME/REPO")
    monkeypatch.chdir(project)  # in the project: no cd, and a relative name kept as given
    lines = card.what_next(os.path.relpath(run, project)).splitlines()
    assert lines[1].startswith("  DDPM_MODEL=")
    monkeypatch.chdir(tmp_path)  # a project whose folder holds the run: -x is named ./-x
    monkeypatch.setattr(card, "__file__", str(tmp_path / "ddpm" / "card.py"))
    (tmp_path / "app.py").write_text("")
    score = [line for line in card.what_next("-x").splitlines() if "ddpm.evaluate" in line][0]
    assert score.startswith("  python -m ddpm.evaluate --weights ./-x ")
    a = evaluate.parse_args(shlex.split(score.split("#")[0])[3:])
    assert (a.weights, a.out) == ("./-x", "./-x/eval.json")
    assert card.shell_path("-x") == "./-x" and card.shell_path("a b") == "'a b'"
    a = sample.parse_args(shlex.split(sample.card_grid_command("-x"))[3:])  # the other commands printed for a run
    assert (a.weights, a.out) == ("./-x", "./-x/samples.png")
    assert shlex.split(push.push_command("-x", "me/m"))[3:] == ["./-x", "me/m"]
    assert train.parse_args(shlex.split(typed("out", "-x"))).out == "-x"
