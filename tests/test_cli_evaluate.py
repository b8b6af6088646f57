"""python -m ddpm.evaluate from the command line: its refusals, shards, --from-samples, and never losing a result."""
import json

import numpy as np
import pytest
from PIL import Image

from ddpm import hub
from ddpm.card import write_model_card

from conftest import at_once, run_python, sh, tiny_model


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


def test_shards_from_the_cli_join_into_one_named_run(tmp_path, monkeypatch, capsys):
    """Two `ddpm.sample --first` shards score as the one run they came from, named after its settings."""
    from ddpm import evaluate

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    common = ["-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--sampler", "ddpm", "--variance", "beta_tilde",
              "--no-clip", "--seed", "4"]
    whole, part = tmp_path / "whole.npz", [tmp_path / "p0.npz", tmp_path / "p1.npz"]
    for r in at_once(*[lambda a=args: run_python(*common, *a) for args in (  # a core each
            ["--n", "5", "--out", str(whole)], ["--n", "2", "--out", str(part[0])],
            ["--n", "3", "--first", "2", "--out", str(part[1])])]):
        assert r.returncode == 0, r.stderr
    seen, floor_seeds = [], []
    monkeypatch.setattr(evaluate, "evaluate_samples",
                        lambda s, *a, **k: seen.append(s) or floor_seeds.append(k["n_floor_seed"]) or {"real_floor_fd": 1.0})
    assert evaluate.main(["--from-samples", str(part[1]), str(part[0]), "--weights", str(tmp_path / "m"),
                          "--out", str(tmp_path / "e.json"), "--json"]) == 0
    with np.load(whole) as f:
        assert np.abs(seen[0].astype(int) - f["samples"]).max() <= 1  # float rounding between batch sizes at most
    T = hub.load_pretrained(tmp_path / "m").config.timesteps
    runs = json.loads((tmp_path / "e.json").read_text())["runs"]
    assert list(runs) == [f"ddpm-{T}-beta_tilde-noclip"]
    # the file's seed, not the flag's default, draws the real floor and is the seed reported
    assert floor_seeds == [4] and runs[f"ddpm-{T}-beta_tilde-noclip"]["seed"] == 4
    assert evaluate.main(["--from-samples", str(whole), "--seed", "4", "--json"]) == 0 and floor_seeds[-1] == 4
    assert evaluate.main(["--from-samples", str(whole), "--seed", "0", "--json"]) == 2
    assert "drawn with --seed 4, not --seed 0" in capsys.readouterr().err
    # the second shard alone is other draws than the run's first three: filed beside the run, saying where it starts
    assert evaluate.main(["--from-samples", str(part[1]), "--out", str(tmp_path / "e.json"), "--json"]) == 0
    runs = json.loads((tmp_path / "e.json").read_text())["runs"]
    assert runs[f"ddpm-{T}-beta_tilde-noclip-first2"]["first"] == 2 and "first" not in runs[f"ddpm-{T}-beta_tilde-noclip"]


