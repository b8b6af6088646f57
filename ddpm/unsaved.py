"""What a training run says when a file of it could not be written (a full disk): what failed, what is kept on disk,
and the command that carries on (training.train raises these OSErrors; train.py prints them)."""
from __future__ import annotations

import errno
import shlex
from contextlib import contextmanager
from pathlib import Path

from .train_args import shell_path, typed

# a disk or quota with no room left, or a file past `ulimit -f`: room made, the same write succeeds
FULL = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG") if hasattr(errno, name))


def resume_command(out: str | Path, *flags: str) -> str:
    """The whole command that continues the run in `out`, quoted as a shell needs: --out "my run"."""
    return f"python train.py --resume {typed('out', out)}" + "".join(f" {shlex.quote(f)}" for f in flags)


@contextmanager
def explained(failed, *args):
    """An OSError in the block raised again as failed(e, *args): what failed, what is kept, how to carry on."""
    try:
        yield
    except OSError as e:
        raise failed(e, *args) from e


def _once(e: OSError) -> str:
    return "once there is room" if e.errno in FULL else "once the folder can be written"


def _kept(out: Path, saved: int | None, e: OSError, room: str = "") -> str:
    """What the folder keeps of a run whose save failed: its last checkpoint, or none."""
    if saved is None:
        return f"no checkpoint of it was written: train into {out} again {_once(e)}{room}"
    return f"the checkpoint of step {saved} in {out} is whole, and `{resume_command(out)}` continues from it " \
           f"{_once(e)}{room}"


def checkpoint_failed(e: OSError, ckpt: Path, step: int, saved: int | None) -> OSError:
    """The OSError of a checkpoint that could not be written (a full disk), saying what is kept: it read as a bare
    '[Errno 28] No space left on device', after which a learner may think the run lost or delete the old one.
    saved: the step of the folder's last checkpoint of this run (None without one)."""
    room = ""
    if e.errno in FULL:  # a new one is written beside the old one
        size = f" of {ckpt.stat().st_size / 1e6:.1f} MB" if ckpt.is_file() else ""
        room = f" (a checkpoint is written beside the last one before it replaces it: room for two{size})"
    return OSError(f"could not write the checkpoint of step {step} ({e.strerror or e}); "
                   f"{_kept(ckpt.parent, saved, e, room)}")


def record_failed(e: OSError, out: Path, step: int, saved: int | None) -> OSError:
    """A run's record (train_config.json, training.json) that could not be written at a sitting's first save: it
    goes before the checkpoint, so that checkpoint was not written either."""
    name = Path(e.filename).name if e.filename else "the run's record"
    return OSError(f"could not write {name} ({e.strerror or e}), which is written before the checkpoint of step "
                   f"{step}, so neither was saved; {_kept(out, saved, e)}")


def weights_failed(e: OSError, out: Path, step: int, limit: tuple[str, ...] | None) -> OSError:
    """The EMA weights (config.json, model.safetensors) that could not be written after the checkpoint of `step`
    was. limit: the flags that ended the run (() at its --epochs), with which a resume writes them taking no step;
    None for a run stopped before its end, which a resume trains on."""
    name = Path(e.filename).name if e.filename else "model.safetensors"
    then = (f"`{resume_command(out, *limit)}` writes them from it, taking no step, {_once(e)}" if limit is not None
            else f"`{resume_command(out)}` continues from it {_once(e)} (its end, or a stop, writes them)")
    return OSError(f"could not write the EMA weights of step {step} ({name}: {e.strerror or e}); the checkpoint of "
                   f"step {step} in {out} is whole, and {then}")


def limit_flags(step: int, schedule_steps: int, max_steps: int | None, max_minutes: float | None,
                timed_out: bool) -> tuple[str, ...] | None:
    """The flags with which a resume finds a run that stopped at `step` at its end (None: stopped before it)."""
    if step >= schedule_steps:
        return ()
    if max_steps is not None and step >= max_steps:
        return "--max-steps", str(max_steps)
    return ("--max-minutes", f"{max_minutes:g}") if timed_out else None


def ctrl_c_outside_training(out: str | Path, ended: bool = False) -> str:
    """What a Ctrl-C that training did not catch says (while torch or the data load, or after training `ended`, as
    the card is written): the folder's checkpoint and how to go on from it, or that there is none yet."""
    if ended:  # a --resume would take no step: the card is what is left
        return f"stopped (Ctrl-C) after training ended: its weights are saved in {out}; `python -m ddpm.card " \
               f"{shell_path(out)}` writes its card"
    if (Path(out) / "checkpoint.safetensors").is_file():  # ddpm.checkpoint's CKPT_NAME (this loads no torch)
        return f"stopped (Ctrl-C): the checkpoint in {out} is kept; `{resume_command(out)}` continues it"
    return f"stopped (Ctrl-C) before training began: {out} holds no checkpoint; the same command starts the run"
