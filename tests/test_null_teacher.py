"""The null class's target: a teacher's eps for the null rows, the drawn noise for labelled ones."""
import json
from dataclasses import replace as dataclasses_replace

import pytest
import torch

from ddpm import hub
from ddpm.facts import read_weights_meta
from ddpm.config import ConfigError
from ddpm.unet import UNet

from conftest import tiny_config, tiny_model
from train_helpers import train_cfg, train_on_sample


class _Recorder(torch.nn.Module):
    """A stand-in teacher: predicts 0.5 everywhere and remembers the labels it was asked about."""

    def forward(self, x_t, t, y):
        self.seen = y.clone()
        return torch.full_like(x_t, 0.5)


def test_null_teacher_sets_the_target_of_null_rows_only(model, sched):
    from ddpm.training import diffusion_loss

    x0, y = torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8)
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    plain = diffusion_loss(model, sched, x0, y, gen(), 0.0)
    assert torch.equal(diffusion_loss(model, sched, x0, y, gen(), 0.0, _Recorder()), plain)  # no null rows
    teacher = _Recorder()
    all_null = diffusion_loss(model, sched, x0, y, gen(), 1.0, teacher)
    assert torch.equal(teacher.seen, y)  # the teacher sees the true labels; the student the null class
    g = gen()  # the same draws, in the same order, as diffusion_loss makes them
    t, eps = torch.randint(0, sched.T, (8,), generator=g), torch.randn(x0.shape, generator=g)
    eps_hat = model(sched.q_sample(x0, t, eps), t, torch.full_like(y, 10))
    assert torch.allclose(all_null, (eps_hat - 0.5).pow(2).mean(), atol=1e-7)


def test_null_teacher_leaves_the_drawn_noise_as_the_target_of_labelled_rows(model, sched):
    """With label dropout 0.5, only the dropped rows (given the null class) regress on the teacher; the others
    keep their label and their drawn eps as target."""
    from ddpm.training import diffusion_loss

    x0, y = torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8)
    teacher = _Recorder()
    got = diffusion_loss(model, sched, x0, y, torch.Generator().manual_seed(5), 0.5, teacher)
    g = torch.Generator().manual_seed(5)  # the same draws, in the same order, as diffusion_loss makes them
    t, eps = torch.randint(0, sched.T, (8,), generator=g), torch.randn(x0.shape, generator=g)
    drop = torch.rand(8, generator=g) < 0.5
    assert 0 < drop.sum() < 8  # some rows of each kind
    assert torch.equal(teacher.seen, y[drop])
    target = torch.where(drop[:, None, None, None], 0.5, eps)
    eps_hat = model(sched.q_sample(x0, t, eps), t, torch.where(drop, 10, y))
    assert torch.allclose(got, (eps_hat - target).pow(2).mean(), atol=1e-7)


def test_training_with_a_null_teacher(tmp_path):
    teacher = hub.save_pretrained(UNet(tiny_config(timesteps=100)), tmp_path / "teacher")
    fashion = hub.save_pretrained(UNet(tiny_config(timesteps=100)), tmp_path / "fashion")  # the same shapes
    (fashion / "training.json").write_text('{"dataset": "fashion-mnist"}')
    out = train_on_sample(train_cfg(tmp_path / "run", label_dropout=0.5, null_teacher=str(teacher)), max_steps=3)
    assert read_weights_meta(out)["null_teacher"] == str(teacher)
    with pytest.raises(ValueError, match="is the output folder"):  # a run resumed as its own teacher
        train_on_sample(train_cfg(out, label_dropout=0.5, null_teacher=str(out)), max_steps=5, resume=True)
    for cfg, message in [(train_cfg(tmp_path / "b", label_dropout=0.5, null_teacher=str(tmp_path / "none")),
                          "not a model folder"),
                         (train_cfg(tmp_path / "c", label_dropout=0.5, null_teacher=str(teacher),
                               model=tiny_config(timesteps=50)), "timesteps 100, not 50"),
                         (train_cfg(tmp_path / "e", label_dropout=0.5, null_teacher=str(teacher),
                               model=tiny_config(timesteps=100, schedule="cosine")), "schedule 'linear', not 'cosine'"),
                         (train_cfg(tmp_path / "d", label_dropout=0.5, null_teacher=str(fashion)),
                          "trained on Fashion-MNIST, this run trains on MNIST: a teacher must model the same data")]:
        with pytest.raises(ValueError, match=message):
            train_on_sample(cfg, max_steps=2)
    with pytest.raises(ConfigError, match="label-dropout above 0") as e:
        train_cfg(tmp_path, label_dropout=0.0, null_teacher=str(teacher))
    assert e.value.field == "null_teacher"