def test_from_samples_refuses_flags_that_contradict_the_file(tmp_path, monkeypatch, capsys):
    """The .npz says how its samples were drawn: a flag that says otherwise would file its figures under another
    run's name in --out (a DDIM file scored as the card's DDPM row), so it is refused; flags that agree pass."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    digits = np.zeros((4, 28, 28), np.uint8)
    save_npz(tmp_path / "ddim.npz", digits, seed=0, sampler="ddim", steps=10, label=7, guidance=3.0)
    save_npz(tmp_path / "ddpm.npz", digits, seed=0, sampler="ddpm", steps=1000)
    Image.fromarray(digits[0]).save(tmp_path / "grid.png")  # a grid passed by mistake
    np.savez(tmp_path / "bare.npz", samples=digits)  # not ours: the flags say how it was drawn
    bare = ["--from-samples", str(tmp_path / "bare.npz")]
    np.savez(tmp_path / "seed.npz", samples=digits, seed=-1)  # hand-made: the seed --seed would refuse
    assert evaluate.main(["--from-samples", str(tmp_path / "seed.npz"), "--json"]) == 2
    assert "seed.npz records seed=-1: a seed is 0 to 9007199254740991" in capsys.readouterr().err
    save_npz(tmp_path / "guided.npz", digits, seed=0, sampler="ddim", steps=10, autoguidance=2.0, timesteps=1000)
    save_npz(tmp_path / "other.npz", digits, seed=0, sampler="ddim", steps=10, autoguidance=2.0, timesteps=1000,
             autoguidance_guide=str(tmp_path / "g"))
    ddim, ddpm = ["--from-samples", str(tmp_path / "ddim.npz")], ["--from-samples", str(tmp_path / "ddpm.npz")]
    guided, other = ["--from-samples", str(tmp_path / "guided.npz")], ["--from-samples", str(tmp_path / "other.npz")]
    for args, message in ((ddim + ["--sampler", "ddpm"], "drawn with --sampler ddim, not --sampler ddpm"),
                          (ddim + ["--sampler", "ddim", "--steps", "50"], "drawn with --steps 10, not --steps 50"),
                          (ddim + ["--sampler", "ddim", "--eta", "1"], "drawn with --eta 0.0, not --eta 1.0"),
                          (ddim + ["--label", "3"], "drawn with --label 7, not --label 3"),
                          (ddim + ["--label", "7", "--guidance", "2"], "drawn with --guidance 3.0, not --guidance 2.0"),
                          (ddim + ["--autoguidance", "2"], "drawn with --autoguidance 1.0, not --autoguidance 2.0"),
                          (ddpm + ["--label", "7"], "drawn without a label"),
                          (ddpm + ["--steps", "50"], "drop --steps"),
                          (ddpm + ["--guidance", "3"], "drawn without a label"),
                          (ddpm + ["--autoguidance-tmax", "300"], "drawn without autoguidance"),
                          (guided + ["--autoguidance-tmax", "300"], "drawn with --autoguidance-tmax 600, not"),
                          (guided + ["--autoguidance-guide", str(tmp_path / "g")], "drawn with the guide in the weights"),
                          (other + ["--autoguidance-guide", str(tmp_path / "h")], f"drawn with the guide {tmp_path / 'g'}"),
                          (ddpm + [str(tmp_path / "ddpm.npz")], "overlaps them (or is one of them twice)"),
                          (["--from-samples", str(tmp_path / "grid.png")], "grid.png is not an .npz file"),
                          (["--from-samples", str(tmp_path)], f"{tmp_path} is a folder: give the .npz files in it"),
                          (bare + ["--guidance", "2"], "--guidance steers toward a class: add --label"),
                          (bare + ["--autoguidance-tmax", "9"], "shape autoguidance: add --autoguidance W")):
        assert evaluate.main(args + ["--json"]) == 2, args
        assert message in capsys.readouterr().err, args
    assert evaluate.main(ddim + ["--sampler", "ddim", "--steps", "10", "--label", "7", "--guidance", "3",
                                 "--out", str(tmp_path / "e.json"), "--json"]) == 0
    assert list(json.loads((tmp_path / "e.json").read_text())["runs"]) == ["ddim-10-label7-w3"]
    assert evaluate.main(ddim + ["--label", "7", "--out", str(tmp_path / "e.json"), "--json"]) == 0  # w from the file
    assert list(json.loads((tmp_path / "e.json").read_text())["runs"]) == ["ddim-10-label7-w3"]
    # a DDPM file from before T was recorded (its steps held the DDIM default): T from --weights, as before
    save_npz(tmp_path / "old.npz", digits, seed=0, sampler="ddpm", steps=50)
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    T = hub.load_pretrained(tmp_path / "m").config.timesteps
    assert evaluate.main(["--from-samples", str(tmp_path / "old.npz"), "--weights", str(tmp_path / "m"),
                          "--out", str(tmp_path / "old.json"), "--json"]) == 0
    assert list(json.loads((tmp_path / "old.json").read_text())["runs"]) == [f"ddpm-{T}"]
    save_npz(tmp_path / "noT.npz", digits, seed=0, sampler="ddim", steps=10, autoguidance=2.0)  # no T, no tmax
    assert evaluate.main(["--from-samples", str(tmp_path / "noT.npz"), "--weights", "you/hub-model",
                          "--autoguidance-tmax", "300", "--json"]) == 2
    assert "records no T to check --autoguidance-tmax against" in capsys.readouterr().err
    # flags that agree with the file pass, however they are spelled; each file keeps its own row
    for args in (ddpm + ["--steps", "1000"], ddim + ["--guidance", "3"], guided + ["--autoguidance-tmax", "600"],
                 other + ["--autoguidance", "2", "--autoguidance-guide", str(tmp_path / "g") + "/"]):
        assert evaluate.main(args + ["--out", str(tmp_path / "e.json"), "--json"]) == 0, capsys.readouterr().err
    assert list(json.loads((tmp_path / "e.json").read_text())["runs"]) == [
        "ddim-10-label7-w3", "ddpm-1000", "ddim-10-autoguided2", "ddim-10-autoguided2-guide-g"]


def test_from_samples_of_another_model_is_not_filed_under_this_one(tmp_path, monkeypatch, capsys):
    """A file drawn by a model of T = 20 is not scored as a T = 1000 model's (--weights), nor merged into the
    eval.json beside a model of another T: its figures would be filed under a model that did not draw them."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "t20")
    save_npz(tmp_path / "s.npz", np.zeros((4, 28, 28), np.uint8), seed=0, sampler="ddpm", steps=20, timesteps=20)
    # a T = 1000 model folder with an eval.json, as the bundled one (not it: a broken check would overwrite it)
    bundled = hub.save_pretrained(tiny_model(timesteps=1000), tmp_path / "t1000") / "eval.json"
    bundled.write_text('{"runs": {}}')
    s = ["--from-samples", str(tmp_path / "s.npz"), "--json"]
    for args, says in ((["--out", str(bundled)], f"and the model beside --out {bundled} has T = 1000"),
                       (["--weights", str(hub.DEFAULT_WEIGHTS)], f"and --weights {hub.DEFAULT_WEIGHTS} has T = 1000"),
                       (["--weights", str(tmp_path / "t20"), "--out", str(bundled)],
                        f"and the model beside --out {bundled} has T = 1000")):
        before = (tmp_path / "e.json").exists(), bundled.read_bytes()
        assert evaluate.main(s + args) == 2, args
        assert f"drawn by a model of T = 20 steps, {says}" in capsys.readouterr().err, args
        assert ((tmp_path / "e.json").exists(), bundled.read_bytes()) == before
    out = tmp_path / "t20" / "eval.json"  # its own model, or no model named and nothing filed: scored
    assert evaluate.main(s + ["--weights", str(tmp_path / "t20"), "--out", str(out)]) == 0
    assert list(json.loads(out.read_text())["runs"]) == ["ddpm-20"]
    # (T alone was held against it: the file records no weights, and that much is said)
    assert f"does not record the weights that drew it (written before samples files recorded them, or by hand), so " \
           f"nothing checks that --weights {tmp_path / 't20'} drew it" in capsys.readouterr().err
    assert evaluate.main(s) == 0 and evaluate.main(s + ["--out", str(tmp_path / "e.json")]) == 0  # no model named


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


