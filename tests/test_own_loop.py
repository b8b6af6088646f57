"""A learner's own training loop, as a notebook writes one (a review wrote one): the README's runs as written and
loads in the app; the mistakes such a loop makes are said (a class left untrained, a sampling loop that keeps a
graph, a wrapped model, a digit without its channel, another image size), and the loop's own scheduler and EMA
count work as a learner expects."""
import re
import warnings
from pathlib import Path

import pytest
import torch

from conftest import tiny_model
from ddpm.config import TrainConfig
from ddpm.hub import ModelLoadError, load_pretrained, save_pretrained
from ddpm.samplers import ddim_step, p_sample, sample
from ddpm.schedule import NoiseSchedule
from ddpm.training import EMA, diffusion_loss, train_step

ROOT = Path(__file__).resolve().parents[1]
X = torch.rand(4, 1, 28, 28) * 2 - 1
Y = torch.tensor([1, 2, 3, 4])


def test_the_readmes_own_loop_runs_as_written_and_loads_in_the_app(monkeypatch, tmp_path):
    from ddpm.demo.runtime import load_runtime
    monkeypatch.chdir(tmp_path)
    block = next(b for b in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
                 if "diffusion_loss" in b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loop as the README writes it draws no warning
        exec(block, ns := {})
    assert ns["ema"].updates == 20 and 0.01 < ns["loss"].item() < 1
    rt = load_runtime("runs/mine", with_classifier=False)
    assert rt.model.config.base_channels == 16 and torch.equal(rt.model.conv_in.weight, ns["ema"].model.conv_in.weight)


def test_a_class_left_untrained_is_warned_of():
    model, sched = tiny_model(), NoiseSchedule(20)
    with pytest.warns(UserWarning, match=r"label_dropout=0 trains no label as the null class, which sampling without "
                                         r"a label \(the app's 'any digit'\) and guidance use"):
        diffusion_loss(model, sched, X, Y, torch.Generator())
    with pytest.warns(UserWarning, match=r"y=None trains the null class alone: sampling with a label would use an "
                                         r"untrained class \(a model without classes: ModelConfig\(num_classes=0\)\)"):
        diffusion_loss(model, sched, X, None, torch.Generator(), label_dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffusion_loss(model, sched, X, Y, torch.Generator(), label_dropout=0.2)
        diffusion_loss(tiny_model(num_classes=0), sched, X, None, torch.Generator())


def test_train_with_no_label_dropout_chosen_says_nothing_mid_run(tmp_path):
    """train.py --label-dropout 0 printed the learner's warning into the progress bar, with the Python name and
    "as train.py does"; its flag's help says what 0 leaves untrained."""
    from train_helpers import train_cfg, train_on_sample
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_on_sample(train_cfg(tmp_path / "run", label_dropout=0.0), max_steps=2)


def test_a_sampling_loop_that_keeps_a_graph_is_warned_of_and_a_pair_taken_for_x_t_is_named():
    model, sched = tiny_model(), NoiseSchedule(20)
    x = torch.randn(2, 1, 28, 28)
    with pytest.warns(UserWarning, match=r"eps_hat carries a graph for gradients, so each step keeps the network's "
                                         r"activations .*: run the sampling loop under torch.no_grad\(\)"):
        x, _ = p_sample(sched, x, 19, model(x, 19), torch.randn(2, 1, 28, 28))
    with pytest.warns(UserWarning, match=r"eps_hat carries a graph for gradients"):
        ddim_step(sched, x, 18, 9, model(x, 18), None)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("error")
        pair = p_sample(sched, x, 18, model(x, 18), torch.randn(2, 1, 28, 28))
        with pytest.raises(ValueError, match=r"not tuple; p_sample and ddim_step return \(x_prev, x0_hat\)"):
            model(pair, 17)


def test_a_wrapped_model_saves_as_the_u_net_inside_and_samples_only_unwrapped(tmp_path):
    """save_pretrained(torch.compile(model)) wrote "_orig_mod."-prefixed keys load_pretrained refused; an
    AveragedModel met "'AveragedModel' object has no attribute 'config'"."""
    from torch.optim.swa_utils import AveragedModel
    model = tiny_model()
    for wrapped in (torch.compile(model), AveragedModel(model)):
        save_pretrained(wrapped, tmp_path / "m")
        assert torch.equal(load_pretrained(tmp_path / "m").conv_in.weight, model.conv_in.weight)
    with pytest.raises(TypeError, match=r"model is a ddpm U-Net, whose .config says how to sample it, not a model "
                                        r"of type AveragedModel \(an AveragedModel's or DataParallel's U-Net is its "
                                        r"\.module\)"):
        sample(AveragedModel(model), NoiseSchedule(20), 2, 0, sampler="ddim", steps=2)


def test_train_step_leaves_a_schedulers_lr_alone_and_ema_counts_its_updates():
    model, sched = tiny_model(), NoiseSchedule(20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
    for _ in range(2):
        train_step(model, sched, opt, X, Y, torch.Generator())  # cfg: TrainConfig()'s; lr: the optimizer's own
        steps.step()
    assert opt.param_groups[0]["lr"] == 2.5e-4  # was reset to the lr passed, each step
    train_step(model, sched, opt, X, Y, torch.Generator(), TrainConfig(), 1e-4)
    assert opt.param_groups[0]["lr"] == 1e-4  # train.py's schedule passes its own
    ema, counted = EMA(model), EMA(model)
    for step in range(3):
        ema.update(model)
        counted.update(model, step)
    assert ema.updates == 3 and all(torch.equal(a, b) for a, b in zip(ema.model.parameters(),
                                                                      counted.model.parameters()))


def test_a_digit_without_its_channel_and_a_model_of_other_images_are_named(tmp_path):
    from ddpm.demo.runtime import load_runtime
    model, sched = tiny_model(), NoiseSchedule(20)
    with pytest.raises(ValueError, match=r"x0 is a batch of 1-channel 28 x 28 images, shape \(B, 1, 28, 28\), not "
                                         r"\(4, 28, 28\) \(one channel: x0\[:, None\]\)$"):
        diffusion_loss(model, sched, X[:, 0], Y, torch.Generator(), label_dropout=0.2)
    with pytest.raises(ValueError, match=r"x0 is a batch of 1-channel 28 x 28 images, .*, not \(4, 1, 32, 32\)$"):
        diffusion_loss(model, sched, torch.zeros(4, 1, 32, 32), Y, torch.Generator(), label_dropout=0.2)  # Pad(2)
    save_pretrained(tiny_model(image_size=32), tmp_path / "m32")
    with pytest.raises(ModelLoadError, match=r"this model makes 32 x 32 images of 1 channel\(s\); the app shows 28 x "
                                             r"28 greyscale ones"):
        load_runtime(str(tmp_path / "m32"), with_classifier=False)
