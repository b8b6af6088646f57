"""python -m ddpm.evaluate --from-samples from the command line: shards joined into one run, flags that contradict
the file refused, and each file scored and filed under the run and model that drew it."""
import json

import numpy as np
from PIL import Image

from ddpm import hub

from conftest import at_once, run_python, tiny_model


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
