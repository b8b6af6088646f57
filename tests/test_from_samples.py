"""ddpm.evaluate --from-samples: each fact a hand-made .npz records is checked as the flag that sets it would be, so
nonsense is a one-line refusal, not a traceback or a run filed under a name such as ddim--4 or euler-5; and a file
drawn by other weights is not filed under a model that did not draw it."""
import json

import numpy as np
import pytest

from conftest import tiny_model
from ddpm import hub

DIGITS = np.zeros((4, 28, 28), np.uint8)


@pytest.fixture
def evaluate(monkeypatch):
    from ddpm import evaluate

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})  # no classifier: seconds
    return evaluate


@pytest.mark.parametrize("facts, says", [
    (dict(sampler="ddim", steps=5, seed="abc"), "records seed='abc': a seed is 0 to"),
    (dict(sampler="ddim", steps=5, eta="x"), "records eta='x': DDIM's eta is a number from 0 to 1"),
    (dict(sampler="ddim", steps=5, timesteps="x"), "records timesteps='x': the model's T is a whole number from 1"),
    (dict(sampler="ddim", steps=5, first=np.nan), "records first=nan: a sample's index is a whole number from 0"),
    (dict(sampler="ddim", steps=5, first=-3), "records first=-3: a sample's index"),
    (dict(sampler="ddim", steps=5, label=42), "records label=42: a label is a digit 0-9 or 'random'"),
    (dict(sampler="ddim", steps=5, label=3, guidance=np.nan), "records guidance=nan: guidance w is a number from 0"),
    (dict(sampler="ddim", steps=5, autoguidance=-1.0), "records autoguidance=-1.0: the autoguidance weight is"),
    (dict(sampler="euler", steps=5), "records sampler='euler': the sampler is ddpm or ddim"),
    (dict(sampler="ddim", steps=-4), "records steps=-4: steps are a whole number from 1 to the model's T"),
    (dict(sampler="ddim", steps=30, timesteps=20), "records steps=30: steps are a whole number from 1 to T = 20"),
    (dict(sampler="ddim", steps=5, timesteps=20, autoguidance=2.0, autoguidance_tmax=20),
     "records autoguidance_tmax=20: autoguidance's t_max is a code index from 0 to T = 20 minus 1"),
    (dict(sampler="ddpm", steps=20, variance="huge"), "records variance='huge': DDPM's variance is beta or beta_tilde"),
    (dict(sampler="ddim", steps=5, dataset="cifar"), "records dataset='cifar': the dataset is mnist or fashion-mnist"),
    (dict(sampler="ddim"), "records sampler='ddim' but not its steps: give them with --steps"),
    # each range's other end too (a mutation run: each of these ends unchecked was filed as a run of its own)
    (dict(sampler="ddim", steps=0), "records steps=0: steps are a whole number from 1 to the model's T"),
    (dict(sampler="ddpm", timesteps=0), "records timesteps=0: the model's T is a whole number from 1"),
    (dict(sampler="ddim", steps=5, eta=2.0), "records eta=2.0: DDIM's eta is a number from 0 to 1"),
    (dict(sampler="ddim", steps=5, label=3, guidance=-1.0), "records guidance=-1.0: guidance w is a number from 0"),
    (dict(sampler="ddim", steps=5, label=3, guidance=11.0), "records guidance=11.0: guidance w is a number from 0 "
                                                            "to 10"),
    (dict(sampler="ddim", steps=5, autoguidance=11.0), "records autoguidance=11.0: the autoguidance weight is a "
                                                       "number from 0 to 10"),
    (dict(sampler="ddim", steps=5, label=10), "records label=10: a label is a digit 0-9"),
    (dict(sampler="ddim", steps=5, clip="no"), "records clip='no': clip is True or False"),  # "no" is truthy
    (dict(sampler="ddim", steps=5, weights_sha256="abc"), "records weights_sha256='abc': the weights' sha256 is 64 "
                                                          "hex digits"),
    (dict(sampler="ddim", steps=5, autoguidance=2.0, autoguidance_guide=" "), "records autoguidance_guide=' ': the "
                                                                               "guide is a model folder"),
])
def test_a_fact_out_of_its_range_is_refused_in_a_line(evaluate, tmp_path, capsys, facts, says):
    np.savez(tmp_path / "F.npz", samples=DIGITS, **facts)
    out = tmp_path / "e.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "F.npz"), "--json", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"error: {tmp_path / 'F.npz'} {says}" in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and not out.exists()  # nothing scored, nothing filed


