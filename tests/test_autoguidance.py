"""Autoguidance: the formula, the interval, the guide/ folder and the command lines that use it."""
import numpy as np
import pytest
import torch

from ddpm import evaluate, hub
from ddpm.autoguidance import Autoguided, autoguided, default_t_max, load_guide
from ddpm.samplers import sample

from conftest import run_python, sample_cli, tiny_model


def _eps(m, x, t, y=None):
    with torch.no_grad():
        return m(x, torch.full((len(x),), t), y)


def test_weight_interpolates_and_extrapolates_between_guide_and_model():
    main, guide = tiny_model(0), tiny_model(1)
    x = torch.randn(3, 1, 28, 28)
    e_main, e_guide = _eps(main, x, 7), _eps(guide, x, 7)
    assert not torch.allclose(e_main, e_guide)
    assert torch.equal(_eps(Autoguided(main, guide, 1.0), x, 7), e_main)  # w = 1: the model alone
    torch.testing.assert_close(_eps(Autoguided(main, guide, 0.0), x, 7), e_guide)  # w = 0: the guide alone
    torch.testing.assert_close(_eps(Autoguided(main, guide, 2.5), x, 7), e_guide + 2.5 * (e_main - e_guide))
    y = torch.tensor([0, 3, 10])  # labels and the null class pass through to both models
    torch.testing.assert_close(_eps(Autoguided(main, guide, 2.0), x, 7, y), 2 * _eps(main, x, 7, y) - _eps(guide, x, 7, y))


def test_only_steps_up_to_t_max_are_guided():
    main, guide = tiny_model(0), tiny_model(1)
    ag = Autoguided(main, guide, 2.0, t_max=10)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(_eps(ag, x, 11), _eps(main, x, 11))
    torch.testing.assert_close(_eps(ag, x, 10), 2 * _eps(main, x, 10) - _eps(guide, x, 10))
    t = torch.tensor([3, 15])  # a batch of mixed timesteps, as in training: guided row by row
    with torch.no_grad():
        mixed, m, g = ag(x, t), main(x, t), guide(x, t)
    torch.testing.assert_close(mixed[0], 2 * m[0] - g[0])
    assert torch.equal(mixed[1], m[1])
    assert default_t_max(1000) == 600 and Autoguided(main, guide, 2.0).t_max == default_t_max(main.config.timesteps)
    assert Autoguided(main, guide, 2.0, t_max=19).t_max == 19  # T - 1: every step of this T = 20 model
    with pytest.raises(ValueError, match="from 0 to 19 for this model of T = 20"):
        Autoguided(main, guide, 2.0, t_max=20)  # it used to be taken as "every step", unsaid


def test_guide_must_share_data_and_schedule():
    with pytest.raises(ValueError, match="timesteps is 30 in the guide, 20 in the model"):
        Autoguided(tiny_model(0), tiny_model(1, timesteps=30), 2.0)
    with pytest.raises(ValueError, match="schedule is 'cosine' in the guide, 'linear' in the model"):
        Autoguided(tiny_model(0), tiny_model(1, schedule="cosine"), 2.0)  # the same T, another noise at each t
    Autoguided(tiny_model(0), tiny_model(1, base_channels=16, attention_resolutions=()), 2.0)  # any width goes


def test_guided_sampling_is_seeded_and_keeps_the_per_sample_property(sched):
    ag = Autoguided(tiny_model(0), tiny_model(1), 2.0, t_max=12)
    a = sample(ag, sched, 4, seed=5, batch_size=4, sampler="ddpm")
    b = sample(ag, sched, 2, seed=5, batch_size=2, sampler="ddpm")
    torch.testing.assert_close(a[:2], b, atol=1e-5, rtol=0)
    assert not torch.allclose(a, sample(tiny_model(0), sched, 4, seed=5, batch_size=4, sampler="ddpm"))


