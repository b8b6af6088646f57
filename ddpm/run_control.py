"""A training run's safety: what --resume checks before it continues a run (the same network, data, batch size and
seed, limits not yet behind it), what a new run refuses to overwrite, how Ctrl-C or `kill` stop a run at the end of
a step with its checkpoint written, and weights gone nan or inf stopping it before any of them is saved
(training.train uses them; train.py catches Stopped, and Diverged as an error). What a save that fails (a full disk)
says: ddpm.unsaved."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from . import hub
from .checkpoint import CKPT_NAME, load_checkpoint
from .config import RUN_CONFIG_NAME, ModelConfig, TrainConfig
from .unet import UNet, count_parameters
from .unsaved import FULL, resume_command


def refuse_to_overwrite(out: Path) -> list[str]:
    """A new run into a folder that holds one: hours of training, one forgotten --resume away from lost. Returns
    the run records there with no checkpoint beside them (what a run stopped at or before its first save leaves),
    which a new run replaces, and says so."""
    if (out / CKPT_NAME).exists():
        raise ValueError(f"{out} holds a run (its {CKPT_NAME}): continue it with `{resume_command(out)}` (its own "
                         f"settings kept), or train into another --out (delete the folder to start it again)")
    if (out / hub.WEIGHTS_NAME).exists():  # a finished model (a download, a push) has no checkpoint
        raise ValueError(f"{out} holds a model ({hub.WEIGHTS_NAME}) that a new run would overwrite: train into "
                         "another --out, or move the folder away")
    if (out / hub.CONFIG_NAME).exists():  # written after a checkpoint: without one, another's (a model's half)
        raise ValueError(f"{out} holds {hub.CONFIG_NAME} but no {CKPT_NAME} or {hub.WEIGHTS_NAME}, which a new run "
                         "would overwrite: train into another --out, or move it away")
    return [name for name in (RUN_CONFIG_NAME, hub.TRAINING_NAME, hub.LOSS_NAME) if (out / name).exists()]


MAX_WEIGHTS = 1_000_000_000  # 20 GB with gradients, AdamW's moments and the EMA copy; the bundled model has 0.5M


def check_size(mcfg: ModelConfig) -> None:
    """A network past MAX_WEIGHTS (a mistyped --base-channels 100000) is refused before the data loads, counted on
    the meta device, where building it takes no memory: not a traceback from the allocator, or the OOM killer."""
    with torch.device("meta"):
        n = count_parameters(UNet(mcfg))
    if n > MAX_WEIGHTS:
        raise ValueError(f"--base-channels {mcfg.base_channels} with --channel-mult "
                         f"{','.join(map(str, mcfg.channel_mult))} and --num-res-blocks {mcfg.num_res_blocks} makes a "
                         f"network of {n:,} weights, past the {MAX_WEIGHTS:,} this trainer takes: give a smaller "
                         "--base-channels or fewer --num-res-blocks (16 and 1 make the bundled model's half a million)")


def check_resumable(cfg: TrainConfig, ckpt: Path) -> None:
    """--resume: FileNotFoundError without a checkpoint, ValueError for a run of another network or dataset."""
    if not ckpt.exists():
        folder = ckpt.parent
        if not folder.exists():
            raise FileNotFoundError(f"--resume: {folder} does not exist, so there is no checkpoint to go on from: "
                                    "check --out, or drop --resume to start a new run there")
        if not folder.is_dir():
            raise FileNotFoundError(f"--resume: {folder} is a file, not a run's folder")
        if (folder / hub.WEIGHTS_NAME).exists():  # a download, or a folder whose checkpoint was deleted
            raise FileNotFoundError(f"--resume: {folder} holds a model ({hub.WEIGHTS_NAME}) but no checkpoint "
                                    f"({ckpt.name}, written as a run trains: its optimizer state and place in the "
                                    "data), so it cannot go on; train a new run into another --out")
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}: drop --resume to start a new run there")
    check_same_run(cfg, ckpt.parent)


def restore(cfg: TrainConfig, ckpt: Path, model, ema, opt, gen: torch.Generator, scaler=None) -> dict:
    """--resume: the checkpoint's weights, EMA, optimizer, RNG states and loss scale put back; returns its progress
    record."""
    try:
        progress = load_checkpoint(ckpt, model, ema, opt, gen, scaler)
    except Exception as e:  # truncated (a full disk), or not a checkpoint of this model
        said = str(e).strip().splitlines()[0] if str(e).strip() else ""  # torch lists every key that differs
        if "state_dict" in said:
            said += " it holds another network than these flags build: give the network's flags (such as " \
                    "--base-channels and --channel-mult) as the run began"
        raise ValueError(f"--resume: {ckpt} cannot be read ({type(e).__name__}: {said}). The EMA weights of its "
                         f"last save, if any, are in {ckpt.parent / hub.WEIGHTS_NAME}; to train on, start a new run "
                         "into another --out") from None
    weights_ok = all_finite(model, ema.model)
    if not (weights_ok and finite(v for state in opt.state.values() for v in state.values() if torch.is_tensor(v))):
        # saved by a run that diverged before training checked (no --lr can go on from nan weights)
        what = "weights" if not weights_ok else "AdamW moments"
        raise ValueError(f"--resume: the checkpoint of step {progress['step']} in {ckpt} holds {what} that are not "
                         "finite (nan or inf): the run had diverged before it was saved, so no --lr goes on from it; "
                         "train afresh into another --out, or resume an earlier copy of the folder")
    return progress


class Diverged(ValueError):
    """The weights stopped being finite (nan or inf): the run stops and saves none of them (its folder keeps its last
    checkpoint, if any); train.py says so, writes no card and pushes nothing. .saved: the step of that checkpoint
    (None without one), .began: the step this sitting began at (0, or a resume's)."""

    def __init__(self, message: str, saved: int | None, began: int):
        super().__init__(message)
        self.saved, self.began = saved, began


def all_finite(*models: torch.nn.Module) -> bool:
    """Every float weight and buffer is a number (one pass over the tensors, one read of the device)."""
    return finite(v for m in models for v in m.state_dict().values())


def finite(tensors) -> bool:
    """Every float tensor of `tensors` holds only numbers, no nan or inf (one read of each device; True for none)."""
    checks = [v.isfinite().all() for v in tensors if v.is_floating_point()]
    # AdamW keeps its step counts on the CPU beside moments on a GPU: each device's checks are read together (a copy
    # from one device to the other would wait for the GPU once per tensor)
    return all(bool(torch.stack([c for c in checks if c.device == on]).all()) for on in {c.device for c in checks})


def refuse_diverged(models, loss_log, step: int, epoch: int, lr: float, cfg: TrainConfig, saved: int | None,
                    began: int) -> None:
    """Diverged if any of `models` (the trained network and its EMA) holds a nan or inf, with the loss row of the
    steps since the last one written to loss.csv. The weights are judged, not the loss: with float16 on a GPU the
    grad scaler skips a step whose loss overflows and leaves them whole. saved: the step of the folder's last
    checkpoint of this run (None if none)."""
    if all_finite(*models):
        return
    loss = f"mean loss {loss_log.write(step, epoch, lr)[0]:.3g} since the last row, " if loss_log.pending() else ""
    kept = (f"{cfg.out} keeps the checkpoint of step {saved}: with an --lr below {cfg.lr:g}, say "
            f"`{resume_command(cfg.out, '--lr', f'{cfg.lr / 10:g}')}`, it goes on from there" if saved is not None else
            f"no checkpoint of it was written: train into {cfg.out} again with an --lr below {cfg.lr:g}")
    raise Diverged(f"training diverged by step {step} ({loss}lr {lr:.3g} at that step): the weights are no longer "
                   f"finite, so they were not saved; {kept}", saved, began)


class Stopped(KeyboardInterrupt):
    """A run stopped by Ctrl-C or `kill` before its end, once its checkpoint and EMA weights are written
    (.out: the folder); `--resume` continues it."""

    def __init__(self, out: Path):
        super().__init__(f"stopped before its end; the checkpoint and EMA weights are in {out}")
        self.out = out


class StopNow(KeyboardInterrupt):
    """A second Ctrl-C or kill while the first waits for the step's end: the run stops at once."""


class Abandoned(KeyboardInterrupt):
    """A run stopped at once, in the middle of a step, by a second Ctrl-C or kill: nothing is saved, since a
    checkpoint of half a step (AdamW a step ahead, the EMA not yet updated) would not resume as the run would have
    gone on. .saved: the step of the folder's last checkpoint of this run (None without one), .began: the step this
    sitting began at (0, or a resume's). unwritten: the loss rows loss.csv refused (open in another program), lost."""

    def __init__(self, out: Path, step: int, saved: int | None, began: int, unwritten: list[str] = ()):
        kept = (f"the checkpoint of step {saved} in {out} is whole: continue it with {resume_command(out)}"
                if saved is not None else f"no checkpoint of it was written: train into {out} again")
        rows = ""
        if unwritten:  # said, not dropped unseen: they are in no file
            first, last = (row.split(",", 1)[0] for row in (unwritten[0], unwritten[-1]))
            which = f"1 loss row (step {last}) was" if len(unwritten) == 1 else \
                f"{len(unwritten)} loss rows (steps {first} to {last}) were"
            rows = f"; {which} not saved: {out / hub.LOSS_NAME} could not be written"
        super().__init__(f"stopped at once by a second Ctrl-C or kill, in the middle of step {step + 1}: nothing "
                         f"was saved, so that no checkpoint holds half a step; {kept}{rows}")
        self.out, self.saved, self.began = out, saved, began


def check_same_run(cfg: TrainConfig, folder: Path) -> None:
    """--resume: ValueError if the checkpoint's run built another network or trained on other data: its
    train_config.json, and the config.json saved with its weights (the network's own, so a hand-edited or
    missing train_config.json cannot start a network the checkpoint does not fit)."""
    saved_at = folder / RUN_CONFIG_NAME
    try:
        saved = TrainConfig.read_saved(folder)
    except ValueError as e:  # JSONDecodeError too
        raise ValueError(f"--resume: {saved_at} is not a readable run config ({e})") from None
    runs = [(saved_at, ModelConfig.from_dict(saved["model"]))] if saved else []
    try:
        runs.append((folder / hub.CONFIG_NAME, ModelConfig.load(folder / hub.CONFIG_NAME)))
    except (OSError, ValueError, TypeError):
        pass  # none, or unreadable: the checkpoint's own load says whether it fits
    for path, model in runs:
        diff = [f"{f.name} {getattr(model, f.name)!r} there, {getattr(cfg.model, f.name)!r} here"
                for f in dataclasses.fields(model) if getattr(model, f.name) != getattr(cfg.model, f.name)]
        if diff:
            raise ValueError(f"--resume: the model config differs from the one in {path}: {', '.join(diff)}; drop "
                             "the network's flags given here (--resume takes the run's own), or train into another "
                             "--out")
    if saved.get("batch_size", cfg.batch_size) != cfg.batch_size:  # the step count places the run in its data
        raise ValueError(f"--resume: the run trained with batch size {saved['batch_size']} ({saved_at}), not "
                         f"{cfg.batch_size}: its steps count batches of that size, which place it in the data, its "
                         "epochs and its lr schedule; drop --batch-size, or train into another --out")
    if saved.get("seed", cfg.seed) != cfg.seed:  # the seed orders each epoch: a new one part-way repeats and skips
        raise ValueError(f"--resume: the run trained with --seed {saved['seed']} ({saved_at}), not {cfg.seed}: the "
                         "seed orders every epoch's images, so a new one part-way through an epoch would draw some "
                         "of them twice and skip others; drop --seed, or train into another --out")
    if saved.get("dataset", cfg.dataset) != cfg.dataset:
        raise ValueError(f"--resume: the run trained on {saved['dataset']} ({saved_at}), not {cfg.dataset}: drop "
                         "--dataset, or train into another --out")


def check_limits_left(cfg: TrainConfig, progress: dict, steps_per_epoch: int, max_steps: int | None) -> None:
    """ValueError if a resumed run's limits are already behind it. They count the whole run, earlier
    sittings included, so the same command resumes a killed run exactly. A run that ended at its --epochs
    or --max-steps stays done; one stopped by --max-minutes is told what to give for more time."""
    step, minutes = progress["step"], progress["train_seconds"] / 60
    where = f"the checkpoint is at step {step} (epoch {step / steps_per_epoch:.2f}, {minutes:.1f} min of training)"
    if step >= cfg.epochs * steps_per_epoch:  # equal: the same command again, after it finished
        raise ValueError(f"--resume: {where}, at or past the end of --epochs {cfg.epochs}, which counts the "
                         f"whole run; give --epochs {step // steps_per_epoch + 1} or more to train on")
    if max_steps is not None and step >= max_steps:
        raise ValueError(f"--resume: {where}, at or past --max-steps {max_steps}, which counts the whole run")
    if cfg.max_minutes and minutes >= cfg.max_minutes:
        more = minutes + cfg.max_minutes
        raise ValueError(f"--resume: {where}, past --max-minutes {cfg.max_minutes:g}, which counts every "
                         f"sitting; for {cfg.max_minutes:g} more minutes give --max-minutes {more:.1f}")


def stop_signals(sig=signal) -> tuple:
    """The signals that stop a run cleanly: SIGINT (Ctrl-C), SIGTERM (`kill`), SIGHUP where there is one (the
    terminal closed, an SSH session dropped: its default ended the run unsaved) and, on Windows, SIGBREAK
    (Ctrl-Break)."""
    return (sig.SIGINT, sig.SIGTERM) + tuple(getattr(sig, name) for name in ("SIGHUP", "SIGBREAK")
                                             if hasattr(sig, name))


class Interrupts:
    """Ctrl-C (SIGINT), `kill` (SIGTERM), a closed terminal (SIGHUP) and on Windows Ctrl-Break stop training;
    checkpoint and EMA weights are written first (install_handler: a signal ignored, under `&` or nohup, stays so).

    One that comes during a training step takes effect at the step's end, so the checkpoint never holds half
    a step (the generator already past the step's draws, an optimizer update half applied) and a resume
    matches an unbroken run exactly. One during the epoch's sample grid (16 digits, 50 DDIM steps or T if fewer:
    about a second on a CPU) lets the grid be written first. A second one (for a step or a grid that seems to hang)
    stops at once, as StopNow: during a step, training then saves nothing (Abandoned); during a grid, the weights
    are whole and saved."""

    SIGNALS = stop_signals()

    def __init__(self):
        self.defer, self.pending = False, False

    def __call__(self, signum, frame):
        if self.defer and not self.pending:
            self.pending = True
            return
        if self.pending and signum == getattr(signal, "SIGHUP", None):  # a closed terminal sends two (the shell's
            return  # and the kernel's, a fraction of a millisecond apart): not a second press, which saves nothing
        raise StopNow if self.pending else KeyboardInterrupt

    def end_of_step(self) -> None:
        self.defer = False
        if self.pending:
            raise KeyboardInterrupt

    def install(self) -> dict | None:
        return install_handler(self)

    @staticmethod
    def uninstall(previous: dict | None) -> None:
        for s, handler in (previous or {}).items():
            if handler is not None:  # None: set outside Python, cannot be restored
                signal.signal(s, handler)


def install_handler(handler) -> dict | None:
    """`handler` for every stop signal not ignored (`&` in a script ignores SIGINT, nohup SIGHUP: they stay so);
    the handlers it replaced, or None off the main thread, where no handler can be set."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {s: signal.signal(s, handler) for s in stop_signals() if signal.getsignal(s) is not signal.SIG_IGN}


@contextlib.contextmanager
def stops_as_ctrl_c(repeat_s: float = 1.0):
    """In the block, `kill` (SIGTERM), a closed terminal (SIGHUP) and Ctrl-Break raise KeyboardInterrupt as Ctrl-C
    does, so that what a Ctrl-C puts back (a push's card) is put back for them too: by default they end the process
    at once. One within repeat_s of the last is dropped (a closed terminal sends two SIGHUPs). Inside another such
    block (push_status's in ddpm.push's) the outer handler and its clock go on, for a second SIGHUP past the inner."""
    if any(getattr(signal.getsignal(s), "stops_as_ctrl_c", False) for s in stop_signals()):
        yield  # one of these is set already
        return
    last = [None]

    def handler(signum, frame):
        now = time.monotonic()
        if last[0] is not None and now - last[0] < repeat_s:
            return
        last[0] = now
        raise KeyboardInterrupt

    handler.stops_as_ctrl_c = True
    previous = install_handler(handler)
    try:
        yield
    finally:
        Interrupts.uninstall(previous)


class Unbroken:
    """A text stream (stdout, stderr) whose write and flush never raise: a closed terminal, a dropped SSH session or
    a `| tee` ended by the same Ctrl-C as the run raise OSError (EPIPE, EIO) at the next line written, and that line
    (a progress bar's last refresh, say) came before the run's final save, which was lost. Once one fails, the
    lines are dropped; to_null points the stream's file at os.devnull too, so Python's flush at exit finds it whole
    (a command's own stdout and stderr; not done to a caller's). A full disk under `> train.log` (ENOSPC, EDQUOT,
    EFBIG) is no gone terminal: its lines are dropped too, as the log is secondary to the run, but said once on the
    other stream (say_full)."""

    def __init__(self, stream, to_null: bool = False):
        self.stream, self.to_null, self.gone = stream, to_null, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except OSError as e:
                self._lost(e)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError as e:
                self._lost(e)

    def _lost(self, e: OSError) -> None:
        self.gone = True
        if e.errno in FULL:
            say_full(self, e)
        if self.to_null:
            with contextlib.suppress(OSError, ValueError, AttributeError):  # no file behind it (a test's capture)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.stream.fileno())
                os.close(null)

    def __getattr__(self, name):  # encoding, isatty, fileno: the stream's own
        return getattr(self.stream, name)

    def __eq__(self, other):  # the stream it wraps: tqdm flushes stdout and stderr before its bar only if its file
        # is one of them (else a log's lines came after the whole bar); NotImplemented lets tqdm's own wrapper answer
        return _unwrapped(self) is _unwrapped(other) or NotImplemented

    __hash__ = object.__hash__


def say_full(stream, e: OSError) -> None:
    """Say once, on the other standard stream (stdout for stderr), that `stream` found the disk full: training goes
    on (the log is secondary), but not silently, as for a closed terminal. Nothing is said where that fails too."""
    is_err = _unwrapped(stream) is _unwrapped(sys.stderr)
    what = "stderr" if is_err else "stdout" if _unwrapped(stream) is _unwrapped(sys.stdout) else "the run's log"
    with contextlib.suppress(OSError, ValueError, AttributeError):  # also full, closed, or None (pythonw)
        print(f"\nnote: {what} could not be written ({e.strerror or e}): training goes on without its further "
              "lines there; if the run's folder is out of room too, its next save stops it and says what is kept",
              file=sys.stdout if is_err else sys.stderr, flush=True)


def guarded(stream, to_null: bool = False):
    """`stream` as Unbroken, once (train() guards train.py's guarded stderr again); None (pythonw's) stays None."""
    return stream if stream is None or isinstance(stream, Unbroken) else Unbroken(stream, to_null)


def _unwrapped(stream):
    while isinstance(stream, Unbroken):
        stream = stream.stream
    return stream


@contextlib.contextmanager
def unbroken_output():
    """sys.stdout and sys.stderr as Unbroken for the block (train.py's run: a gone terminal loses lines, not the run's
    save, card or exit status)."""
    kept = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (guarded(s, to_null=True) for s in kept)
    try:
        yield
    finally:
        for wrapped in (sys.stdout, sys.stderr):  # a pipe's buffered lines, through the wrapper: a reader gone showed
            if wrapped is not None:  # at Python's own flush at exit, after this, as "Exception ignored" and exit 120
                wrapped.flush()
        sys.stdout, sys.stderr = kept


def unbroken_log(log):
    """`log` (print, by default) with an OSError from it dropped: a line lost to a gone terminal, not the run
    (one already so is given back as it is)."""
    if getattr(log, "unbroken", False):
        return log
    full = []

    def said(*args, **kwargs):
        try:
            log(*args, **kwargs)
        except OSError as e:  # a gone terminal; a full disk is said once
            if e.errno in FULL and not full:
                full.append(e)
                say_full(None, e)
    said.unbroken = True
    return said
