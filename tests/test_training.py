"""Training on the bundled sample: the loss falls, and an interrupted run resumes exactly."""
import dataclasses
import json
import math

import pytest
import torch

from ddpm import hub
from ddpm.config import ConfigError, TrainConfig
from ddpm.data import load_sample
from ddpm.safeio import load_tensors
from ddpm.schedule import NoiseSchedule
from ddpm.training import EMA, learning_rate, pick_device, train, train_step
from ddpm.unet import UNet

from conftest import tiny_config, tiny_model


def _cfg(out, **kw):
    base = dict(out=str(out), epochs=100, batch_size=32, lr=2e-3, warmup_steps=5, seed=3, device="cpu",
                sample_every_epoch=False, model=tiny_config(timesteps=100))
    return TrainConfig(**(base | kw))


def _train(cfg, **kw):
    return train(cfg, data=load_sample(), log=lambda *_: None, progress_bar=False, **kw)


def test_loss_falls_on_the_bundled_sample(tmp_path):
    out = _train(_cfg(tmp_path), max_steps=60)
    rows = (out / "loss.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[2]) for r in rows]
    assert len(losses) == 2 and losses[-1] < 0.5 * losses[0]  # 1.0 at the zero-initialised start


@pytest.mark.parametrize("decay, dropout", [(0, 0.0), (12, 0.1)])
def test_resume_matches_an_uninterrupted_run(tmp_path, decay, dropout):
    """Also with dropout, which draws from torch's global generator: the checkpoint restores it."""
    # 18 steps; with decay, the lr falls over steps 6..18
    kw = dict(epochs=2, lr_decay_steps=decay, model=tiny_config(timesteps=100, dropout=dropout))
    full = _train(_cfg(tmp_path / "full", **kw), max_steps=14)
    part = _cfg(tmp_path / "part", **kw)
    _train(part, max_steps=5)  # stops mid-epoch (9 steps/epoch), as a killed run would after a checkpoint
    resumed = _train(part, max_steps=14, resume=True)
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, meta = load_tensors(resumed / "checkpoint.safetensors")
    assert meta["progress"]["step"] == 14
    assert a.keys() == b.keys()
    for k in a:  # weights, EMA, optimizer moments and the generator's state
        assert torch.equal(a[k], b[k]), k


def test_an_interrupt_mid_step_still_resumes_exactly(tmp_path, monkeypatch, request):
    """Ctrl-C (or kill) lands mid-step, after the step's draws from the generator: it takes effect at the step's
    end, so the checkpoint holds whole steps and the resumed run matches an unbroken one."""
    import os
    import signal

    from ddpm import training

    # a pytest started in the background (`&`, nohup in a script) inherits SIGINT ignored, which training keeps
    # ignored (next test): this one sends Ctrl-C, so it gets Python's own handler, and gives back the old one
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))

    kw = dict(epochs=2)
    full = _train(_cfg(tmp_path / "full", **kw), max_steps=14)
    calls, loss = [], training.diffusion_loss
    def interrupted_at_6(*a, **k):  # noqa: E306
        value = loss(*a, **k)  # t, eps and the dropped labels are drawn
        calls.append(1)
        if len(calls) == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return value
    monkeypatch.setattr(training, "diffusion_loss", interrupted_at_6)
    part = _cfg(tmp_path / "part", **kw)
    with pytest.raises(training.Stopped):  # raised once the checkpoint and the EMA weights are written
        _train(part, max_steps=14)
    monkeypatch.setattr(training, "diffusion_loss", loss)
    _, meta = load_tensors(part.out + "/checkpoint.safetensors")
    assert meta["progress"]["step"] == 6  # stopped after the step it came in
    resumed = _train(part, max_steps=14, resume=True)
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, _ = load_tensors(resumed / "checkpoint.safetensors")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    calls.clear()  # a Ctrl-C during the last step: the run has reached its end, so it is not reported as stopped
    monkeypatch.setattr(training, "diffusion_loss", interrupted_at_6)
    assert _train(_cfg(tmp_path / "last", **kw), max_steps=6) == tmp_path / "last"