def test_guide_folder_round_trip_and_a_clear_error_without_one(tmp_path):
    main = tiny_model(0)
    hub.save_pretrained(main, tmp_path / "m")
    assert autoguided(main, tmp_path / "m", 1.0) is main  # off: nothing is loaded
    with pytest.raises(hub.ModelLoadError, match="no guide/ model for autoguidance.*train.py --base-channels 8"):
        autoguided(main, tmp_path / "m", 2.0)
    # the command it suggests makes a guide the model accepts: the same data, T and schedule
    uncond = tiny_model(0, num_classes=0, schedule="cosine")
    hub.save_pretrained(uncond, tmp_path / "u", meta={"dataset": "fashion-mnist"})
    with pytest.raises(hub.ModelLoadError, match="epochs 3 --unconditional --dataset fashion-mnist --timesteps 20 "
                                                 "--schedule cosine --out .*u/guide$"):
        load_guide(tmp_path / "u")
    hub.save_pretrained(tiny_model(1, num_classes=0, schedule="cosine"), tmp_path / "u" / hub.GUIDE_SUBFOLDER)
    with pytest.raises(hub.ModelLoadError, match="guide .* was trained on MNIST, the model on Fashion-MNIST"):
        load_guide(tmp_path / "u")  # an MNIST guide of the same shape would have steered towards digits
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / hub.GUIDE_SUBFOLDER)
    ag = autoguided(main, tmp_path / "m", 2.0, t_max=5)
    assert isinstance(ag, Autoguided) and ag.t_max == 5 and ag.config is main.config
    hub.save_pretrained(tiny_model(2), tmp_path / "other")  # any model folder can guide instead of guide/
    other = autoguided(main, tmp_path / "m", 2.0, guide=tmp_path / "other")
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(_eps(other, x, 3), 2 * _eps(main, x, 3) - _eps(tiny_model(2), x, 3))
    with pytest.raises(hub.ModelLoadError, match="is not a model folder"):
        autoguided(main, tmp_path / "m", 2.0, guide=tmp_path / "nowhere")
    from huggingface_hub.utils import filter_repo_objects  # how upload_folder and snapshot_download apply patterns

    files = ["model.safetensors", "checkpoint.safetensors", "guide/model.safetensors", "guide/config.json",
             "guide/checkpoint.safetensors", "guide/README.md"]
    assert set(filter_repo_objects(files, allow_patterns=hub.FOLDER_FILES)) == {  # published; checkpoints stay home
        "model.safetensors", "guide/model.safetensors", "guide/config.json", "guide/README.md"}


def test_the_bundled_guide_fits_the_bundled_model():
    main, guide = hub.load_pretrained(), load_guide()
    ag = Autoguided(main, guide, 2.0, default_t_max(main.config.timesteps))
    assert sum(p.numel() for p in guide.parameters()) < sum(p.numel() for p in main.parameters()) / 3
    assert ag.t_max == 600


