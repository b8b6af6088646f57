"""A full disk at each of a training run's writes: a line that says what failed, what is kept on disk and the whole
command that carries on, not a bare '[Errno 28] No space left on device' (the checkpoint's own: test_run_control.py)."""
import errno
import shlex
from pathlib import Path

import pytest

import train
from ddpm import facts, hub, safeio, training
from ddpm.data import load_sample
from conftest import sh

TINY = ["--batch-size", "8", "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14",
        "--timesteps", "20", "--device", "cpu", "--no-sample-grid"]


def full_at(monkeypatch) -> list:
    """The names whose atomic writes fail as on a full disk (none at first, the list returned)."""
    write, names = safeio.atomic_write_bytes, []

    def full(path, data):
        if Path(path).name in names:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(path, data)
    monkeypatch.setattr(safeio, "atomic_write_bytes", full)  # atomic_write_json's, and the checkpoint's
    monkeypatch.setattr(hub, "atomic_write_bytes", full)  # model.safetensors'
    return names


def test_a_full_disk_at_a_runs_record_or_weights_says_what_is_kept_and_the_command(tmp_path, monkeypatch, capsys):
    """training.json, train_config.json and model.safetensors ended train.py in a bare errno: each names the
    checkpoint kept (or none) and the command that carries on, which then works."""
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out, full = tmp_path / "run", full_at(monkeypatch)
    full[:] = ["training.json"]  # train.py's recipe, at the first save of a new run: nothing kept
    assert train.main([*TINY, "--out", str(out), "--max-steps", "2"]) == 2
    err = capsys.readouterr().err
    assert ("error: could not write training.json (No space left on device), which is written before the checkpoint "
            f"of step 2, so neither was saved; no checkpoint of it was written: train into {out} again once there is "
            "room") in err and "Errno" not in err
    full[:] = []
    assert train.main([*TINY, "--out", str(out), "--max-steps", "2"]) == 0
    resume = f"`python train.py --resume --out {sh(out)}` continues from it once there is room"
    full[:] = ["train_config.json"]  # a resumed sitting's first save: the last checkpoint is kept
    assert train.main([*TINY, "--out", str(out), "--resume", "--max-steps", "4"]) == 2
    err = capsys.readouterr().err
    assert (f"error: could not write train_config.json (No space left on device), which is written before the "
            f"checkpoint of step 4, so neither was saved; the checkpoint of step 2 in {out} is whole, and {resume}"
            ) in err
    assert facts.read_weights_meta(out)["steps"] == 2
    full[:] = ["model.safetensors"]  # after the checkpoint: a resume at the run's end writes them
    assert train.main([*TINY, "--out", str(out), "--resume", "--max-steps", "4"]) == 2
    err = capsys.readouterr().err
    command = f"python train.py --resume --out {sh(out)} --max-steps 4"
    assert (f"error: could not write the EMA weights of step 4 (model.safetensors: No space left on device); the "
            f"checkpoint of step 4 in {out} is whole, and `{command}` writes them from it, taking no step, once there "
            "is room") in err
    assert facts.read_weights_meta(out)["steps"] == 2
    full[:] = []  # room made: the command said does what it says
    monkeypatch.setattr(training, "train_step", lambda *a, **k: pytest.fail("took a step"))
    assert train.main([*shlex.split(command)[2:], "--no-sample-grid"]) == 0
    assert facts.read_weights_meta(out)["steps"] == 4


def test_weights_lost_to_a_stop_before_the_runs_end_are_written_by_a_plain_resume(tmp_path):
    """A run stopped before its end (a Ctrl-C) needs no limit flag: the resume trains on and writes them."""
    from ddpm.unsaved import limit_flags, weights_failed

    assert limit_flags(3, 10, None, None, timed_out=False) is None  # a Ctrl-C: the resume trains on
    assert limit_flags(10, 10, None, None, timed_out=False) == ()  # at --epochs
    assert limit_flags(5, 10, None, 2.5, timed_out=True) == ("--max-minutes", "2.5")
    said = str(weights_failed(OSError(errno.ENOSPC, "No space left on device"), tmp_path, 3, None))
    assert said.endswith(f"`python train.py --resume --out {sh(tmp_path)}` continues from it once there is room (its "
                         "end, or a stop, writes them)")


def test_the_resume_command_a_stop_prints_parses_as_shown_for_any_folder_name():
    """A folder with a space is quoted, one named -x is joined to its flag (--out -x reads as two flags)."""
    from ddpm.unsaved import resume_command

    for name in ("runs/mnist", "my run", "-x"):
        line = resume_command(name, "--max-steps", "5")
        args = train.parse_args(shlex.split(line)[2:])
        assert (args.resume, args.out, args.config.max_steps) == (True, name, 5)


def test_a_full_disk_at_an_epoch_grid_is_a_note_and_training_goes_on(tmp_path, monkeypatch):
    """The per-epoch picture is not the run: it ended training in a bare errno, losing the steps since the last
    checkpoint; now a note, and the next epoch's grid is drawn as ever."""
    from train_helpers import train_cfg
    full_at(monkeypatch).append("epoch_000.png")
    n, said = len(load_sample()[0]), []
    cfg = train_cfg(tmp_path / "run", batch_size=n, epochs=2, sample_every_epoch=True)  # 1 step per epoch
    out = training.train(cfg, data=load_sample(), log=said.append, progress_bar=False)
    grids = out / "samples"
    assert f"note: {grids / 'epoch_000.png'} could not be written (No space left on device); training goes on " \
           "without it" in said, said
    assert [p.name for p in grids.iterdir()] == ["epoch_001.png"] and facts.read_weights_meta(out)["steps"] == 2


def test_a_full_disk_at_loss_csv_asks_for_room_not_for_another_program_to_close_it(tmp_path, monkeypatch, capsys):
    from ddpm.run_record import LossLog
    import torch
    real_open = Path.open

    def open_(self, mode="r", *a, **kw):
        if self.name == "loss.csv" and mode in "aw":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, mode, *a, **kw)
    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(OSError, match=r"loss.csv cannot be written \(No space left on device; make room, then run "):
        LossLog(tmp_path / "loss.csv", fresh=True)
    monkeypatch.setattr(Path, "open", real_open)
    log = LossLog(tmp_path / "loss.csv", fresh=True)
    monkeypatch.setattr(Path, "open", open_)
    log.add(torch.tensor(0.5), 8)
    log.write(50, 0, 1e-3)
    err = capsys.readouterr().err
    assert "cannot be written now (No space left on device): training goes on, and its rows are written once there " \
           "is room" in err and "another program" not in err