def test_a_resumed_run_refuses_a_teacher_whose_weights_changed(tmp_path, capsys):
    """The teacher's weights are recorded as the run begins; a resume whose teacher folder now holds other weights
    (a copy of a distilled folder, whose recorded teacher is the folder it was shipped in) is refused, not taught
    the rest of the way by another model, itself included. Giving the teacher again records it afresh. A run begun
    before the digest was recorded is resumed, and said to be unchecked (it took the digest as it stood, silently)."""
    import shutil

    import train
    from ddpm.config import TrainConfig
    from ddpm.hub import weights_digest

    teacher = hub.save_pretrained(UNet(tiny_config(timesteps=100)), tmp_path / "teacher")
    fashion = hub.save_pretrained(UNet(tiny_config(timesteps=100)), tmp_path / "fashion")  # the same shapes
    (fashion / "training.json").write_text('{"dataset": "fashion-mnist"}')
    out = train_on_sample(train_cfg(tmp_path / "run", label_dropout=0.5, null_teacher=str(teacher)), max_steps=3)
    recorded = TrainConfig.read_saved(out)["null_teacher_sha256"]
    assert recorded == weights_digest(hub.load_pretrained(teacher)) and len(recorded) == 64
    kw = dict(label_dropout=0.5, null_teacher=str(teacher), null_teacher_sha256=recorded)
    train_on_sample(train_cfg(out, **kw), max_steps=4, resume=True)  # the same teacher: it goes on
    shutil.copytree(teacher, tmp_path / "first teacher")
    hub.save_pretrained(hub.load_pretrained(out), teacher)  # the teacher's folder now holds the student
    with pytest.raises(ValueError, match="is not the model this run was taught by: its weights changed since"):
        train_on_sample(train_cfg(out, **kw), max_steps=5, resume=True)
    assert train.parse_args(["--resume", "--out", str(out)]).config.null_teacher_sha256 == recorded  # kept ...
    again = train.parse_args(["--resume", "--out", str(out), "--null-teacher", str(teacher)]).config
    assert again.null_teacher_sha256 == ""  # ... unless the teacher is named again: then it is read afresh
    out = train_on_sample(dataclasses_replace(again, null_teacher=str(tmp_path / "first teacher")), max_steps=5,
                          resume=True)
    assert TrainConfig.read_saved(out)["null_teacher_sha256"] == recorded
    from ddpm.train_args import say_what_resume_kept
    saved = json.loads((out / "train_config.json").read_text())
    for old_run in (False, True):  # one begun before the digest was recorded: resumed, but said to be unchecked
        written = {k: v for k, v in saved.items() if not (old_run and k == "null_teacher_sha256")}
        (out / "train_config.json").write_text(json.dumps(written))
        say_what_resume_kept(train.parse_args(["--resume", "--out", str(out)]))
        said = capsys.readouterr().err
        assert ("began before runs recorded the digest of their --null-teacher, so " in said) == old_run, said
    say_what_resume_kept(train.parse_args(["--resume", "--out", str(out), "--null-teacher", str(teacher)]))
    assert "unchecked" not in capsys.readouterr().err  # named again: read afresh, as it would be for a new run
    # an autoguided teacher's target depends on its guide/ too: a replaced guide is refused as well
    hub.save_pretrained(tiny_model(1, timesteps=100), tmp_path / "first teacher" / "guide")
    kw = dict(label_dropout=0.5, null_teacher=str(tmp_path / "first teacher"), null_teacher_autoguidance=2.0)
    out = train_on_sample(train_cfg(tmp_path / "guided", **kw), max_steps=2)
    kw["null_teacher_sha256"] = TrainConfig.read_saved(out)["null_teacher_sha256"]
    assert kw["null_teacher_sha256"] != recorded
    hub.save_pretrained(tiny_model(2, timesteps=100), tmp_path / "first teacher" / "guide")
    with pytest.raises(ValueError, match="its weights or its guide/ changed since"):
        train_on_sample(train_cfg(out, **kw), max_steps=3, resume=True)


