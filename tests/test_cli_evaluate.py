"""python -m ddpm.evaluate from the command line, drawing its own samples: its refusals, run names, and never losing
a result (a bad --out refused before sampling, Ctrl-C, a failed write)."""
import json

import numpy as np
import pytest

from ddpm import hub
from ddpm.card import write_model_card

from conftest import run_python, sh, tiny_model


def test_evaluate_names_a_device_this_machine_lacks_and_an_empty_run_name(tmp_path, capsys):
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--device", "tpu9"]) == 2
    assert "unknown device 'tpu9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # "" was taken as no name, and the row filed under the settings' own
        evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--run-name", " "])
    assert "--run-name is blank" in capsys.readouterr().err


def test_evaluate_refuses_a_model_of_another_dataset(tmp_path, capsys):
    """Its floor, classifier and memorisation are MNIST's: a Fashion-MNIST model's samples would be scored as digits."""
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m", meta={"dataset": "fashion-mnist"})
    assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "was trained on Fashion-MNIST, and ddpm.evaluate measures against MNIST" in err
    assert f"(look at its samples instead: python -m ddpm.sample --weights {sh(tmp_path / 'm')} --out samples.png " \
           "draws a grid)" in err  # no dead end, and no FOLDER to fill in
    r = run_python("-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps", "2",
            "--out", str(tmp_path / "s.npz"))
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "s.npz") as f:
        assert f["dataset"].item() == "fashion-mnist"  # so --from-samples can tell
    assert evaluate.main(["--from-samples", str(tmp_path / "s.npz")]) == 2
    assert "s.npz holds samples of a model trained on Fashion-MNIST" in capsys.readouterr().err
    write_model_card(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert "# DDPM on Fashion-MNIST (28x28)" in card and "tags: [diffusion, ddpm, fashion-mnist," in card
    assert "Not scored: `ddpm.evaluate` measures against MNIST" in card and "python -m ddpm.evaluate" not in card


def test_evaluate_draws_ddim_with_eta(tmp_path, capsys):
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    draw = lambda eta: evaluate.generate(str(tmp_path / "m"), 3, "ddim", 4, 0, 3, None, 1.0, "cpu", eta)[0]
    assert (draw(0.0) == draw(0.0)).all() and (draw(1.0) != draw(0.0)).any()  # eta > 0 adds fresh noise each step
    assert evaluate.run_name("ddim", 50, eta=1.0) == "ddim-50-eta1" and evaluate.run_name("ddim", 50) == "ddim-50"
    assert evaluate.run_name("ddpm", 1000, "random", 1.0) == "ddpm-1000-labelrandom-w1"
    assert evaluate.parse_args(["--label", "random"]).label == "random" and evaluate.parse_args(["--label", "3"]).label == 3
    for bad, message in ((["--eta", "1.5"], "--eta must be between 0 and 1"),
                         (["--sampler", "ddpm", "--eta", "0.5"], "--eta is a DDIM setting"),
                         (["--eta", "1"], "--eta is a DDIM setting"),  # the default is ddpm
                         (["--label", "any"], "--label: must be a digit 0-9"),
                         (["--seed", "-2"], "--seed: must be between 0 and"),
                         (["--seed", str(2**63)], "--seed: must be between 0 and"),  # torch's seed would overflow
                         (["--label", "3", "--guidance", "-1"], "--guidance must be between 0 and 10"),
                         (["--guidance", "2"], "--guidance steers toward a class: add --label"),
                         (["--save-samples", "s.np"], "--save-samples must end in .npz"),
                         (["--n", "60001"], "--n must be from 2 to 60000, not 60001"),
                         (["--n", "1"], "--n must be from 2 to 60000, not 1: the feature covariance needs two"),
                         (["--sampler", "ddim", "--steps", "0"], "argument --steps: must be 1 or more, not 0"),
                         (["--batch-size", "0"], "argument --batch-size: must be 1 or more, not 0"),
                         (["--from-samples", "a.npz", "--save-samples", "b.npz"], "--save-samples makes no sense with "
                                                                                  "--from-samples"),
                         (["--out", "samples.npz"], "--out samples.npz: it must end in .json"),
                         (["--out", "eval.txt"], "--out eval.txt: it must end in .json")):
        with pytest.raises(SystemExit):  # refused as it parses: before the model, the data or the samples load
            evaluate.parse_args(bad)
        assert message in capsys.readouterr().err, bad
    assert evaluate.parse_args(["--out", "weights/EVAL.JSON"]).out == "weights/EVAL.JSON"
    a = evaluate.parse_args(["--n", "60000", "--save-samples", "S.NPZ"])  # the ends of what is accepted
    assert (a.n, a.save_samples) == (60000, "S.NPZ")


def test_another_guide_gets_its_own_run_name_and_needs_a_weight():
    from ddpm import evaluate

    assert evaluate.run_name("ddim", 50, autoguidance=1.5) == "ddim-50-autoguided1.5"
    assert evaluate.run_name("ddim", 50, autoguidance=1.5, autoguidance_guide="runs/my_guide/") == \
        "ddim-50-autoguided1.5-guide-my_guide"  # not the card's row for the shipped guide
    for bad in (["--autoguidance-guide", "runs/g"], ["--autoguidance-tmax", "300"]):  # W = 1: autoguidance is off
        with pytest.raises(SystemExit):
            evaluate.parse_args(bad)


def test_evaluate_refuses_more_ddim_steps_than_timesteps_and_ddpm_steps_other_than_t(tmp_path, capsys):
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    T = hub.load_pretrained(tmp_path / "m").config.timesteps
    too_many = ["--sampler", "ddim", "--steps", str(T + 1)]
    assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", *too_many]) == 2
    assert f"--steps {T + 1} is more than this model's T = {T}" in capsys.readouterr().err
    assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--steps", "3"]) == 2  # 20 steps scored as 3
    assert f"--steps 3 is a DDIM setting (add --sampler ddim); DDPM always runs all T = {T}" in capsys.readouterr().err


def test_evaluate_refuses_a_bad_out_file_before_sampling_and_never_loses_a_result(tmp_path, monkeypatch, capsys):
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    drawn = []
    real_generate = evaluate.generate
    monkeypatch.setattr(evaluate, "generate", lambda *a, **k: real_generate(*a[:2], "ddim", 1, *a[4:], **k) and (
        drawn.append(1) or (np.zeros((2, 28, 28), np.uint8), 3, 10, "0" * 64)))  # the real checks, a 1-step draw
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0, "fd": 2.0})
    for text in ("[]", "{not json", '{"runs": [1]}'):  # runs not by name: replaced, what they held would go
        (tmp_path / "e.json").write_text(text)
        assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--out", str(tmp_path / "e.json")]) == 2
        assert "move it away or pick another --out" in capsys.readouterr().err and not drawn  # refused before sampling
    (tmp_path / "s.npz").mkdir()
    for args, message in ((["--save-samples", str(tmp_path / "s.npz")], "cannot write"),  # a folder
                          (["--out", str(tmp_path / "e.json" / "x.json")], "cannot write"),  # under a file
                          (["--classifier", str(tmp_path / "none.safetensors")], "classifier"),
                          (["--data-dir", str(tmp_path / "no-mnist")], "mnist")):
        assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", *args]) == 2
        assert message in capsys.readouterr().err.lower() and not drawn  # before sampling, not after
    monkeypatch.setattr(evaluate, "reference", lambda *a: None)  # no MNIST needed below
    (tmp_path / "e.json").unlink()
    monkeypatch.setattr(evaluate, "merge_into", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    assert evaluate.main(["--weights", str(tmp_path / "m"), "--n", "2", "--out", str(tmp_path / "e.json")]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["fd"] == 2.0 and "disk full" in err  # the finished run's result still reaches stdout


def test_a_run_merged_into_out_keeps_the_files_other_keys_and_runs(tmp_path):
    from ddpm.eval_files import EvalError, merge_into

    (tmp_path / "e.json").write_text('{"notes": "mine", "runs": {"old": {"fd": 1}}, "command": "before"}')
    merge_into(tmp_path / "e.json", "new", {"real_floor_fd": 0.7, "command": "now", "fd": 2})
    assert json.loads((tmp_path / "e.json").read_text()) == {
        "notes": "mine", "runs": {"old": {"fd": 1}, "new": {"real_floor_fd": 0.7, "command": "now", "fd": 2}},
        "command": "now", "real_floor_fd": 0.7}
    # a run of the same name is replaced (and said), but not by fewer samples: a quick check into a published file
    assert merge_into(tmp_path / "e.json", "new", {"real_floor_fd": 0.7, "command": "again", "n": 1000})["fd"] == 2
    with pytest.raises(EvalError, match=r"e.json's runs\['new'\] holds N = 1000 samples, which this run's N = 20 "
                                        r"would "):
        merge_into(tmp_path / "e.json", "new", {"real_floor_fd": 0.9, "command": "quick", "n": 20})
    assert json.loads((tmp_path / "e.json").read_text())["runs"]["new"]["command"] == "again"
    assert merge_into(tmp_path / "e.json", "new", {"real_floor_fd": 0.7, "command": "rerun", "n": 1000})["command"] == \
        "again"  # as many samples again (a rerun): replaced


def test_evaluate_ctrl_c_is_a_line_that_says_what_is_kept(tmp_path, monkeypatch, capsys):
    """Ctrl-C: exit 130 and one line, no traceback; --out as it was; the samples' file named if it was written,
    else how a long run is drawn in parts that survive a stop."""
    from ddpm import evaluate

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    (tmp_path / "e.json").write_text('{"runs": {}}')
    run = ["--n", "2", "--out", str(tmp_path / "e.json"), "--save-samples", str(tmp_path / "s s.npz")]
    monkeypatch.setattr(evaluate, "reference", lambda *a: None)  # no MNIST needed
    monkeypatch.setattr(evaluate, "generate", ctrl_c)  # while sampling
    assert evaluate.main(run) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"\nstopped (Ctrl-C); {tmp_path / 'e.json'} is as it was, and the samples drawn so far are "
                          "lost") and "--first 0 --out part0.npz" in err and "--from-samples part0.npz" in err
    assert not (tmp_path / "s s.npz").exists() and (tmp_path / "e.json").read_text() == '{"runs": {}}'
    monkeypatch.setattr(evaluate, "generate", lambda *a, **k: (np.zeros((2, 28, 28), np.uint8), 50, 1000, "0" * 64))
    monkeypatch.setattr(evaluate, "evaluate_samples", ctrl_c)  # while scoring, the samples saved
    assert evaluate.main(run) == 130
    assert capsys.readouterr().err == (f"\nstopped (Ctrl-C); {tmp_path / 'e.json'} is as it was; the samples are in "
                                       f"{tmp_path / 's s.npz'}: `python -m ddpm.evaluate --from-samples "
                                       f"'{tmp_path / 's s.npz'}'` scores them\n")
    assert evaluate.main(["--from-samples", str(tmp_path / "s s.npz")]) == 130  # scoring a file: nothing else to say
    assert capsys.readouterr().err == "\nstopped (Ctrl-C); nothing was scored\n"
    # another run into the same --save-samples keeps the samples it replaces (minutes of sampling), and says where
    before = (tmp_path / "s s.npz").read_bytes()
    assert evaluate.main(run) == 130
    assert f"note: {tmp_path / 's s.npz'} held earlier samples: kept as {tmp_path / 's s.npz.previous'}\n" in \
        capsys.readouterr().err and (tmp_path / "s s.npz.previous").read_bytes() == before
    assert evaluate.main(run) == 130 and sorted(p.name for p in tmp_path.glob("s s.*")) == ["s s.npz",
                                                                                          "s s.npz.previous"]  # one


def test_evaluate_save_samples_written_but_the_old_file_not_renamed_says_it_is_written(tmp_path, monkeypatch, capsys):
    """keeping_previous's last rename failing after --save-samples was written: it said 'cannot write', and a stop
    then said the samples were lost, though they were in the file."""
    import errno

    from ddpm import evaluate, safeio

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    real = safeio._replace
    monkeypatch.setattr(safeio, "_replace", lambda src, dst: real(src, dst) if not dst.name.endswith(".previous")
                        else (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")))
    monkeypatch.setattr(evaluate, "reference", lambda *a: None)  # no MNIST needed
    monkeypatch.setattr(evaluate, "generate", lambda *a, **k: (np.zeros((2, 28, 28), np.uint8), 50, 1000, "0" * 64))
    monkeypatch.setattr(evaluate, "evaluate_samples", ctrl_c)  # while scoring, the samples saved
    (tmp_path / "s.npz").write_bytes(b"older samples")
    assert evaluate.main(["--n", "2", "--out", str(tmp_path / "e.json"), "--save-samples", str(tmp_path / "s.npz")]) \
        == 130
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 's.npz'} is written, but the file it replaced could not be kept" in err
    assert f"the samples are in {tmp_path / 's.npz'}" in err and "cannot write" not in err
    assert (tmp_path / "s.npz.previous.tmp").read_bytes() == b"older samples"