def test_an_ignored_sigint_stays_ignored():
    """A job started with `&` by a script ignores Ctrl-C; training leaves it so (kill stops it)."""
    import signal

    from ddpm.training import Interrupts

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop = Interrupts()
        previous = stop.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is stop
        stop.uninstall(previous)
        assert signal.getsignal(signal.SIGTERM) is not stop
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_run_without_resume_never_overwrites_a_checkpoint(tmp_path):
    cfg = _cfg(tmp_path)
    out = _train(cfg, max_steps=3)
    before = (out / "checkpoint.safetensors").read_bytes()
    with pytest.raises(ValueError, match="holds a run .* continue it with --resume"):
        _train(cfg, max_steps=2)
    assert (out / "checkpoint.safetensors").read_bytes() == before
    (out / "checkpoint.safetensors").unlink()  # a finished model as a download or a push leaves it: no checkpoint
    model = (out / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="holds a model .* that a new run would overwrite"):
        _train(cfg, max_steps=2)
    assert (out / "model.safetensors").read_bytes() == model
    with pytest.raises(ValueError, match="--batch-size 301 is more than the 300 training images"):
        _train(_cfg(tmp_path / "b", batch_size=301), max_steps=2)
    with pytest.raises(ValueError, match="--lr-decay-steps 10 is longer than the run: --epochs 1 of 9 steps"):
        _train(_cfg(tmp_path / "c", epochs=1, lr_decay_steps=10), max_steps=2)  # its lr would start near 0
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()  # refused before anything is written


