"""What a run records beside its weights: the loss log (loss.csv) and the training time per machine."""
from pathlib import Path

import pytest

from conftest import tiny_model
from ddpm.facts import read_weights_meta

from train_helpers import train_cfg, train_on_sample


def test_training_time_is_kept_per_machine(tmp_path):
    from ddpm.card import time_and_hardware
    from ddpm.run_record import earlier_hardware, run_progress

    out = train_on_sample(train_cfg(tmp_path), max_steps=4)
    facts = read_weights_meta(out)
    (cpu,) = facts["minutes_by_device"]
    assert cpu.startswith("CPU (") and facts["device"] == cpu
    # a CPU run resumed on a GPU: both machines keep their own time, the total is their sum
    p = run_progress(9, 700.0, earlier_hardware(out, 600.0), "NVIDIA H100", 100.0)
    assert p["seconds_by_device"] == {cpu: 600.0, "NVIDIA H100": 100.0}
    assert sum(p["seconds_by_device"].values()) == p["train_seconds"]
    both = {"train_minutes": 11.7, "minutes_by_device": {cpu: 10.0, "NVIDIA H100": 1.7}}
    assert time_and_hardware(both) == f"10 min on {cpu} + 1.7 min on NVIDIA H100"


def test_a_resumed_run_on_the_same_machine_adds_its_time_to_that_machines():
    """A run resumed on the machine of its earlier sittings: that machine's seconds are their sum, not the last
    sitting's alone (the card would report a fraction of the training time)."""
    from ddpm.run_record import run_progress

    p = run_progress(9, 700.0, {"CPU": 600.0}, "CPU", 100.0)
    assert p["seconds_by_device"] == {"CPU": 700.0}
    p = run_progress(12, 750.0, {"CPU": 600.0, "NVIDIA H100": 100.0}, "NVIDIA H100", 50.0)
    assert p["seconds_by_device"] == {"CPU": 600.0, "NVIDIA H100": 150.0}


def test_a_fresh_run_starts_a_new_loss_log(tmp_path):
    """A fresh run (no --resume) into a folder that holds an old loss.csv, but no weights: the log starts anew
    with the header, not after the old run's rows (whose steps would repeat the new run's)."""
    old_rows = "0,0,1.0,1.0,0.0\n1,0,0.9,1.0,0.001\n50,5,0.5,1.0,0.002\n"  # none kept, a hand-written step 0 neither
    (tmp_path / "loss.csv").write_text("step,epoch,loss,images_per_s,lr\n" + old_rows)
    out = train_on_sample(train_cfg(tmp_path), max_steps=3)
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,loss,images_per_s,lr" and [r.split(",")[0] for r in rows[1:]] == ["3"]


def test_a_stop_between_two_loss_rows_still_logs_its_steps(tmp_path):
    """loss.csv has a row every 50 steps; a run stopped at step 1 by its time limit logs that step too, and a
    resume continues the log from there."""
    out = train_on_sample(train_cfg(tmp_path, max_minutes=1e-9))
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,loss,images_per_s,lr" and [r.split(",")[0] for r in rows[1:]] == ["1"]
    train_on_sample(train_cfg(tmp_path, max_minutes=None), resume=True, max_steps=3)
    assert [r.split(",")[0] for r in (out / "loss.csv").read_text().splitlines()[1:]] == ["1", "3"]


def test_a_kill_while_resume_trims_loss_csv_leaves_it_whole(tmp_path, monkeypatch):
    """A resumed run rewrites loss.csv without the rows past its checkpoint: it did so in place, so a kill inside
    the write left the run's whole loss history empty. Killed just before the new file takes the old one's place,
    the old file is still whole."""
    import os

    import pytest

    from ddpm.run_record import LossLog

    path = tmp_path / "loss.csv"
    before = LossLog.HEADER + "50,0,0.1,9.0,0.001\n100,0,0.09,9.0,0.001\n"
    path.write_text(before)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        LossLog(path, fresh=False, resumed_at=50)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["loss.csv"]
    monkeypatch.undo()
    LossLog(path, fresh=False, resumed_at=50)
    assert path.read_text() == LossLog.HEADER + "50,0,0.1,9.0,0.001\n"


