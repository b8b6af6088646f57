"""Training: L_simple on uniform t (Ho et al. 2020, Alg. 1), AdamW, EMA, exact resume (the checkpoint file:
ddpm.checkpoint; what --resume checks and how Ctrl-C stops a run: ddpm.run_control; what a run records beside its
weights: ddpm.run_record)."""
from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from . import hub
from .config import RUN_CONFIG_NAME, TrainConfig
from .data import load_dataset, to_model_range
from .device import mixed_precision, pick_device
from .facts import read_weights_meta
from .checkpoint import CKPT_NAME, save_checkpoint
from .images import tensor_grid
from .run_control import (Abandoned, Interrupts, Stopped, StopNow, check_limits_left, check_resumable,
                          check_size, guarded, refuse_diverged, refuse_to_overwrite, restore, unbroken_log)
from .run_record import LossLog, describe_device, earlier_hardware, run_progress, set_aside_scores, training_facts
from .safeio import atomic_write_json, atomic_write_png, remove_stale_temporaries
from .samplers import sample
from .schedule import NoiseSchedule
from .teacher import null_rows_target, null_teacher
from .training_checks import check_loss_inputs, check_lr
from .unet import UNet, count_parameters
from .unsaved import checkpoint_failed, explained, limit_flags, record_failed, weights_failed


def diffusion_loss(model, sched: NoiseSchedule, x0, y, generator: torch.Generator, label_dropout: float = 0.0,
                   teacher=None):
    """L_simple (Eq. 14, Alg. 1): || eps - eps_theta(sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, t) ||^2,
    averaged over the batch and its pixels where Eq. 14 sums them (the same optimum, scaled by 1/(C H W): 1/784).

    t ~ U{0..T-1} (code index: the paper's U{1..T}), eps ~ N(0, I), and a share `label_dropout` of labels swapped
    for the null class (classifier-free guidance's training: Ho & Salimans 2022, Alg. 1, their p_uncond).
    `teacher` (train.py --null-teacher, an extension beyond DDPM) replaces the null-class rows' target
    (ddpm.teacher.null_rows_target). All draws come from `generator` (on the CPU, so runs are reproducible on
    every device)."""
    check_loss_inputs(model, sched, x0, y, label_dropout)
    b = x0.shape[0]
    t = torch.randint(0, sched.T, (b,), generator=generator)  # Alg. 1 line 3: (B,) code index, the paper's t - 1
    eps = torch.randn(x0.shape, generator=generator)  # Alg. 1 line 4: (B, C, H, W)
    # (B,) rows trained as the null class; drawn for unconditional models too, so that t and eps of every step are
    # the same whether or not the model takes labels
    drop = torch.rand(b, generator=generator) < label_dropout
    eps, drop = eps.to(x0.device), drop.to(x0.device)
    # Eq. 4, eps_theta's argument in Alg. 1 line 5; t still on the CPU, so the lookup's range check needs no GPU sync
    x_t = sched.q_sample(x0, t, eps)
    t = t.to(x0.device)
    target = eps if teacher is None else null_rows_target(teacher, x_t, t, y, eps, drop)
    if y is not None and model.config.num_classes:  # (an unconditional model ignores y, as UNet.forward does)
        y = torch.where(drop, torch.full_like(y, model.config.null_label), y)
    eps_hat = model(x_t, t, y)  # eps_theta(x_t, t, y)
    return (eps_hat - target).pow(2).mean()  # Alg. 1 line 5's || . ||^2 (Eq. 14), averaged over the batch's pixels