def test_learning_rate_warms_up_holds_then_decays_to_zero():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, lr_decay_steps=100)
    lrs = [learning_rate(cfg, s, 1000) for s in range(1000)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # linear warm-up
    assert all(lr == pytest.approx(1e-3) for lr in lrs[9:901])  # constant until the last 100 steps
    assert lrs[950] == pytest.approx(0.5e-3)  # half way down the cosine
    assert all(a > b for a, b in zip(lrs[900:], lrs[901:])) and lrs[-1] < 1e-6
    flat = TrainConfig(lr=1e-3, warmup_steps=10)
    assert learning_rate(flat, 999, 1000) == pytest.approx(1e-3)
    assert not math.isnan(learning_rate(TrainConfig(lr_decay_steps=5000), 0, 100))  # decay longer than the run


def test_resume_drops_loss_rows_logged_after_the_checkpoint(tmp_path):
    cfg = _cfg(tmp_path)
    out = _train(cfg, max_steps=9)
    with (out / "loss.csv").open("a") as f:  # a hard kill after the checkpoint leaves rows beyond it
        f.write("12,1,0.5,100.0,0.002\n")
    _train(cfg, max_steps=14, resume=True)
    steps = [int(r.split(",")[0]) for r in (out / "loss.csv").read_text().splitlines()[1:]]
    assert steps == [9, 14]


def test_resume_records_the_config_in_force(tmp_path):
    cfg = _cfg(tmp_path, epochs=2)
    out = _train(cfg, max_steps=9)
    _train(dataclasses.replace(cfg, epochs=3, lr_decay_steps=9), max_steps=12, resume=True)
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["epochs"] == 3 and saved["lr_decay_steps"] == 9


def test_resume_refuses_another_model(tmp_path):
    cfg = _cfg(tmp_path)
    _train(cfg, max_steps=2)
    other = dataclasses.replace(cfg, model=tiny_config(timesteps=100, base_channels=16))
    with pytest.raises(ValueError, match="model config differs .*: base_channels 8 there, 16 here"):
        _train(other, max_steps=4, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _train(_cfg(tmp_path / "empty"), max_steps=4, resume=True)
    with pytest.raises(ValueError, match="trained on mnist .*, not fashion-mnist: drop --dataset"):
        _train(dataclasses.replace(cfg, dataset="fashion-mnist"), max_steps=4, resume=True)


def test_resume_with_damaged_files_says_what_is_wrong_or_carries_on(tmp_path):
    cfg = _cfg(tmp_path)
    out = _train(cfg, max_steps=2)
    (out / "train_config.json").unlink()  # lost: the run's config is the one given
    (out / "loss.csv").write_text("step,epoch,loss,images_per_s,lr\n2,0,0.9,1.0,0.001\ngarbage line\n\n")
    _train(cfg, max_steps=4, resume=True)
    assert [r.split(",")[0] for r in (out / "loss.csv").read_text().splitlines()] == ["step", "2", "4"]
    (out / "loss.csv").write_text("")  # emptied: a fresh header, then the new rows
    _train(cfg, max_steps=6, resume=True)
    assert (out / "loss.csv").read_text().splitlines()[0].startswith("step,")
    ckpt = out / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # a full disk truncated it
    with pytest.raises(ValueError, match="checkpoint.safetensors cannot be read .* EMA weights of its last save"):
        _train(cfg, max_steps=8, resume=True)


@pytest.mark.parametrize("change, max_steps, message", [
    (dict(epochs=1), 14, "past the end of --epochs 1.*--epochs 2 or more"),
    (dict(max_minutes=1e-6), 14, "past --max-minutes 1e-06"),
    ({}, 5, "past --max-steps 5"),
    ({}, 12, "at or past --max-steps 12")])  # the same command again: refused, eval.json not set aside
def test_resume_past_its_limits_says_so_and_changes_nothing(tmp_path, change, max_steps, message):
    cfg = _cfg(tmp_path, epochs=2)
    out = _train(cfg, max_steps=12)  # 9 steps per epoch: into the second epoch
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    with pytest.raises(ValueError, match=message):
        _train(dataclasses.replace(cfg, **change), resume=True, max_steps=max_steps)
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_resuming_a_finished_run_with_its_own_command_changes_nothing(tmp_path):
    cfg = _cfg(tmp_path, epochs=1)
    out = _train(cfg)  # 9 steps per epoch: the run ends at step 9, its --epochs
    (out / "eval.json").write_text("{}")  # the scores of these weights, which a new run would set aside
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    with pytest.raises(ValueError, match="at or past the end of --epochs 1.*--epochs 2 or more"):
        _train(cfg, resume=True)
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_output_folder_rebuilds_the_ema_model(tmp_path):
    out = _train(_cfg(tmp_path), max_steps=3)
    model = hub.load_pretrained(out)
    assert model.config == tiny_config(timesteps=100)
    assert not model.training


def test_the_published_weights_are_the_ema_not_the_raw_model(tmp_path):
    """model.safetensors holds the checkpoint's ema.* tensors, which a few steps in differ from its model.*."""
    out = _train(_cfg(tmp_path), max_steps=3)
    published, _ = load_tensors(out / "model.safetensors")
    ckpt, _ = load_tensors(out / "checkpoint.safetensors")
    assert published.keys() == {k[4:] for k in ckpt if k.startswith("ema.")}
    for k, v in published.items():
        assert torch.equal(v, ckpt[f"ema.{k}"]), k
    assert any(not torch.equal(v, ckpt[f"model.{k}"]) for k, v in published.items())


def test_gradients_are_clipped_at_the_configured_norm(tmp_path, monkeypatch):
    """Every step clips the gradient norm at cfg.grad_clip, of all the model's parameters."""
    clip, calls = torch.nn.utils.clip_grad_norm_, []

    def recording(params, max_norm, *a, **k):
        params = list(params)
        calls.append((len(params), max_norm))
        return clip(params, max_norm, *a, **k)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording)
    _train(_cfg(tmp_path, grad_clip=0.25), max_steps=3)
    n_params = len(list(UNet(tiny_config(timesteps=100)).parameters()))
    assert calls == [(n_params, 0.25)] * 3


def test_each_epoch_sees_every_image_once_in_its_own_order(tmp_path, monkeypatch):
    """_epoch_order is a permutation that depends on (seed, epoch) alone, and training asks it for each epoch."""
    from ddpm import training

    orders = [training._epoch_order(300, 3, epoch) for epoch in range(3)]
    for order in orders:
        assert torch.equal(order.sort().values, torch.arange(300))
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert not torch.equal(orders[0], torch.arange(300))
    assert torch.equal(training._epoch_order(300, 3, 1), orders[1])  # a resumed run sees the same batches
    assert not torch.equal(training._epoch_order(300, 4, 1), orders[1])
    asked, real = [], training._epoch_order
    monkeypatch.setattr(training, "_epoch_order", lambda *a: asked.append(a) or real(*a))
    _train(_cfg(tmp_path, batch_size=150, epochs=3))  # 2 steps per epoch
    assert asked == [(300, 3, 0), (300, 3, 1), (300, 3, 2)]


def test_ema_warm_up_follows_early_weights():
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, step=0)  # decay_0 = 1/10: the average moves 90% of the way at once
    assert torch.allclose(ema.model.weight, net.weight - 0.1, atol=1e-6)
    half = EMA(net, decay=0.5)  # past the warm-up the configured decay rules: the average moves half of the way
    with torch.no_grad():
        net.weight.add_(1.0)
    half.update(net, step=100)
    assert torch.allclose(half.model.weight, net.weight - 0.5, atol=1e-6)


