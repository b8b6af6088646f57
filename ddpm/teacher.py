"""The null class's teacher for `train.py --null-teacher FOLDER` (see ddpm.training.diffusion_loss): an optional
extension beyond DDPM; the bundled weights were trained with it (docs/experiments.md).

The null-class rows of each batch regress on a frozen model's prediction instead of on the drawn noise:
- by default its prediction given the image's true label, eps_teacher(x_t, t, y). A perfect teacher's, averaged
  over the labels that fit x_t, is E[eps | x_t], the very optimum of L_simple, but with less variance than the
  drawn eps; a real teacher's errors carry over to the student;
- `--null-teacher-autoguidance W` autoguides that prediction by the teacher's guide/ folder,
  eps_guide + W (eps_teacher - eps_guide) on the steps with code index t <= 0.6 T, so the student learns guided digits
  that it then draws with one network pass per step and no guide (the first stage of Meng et al. 2023's
  guidance distillation, with autoguidance in place of classifier-free guidance);
- `--null-teacher-label null` gives the teacher its null class instead of the true label: with W, the very
  eps that `--autoguidance W` samples "any digit" with.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import hub
from .autoguidance import autoguided
from .config import TrainConfig
from .data import dataset_name
from .facts import trained_on


def null_teacher(cfg: TrainConfig, out: Path, device: torch.device) -> nn.Module:
    """The frozen model that gives the null-class rows their target, called as teacher(x_t, t, y_true)."""
    folder, teacher = _load_teacher(cfg, out, device)
    if cfg.null_teacher_autoguidance != 1:
        try:
            teacher = autoguided(teacher, folder, cfg.null_teacher_autoguidance, device=device).requires_grad_(False)
        except (hub.ModelLoadError, ValueError) as e:
            raise ValueError(f"--null-teacher-autoguidance: {e}") from None
    _check_unchanged(cfg, folder, digest := hub.weights_digest(teacher))  # with autoguidance, the guide's tensors too
    cfg.null_teacher_sha256 = digest  # saved in train_config.json, and checked again by --resume
    return _AsNullClass(teacher) if cfg.null_teacher_label == "null" else teacher


def _load_teacher(cfg: TrainConfig, out: Path, device: torch.device) -> tuple[Path, nn.Module]:
    """The teacher's folder and frozen model, once it is known to model this run's data and noise."""
    try:
        folder = hub.resolve_folder(cfg.null_teacher)
        if folder.resolve() == out.resolve():
            raise ValueError(f"--null-teacher {cfg.null_teacher} is the output folder, whose weights change as it "
                             "trains (and again on --resume); copy them to another folder and name that")
        teacher = hub.load_pretrained(folder, device).requires_grad_(False)
    except hub.ModelLoadError as e:
        raise ValueError(f"--null-teacher: {e}") from None
    differ = [f"{k} {theirs!r}, not {ours!r}" for k, ours, theirs in cfg.model.eps_mismatch(teacher.config)]
    if differ:
        raise ValueError(f"--null-teacher {cfg.null_teacher} must model the same data and noise: it has "
                         + "; ".join(differ))
    if (its := trained_on(folder)) != cfg.dataset:  # config.json cannot tell (the same shapes): its record can
        raise ValueError(f"--null-teacher {cfg.null_teacher} was trained on {dataset_name(its)}, this run trains on "
                         f"{dataset_name(cfg.dataset)}: a teacher must model the same data")
    return folder, teacher


def _check_unchanged(cfg: TrainConfig, folder: Path, digest: str) -> None:
    """ValueError if a resumed run's teacher is not the one it began with (its recorded sha256)."""
    if cfg.null_teacher_sha256 and cfg.null_teacher_sha256 != digest:  # a resumed run whose teacher was replaced
        where = "" if str(folder) == str(folder.resolve()) else f" (here: {folder.resolve()})"
        raise ValueError(
            f"--null-teacher {cfg.null_teacher}{where} is not the model this run was taught by: its weights "
            f"{'or its guide/ ' if cfg.null_teacher_autoguidance != 1 else ''}changed since (sha256 "
            f"{cfg.null_teacher_sha256[:12]}... then, {digest[:12]}... now), so the rest of the run would learn another "
            "model's answers (its own, if the folder now holds this run's weights). Put the teacher back as it was, "
            "or give the one you mean as --null-teacher again")


@torch.no_grad()
def null_rows_target(teacher: nn.Module, x_t, t, y, eps, drop) -> torch.Tensor:
    """L_simple's target with the null-class rows (`drop`, (B,) bool) replaced by teacher(x_t, t, y_true).

    For an exact teacher, its mean under p(y | x_t) is eps's best fit, E[eps | x_t], without the spread
    of eps within a class (a lower-variance target, as in Xu et al. 2023's Stable Target Field)."""
    if not drop.any():
        return eps
    target = eps.clone()
    # float32 also where the student trains under bfloat16 autocast (CUDA): rounded there (the CPU's bfloat16 standing
    # in), the autoguided eps was off by up to 0.025 rms, 2% of the loss, noise in the rows it is there to make quiet
    with torch.autocast(x_t.device.type, enabled=False):
        target[drop] = teacher(x_t[drop], t[drop], y[drop]).to(eps.dtype)  # the true labels, not the null class
    return target


class _AsNullClass(nn.Module):
    """Asks `model` for its null-class prediction whatever label it is given."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x_t, t, y):
        return self.model(x_t, t, torch.full_like(y, self.model.config.null_label))