def test_the_bundled_weights_record_the_teacher_they_were_distilled_from():
    """weights/ was distilled from the model shipped before it; that model is gone from weights/, so resuming a
    copy of the folder as it stands is refused rather than taught by the distilled model itself."""
    from ddpm.config import TrainConfig
    from ddpm.hub import weights_digest

    saved = TrainConfig.read_saved(hub.DEFAULT_WEIGHTS)
    assert saved["null_teacher"] == "weights" and len(saved["null_teacher_sha256"]) == 64
    assert saved["null_teacher_sha256"] != weights_digest(hub.load_pretrained(hub.DEFAULT_WEIGHTS))


def test_an_autoguided_null_teacher_gives_the_guided_samplers_eps(tmp_path):
    """With --null-teacher-autoguidance W the target is eps_guide + W (eps_teacher - eps_guide) on t <= 0.6 T;
    with --null-teacher-label null, for the null class whatever the row's label: what `--autoguidance W`
    samples "any digit" with."""
    from ddpm.autoguidance import Autoguided
    from ddpm.teacher import null_teacher

    main, guide = tiny_model(0, timesteps=100), tiny_model(1, timesteps=100)
    folder = hub.save_pretrained(main, tmp_path / "teacher")
    hub.save_pretrained(guide, folder / "guide")
    kw = dict(label_dropout=0.5, null_teacher=str(folder), null_teacher_autoguidance=2.0)
    teacher = null_teacher(train_cfg(tmp_path / "run", null_teacher_label="null", **kw), tmp_path / "run",
                           torch.device("cpu"))
    x_t, t, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 30, 60, 99]), torch.tensor([1, 2, 3, 4])
    null = torch.full_like(y, 10)
    with torch.no_grad():
        got, main_null = teacher(x_t, t, y), main(x_t, t, null)
        want = Autoguided(main, guide, 2.0, t_max=60)(x_t, t, null)  # guided where t <= 60 (0.6 T)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got[3], main_null[3])  # t = 99 > 60: the teacher alone
    assert not torch.allclose(got[:3], main_null[:3], atol=1e-3)
    assert not any(p.requires_grad for p in teacher.parameters())
    labelled = null_teacher(train_cfg(tmp_path / "run", **kw), tmp_path / "run", torch.device("cpu"))  # the true label
    with torch.no_grad():
        torch.testing.assert_close(labelled(x_t, t, y), Autoguided(main, guide, 2.0, t_max=60)(x_t, t, y))
    out = train_on_sample(train_cfg(tmp_path / "run", **kw), max_steps=3)
    facts = read_weights_meta(out)
    assert (facts["null_teacher_label"], facts["null_teacher_autoguidance"]) == ("true", 2.0)
    (folder / "guide" / "config.json").unlink()  # half a guide is named as such; no guide, as none
    with pytest.raises(ValueError, match="--null-teacher-autoguidance: .*guide is missing config.json"):
        train_on_sample(train_cfg(tmp_path / "b", **kw), max_steps=2)
    (folder / "guide" / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="--null-teacher-autoguidance: .* has no guide/ model"):
        train_on_sample(train_cfg(tmp_path / "b", **kw), max_steps=2)
    for field, value in [("null_teacher_autoguidance", 2.0), ("null_teacher_label", "null")]:
        with pytest.raises(ConfigError, match="needs --null-teacher") as e:
            train_cfg(tmp_path, label_dropout=0.5, **{field: value})
        assert e.value.field == field


def test_the_teachers_target_stays_float32_under_the_students_bfloat16_autocast(tmp_path):
    """On a GPU the student trains under bfloat16 autocast; the teacher's target (here autoguided) is computed in
    float32 all the same (bfloat16 autocast on the CPU stands in for CUDA's)."""
    from ddpm.teacher import null_rows_target, null_teacher

    folder = hub.save_pretrained(tiny_model(0, timesteps=100), tmp_path / "teacher")
    hub.save_pretrained(tiny_model(1, timesteps=100), folder / "guide")
    cfg = train_cfg(tmp_path / "run", label_dropout=0.5, null_teacher=str(folder), null_teacher_autoguidance=2.0)
    teacher = null_teacher(cfg, tmp_path / "run", torch.device("cpu"))
    x_t, t, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 30, 60, 99]), torch.tensor([1, 2, 3, 4])
    eps, drop = torch.randn(4, 1, 28, 28), torch.tensor([True, True, False, True])
    want = null_rows_target(teacher, x_t, t, y, eps, drop)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = null_rows_target(teacher, x_t, t, y, eps, drop)
    assert got.dtype == torch.float32 and torch.equal(got, want)