def test_train_step_uses_its_learning_rate_and_train_counts_the_ema_steps(tmp_path, monkeypatch):
    model = tiny_model().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1.0, weight_decay=0.01)
    x0, y, cfg = torch.zeros(4, 1, 28, 28), torch.tensor([1, 2, 3, 4]), _cfg(tmp_path)
    before = [p.detach().clone() for p in model.parameters()]
    train_step(model, NoiseSchedule(20), opt, x0, y, torch.Generator().manual_seed(0), cfg, lr=0.0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # lr 0: no step, no weight decay
    train_step(model, NoiseSchedule(20), opt, x0, y, torch.Generator().manual_seed(0), cfg, lr=1e-3)
    assert opt.param_groups[0]["lr"] == 1e-3 and not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    steps, update = [], EMA.update
    monkeypatch.setattr(EMA, "update", lambda self, m, step: steps.append(step) or update(self, m, step))
    _train(_cfg(tmp_path / "run"), max_steps=3)
    _train(_cfg(tmp_path / "run"), resume=True, max_steps=5)
    assert steps == [0, 1, 2, 3, 4]  # the warm-up counts the run's steps, across a resume


def test_each_batch_trains_with_its_own_labels(tmp_path, monkeypatch):
    images = torch.arange(10, dtype=torch.uint8).repeat_interleave(28 * 28).reshape(10, 28, 28) * 20
    labels = torch.arange(10)  # image k is filled with the grey 20 k: its label can be read off its pixels
    seen = []

    def loss(model, sched, x0, y, *a, **k):
        seen.append(torch.equal(((x0[:, 0, 0, 0] + 1) * 127.5 / 20).round().long(), y))
        return real(model, sched, x0, y, *a, **k)

    from ddpm import training
    real = training.diffusion_loss
    monkeypatch.setattr(training, "diffusion_loss", loss)
    train(_cfg(tmp_path, batch_size=4, label_dropout=0.0), data=(images, labels), log=lambda *_: None,
          progress_bar=False, max_steps=4)
    assert seen == [True] * 4


@pytest.mark.parametrize("field, value", [("batch_size", 0), ("epochs", 0), ("lr", -1.0), ("lr_decay_steps", -5),
                                          ("max_minutes", -1.0), ("label_dropout", 1.5), ("ema_decay", 1.0),
                                          ("seed", -1), ("lr", math.inf)])
def test_train_config_rejects_values_that_would_fail_mid_run(field, value):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{field: value})
    assert e.value.field == field and repr(value) in str(e.value)


def test_pick_device_names_a_missing_device():
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available on this machine"):
            pick_device("cuda")