def test_ddim_steps_the_file_lacks_come_from_steps_and_are_never_guessed(evaluate, tmp_path, capsys):
    """A samples-only file scored with --sampler ddim was filed as 'ddim-T' with steps null: the file does not say
    how many steps drew it, and guessing DDIM's default (50) could file another run's figures as ddim-50."""
    np.savez(tmp_path / "bare.npz", samples=DIGITS)
    np.savez(tmp_path / "nosteps.npz", samples=DIGITS, sampler="ddim", seed=0)
    out = tmp_path / "e.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "bare.npz"), "--sampler", "ddim", "--json"]) == 2
    assert "bare.npz does not say how many steps DDIM took: give them with --steps" in capsys.readouterr().err
    for name in ("bare", "nosteps"):
        assert evaluate.main(["--from-samples", str(tmp_path / f"{name}.npz"), "--sampler", "ddim", "--steps", "7",
                              "--out", str(out), "--json"]) == 0, capsys.readouterr().err
        assert json.loads((out).read_text())["runs"]["ddim-7"]["steps"] == 7


def test_facts_in_range_are_read_as_the_flags_would_take_them(evaluate, tmp_path, capsys):
    """7.0 is the whole number 7: the row is ddim-7-label3-w2, not ddim-7.0-label3.0-w2 (nor refused)."""
    np.savez(tmp_path / "F.npz", samples=DIGITS, sampler="ddim", steps=7.0, seed=1.0, label=3.0, guidance=2,
             first=0, timesteps=20)
    out = tmp_path / "e.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "F.npz"), "--out", str(out), "--json"]) == 0, \
        capsys.readouterr().err
    row = json.loads(out.read_text())["runs"]["ddim-7-label3-w2"]
    assert (row["steps"], row["seed"], row["label"], row["guidance"]) == (7, 1, 3, 2.0)


def test_steps_and_t_max_past_the_models_t_are_refused_wherever_they_come_from(evaluate, tmp_path, capsys):
    """--steps filling in a file's missing steps, and a t_max recorded without T, were checked against nothing: a
    file of T = 20 scored with --steps 50 was filed as ddim-50, a run no model of T = 20 can draw. A label written
    as text reads as --label reads it."""
    np.savez(tmp_path / "T20.npz", samples=DIGITS, sampler="ddim", timesteps=20)
    np.savez(tmp_path / "bare.npz", samples=DIGITS)
    np.savez(tmp_path / "tmax.npz", samples=DIGITS, sampler="ddim", steps=5, autoguidance=2.0, autoguidance_tmax=5000)
    for name, flags, says in (("T20", ["--steps", "50"], "T20.npz: DDIM's steps are at most 20 for the model that drew "
                                                         "it, not 50"),
                              ("bare", ["--sampler", "ddim", "--steps", "5000"], "at most 1000"),  # weights/: T = 1000
                              ("tmax", [], "autoguidance's t_max (a code index) is at most 999")):
        assert evaluate.main(["--from-samples", str(tmp_path / f"{name}.npz"), *flags, "--json"]) == 2
        assert says in capsys.readouterr().err
    np.savez(tmp_path / "text.npz", samples=DIGITS, sampler="ddim", steps=5, label=" 3", guidance=1.0)
    out = tmp_path / "e.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "text.npz"), "--out", str(out), "--json"]) == 0
    assert json.loads(out.read_text())["runs"]["ddim-5-label3-w1"]["label"] == 3