def test_a_random_label_shard_is_scored_against_the_labels_of_its_own_samples(tmp_path, monkeypatch):
    """A `--label random` shard from --first 8 asked for the digits of samples 8.. of its seed: read as asked is
    measured against those, not against the labels of samples 0.. (which would score the right digits as wrong)."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    whole = evaluate.asked_labels("random", 5, 14)  # the digits one whole run of 14 samples asks for
    assert not np.array_equal(whole[8:], whole[:6])  # else this test could not tell the two apart
    asked = []
    monkeypatch.setattr(evaluate, "evaluate_samples",
                        lambda *a, **k: asked.append(k["labels"]) or {"real_floor_fd": 1.0})
    save_npz(tmp_path / "p1.npz", np.zeros((6, 28, 28), np.uint8), seed=5, sampler="ddim", steps=2, label="random",
             first=8)
    assert evaluate.main(["--from-samples", str(tmp_path / "p1.npz"), "--json"]) == 0
    assert asked[0].tolist() == whole[8:].tolist()


def test_from_samples_n_takes_the_first_n_up_to_all_the_file_holds(tmp_path, monkeypatch, capsys):
    """--n N scores the file's first N samples; N equal to what the file holds is all of them (not refused as too
    many); more than it holds is refused."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    seen = []
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda s, *a, **k: seen.append(s) or {"real_floor_fd": 1.0})
    digits = np.arange(4, dtype=np.uint8)[:, None, None] * np.ones((4, 28, 28), np.uint8)  # sample k is all k
    save_npz(tmp_path / "s.npz", digits, seed=0, sampler="ddim", steps=2)
    s = ["--from-samples", str(tmp_path / "s.npz"), "--json"]
    assert evaluate.main(s + ["--n", "4"]) == 0, capsys.readouterr().err
    assert np.array_equal(seen[-1], digits)
    assert evaluate.main(s + ["--n", "3"]) == 0 and np.array_equal(seen[-1], digits[:3])
    assert evaluate.main(s + ["--n", "5"]) == 2 and len(seen) == 2
    assert f"--n 5 but {tmp_path / 's.npz'} holds only 4 samples" in capsys.readouterr().err