def test_sample_and_evaluate_command_lines(tmp_path, capsys, monkeypatch):
    import json

    hub.save_pretrained(tiny_model(0), tmp_path / "m")
    args = ["--weights", str(tmp_path / "m"), "--n", "3", "--sampler", "ddim", "--steps", "3",
            "--autoguidance", "2", "--out", str(tmp_path / "s.npz")]
    rc, err = sample_cli(args, capsys)
    assert rc == 2 and "no guide/ model" in err
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / "guide")
    assert sample_cli(args, capsys)[0] == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["autoguidance"].item() == 2.0
        guided = f["samples"]
    plain = evaluate.generate(str(tmp_path / "m"), 3, "ddim", 3, 0, 3, None, 1.0)[0]
    assert (evaluate.generate(str(tmp_path / "m"), 3, "ddim", 3, 0, 3, None, 1.0, autoguidance=2.0)[0] == guided).all()
    assert (plain != guided).any()
    hub.save_pretrained(tiny_model(2), tmp_path / "g2")
    assert sample_cli(args + ["--autoguidance-guide", str(tmp_path / "g2")], capsys)[0] == 0
    with np.load(tmp_path / "s.npz") as f:
        assert (f["samples"] != guided).any()  # another guide, other digits
        assert f["autoguidance_guide"].item() == str(tmp_path / "g2") and f["timesteps"].item() == 20  # the tiny model's T
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})  # no MNIST needed
    assert evaluate.main(["--from-samples", str(tmp_path / "s.npz"), "--out", str(tmp_path / "e.json"), "--json"]) == 0
    assert list(json.loads((tmp_path / "e.json").read_text())["runs"]) == ["ddim-3-autoguided2-guide-g2"]  # not the guide/ row
    rc, err = sample_cli(args + ["--autoguidance-guide", str(tmp_path / "nowhere")], capsys)
    assert rc == 2 and "not a model folder" in err
    rc, err = sample_cli(args + ["--autoguidance-tmax", "20"], capsys)  # past the tiny model's last step, 19
    assert rc == 2 and "t_max (--autoguidance-tmax) must be a code index from 0 to 19" in err and "not 20" in err
    assert evaluate.run_name("ddpm", 1000, autoguidance=2.0) == "ddpm-1000-autoguided2"
    assert evaluate.run_name("ddpm", 1000, autoguidance=2.0, autoguidance_tmax=450) == "ddpm-1000-autoguided2-tmax450"
    rc, err = sample_cli(["--autoguidance", "-1", "--out", str(tmp_path / "x.png")], capsys)
    assert rc == 2 and "--autoguidance must be between 0 and 10" in err
    rc, err = sample_cli(["--autoguidance", "10.5", "--out", str(tmp_path / "x.png")], capsys)
    assert rc == 2 and "--autoguidance must be between 0 and 10" in err


def test_a_saved_run_keeps_its_guided_steps(tmp_path, monkeypatch):
    """--save-samples then --from-samples names the run after its t_max, so it cannot overwrite the default's row."""
    import json

    hub.save_pretrained(tiny_model(0), tmp_path / "m")
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / "guide")
    assert run_python("-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps", "3",
               "--autoguidance", "2", "--autoguidance-tmax", "5", "--out", str(tmp_path / "s.npz")).returncode == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["autoguidance_tmax"].item() == 5
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: {"real_floor_fd": 1.0})  # no MNIST needed
    assert evaluate.main(["--from-samples", str(tmp_path / "s.npz"), "--out", str(tmp_path / "e.json"), "--json"]) == 0
    run_ = json.loads((tmp_path / "e.json").read_text())["runs"]["ddim-3-autoguided2-tmax5"]
    assert run_["autoguidance"] == 2.0 and run_["autoguidance_tmax"] == 5


def test_benchmark_times_the_guided_grids_beside_the_plain_ones(tmp_path, capsys):
    import json

    from ddpm import benchmark

    hub.save_pretrained(tiny_model(0), tmp_path / "m")
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / "guide")
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--n", "2", "--repeats", "1", "--ddim-steps", "3",
                           "--autoguidance", "1.5", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["seconds"]) == {
        "ddpm-20", "ddim-3", "ddim-3-eta1", "ddpm-20-autoguided1.5", "ddim-3-autoguided1.5", "ddim-3-eta1-autoguided1.5"}


def test_model_card_describes_the_guide(tmp_path):
    import json

    from ddpm.card import write_model_card

    hub.save_pretrained(tiny_model(0), tmp_path)
    assert "Autoguidance" not in write_model_card(tmp_path, command="python train.py").read_text()
    hub.save_pretrained(tiny_model(1), tmp_path / "guide")
    (tmp_path / "guide" / "training.json").write_text(json.dumps(
        {"command": "python train.py --base-channels 8 --epochs 3", "train_minutes": 4.3}))
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "## Autoguidance" in card and "python train.py --base-channels 8 --epochs 3" in card and "4.3 min" in card