def test_the_weights_record_the_facts_the_card_reports(tmp_path):
    """training_facts: each fact as the run had it, the null class's only for a conditional model, a teacher's only
    with a teacher, and the epochs a fraction (step 20 at 9 steps an epoch is epoch 2.22, not 2)."""
    import torch

    from conftest import tiny_config
    from ddpm.run_record import training_facts

    cfg = train_cfg(tmp_path, lr=3e-3, lr_decay_steps=12, ema_decay=0.99, label_dropout=0.3, balance_classes=True,
                    seed=7, null_teacher="runs/t", null_teacher_label="null", null_teacher_autoguidance=2.0)
    progress = {"step": 20, "train_seconds": 660.0, "seconds_by_device": {"CPU": 600.0, "GPU": 60.0}}
    assert training_facts(cfg, progress, 9, "GPU", 300) == {
        "dataset": "mnist", "images": 300, "steps": 20, "epochs": 2.22, "batch_size": 32, "lr": 3e-3,
        "lr_decay_steps": 12, "ema_decay": 0.99, "label_dropout": 0.3, "null_teacher": "runs/t",
        "null_teacher_label": "null", "null_teacher_autoguidance": 2.0, "balance_classes": True,
        "train_minutes": 11.0, "device": "GPU", "minutes_by_device": {"CPU": 10.0, "GPU": 1.0},
        "torch": torch.__version__, "seed": 7}
    unconditional = train_cfg(tmp_path, model=tiny_config(timesteps=100, num_classes=0))
    plain = training_facts(unconditional, progress, 9, "GPU", 300)
    assert not {"label_dropout", "null_teacher", "balance_classes"} & set(plain)


def test_a_loss_row_is_the_mean_loss_and_the_images_per_second_since_the_last_row(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import torch

    from ddpm import run_record
    from ddpm.run_record import LossLog

    clock = iter([100.0, 102.0, 106.0])
    monkeypatch.setattr(run_record, "time", SimpleNamespace(time=lambda: next(clock)))  # its clock alone
    log = LossLog(tmp_path / "loss.csv", fresh=True)  # its clock starts at 100 s
    log.add(torch.tensor(1.0), 8)
    log.add(torch.tensor(3.0), 8)
    assert log.write(2, 0, 1e-3) == (2.0, 8.0)  # 16 images in 2 s
    log.add(torch.tensor(0.5), 8)
    assert log.write(3, 0, 1e-3) == (0.5, 2.0) and not log.pending()  # 8 images in the 4 s since the last row
    assert (tmp_path / "loss.csv").read_text() == LossLog.HEADER + "2,0,2.00000,8.0,0.001\n3,0,0.50000,2.0,0.001\n"


def test_a_resume_whose_loss_csv_is_gone_starts_it_anew(tmp_path):
    """--resume of a folder whose loss.csv was deleted (or never copied): a new log, not a FileNotFoundError."""
    from ddpm.run_record import LossLog

    LossLog(tmp_path / "loss.csv", fresh=False, resumed_at=50)
    assert (tmp_path / "loss.csv").read_text() == LossLog.HEADER


def test_the_scores_a_run_replaces_are_kept_aside_and_said(tmp_path):
    """eval.json and samples.png of the weights a run replaces: renamed *.previous.*, and each move said (a learner
    who finds their scores gone looks in the log)."""
    from ddpm.run_record import set_aside_scores

    (tmp_path / "eval.json").write_text("{}")
    (tmp_path / "samples.png").write_bytes(b"png")
    said = []
    set_aside_scores(tmp_path, said.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.previous.json", "samples.previous.png"]
    assert said == [f"eval.json described the weights this run replaces: kept as {tmp_path / 'eval.previous.json'}",
                    f"samples.png described the weights this run replaces: kept as {tmp_path / 'samples.previous.png'}"]


def test_a_loss_csv_held_open_elsewhere_stops_no_run_and_loses_no_row(tmp_path, monkeypatch, capsys):
    """Excel holds an open CSV locked on Windows: the append failed and ended the run, losing every step since the
    last checkpoint. Now its rows wait, said once, and go in when the file can be written; rows it refused to the
    end are kept beside it."""
    from pathlib import Path

    import torch

    from ddpm.run_record import LossLog

    real_open, locked = Path.open, [True]

    def open_(self, mode="r", *args, **kw):
        if self.name == "loss.csv" and mode == "a" and locked[0]:
            raise PermissionError(13, "Permission denied")
        return real_open(self, mode, *args, **kw)

    monkeypatch.setattr(Path, "open", open_)
    log = LossLog(tmp_path / "loss.csv", fresh=True)
    for step in (50, 100):
        log.add(torch.tensor(0.5), 8)
        log.write(step, 0, 1e-3)
    assert capsys.readouterr().err.count("cannot be written now (Permission denied; open in another program?)") == 1
    locked[0] = False
    log.add(torch.tensor(0.25), 8)
    log.write(150, 0, 1e-3)
    assert [r.split(",")[0] for r in (tmp_path / "loss.csv").read_text().splitlines()] == ["step", "50", "100", "150"]
    assert log.keep_unwritten() is None
    locked[0] = True
    for step in (200, 250):  # two rows wait: the words name the first
        log.add(torch.tensor(0.125), 8)
        log.write(step, 1, 1e-3)
    beside = tmp_path / "loss.unwritten.csv"
    beside.write_text(LossLog.HEADER + "10,0,0.9,1.0,0.001\n")  # an earlier sitting's: kept
    assert log.keep_unwritten().endswith(f"could not be written since step 200: those rows are in {beside}")
    assert [r[:6] for r in beside.read_text().splitlines()] == ["step,e", "10,0,0", "200,1,", "250,1,"]
    beside.unlink()
    beside.mkdir()  # locked too (a folder stands in): the rows are in the words, not lost
    said = log.keep_unwritten().split("\n")
    assert said[0].endswith("could not be written since step 200: its rows are") and said[1] == LossLog.HEADER.strip()
    assert said[2].startswith("200,1,0.12500,") and said[3].startswith("250,1,") and len(said) == 4


def test_a_run_whose_loss_csv_stays_locked_ends_with_its_rows_kept_beside_it(tmp_path, monkeypatch):
    from pathlib import Path

    from ddpm.training import train
    from ddpm.data import load_sample

    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, mode="r", *a, **kw: (_ for _ in ()).throw(PermissionError(
        13, "Permission denied")) if self.name == "loss.csv" and mode == "a" else real_open(self, mode, *a, **kw))
    said = []
    out = train(train_cfg(tmp_path), data=load_sample(), log=said.append, progress_bar=False, max_steps=4)
    beside = out / "loss.unwritten.csv"
    assert f"note: {out / 'loss.csv'} could not be written since step 4: those rows are in {beside}" in said
    assert beside.read_text().splitlines()[1].startswith("4,")


def test_a_loss_csv_that_cannot_be_written_at_the_start_is_said_before_any_step(tmp_path):
    import pytest

    from ddpm.run_record import LossLog

    (tmp_path / "loss.csv").mkdir()  # a folder stands in for a file Windows holds locked
    with pytest.raises(OSError, match=r"loss.csv cannot be written \(.*; open in another program\? close it, then "
                                      r"run again: nothing was trained yet\)"):
        LossLog(tmp_path / "loss.csv", fresh=True)


def test_an_older_set_aside_file_is_never_overwritten(tmp_path):
    """A second run's set-aside scores go beside the first's (NAME.previous.2.EXT): the bundled weights ship an
    eval.previous.json, which a resume of a copy used to overwrite."""
    from ddpm.run_record import set_aside_scores

    for text in ("first", "second", "third"):
        (tmp_path / "eval.json").write_text(text)
        set_aside_scores(tmp_path, lambda *_: None)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "eval.previous.json": "first", "eval.previous.2.json": "second", "eval.previous.3.json": "third"}