def test_facts_at_the_ends_of_their_ranges_are_filed_as_the_flags_would_file_them(evaluate, tmp_path, capsys):
    """DDIM's steps = T is a run (all T steps, deterministic), 'Random' is --label's random, a label without a w is
    w = 1, and a DDPM file that does not record its steps ran all T (weights/: T = 1000): none is refused."""
    np.savez(tmp_path / "T20.npz", samples=DIGITS, sampler="ddim", timesteps=20)
    np.savez(tmp_path / "random.npz", samples=DIGITS, sampler="ddim", steps=5, label="Random", guidance=2.0)
    np.savez(tmp_path / "label.npz", samples=DIGITS, sampler="ddim", steps=5, label=3)
    np.savez(tmp_path / "ddpm.npz", samples=DIGITS, sampler="ddpm")
    out = tmp_path / "e.json"
    for name, flags in (("T20", ["--steps", "20"]), ("random", []), ("label", []), ("ddpm", [])):
        assert evaluate.main(["--from-samples", str(tmp_path / f"{name}.npz"), *flags, "--out", str(out),
                              "--json"]) == 0, capsys.readouterr().err
    assert set(json.loads(out.read_text())["runs"]) == {"ddim-20", "ddim-5-labelrandom-w2", "ddim-5-label3-w1",
                                                        "ddpm-1000"}


def test_from_samples_of_other_weights_of_the_same_t_are_not_filed_under_these(tmp_path, monkeypatch, capsys):
    """ddpm.sample and --save-samples record the sha256 of the weights that drew a file: another model of the same T
    (two runs of one recipe) cannot score it as its own (its card showed the other model's figures)."""
    from ddpm import evaluate, from_samples, sample

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    a, b = (hub.save_pretrained(tiny_model(seed, timesteps=20), tmp_path / name) for seed, name in ((0, "a"), (1, "b")))
    assert sample.main(["--weights", str(a), "--n", "4", "--sampler", "ddim", "--steps", "2", "--out",
                        str(tmp_path / "s.npz")]) == 0
    assert evaluate.main(["--weights", str(b), "--n", "4", "--sampler", "ddim", "--steps", "2", "--save-samples",
                          str(tmp_path / "e.npz"), "--json"]) == 0
    capsys.readouterr()
    hashed = []  # the models from_samples loaded and hashed
    monkeypatch.setattr(from_samples, "weights_digest", lambda m: hashed.append(m) or hub.weights_digest(m))
    for drawn, by, other in (("s.npz", a, b), ("e.npz", b, a)):
        s = ["--from-samples", str(tmp_path / drawn), "--json"]
        for args, says in ((["--out", str(other / "eval.json")], f"the model beside --out {other / 'eval.json'}"),
                           (["--weights", str(other)], f"--weights {other}")):
            before = (other / "eval.json").exists() and (other / "eval.json").read_bytes()
            assert evaluate.main(s + args) == 2, args
            assert f"drawn by other weights than {says} (sha256 of their tensors" in capsys.readouterr().err
            assert before == ((other / "eval.json").exists() and (other / "eval.json").read_bytes())
        hashed.clear()
        assert evaluate.main(s + ["--weights", str(by), "--out", str(by / "eval.json")]) == 0  # its own: filed
        assert len(hashed) == 1  # one folder, --weights' and --out's: loaded and hashed once
        assert list(json.loads((by / "eval.json").read_text())["runs"]) == ["ddim-2"]
    # weights that do not load cannot vouch for the file: refused, not passed over (it was scored, exit 0)
    (a / "model.safetensors").write_bytes((a / "model.safetensors").read_bytes()[:1000])
    assert evaluate.main(["--from-samples", str(tmp_path / "s.npz"), "--weights", str(a), "--json"]) == 2
    assert f"--weights {a} does not load, so what drew the samples cannot be checked: " in capsys.readouterr().err