def test_from_samples_of_a_ddpm_file_refuses_eta(tmp_path, monkeypatch, capsys):
    """DDPM's variance, not eta, sets its noise: --eta 0.5 with a DDPM file would file its figures under a DDIM-like
    name (or say eta did something), so it is refused with a message, not ignored."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    save_npz(tmp_path / "ddpm.npz", np.zeros((4, 28, 28), np.uint8), seed=0, sampler="ddpm", steps=20, timesteps=20)
    out = tmp_path / "e.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "ddpm.npz"), "--eta", "0.5", "--out", str(out)]) == 2
    assert ("drawn by DDPM, which runs all 20 steps and whose variance, not eta, sets its noise: drop --steps and "
            "--eta") in capsys.readouterr().err and not out.exists()


def test_from_samples_refuses_a_seed_above_the_largest(tmp_path, monkeypatch, capsys):
    """A hand-made file's seed past MAX_SEED is refused as a negative one is: --seed's own range."""
    from ddpm import evaluate
    from ddpm.samplers import MAX_SEED

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    digits = np.zeros((4, 28, 28), np.uint8)
    np.savez(tmp_path / "top.npz", samples=digits, seed=MAX_SEED)  # the largest: scored
    assert evaluate.main(["--from-samples", str(tmp_path / "top.npz"), "--json"]) == 0, capsys.readouterr().err
    np.savez(tmp_path / "seed.npz", samples=digits, seed=MAX_SEED + 1)
    assert evaluate.main(["--from-samples", str(tmp_path / "seed.npz"), "--json"]) == 2
    assert f"seed.npz records seed={MAX_SEED + 1}: a seed is 0 to {MAX_SEED}" in capsys.readouterr().err


def test_a_ddim_file_with_eta_is_filed_under_its_eta(tmp_path, monkeypatch, capsys):
    """A DDIM file drawn with eta 1 keeps its eta: filed as ddim-10-eta1 (not the deterministic ddim-10's row), and
    --eta 1 agrees with it."""
    from ddpm import evaluate
    from ddpm.eval_files import save_npz

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    save_npz(tmp_path / "eta.npz", np.zeros((4, 28, 28), np.uint8), seed=0, sampler="ddim", steps=10, eta=1.0)
    out = tmp_path / "e.json"
    for flags in ([], ["--eta", "1"]):
        assert evaluate.main(["--from-samples", str(tmp_path / "eta.npz"), "--out", str(out), "--json", *flags]) == 0, \
            capsys.readouterr().err
    assert list(json.loads(out.read_text())["runs"]) == ["ddim-10-eta1"]


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