def test_training_time_is_kept_per_machine(tmp_path):
    from ddpm.card import time_and_hardware
    from ddpm.run_record import earlier_hardware, run_progress

    out = _train(_cfg(tmp_path), max_steps=4)
    facts = hub.read_card_metadata(out)
    (cpu,) = facts["minutes_by_device"]
    assert cpu.startswith("CPU (") and facts["device"] == cpu
    # a CPU run resumed on a GPU: both machines keep their own time, the total is their sum
    p = run_progress(9, 700.0, earlier_hardware(out, 600.0), "NVIDIA H100", 100.0)
    assert p["seconds_by_device"] == {cpu: 600.0, "NVIDIA H100": 100.0}
    assert sum(p["seconds_by_device"].values()) == p["train_seconds"]
    both = {"train_minutes": 11.7, "minutes_by_device": {cpu: 10.0, "NVIDIA H100": 1.7}}
    assert time_and_hardware(both) == f"10.0 min on {cpu} + 1.7 min on NVIDIA H100"


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
    out = _train(_cfg(tmp_path / "run", label_dropout=0.5, null_teacher=str(teacher)), max_steps=3)
    assert hub.read_card_metadata(out)["null_teacher"] == str(teacher)
    with pytest.raises(ValueError, match="is the output folder"):  # a run resumed as its own teacher
        _train(_cfg(out, label_dropout=0.5, null_teacher=str(out)), max_steps=5, resume=True)
    for cfg, message in [(_cfg(tmp_path / "b", label_dropout=0.5, null_teacher=str(tmp_path / "none")),
                          "not a model folder"),
                         (_cfg(tmp_path / "c", label_dropout=0.5, null_teacher=str(teacher),
                               model=tiny_config(timesteps=50)), "timesteps 100, not 50")]:
        with pytest.raises(ValueError, match=message):
            _train(cfg, max_steps=2)
    with pytest.raises(ConfigError, match="label-dropout above 0") as e:
        _cfg(tmp_path, label_dropout=0.0, null_teacher=str(teacher))
    assert e.value.field == "null_teacher"


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
    teacher = null_teacher(_cfg(tmp_path / "run", null_teacher_label="null", **kw), tmp_path / "run",
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
    labelled = null_teacher(_cfg(tmp_path / "run", **kw), tmp_path / "run", torch.device("cpu"))  # the true label
    with torch.no_grad():
        torch.testing.assert_close(labelled(x_t, t, y), Autoguided(main, guide, 2.0, t_max=60)(x_t, t, y))
    out = _train(_cfg(tmp_path / "run", **kw), max_steps=3)
    facts = hub.read_card_metadata(out)
    assert (facts["null_teacher_label"], facts["null_teacher_autoguidance"]) == ("true", 2.0)
    (folder / "guide" / "config.json").unlink()
    with pytest.raises(ValueError, match="--null-teacher-autoguidance: .* has no guide/ model"):
        _train(_cfg(tmp_path / "b", **kw), max_steps=2)
    for field, value in [("null_teacher_autoguidance", 2.0), ("null_teacher_label", "null")]:
        with pytest.raises(ConfigError, match="needs --null-teacher") as e:
            _cfg(tmp_path, label_dropout=0.5, **{field: value})
        assert e.value.field == field


def test_training_sets_aside_the_scores_of_the_weights_it_replaces(tmp_path):
    cfg = _cfg(tmp_path)
    out = _train(cfg, max_steps=3)
    (out / "eval.json").write_text('{"runs": {"ddpm": "the old weights"}}')
    _train(cfg, max_steps=5, resume=True)
    assert not (out / "eval.json").exists()
    assert "the old weights" in (out / "eval.previous.json").read_text()  # renamed, not lost
    from ddpm.card import write_model_card

    assert "Not evaluated yet" in write_model_card(out).read_text()


def test_fashion_mnist_from_debians_package_loads_offline(tmp_path, monkeypatch):
    """Debian's dataset-fashion-mnist gzips the idx files anew, so torchvision's md5 check of .gz files fails and
    it would try the network: they are unpacked instead, also into a raw/ folder an earlier failed try left empty."""
    import gzip
    import struct

    from ddpm import data

    system = tmp_path / "system"
    system.mkdir()
    for split, n in (("train", 3), ("t10k", 2)):
        images = struct.pack(">IIII", 0x803, n, 28, 28) + bytes(range(n)) * 784
        labels = struct.pack(">II", 0x801, n) + bytes(range(n))
        for kind, payload in (("images-idx3", images), ("labels-idx1", labels)):
            (system / f"{split}-{kind}-ubyte.gz").write_bytes(gzip.compress(payload, mtime=0))
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", system)
    (tmp_path / "d" / "FashionMNIST" / "raw").mkdir(parents=True)
    x, y = data.load_dataset("fashion-mnist", tmp_path / "d", train=False)
    assert x.shape == (2, 28, 28) and y.tolist() == [0, 1]
    assert data.load_dataset("fashion-mnist", tmp_path / "d", train=True)[0].shape == (3, 28, 28)


def test_a_time_limit_on_an_epochs_last_step_still_draws_its_grid(tmp_path):
    n = len(load_sample()[0])
    cfg = _cfg(tmp_path, batch_size=n, epochs=3, max_minutes=1e-9, sample_every_epoch=True)  # 1 step per epoch
    out = _train(cfg)  # the time limit stops it after step 1, which ends epoch 0
    _, meta = load_tensors(out / "checkpoint.safetensors")
    assert meta["progress"]["step"] == 1 and (out / "samples" / "epoch_000.png").is_file()


def test_a_stop_between_two_loss_rows_still_logs_its_steps(tmp_path):
    """loss.csv has a row every 50 steps; a run stopped at step 1 by its time limit logs that step too, and a
    resume continues the log from there."""
    out = _train(_cfg(tmp_path, max_minutes=1e-9))
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,loss,images_per_s,lr" and [r.split(",")[0] for r in rows[1:]] == ["1"]
    _train(_cfg(tmp_path, max_minutes=None), resume=True, max_steps=3)
    assert [r.split(",")[0] for r in (out / "loss.csv").read_text().splitlines()[1:]] == ["1", "3"]