def train_step(model, sched: NoiseSchedule, opt, x0, y, generator: torch.Generator, cfg: TrainConfig | None = None,
               lr: float | None = None, teacher=None, amp_dtype: torch.dtype | None = None,
               scaler=None) -> torch.Tensor:
    """One repeat of Ho et al.'s Alg. 1: for the batch x0 (B, C, H, W) with labels y (B,) or None, draw t and
    eps (diffusion_loss), then take a gradient step on L_simple at learning rate lr (None: the optimizer's own, as
    a scheduler of yours sets it), its norm clipped to cfg.grad_clip (cfg None: TrainConfig()'s, with its
    label_dropout). amp_dtype: autocast to it (CUDA; a CPU told bf16), with `scaler` for float16. Returns the
    batch's loss (detached: float(loss) logs it)."""
    cfg = TrainConfig() if cfg is None else cfg
    check_lr(lr)
    for g in opt.param_groups if lr is not None else ():
        g["lr"] = lr
    with torch.autocast(x0.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        loss = diffusion_loss(model, sched, x0, y, generator, cfg.label_dropout, teacher)
    # Alg. 1's gradient step: loss.backward(), clip_grad_norm_, opt.step(); the scaler (float16 on CUDA) wraps them
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        scaler = torch.amp.GradScaler("cpu", enabled=False)  # a pass-through
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # clip the true gradient, not the scaled one
    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    scaler.step(opt)
    scaler.update()
    return loss.detach()


class EMA:
    """Exponential moving average of the weights (Ho et al. App. B), with TensorFlow's warm-up (its
    ExponentialMovingAverage's num_updates): decay_n = min(decay, (1 + n) / (10 + n)), so the first steps' weights
    are not averaged with the random initialisation for long. The warm-up is long: at decay 0.999 it ends at step
    8,990, so a default run (20 epochs, 9,360 steps) keeps an average weighted toward its last tenth or so, not
    yet a 0.999 one; Ho et al. (App. B) average at 0.9999 over 800k steps."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        """ema = d ema + (1 - d) weights, with d warmed up over the first steps (step: the optimizer steps taken
        before this one; None counts this EMA's updates); integer buffers are copied."""
        step = self.updates if step is None else step
        self.updates = step + 1
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.lerp_(p, 1 - d)  # e <- e + (1 - d) (p - e) = d e + (1 - d) p
            else:
                e.copy_(p)


# ---------------------------------------------------------------- the loop

def _epoch_order(n: int, seed: int, epoch: int, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The data order of one epoch depends only on (seed, epoch), so a resumed run sees the same batches.
    class_weights (N,): draw N indices with replacement in proportion to them (--balance-classes)."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if class_weights is not None:
        return torch.multinomial(class_weights, n, replacement=True, generator=g)
    return torch.randperm(n, generator=g)


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """(N,) float64 weights 1 / (count of the image's class), so every class is drawn equally often."""
    counts = torch.bincount(labels)
    return 1.0 / counts[labels].double()


def train(cfg: TrainConfig, resume: bool = False, max_steps: int | None = None, data=None, log=print,
          progress_bar: bool = True, checkpoint_every: int = 200, on_start=None) -> Path:
    """Train per `cfg`, writing to cfg.out: the EMA model folder (config.json + model.safetensors),
    checkpoint.safetensors, loss.csv, samples/epoch_XXX.png and the run's settings (train_config.json); its facts for
    the model card go into model.safetensors' metadata (train.py's on_start writes training.json, the recipe). Returns
    the output folder.

    `data` = (images uint8 (N, 28, 28), labels (N,)) overrides the dataset (tests use the bundled sample).
    on_start(out): called at the sitting's first checkpoint, with its config written beside it (train.py records
    its command there): a sitting killed or diverged before it leaves no line in the recipe (Ctrl-C reaches the
    final save, which records it).
    Stops after cfg.epochs, after cfg.max_minutes of training, after max_steps [cfg.max_steps], or on Ctrl-C (then
    raising Stopped, once all is saved; a second Ctrl-C mid-step raises Abandoned, saving nothing), always leaving
    a checkpoint that `resume=True` continues from exactly; or,
    should the weights turn nan or inf, raising Diverged before any of them is saved or sampled (checked at each
    loss row, checkpoint and epoch grid, and at the end).
    It seeds torch's global random state with cfg.seed (the weights' init and dropout draw from it; nn.Dropout
    takes no generator), so a caller's own draws after it are not what they were before."""
    out = Path(cfg.out)
    log = unbroken_log(log)  # a gone terminal (or `| tee` ended by the same Ctrl-C) must not stop the saves below
    max_steps = cfg.max_steps if max_steps is None else max_steps
    device = pick_device(cfg.device)
    amp_dtype, scaler = mixed_precision(device, cfg.mixed_precision)  # before the data: a CPU without bf16 units
    check_size(cfg.model)
    if resume:  # before the data loads: no checkpoint there, or another network or dataset
        check_resumable(cfg, out / CKPT_NAME)
    left = [] if resume else refuse_to_overwrite(out)  # said below, once nothing more can refuse the run
    torch.manual_seed(cfg.seed)  # the weights' init and any dropout draw from torch's global state (saved with
    # each checkpoint, so --resume repeats them); the data order, t, eps and the null rows have their own generators
    images, labels = data if data is not None else load_dataset(cfg.dataset, cfg.data_dir, train=True)
    if data is not None and not (torch.as_tensor(images).dtype == torch.uint8 and labels is not None
                                 and len(labels) == len(images)):  # floats in [0, 1] would train on near-blank images
        raise ValueError("data is (images uint8 (N, 28, 28), 0 to 255 as MNIST's; labels (N,)), as load_dataset gives")
    n = len(images)
    steps_per_epoch = _steps_per_epoch(cfg, n)

    mcfg = cfg.model
    sched = NoiseSchedule(mcfg.timesteps, mcfg.schedule)
    model = UNet(mcfg).to(device)
    x_all = to_model_range(torch.as_tensor(images)).to(device)  # (N, 1, 28, 28) in [-1, 1], all on the device
    y_cpu = torch.as_tensor(labels).long()  # (N,)
    y_all = y_cpu.to(device)
    class_weights = balanced_weights(y_cpu) if cfg.balance_classes else None
    teacher = null_teacher(cfg, out, device) if cfg.null_teacher else None
    ema = EMA(model, cfg.ema_decay)
    # AdamW with weight decay 0 by default (TrainConfig.weight_decay): Adam, as Ho et al. trained
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)

    ckpt = out / CKPT_NAME
    progress, weights_only = {"step": 0, "train_seconds": 0.0}, False
    if resume:
        progress = restore(cfg, ckpt, model, ema, opt, gen, scaler)
        try:
            check_limits_left(cfg, progress, steps_per_epoch, max_steps)  # before anything in `out` changes
        except ValueError:  # a run at its end: refused, unless its last weights were never written beside it
            if read_weights_meta(out).get("steps") == progress["step"]:
                raise
            weights_only = True  # (a full disk, or a kill, between the checkpoint and model.safetensors)
            log(f"the checkpoint of step {progress['step']} has no weights file beside it: writing it, with no step "
                "to train")
        log(f"resumed from {ckpt} at step {progress['step']}")
        if cfg.max_minutes:  # the limit counts every sitting: how much of it this one has
            trained = progress["train_seconds"] / 60
            log(f"--max-minutes {cfg.max_minutes:g} counts every sitting: {trained:.1f} min trained, so this one has "
                f"{cfg.max_minutes - trained:.1f} min")
    out.mkdir(parents=True, exist_ok=True)  # made at its first write, so a run refused above leaves nothing behind
    epochs = [f"epoch_{e:03d}.png" for e in range(cfg.epochs)]
    stale = remove_stale_temporaries(out, RUN_FILES) + [f"samples/{name}" for name in remove_stale_temporaries(
        out / "samples", epochs)]
    if stale:
        log(f"removed {len(stale)} unfinished temporary file(s) a killed write left in {out}: {', '.join(stale)}")
    hardware = describe_device(device) + (" with bfloat16 autocast" if device.type == "cpu" and amp_dtype else "")
    # seconds trained on each machine, so a run resumed elsewhere (a CPU run finished on a GPU) reports both
    earlier = progress.get("seconds_by_device") or earlier_hardware(out, progress["train_seconds"])

    schedule_steps = cfg.epochs * steps_per_epoch  # the lr schedule ends here; max_steps only stops early
    total_steps = schedule_steps if max_steps is None else min(max_steps, schedule_steps)
    total_steps = progress["step"] if weights_only else total_steps
    autocast = f" ({str(amp_dtype).removeprefix('torch.')} autocast)" if amp_dtype else ""
    log(f"device {device}{autocast}, {count_parameters(model):,} parameters, {n:,} images, "
        f"{steps_per_epoch} steps/epoch, up to {total_steps} steps")
    if not progress["step"]:  # a first sitting: what its bar's figures mean, and where its progress shows
        log(f"loss: L_simple (Eq. 14), the mean squared error of eps_hat, over the last {LossLog.EVERY} steps (a "
            "network that guessed eps = 0 would score 1); it falls fast, then slowly, and the grids show the rest"
            + (f": after each epoch, 16 samples of its EMA weights in {out / 'samples'}" if cfg.sample_every_epoch
               else ""))
    if left:  # no checkpoint goes with them: a run stopped at or before its first one leaves them
        log(f"this run replaces {', '.join(left)} in {out}, which no checkpoint goes with")
    loss_log = LossLog(out / hub.LOSS_NAME, fresh=not resume, resumed_at=progress["step"])

    pbar = _progress_bar(total_steps, progress["step"]) if progress_bar else None
    step, seconds = progress["step"], progress["train_seconds"]
    began = step
    saved = step if resume else None  # the step of the folder's last checkpoint of this run (a resume's, maybe
    # of step 0 after a Ctrl-C before the first step, until the next save)

    checked = began  # the step whose weights were last found finite: a row, a checkpoint and a grid share one

    def diverged():  # Diverged if the weights hold a nan or inf (step, epoch, lr and saved as they are at the call)
        nonlocal checked
        if step != checked:
            refuse_diverged((model, ema.model), loss_log, step, epoch, lr, cfg, saved, began)
            checked = step

    first_save = True

    def save(progress: dict) -> None:  # the checkpoint; the sitting's first also records its command (on_start)
        # and the config in force (a resume may change epochs, the lr schedule or the time budget), together, and not
        # before: a sitting killed or diverged before it leaves the folder's record as it was
        nonlocal first_save
        if first_save:
            with explained(record_failed, out, progress["step"], saved):  # a full disk: what is kept, in words
                if on_start is not None:
                    on_start(out)
                atomic_write_json(out / RUN_CONFIG_NAME, dataclasses.asdict(cfg))
            first_save = False
        with explained(checkpoint_failed, ckpt, progress["step"], saved):
            save_checkpoint(ckpt, model, ema, opt, gen, progress, scaler)

    run_start = time.time()
    budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    stop_reason = "done"
    mid_step = half = False  # half: a second Ctrl-C stopped the run in the middle of a step
    model.train()
    stop = Interrupts()
    previous_handlers = stop.install()
    try:
        if resume and step and step % steps_per_epoch == 0 and cfg.sample_every_epoch:
            done = step // steps_per_epoch - 1  # a stop during its grid (taken at once there) left the epoch without
            if not (out / "samples" / f"epoch_{done:03d}.png").exists():  # one: the same EMA weights draw it now
                if note := _epoch_samples(ema.model, sched, out, done, cfg.seed):
                    log(note)
                model.train()
        # Alg. 1 is the lines from `idx =` to `train_step`: the epoch's next batch x_0 (and labels), then t, eps and
        # one gradient step on L_simple inside train_step; `ema.update` is Ho et al.'s EMA of the weights (App. B:
        # their decay 0.9999, here 0.999 with a warm-up, for short runs), not part of Alg. 1; everything else in this
        # loop is run control (the loss log, checkpoints, the divergence check, Ctrl-C and the time limit)
        while step < total_steps:
            epoch, i = divmod(step, steps_per_epoch)
            order = _epoch_order(n, cfg.seed, epoch, class_weights)
            for i in range(i, steps_per_epoch):
                stop.defer = mid_step = True  # Ctrl-C or kill mid-step takes effect at its end
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size].to(device)
                x0, y = x_all[idx], y_all[idx]
                lr = learning_rate(cfg, step, schedule_steps)
                with warnings.catch_warnings():  # label_dropout 0 is chosen here (its flag's help says what it does)
                    warnings.filterwarnings("ignore", "label_dropout=0 trains", UserWarning)
                    loss = train_step(model, sched, opt, x0, y if mcfg.num_classes else None, gen, cfg, lr, teacher,
                                      amp_dtype, scaler)
                ema.update(model, step)
                step += 1
                mid_step = False
                loss_log.add(loss, len(idx))
                now = time.time()
                if pbar is not None:
                    pbar.update(1)
                if step % LossLog.EVERY == 0 or step == total_steps:
                    diverged()  # nan weights are neither saved nor sampled: checked at each row, save and grid
                    mean_loss, img_s = loss_log.write(step, epoch, lr)
                    if pbar is not None:
                        pbar.set_postfix(epoch=epoch + 1, loss=f"{mean_loss:.4f}", img_s=f"{img_s:.0f}")  # 1 first
                stop.end_of_step()  # raises KeyboardInterrupt if one came during the step
                elapsed = seconds + (now - run_start)
                if step % checkpoint_every == 0:
                    diverged()
                    save(run_progress(step, elapsed, earlier, hardware, now - run_start))
                    saved = step
                if step >= total_steps:
                    break
                if elapsed >= budget:
                    stop_reason = f"time limit ({cfg.max_minutes} min)"
                    break
            if (step % steps_per_epoch == 0) and cfg.sample_every_epoch:  # also when time ran out on the epoch's last step
                stop.defer = True  # the last epoch's grid, cut short, would be made by no resume
                diverged()
                if note := _epoch_samples(ema.model, sched, out, epoch, cfg.seed):
                    log(note)
                model.train()
                stop.end_of_step()
            if stop_reason != "done":
                break
    except KeyboardInterrupt as e:
        stop_reason = "interrupted"
        half = mid_step and isinstance(e, StopNow)
    finally:
        if pbar is not None:
            pbar.close()
        stop.uninstall(previous_handlers)
    if half:  # its checkpoint would hold half a step; the last one saved is whole
        raise Abandoned(out, step, saved, began, loss_log.unwritten)  # rows a locked loss.csv refused: said
    diverged()  # (a sitting that took no step has nothing new to check)
    if loss_log.pending():  # a stop between two rows: the steps since the last one get a row too
        loss_log.write(step, epoch, lr)
    if where := loss_log.keep_unwritten():  # loss.csv stayed locked to the end
        log(f"note: {where}")
    run_seconds = time.time() - run_start
    progress = run_progress(step, seconds + run_seconds, earlier, hardware, run_seconds)
    seconds = progress["train_seconds"]
    save(progress)
    if read_weights_meta(out).get("steps") != step:  # new weights replace those the scores and the card's grid
        set_aside_scores(out, log)  # describe (also a sitting that took no step past a checkpoint a kill left ahead)
    limit = limit_flags(step, schedule_steps, max_steps, cfg.max_minutes, stop_reason.startswith("time"))
    with explained(weights_failed, out, step, limit):  # the checkpoint just written is whole: a resume writes them
        hub.save_pretrained(ema.model, out, meta=training_facts(cfg, progress, steps_per_epoch, hardware, n),
                            same_run=True)
    if stop_reason == "done" and step < schedule_steps:  # --max-steps: a resume goes on to --epochs
        stop_reason = f"--max-steps {max_steps}"
    ended = "finished" if stop_reason == "done" else f"stopped: {stop_reason}"
    log(f"{ended} at step {step} (epoch {step / steps_per_epoch:.2f}) after {seconds / 60:.1f} min; "
        f"EMA weights in {out}")
    if stop_reason == "interrupted" and step < total_steps:  # all saved; the caller still hears of the Ctrl-C
        raise Stopped(out)
    return out


# the files of a run's folder that are written atomically: a killed write's temporary beside one is removed by the
# next sitting (safeio.remove_stale_temporaries), not copied on by `cp -r runs/mnist runs/student`
RUN_FILES = (CKPT_NAME, hub.WEIGHTS_NAME, hub.CONFIG_NAME, hub.CARD_NAME, hub.TRAINING_NAME, hub.EVAL_NAME,
             hub.GRID_NAME, hub.LOSS_NAME, RUN_CONFIG_NAME, "progress.png")


def _steps_per_epoch(cfg: TrainConfig, n: int) -> int:
    """Full batches in n images (the ragged last one is dropped); refuses a batch or an lr decay the data cannot fill."""
    if cfg.batch_size > n:
        raise ValueError(f"--batch-size {cfg.batch_size} is more than the {n:,} training images")
    steps_per_epoch = n // cfg.batch_size
    if cfg.lr_decay_steps > cfg.epochs * steps_per_epoch:  # the cosine would begin before step 0, near lr 0
        raise ValueError(f"--lr-decay-steps {cfg.lr_decay_steps} is longer than the run: --epochs {cfg.epochs} of "
                         f"{steps_per_epoch} steps is {cfg.epochs * steps_per_epoch} steps")
    return steps_per_epoch


def _progress_bar(total_steps: int, initial: int):
    from tqdm.auto import tqdm

    # its writes (each refresh, and close) never raise: a broken pipe there once came before the final save
    return tqdm(total=total_steps, initial=initial, unit="step", dynamic_ncols=True, mininterval=1.0,
                file=guarded(sys.stderr))  # train.py's stderr is guarded already: not twice


def learning_rate(cfg: TrainConfig, step: int, schedule_steps: int) -> float:
    """Linear warm-up over cfg.warmup_steps, constant, then (if cfg.lr_decay_steps) a half cosine
    down to 0 over the last lr_decay_steps of the schedule_steps. A function of the step alone, so
    a resumed run follows the same curve."""
    lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    decay_start = schedule_steps - cfg.lr_decay_steps
    if cfg.lr_decay_steps > 0 and step >= decay_start:
        lr *= 0.5 * (1 + math.cos(math.pi * (step - decay_start) / cfg.lr_decay_steps))
    return lr


@torch.no_grad()
def _epoch_samples(model, sched, out: Path, epoch: int, seed: int) -> str | None:
    """A 4x4 grid of unconditional (null-class) samples after each epoch: 50 DDIM steps (T if fewer), the same seed
    each time. Returns a note when the picture could not be written."""
    x = sample(model, sched, 16, seed, sampler="ddim")  # steps=None: samplers.steps_run's 50, or T if fewer
    path = out / "samples" / f"epoch_{epoch:03d}.png"
    try:
        path.parent.mkdir(exist_ok=True)
        atomic_write_png(path, tensor_grid(x, cols=4, scale=2))
    except OSError as e:  # a picture, not the run: a disk that stays full is said, with what is kept, at the next save
        return f"note: {path} could not be written ({e.strerror or e}); training goes on without it"
    return None
