"""What a training run records about itself beside its weights: the facts its model card reports, its time on
each machine, a loss log (loss.csv) that a resume continues without repeats, and the scores of the weights it replaces
set aside."""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch

from . import hub
from .facts import read_weights_meta
from .config import TrainConfig
from .safeio import atomic_write_bytes
from .unsaved import FULL


def set_aside_scores(out: Path, log) -> None:
    """The scores and sample grid of the weights this run replaces would misreport the new ones (on the card,
    on the Hub), so they are renamed NAME.previous.EXT, not lost; `python -m ddpm.evaluate` scores the new."""
    for name in hub.SET_ASIDE:
        path = out / name
        if path.exists():
            kept = hub.set_aside_path(path)
            path.replace(kept)
            log(f"{name} described the weights this run replaces: kept as {kept}")


def _step_of(row: str) -> int | None:
    """The step a loss.csv row was logged at (None for a line that is not a row: a hand edit, a torn write)."""
    try:
        return int(row.split(",", 1)[0])
    except ValueError:
        return None


class LossLog:
    """loss.csv: one row per EVERY optimizer steps (the mean loss, images/s and lr), and one for the steps
    before a stop that falls between two. A resumed run first drops the rows logged after its checkpoint
    (a hard kill can leave some), so its own follow on without repeats."""

    EVERY = 50
    HEADER = "step,epoch,loss,images_per_s,lr\n"

    def __init__(self, path: Path, fresh: bool, resumed_at: int = 0):
        self.path = path
        try:  # before the first step: a file that cannot be written now costs nothing, and is said
            if fresh or not path.exists():
                path.write_text(self.HEADER, encoding="utf-8")
            else:  # rows of steps past the checkpoint go (they are trained again); so do rows that are not rows
                rows = path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
                kept = [r for r in rows if (step := _step_of(r)) is not None and step <= resumed_at]
                # all at once: a kill inside a plain rewrite would leave the run's whole loss history empty
                atomic_write_bytes(path, (self.HEADER + "".join(r + "\n" for r in kept)).encode())
        except OSError as e:
            fix = "make room" if e.errno in FULL else "open in another program? close it"
            raise OSError(f"{path} cannot be written ({e.strerror or e}; {fix}, then run again: nothing was trained "
                          "yet)") from None
        self.losses, self.images, self.since = [], 0, time.time()
        self.unwritten: list[str] = []  # rows the file refused (open in a program that locks it: Excel on Windows)

    def add(self, loss: torch.Tensor, images: int) -> None:
        self.losses.append(loss.detach())  # no .item() here: reading the loss every step stalls a GPU
        self.images += images

    def pending(self) -> bool:
        return bool(self.losses)

    def write(self, step: int, epoch: int, lr: float) -> tuple[float, float]:
        """Append the row of the steps since the last one; returns its (mean loss, images/s). A file that cannot be
        written now (Excel holds it open on Windows) stops no run: its rows wait, said once, for the next write."""
        now = time.time()
        mean_loss, img_s = torch.stack(self.losses).mean().item(), self.images / max(now - self.since, 1e-9)
        self.unwritten.append(f"{step},{epoch},{mean_loss:.5f},{img_s:.1f},{lr:.3g}\n")
        self.losses, self.images, self.since = [], 0, now
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(self.unwritten))
            self.unwritten = []
        except OSError as e:
            if len(self.unwritten) == 1:
                why, when = ("", "there is room") if e.errno in FULL else ("; open in another program?", "it can be")
                print(f"\nnote: {self.path} cannot be written now ({e.strerror or e}{why}): training goes on, and its "
                      f"rows are written once {when}", file=sys.stderr)
        return mean_loss, img_s

    def keep_unwritten(self) -> str | None:
        """Where the rows the file refused to the end went, in words (None when every row went in): appended to
        loss.unwritten.csv beside it (a sitting's before kept), or, where that is locked too, into these words."""
        if not self.unwritten:
            return None
        beside, since = self.path.with_name("loss.unwritten.csv"), self.unwritten[0].split(",", 1)[0]
        try:
            new = not beside.exists()
            with beside.open("a", encoding="utf-8") as f:
                f.write(self.HEADER * new + "".join(self.unwritten))
            return f"{self.path} could not be written since step {since}: those rows are in {beside}"
        except OSError:
            return (f"{self.path} and {beside} could not be written since step {since}: its rows are\n"
                    + self.HEADER + "".join(self.unwritten).rstrip("\n"))


def describe_device(device: torch.device) -> str:
    """The hardware as the model card names it, e.g. "NVIDIA H100 80GB HBM3" or "CPU (x86_64, 2 threads)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} thread{'s' * (torch.get_num_threads() != 1)})"
    return str(device)


def run_progress(step: int, seconds: float, earlier: dict, hardware: str, run_seconds: float) -> dict:
    """What a checkpoint records of the run so far: `earlier` seconds per device plus this run's."""
    by_device = dict(earlier)
    by_device[hardware] = by_device.get(hardware, 0.0) + run_seconds
    return {"step": step, "train_seconds": seconds, "seconds_by_device": by_device}


def earlier_hardware(out: Path, seconds: float) -> dict:
    """A checkpoint written before seconds_by_device existed: its time goes to the device its card names."""
    if seconds <= 0:
        return {}
    return {read_weights_meta(out).get("device", "earlier runs"): seconds}


def training_facts(cfg: TrainConfig, progress: dict, steps_per_epoch: int, hardware: str, n: int) -> dict:
    """What the model card reports about how these weights were made."""
    step = progress["step"]
    minutes_by_device = {k: round(v / 60, 1) for k, v in progress["seconds_by_device"].items()}
    return {"dataset": cfg.dataset, "images": n, "steps": step, "epochs": round(step / steps_per_epoch, 2),
            "batch_size": cfg.batch_size, "lr": cfg.lr, "lr_decay_steps": cfg.lr_decay_steps,
            "ema_decay": cfg.ema_decay, **({"label_dropout": cfg.label_dropout} if cfg.model.num_classes else {}),
            **({"null_teacher": cfg.null_teacher, "null_teacher_label": cfg.null_teacher_label,
                "null_teacher_autoguidance": cfg.null_teacher_autoguidance} if cfg.null_teacher else {}),
            **({"balance_classes": True} if cfg.balance_classes else {}),
            "train_minutes": round(progress["train_seconds"] / 60, 1), "device": hardware,
            "minutes_by_device": minutes_by_device, "torch": torch.__version__, "seed": cfg.seed}