def test_other_weights_saved_into_a_run_folder_set_its_records_aside(tmp_path, monkeypatch):
    """A notebook's save_pretrained into a folder that a run wrote: the run's card, recipe, scores, grid, loss log,
    config and checkpoint describe weights no longer there, so they are renamed *.previous.* and said, and the
    folder then loads (its train_config.json no longer contradicts config.json); the same weights saved again move
    nothing, and a guide/ stays (its load checks it fits)."""
    import warnings

    from ddpm import hub

    folder = hub.save_pretrained(tiny_model(), tmp_path / "run", same_run=True)
    for name in hub.RECORDS:
        (folder / name).write_text(name)
    hub.save_pretrained(tiny_model(), folder / "guide")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hub.save_pretrained(tiny_model(), folder)  # the same tensors: its records still describe them
    assert all((folder / name).is_file() for name in hub.RECORDS)
    with pytest.warns(UserWarning) as said:
        hub.save_pretrained(tiny_model(seed=1, timesteps=30), folder)
    kept = [f"{Path(name).stem}.previous{Path(name).suffix}" for name in hub.RECORDS]
    assert [str(w.message) for w in said] == [f"{name} described the weights these replace in {folder}: kept as "
                                              f"{k}" for name, k in zip(hub.RECORDS, kept)]
    assert sorted(p.name for p in folder.iterdir()) == sorted(["config.json", "model.safetensors", "guide"] + kept)
    assert [(folder / k).read_text() for k in kept] == list(hub.RECORDS)
    assert hub.load_pretrained(folder).config.timesteps == 30
    # weights cut short (a full disk) may have been these: their records stay; records beside no weights go
    (folder / "eval.json").write_text("{}")
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:1000])
    hub.save_pretrained(tiny_model(), folder)
    assert (folder / "eval.json").is_file()
    def full_disk(*a):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(hub, "atomic_write_bytes", full_disk)  # the new weights not written: the records stay
    with pytest.raises(OSError):
        hub.save_pretrained(tiny_model(seed=2), folder)
    assert (folder / "eval.json").is_file()
    monkeypatch.undo()
    (bare := tmp_path / "bare").mkdir()
    (bare / "training.json").write_text("{}")
    with pytest.warns(UserWarning, match="training.json described the weights these replace"):
        hub.save_pretrained(tiny_model(), bare)
    assert sorted(p.name for p in bare.iterdir()) == ["config.json", "model.safetensors", "training.previous.json"]