def test_a_fresh_run_is_not_merged_into_another_models_eval_json(tmp_path, monkeypatch, capsys):
    """--weights A --out B/eval.json filed A's scores under B, whose card then showed them (a CLI review found it);
    refused once A is loaded, before sampling. Its own folder's eval.json, or a file outside a model folder, takes
    it."""
    from ddpm import evaluate, from_samples

    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})
    monkeypatch.setattr(evaluate, "sample_images", lambda *a, **k: pytest.fail("sampled before the refusal"))
    a, b = (hub.save_pretrained(tiny_model(seed, timesteps=20), tmp_path / name) for seed, name in ((0, "a"), (1, "b")))
    c = hub.save_pretrained(tiny_model(0, timesteps=10), tmp_path / "c")
    run = ["--n", "4", "--sampler", "ddim", "--steps", "2", "--json"]
    for other, says in ((b, "was drawn by other weights than the model beside --out"), (c, "has T = 10")):
        assert evaluate.main(run + ["--weights", str(a), "--out", str(other / "eval.json")]) == 2
        err = capsys.readouterr().err
        assert f"this run of --weights {a} " in err and says in err and f"merge into {a / 'eval.json'}" in err
        assert not (other / "eval.json").exists()
    monkeypatch.setattr(evaluate, "sample_images", lambda model, n, *a, **k: np.zeros((n, 28, 28), np.uint8))
    hashed = []
    monkeypatch.setattr(from_samples, "weights_digest", lambda m: hashed.append(m) or hub.weights_digest(m))
    for out in (a / "eval.json", tmp_path / "scores.json"):
        assert evaluate.main(run + ["--weights", str(a), "--out", str(out)]) == 0, capsys.readouterr().err
        assert list(json.loads(out.read_text())["runs"]) == ["ddim-2"]
    assert hashed == []  # its own folder: not loaded and hashed a second time
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda x, *a, **k: {"real_floor_fd": 1.0, "n": len(x)})
    assert evaluate.main(run + ["--weights", str(a), "--out", str(a / "eval.json")]) == 0
    assert f"merged into {a / 'eval.json'} as runs['ddim-2'], in place of its earlier row\n" in capsys.readouterr().err
    monkeypatch.setattr(evaluate, "sample_images", lambda *a, **k: pytest.fail("sampled before the refusal"))
    assert evaluate.main(run[:1] + ["3"] + run[2:] + ["--weights", str(a), "--out", str(a / "eval.json")]) == 2
    assert "runs['ddim-2'] holds N = 4 samples, which this run's N = 3 would replace: give this run a name of its " \
           "own with --run-name" in capsys.readouterr().err  # said before sampling, not after
    np.savez(tmp_path / "three.npz", samples=np.zeros((3, 28, 28), np.uint8), sampler="ddim", steps=2, timesteps=20)
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: pytest.fail("scored before the refusal"))
    assert evaluate.main(["--from-samples", str(tmp_path / "three.npz"), "--out", str(a / "eval.json")]) == 2
    assert "holds N = 4 samples, which this run's N = 3 would replace" in capsys.readouterr().err


def test_a_fresh_run_draws_from_its_seed_and_saves_what_from_samples_checks(tmp_path, monkeypatch, capsys):
    """A fresh run's --seed draws its samples and its floor and is the seed filed; --save-samples records it with the
    model's T, which --from-samples checks the file against (a file without it is taken as --weights' T)."""
    from ddpm import evaluate

    floor_seeds = []
    monkeypatch.setattr(evaluate, "reference", lambda *a: None)  # no MNIST needed
    monkeypatch.setattr(evaluate, "evaluate_samples",
                        lambda s, *a, **k: floor_seeds.append(k["n_floor_seed"]) or {"real_floor_fd": 1.0})
    m = hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "m")
    out, saved = tmp_path / "e.json", tmp_path / "s.npz"
    assert evaluate.main(["--weights", str(m), "--n", "2", "--sampler", "ddim", "--steps", "2", "--seed", "5",
                          "--save-samples", str(saved), "--out", str(out), "--json"]) == 0, capsys.readouterr().err
    assert floor_seeds == [5] and json.loads(out.read_text())["runs"]["ddim-2"]["seed"] == 5
    with np.load(saved) as f:
        assert (f["seed"].item(), f["timesteps"].item()) == (5, 20)
        assert np.array_equal(f["samples"], evaluate.generate(str(m), 2, "ddim", 2, 5, 2, None, 1.0)[0])


