"""Helpers for the training tests: a tiny run's config, trained on the bundled sample."""
from ddpm.config import TrainConfig
from ddpm.data import load_sample
from ddpm.training import train

from conftest import tiny_config


def train_cfg(out, **kw) -> TrainConfig:
    base = dict(out=str(out), epochs=100, batch_size=32, lr=2e-3, warmup_steps=5, seed=3, device="cpu",
                sample_every_epoch=False, model=tiny_config(timesteps=100))
    return TrainConfig(**(base | kw))


def train_on_sample(cfg, **kw):
    return train(cfg, data=load_sample(), log=lambda *_: None, progress_bar=False, **kw)
