"""A small MNIST CNN: the judge for samples (class shares, inception score) and the feature
extractor for the Frechet distance. Trains on a CPU in minutes; weights ship in ddpm/assets.

    python -m ddpm.classifier --data-dir data/mnist --out ddpm/assets/classifier.safetensors
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .cli_args import check_writable, command_line, path_arg, positive_int, stopped, whole_number
from .config import MAX_BATCH, MAX_TRAIN_SEED
from .data import DataError, load_dataset, to_model_range
from .safeio import load_tensors, save_tensors

DEFAULT_PATH = Path(__file__).resolve().parent / "assets" / "classifier.safetensors"
TRAIN_COMMAND = "python -m ddpm.classifier --data-dir data/mnist --out ddpm/assets/classifier.safetensors"


class ClassifierLoadError(RuntimeError):
    """The classifier weights could not be read; the message says what to run."""


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class MnistClassifier(nn.Module):
    """(B, 1, 28, 28) in [-1, 1] -> logits (B, 10). Three conv stages (28 -> 14 -> 7), then a
    `feature_dim`-d penultimate layer that `features` returns (the FD feature space)."""

    def __init__(self, width: int = 24, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()
        self.hparams = {"width": width, "feature_dim": feature_dim, "num_classes": num_classes}
        w = width
        self.body = nn.Sequential(
            _block(1, w), nn.MaxPool2d(2),  # 14x14
            _block(w, 2 * w), nn.MaxPool2d(2),  # 7x7
            _block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(3),  # 3x3
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(4 * w * 9, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) penultimate activations (after ReLU)."""
        return self.fc(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def augment(x: torch.Tensor, gen: torch.Generator, max_shift: float = 2.0, max_deg: float = 10.0) -> torch.Tensor:
    """Random small rotations and shifts (pixels) in one affine warp; background stays -1."""
    b = x.shape[0]
    ang = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(max_deg)
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * max_shift * 2 / x.shape[-1]  # grid units
    cos, sin = ang.cos(), ang.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


@torch.inference_mode()
def predict(model: MnistClassifier, x: torch.Tensor, batch_size: int = 1000, what: str = "logits") -> torch.Tensor:
    """Batched logits (or `what="features"`) for float images (N, 1, 28, 28) in [-1, 1]."""
    fn = model.features if what == "features" else model
    return torch.cat([fn(x[i:i + batch_size].float()) for i in range(0, len(x), batch_size)])


def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return (predict(model, x).argmax(1) == y).float().mean().item()


def train(data_dir: str = "data/mnist", epochs: int = 5, batch_size: int = 128, lr: float = 3e-3,
          seed: int = 0, width: int = 24, feature_dim: int = 128, label_smoothing: float = 0.0,
          log=print) -> tuple[MnistClassifier, dict]:
    """AdamW with a one-cycle LR schedule and light augmentation. -> (model in eval mode, facts)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr = load_dataset("mnist", data_dir, train=True)
    x_te, y_te = load_dataset("mnist", data_dir, train=False)
    x_tr, x_te = to_model_range(x_tr), to_model_range(x_te)
    model = MnistClassifier(width, feature_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps_per_epoch = math.ceil(len(x_tr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(augment(x_tr[idx], gen)), y_tr[idx], label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        model.eval()
        acc = accuracy(model, x_te, y_te)
        log(f"epoch {epoch + 1}/{epochs}  loss {total / steps_per_epoch:.4f}  test accuracy {acc:.2%}  "
            f"{(time.time() - t0) / 60:.1f} min")
    facts = {"test_accuracy": round(acc, 4), "epochs": epochs, "seed": seed, "batch_size": batch_size,
             "lr": lr, "label_smoothing": label_smoothing, "minutes": round((time.time() - t0) / 60, 2), "hparams": model.hparams}
    return model, facts


def save_classifier(model: MnistClassifier, path: str | Path, facts: dict) -> None:
    save_tensors(path, model.state_dict(), facts)


def load_classifier(path: str | Path = DEFAULT_PATH, device: str | torch.device = "cpu") -> MnistClassifier:
    """Rebuild the classifier from its safetensors file (hyperparameters in the metadata); eval mode."""
    path = Path(path)
    # the shipped asset is remade by retraining; another path is more likely a typo or the wrong file
    def fix(out: str) -> str:
        return (f"retrain it with:\n  {TRAIN_COMMAND}" if path.resolve() == DEFAULT_PATH else
                f"name a file that python -m ddpm.classifier wrote ({out}), or leave --classifier out for the shipped "
                "one")
    if not path.is_file():  # the advice names the path as --out only where nothing is: a file would be overwritten
        out = "its --out" if path.exists() else f"--out {path} makes one"  # a folder, or nothing at all
        raise ClassifierLoadError(f"no classifier weights at {path}; {fix(out)}")
    try:
        state, meta = load_tensors(path)
        model = MnistClassifier(**meta.get("hparams", {}))
        own = set(model.state_dict())
        unknown, missing = set(state) - own, own - set(state)
        if unknown or missing:  # load_state_dict would list every name: kilobytes for a model's weights
            raise ValueError(f"{len(unknown)} tensors it does not have, {len(missing)} of its own missing")
        model.load_state_dict(state)
    except Exception as e:
        raise ClassifierLoadError(f"{path} does not hold the classifier's weights ({e}); {fix('its --out')}") from None
    return model.to(device).eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ddpm.classifier",
        description="Train the small MNIST CNN used by `python -m ddpm.evaluate` (class shares, inception "
                    "score, Frechet distance of its 128-d features) and save it as safetensors.")
    p.add_argument("--data-dir", type=path_arg, default="data/mnist",
                   help="folder with MNIST/raw/*-ubyte.gz (default: data/mnist)")
    p.add_argument("--out", type=path_arg, default="runs/classifier.safetensors",
                   help="weights file to write, for ddpm.evaluate --classifier (default: runs/classifier.safetensors; "
                        "the shipped yardstick, which every measured figure used, is replaced only when named: "
                        "--out ddpm/assets/classifier.safetensors)")
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the 60k training images (default: 5)")
    p.add_argument("--batch-size", type=whole_number(1, MAX_BATCH), default=128,
                   help=f"1 to {MAX_BATCH}, as train.py's (default: 128)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule (default: 3e-3)")
    p.add_argument("--seed", type=whole_number(0, MAX_TRAIN_SEED), default=0,
                   help="seed for init, shuffling and augmentation (default: 0)")
    p.add_argument("--width", type=positive_int, default=24, help="channels of the first conv stage; doubles per stage (default: 24)")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="keep 0 so the classifier is confident and real MNIST scores an Inception Score near 10 (default: 0)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    a = p.parse_args(argv)
    if not (math.isfinite(a.lr) and a.lr > 0):
        p.error(f"--lr must be a positive number, not {a.lr}")
    if not 0 <= a.label_smoothing < 1:
        p.error(f"--label-smoothing must be in [0, 1), not {a.label_smoothing}")
    if Path(a.out).suffix.lower() != ".safetensors":  # it is written as safetensors, so named (as the asset is)
        p.error(f"--out {a.out}: it must end in .safetensors")
    if why := check_writable(a.out):  # now, not after minutes of training
        p.error(why)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        model, facts = train(a.data_dir, a.epochs, a.batch_size, a.lr, a.seed, a.width, label_smoothing=a.label_smoothing)
    except DataError as e:  # no MNIST there, or a broken file: the input's fault, as a refused flag is
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return stopped(f"the classifier was not saved; {a.out} is as it was")
    facts["command"] = command_line("-m ddpm.classifier", argv)
    save_classifier(model, a.out, facts)
    print(f"saved {a.out}: test accuracy {facts['test_accuracy']:.2%} after {a.epochs} epoch{'s' * (a.epochs != 1)}, "
          f"{facts['minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