def test_a_bare_ddpm_file_is_filed_under_the_weights_t(evaluate, tmp_path, capsys):
    """An .npz not written by ddpm.sample (only samples in it) with --sampler ddpm ran all T steps of --weights: its
    row is ddpm-T with that model's T, as a drawn run's is, not 'ddpm-T' or --steps' value; --steps other than T is
    refused, not dropped."""
    hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "m")
    np.savez(tmp_path / "bare.npz", samples=np.zeros((4, 28, 28), np.uint8))
    out, flags = tmp_path / "e.json", ["--from-samples", str(tmp_path / "bare.npz"), "--sampler", "ddpm", "--weights",
                                       str(tmp_path / "m")]
    assert evaluate.main(flags + ["--out", str(out), "--json"]) == 0, capsys.readouterr().err
    assert list(json.loads(out.read_text())["runs"]) == ["ddpm-20"]
    assert evaluate.main(flags + ["--steps", "20", "--json"]) == 0  # its T: `--sampler ddpm --steps T` is taken
    assert evaluate.main(flags + ["--steps", "5"]) == 2  # filed as ddpm-20 with --steps 5 dropped unsaid before
    assert "--steps 5 is a DDIM setting (add --sampler ddim); DDPM always runs all T = 20" in capsys.readouterr().err
    hub_id = ["--from-samples", str(tmp_path / "bare.npz"), "--sampler", "ddpm", "--weights", "me/repo"]
    assert evaluate.main(hub_id + ["--steps", "5"]) == 2  # a Hub id's T is not looked up: not dropped either
    assert "--steps 5 with DDPM, which runs all T steps of --weights me/repo" in capsys.readouterr().err


def test_a_file_of_an_older_sample_command_takes_its_label_guidance_and_eta_from_the_flags(evaluate, tmp_path,
                                                                                          capsys):
    """ddpm.sample recorded only seed, sampler and steps before it recorded the label, guidance and eta (and eta
    ever since): a file of threes at w = 3, eta 1 was filed as the null class's deterministic ddim-5, and the flags
    that said how it was drawn were refused as contradicting it. They fill in what it lacks now, and it is said."""
    np.savez(tmp_path / "old.npz", samples=DIGITS, seed=0, sampler="ddim", steps=5)
    out = tmp_path / "e.json"
    for flags, name in ((["--label", "3", "--guidance", "3", "--eta", "1"], "ddim-5-eta1-label3-w3"),
                        ([], "ddim-5")):
        assert evaluate.main(["--from-samples", str(tmp_path / "old.npz"), *flags, "--out", str(out), "--json"]) == 0
        assert "does not record its label, guidance or eta (written by an older ddpm.sample" in \
            capsys.readouterr().err
        assert name in json.loads(out.read_text())["runs"]
    row = json.loads(out.read_text())["runs"]["ddim-5-eta1-label3-w3"]
    assert (row["label"], row["guidance"], row["eta"]) == (3, 3.0, 1.0)
    assert evaluate.main(["--from-samples", str(tmp_path / "old.npz"), "--guidance", "3", "--json"]) == 2
    assert "--guidance steers toward a class: add --label" in capsys.readouterr().err  # not "was drawn without"
    np.savez(tmp_path / "new.npz", samples=DIGITS, seed=0, sampler="ddim", steps=5, eta=0.0)  # as it writes now
    assert evaluate.main(["--from-samples", str(tmp_path / "new.npz"), "--label", "3", "--json"]) == 2
    assert "was drawn without a label (the null class): drop --label" in capsys.readouterr().err


def test_a_file_that_records_nothing_is_held_against_the_model_beside_out(evaluate, tmp_path, capsys):
    """A samples-only file filed into a model folder's eval.json took its DDPM steps from the bundled weights
    (T = 1000), so a T = 20 model's card showed a row named ddpm-1000, and nothing said the file could not be
    checked against the model it was filed beside."""
    folder = hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "m")
    np.savez(tmp_path / "bare.npz", samples=DIGITS)
    out = folder / "eval.json"
    assert evaluate.main(["--from-samples", str(tmp_path / "bare.npz"), "--sampler", "ddpm", "--out", str(out),
                          "--json"]) == 0
    assert list(json.loads(out.read_text())["runs"]) == ["ddpm-20"]
    assert f"does not record the weights that drew it (written before samples files recorded them, or by hand), " \
           f"so nothing checks that the model beside --out {out} drew it" in capsys.readouterr().err
    assert evaluate.main(["--from-samples", str(tmp_path / "bare.npz"), "--sampler", "ddim", "--steps", "50",
                          "--out", str(out), "--json"]) == 2
    assert "DDIM's steps are at most 20 for the model that drew it, not 50" in capsys.readouterr().err
