"""The command lines' bar over sampling: `python -m ddpm.sample` and `python -m ddpm.evaluate` run for minutes (1000
samples of 1000 DDPM steps: about 20 on 2 CPU cores), and said nothing until the end; sampling from Python shows no
bar unless asked."""
import numpy as np
import torch

from ddpm import evaluate, hub, samplers
from ddpm.schedule import NoiseSchedule

from conftest import sample_cli, tiny_model


class Bar:
    """Stands in for tqdm (which hides itself where stderr is no terminal, as under pytest)."""
    made = []

    def __init__(self, total):
        self.total, self.n, self.closed = total, 0, False
        Bar.made.append(self)

    def update(self):
        self.n += 1

    def close(self):
        self.closed = True


def test_ddpm_sample_counts_every_step_of_every_batch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(samplers, "_steps_bar", Bar)
    Bar.made = []
    model = tiny_model()
    hub.save_pretrained(model, tmp_path / "m")
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "3", "--batch-size", "2", "--sampler", "ddim",
                          "--steps", "4", "--out", str(tmp_path / "s.npz")], capsys)
    assert rc == 0, err
    assert [(b.total, b.n, b.closed) for b in Bar.made] == [(8, 8, True)]  # 2 batches of 4 steps
    samplers.sample(model, NoiseSchedule(model.config.timesteps), 2, 0, sampler="ddim", steps=3)
    assert len(Bar.made) == 1  # a notebook's or the app's call: no bar


def test_ddpm_evaluate_asks_for_the_bar(tmp_path, monkeypatch):
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    asked = []
    monkeypatch.setattr(evaluate, "sample_images",
                        lambda model, n, *a, **k: asked.append(k.get("progress")) or np.zeros((n, 28, 28), np.uint8))
    with torch.no_grad():
        evaluate.generate(str(tmp_path / "m"), 2, "ddim", 3, 0, 2, None, 1.0)
    assert asked == [True]
