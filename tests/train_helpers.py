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


def fewer_card_samples(monkeypatch, n: int = 50) -> None:
    """train.py --push-to-hub's scoring for the card, run as it is but on 50 samples, not 1000 (half a minute of a
    push test that is not about the scores): test_train_cli_end_to_end_with_offline_push scores the 1000."""
    from ddpm import evaluate

    argv = evaluate.card_scores_argv
    monkeypatch.setattr(evaluate, "card_scores_argv", lambda *a: [str(n) if v == "1000" else v for v in argv(*a)])
