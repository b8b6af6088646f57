"""ddpm.run_control on its own: the size limit at its edge, how a checkpoint that is not finite is named, and how
Ctrl-C is taken between steps and off the main thread (the runs themselves: test_resume.py, test_training.py)."""
import os
import re
import shlex
import signal
import time

import pytest
import torch

from ddpm.config import ModelConfig
from ddpm.run_control import MAX_WEIGHTS, Interrupts, check_size, stops_as_ctrl_c

from conftest import tiny_model
from train_helpers import train_cfg


def test_the_size_limit_is_the_billion_weights_it_names(monkeypatch):
    """A network of MAX_WEIGHTS trains; one weight more is refused (the count itself, on the meta device, is
    train.py's test: a mistyped --base-channels 100000)."""
    from ddpm import run_control

    for n, refused in ((MAX_WEIGHTS, False), (MAX_WEIGHTS + 1, True)):
        monkeypatch.setattr(run_control, "count_parameters", lambda model: n)
        monkeypatch.setattr(run_control, "UNet", lambda cfg: None)  # not built: only its count matters here
        if refused:
            with pytest.raises(ValueError, match=f"makes a network of {n:,} weights, past the {MAX_WEIGHTS:,} this"):
                check_size(ModelConfig())
        else:
            check_size(ModelConfig())


def test_a_checkpoint_that_is_not_finite_names_what_is_not(tmp_path, monkeypatch):
    """The weights, or AdamW's moments alone: the message says which (a learner looks in the wrong place otherwise)."""
    from types import SimpleNamespace

    from ddpm import run_control

    monkeypatch.setattr(run_control, "load_checkpoint", lambda *a: {"step": 4})  # what it put back, as read
    for poison, what in (("weights", "weights"), ("moments", "AdamW moments")):
        model = tiny_model()
        moments = {p: {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)} for p in model.parameters()}
        with torch.no_grad():
            for t in (model.parameters() if poison == "weights" else [m["exp_avg"] for m in moments.values()]):
                t.fill_(float("nan"))
        with pytest.raises(ValueError, match=f"checkpoint of step 4 in .* holds {what} that are not finite"):
            run_control.restore(train_cfg(tmp_path), tmp_path / "checkpoint.safetensors", model,
                                SimpleNamespace(model=tiny_model()), SimpleNamespace(state=moments), torch.Generator())


def test_a_ctrl_c_between_steps_stops_at_once():
    """A step's end lifts the deferral: a Ctrl-C while the checkpoint or the last grid is written is not held for
    a step that never comes."""
    stop = Interrupts()
    stop.defer = True
    stop.end_of_step()  # no Ctrl-C came during the step
    with pytest.raises(KeyboardInterrupt):
        stop(signal.SIGINT, None)


def test_ctrl_break_stops_a_run_cleanly_on_windows_as_ctrl_c_does():
    """Windows has SIGBREAK (Ctrl-Break): it ended a run at once, without its stop's card; it is one of the stopping
    signals where it exists."""
    from types import SimpleNamespace

    from ddpm.run_control import stop_signals

    assert stop_signals(SimpleNamespace(SIGINT=2, SIGTERM=15, SIGBREAK=21)) == (2, 15, 21)
    assert stop_signals(SimpleNamespace(SIGINT=2, SIGTERM=15, SIGHUP=1)) == (2, 15, 1)  # Linux, macOS
    assert Interrupts.SIGNALS == stop_signals(signal)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="Windows has no SIGHUP")
def test_a_closed_terminal_stops_a_run_with_its_checkpoint_saved(tmp_path, monkeypatch):
    """SIGHUP (the terminal closed, an SSH session dropped) ended a run at once, by its default, with nothing saved
    since the last checkpoint: it stops it as `kill` does, at the step's end, all saved. A closed terminal sends two
    (the shell's and the kernel's, a fraction of a millisecond apart): not a second Ctrl-C, which saves nothing."""
    from ddpm import training
    from ddpm.safeio import read_meta
    from train_helpers import train_on_sample

    def default(*_):  # SIG_DFL's end of the process, as an error (the test runner lives on)
        raise RuntimeError("SIGHUP ended the run unsaved")
    before = signal.signal(signal.SIGHUP, default)  # not ignored, as in a terminal (nohup ignores it: kept so)
    try:
        loss = training.diffusion_loss
        calls = []

        def hung_up_at_3(*a, **k):
            calls.append(1)
            if len(calls) == 3:
                signal.raise_signal(signal.SIGHUP)
                signal.raise_signal(signal.SIGHUP)
            return loss(*a, **k)
        monkeypatch.setattr(training, "diffusion_loss", hung_up_at_3)
        with pytest.raises(training.Stopped):
            train_on_sample(train_cfg(tmp_path / "run"), max_steps=9)
        assert read_meta(tmp_path / "run" / "checkpoint.safetensors")["progress"]["step"] == 3
        assert (tmp_path / "run" / "model.safetensors").is_file()
    finally:
        signal.signal(signal.SIGHUP, before)


def test_training_off_the_main_thread_sets_no_handlers():
    """train() from a thread (a notebook's, a server's): signal handlers can only be set on the main thread, so none
    are, rather than a ValueError before the first step."""
    import threading

    before, got = signal.getsignal(signal.SIGTERM), []
    worker = threading.Thread(target=lambda: got.append(Interrupts().install()))
    worker.start()
    worker.join()
    assert got == [None] and signal.getsignal(signal.SIGTERM) is before


def test_resume_checks_the_network_against_train_config_json_too(tmp_path):
    """A run killed between its first checkpoint and its config.json (written after it) leaves train_config.json alone
    to name its network: another one is refused there, in a line, before the data loads."""
    import dataclasses
    import json

    from ddpm.run_control import check_same_run

    cfg = train_cfg(tmp_path)
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    check_same_run(cfg, tmp_path)  # its own network
    wider = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, base_channels=16))
    with pytest.raises(ValueError, match=r"differs from the one in .*train_config.json: base_channels 8 there, 16 "):
        check_same_run(wider, tmp_path)


def test_a_second_ctrl_c_mid_step_stops_at_once_and_saves_no_half_step(tmp_path, monkeypatch, request):
    """A second Ctrl-C lands in the step the first waits for: the run stopped there and then saved a checkpoint of
    half a step (AdamW a step ahead of its recorded step, the EMA not updated), which the docstring says never
    happens. It stops at once, saving nothing: the last checkpoint stays whole and --resume goes on as an unbroken
    run."""
    from ddpm import training
    from ddpm.run_control import Abandoned
    from ddpm.safeio import load_tensors
    from train_helpers import train_on_sample

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored, as a pytest run with `&` has it
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))
    full = train_on_sample(train_cfg(tmp_path / "full"), max_steps=7)
    calls, update = [], training.EMA.update

    def twice_at_5(self, *a, **k):  # between AdamW's update and the EMA's, in the fifth step
        calls.append(1)
        if len(calls) == 5:
            signal.raise_signal(signal.SIGINT)  # deferred to the step's end
            signal.raise_signal(signal.SIGINT)  # an impatient second: stops here
        return update(self, *a, **k)
    monkeypatch.setattr(training.EMA, "update", twice_at_5)
    part = train_cfg(tmp_path / "part")
    resume = re.escape(f"continue it with python train.py --resume --out {shlex.quote(part.out)}")
    with pytest.raises(Abandoned, match="in the middle of step 5: nothing was saved.* checkpoint of step 3 in .* is "
                                        f"whole: {resume}$"):  # the whole command, as other stops give it
        train_on_sample(part, max_steps=7, checkpoint_every=3)
    monkeypatch.setattr(training.EMA, "update", update)
    tensors, meta = load_tensors(tmp_path / "part" / "checkpoint.safetensors")
    assert meta["progress"]["step"] == 3 and not (tmp_path / "part" / "model.safetensors").exists()
    assert {v.item() for k, v in tensors.items() if k.endswith(".step")} == {3.0}  # AdamW's own count agrees
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, _ = load_tensors(train_on_sample(part, max_steps=7, resume=True) / "checkpoint.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_ctrl_c_says_how_many_loss_rows_a_locked_loss_csv_lost(tmp_path, monkeypatch, request):
    """Rows loss.csv refused (open in another program) wait for the stop to write them elsewhere; a second Ctrl-C
    mid-step writes nothing, and dropped them unsaid."""
    from ddpm import training
    from ddpm.run_control import Abandoned
    from ddpm.run_record import LossLog
    from train_helpers import train_on_sample

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))
    monkeypatch.setattr(LossLog, "EVERY", 2)  # rows at steps 2 and 4, before the stop in step 5
    cfg, calls, update = train_cfg(tmp_path / "run"), [], training.EMA.update

    def locked_then_twice_at_5(self, *a, **k):
        calls.append(1)
        if len(calls) == 1:  # loss.csv can no longer be opened to append to
            (tmp_path / "run" / "loss.csv").unlink()
            (tmp_path / "run" / "loss.csv").mkdir()
        if len(calls) == 5:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return update(self, *a, **k)
    monkeypatch.setattr(training.EMA, "update", locked_then_twice_at_5)
    with pytest.raises(Abandoned, match=r"--resume --out .*; 2 loss rows \(steps 2 to 4\) were not saved: "
                                        r".*loss\.csv could not be written$"):
        train_on_sample(cfg, max_steps=7, checkpoint_every=3)


def test_a_full_disk_at_a_checkpoint_says_the_last_one_is_whole(tmp_path, monkeypatch):
    """A disk that fills at a periodic checkpoint read as a bare '[Errno 28] No space left on device: .../checkpoint
    .safetensors', which a learner may take for a lost run: it names the step of the checkpoint kept whole, the room
    a save needs (two checkpoints), and --resume."""
    import errno

    from ddpm import training
    from ddpm.safeio import read_meta
    from train_helpers import train_on_sample

    save, calls = training.save_checkpoint, []

    def full_at_the_second(path, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return save(path, *a, **k)
    monkeypatch.setattr(training, "save_checkpoint", full_at_the_second)
    out = tmp_path / "run"
    resume = re.escape(f"`python train.py --resume --out {shlex.quote(str(out))}`")
    kept = rf"the checkpoint of step 2 in {re.escape(str(out))} is whole, and {resume} continues from it once there is "
    with pytest.raises(OSError, match=r"^could not write the checkpoint of step 4 \(No space left on device\); "
                                      rf"{kept}room \(.* room for two of [0-9.]+ MB\)$"):
        train_on_sample(train_cfg(out), max_steps=6, checkpoint_every=2)
    assert read_meta(out / "checkpoint.safetensors")["progress"]["step"] == 2
    calls[:] = [1]  # the first one fails: there is none to keep
    with pytest.raises(OSError, match=r"step 2 \(No space left on device\); no checkpoint of it was written: train "):
        train_on_sample(train_cfg(tmp_path / "fresh"), max_steps=6, checkpoint_every=2)


def test_a_guarded_stream_or_log_is_not_guarded_again(monkeypatch):
    """Under train.py, stderr is guarded, and train() guarded its bar's stream again (for callers from Python): each
    line went through two guards. One already guarded is used as it is."""
    import sys

    from ddpm import training
    from ddpm.run_control import Unbroken, unbroken_log, unbroken_output

    monkeypatch.setattr("tqdm.auto.tqdm", lambda **kwargs: kwargs)  # the bar's arguments
    with unbroken_output():
        out, err = sys.stdout, sys.stderr
        assert isinstance(err, Unbroken) and not isinstance(err.stream, Unbroken)
        with unbroken_output():
            assert sys.stdout is out and sys.stderr is err
        assert training._progress_bar(3, 0)["file"] is err
    log = unbroken_log(print)
    assert unbroken_log(log) is log


def test_a_full_disk_under_the_log_is_said_once_and_training_goes_on(tmp_path, monkeypatch, capsys):
    """`python train.py > train.log` on a full disk (ENOSPC, EDQUOT, EFBIG) was taken for a closed terminal: the log
    stopped, unsaid. The run goes on (the log is secondary), and the other stream says so, once; a gone stream
    (EPIPE, EIO) is still dropped unsaid."""
    import errno
    import io
    import os
    import sys

    import train
    from ddpm import facts, training
    from ddpm.data import load_sample
    from ddpm.run_control import Unbroken, unbroken_log

    class Failing(io.StringIO):
        def __init__(self, code):
            super().__init__()
            self.code = code

        def write(self, text):
            raise OSError(self.code, os.strerror(self.code))

    for code in (errno.EPIPE, errno.EIO, errno.EBADF):
        Unbroken(Failing(code)).write("a line\n")
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sys, "stdout", Failing(errno.ENOSPC))
    out = tmp_path / "run"
    assert train.main(["--batch-size", "8", "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14",
                       "--timesteps", "20", "--device", "cpu", "--out", str(out), "--max-steps", "2",
                       "--no-sample-grid"]) == 0
    assert facts.read_weights_meta(out)["steps"] == 2
    err = capsys.readouterr().err
    assert err.count("note: stdout could not be written (No space left on device): training goes on without its "
                     "further lines there; if the run's folder is out of room too, its next save stops it") == 1, err
    log = unbroken_log(Failing(errno.EDQUOT).write)  # train() called from Python, with its own log
    log("a line")
    log("another")
    assert capsys.readouterr().err.count("note: the run's log could not be written (Disk quota exceeded)") == 1


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX's")
def test_a_block_that_stops_as_ctrl_c_inside_another_shares_its_handler_and_its_clock():
    """ddpm.push's card block holds push_status's upload block: a closed terminal's two SIGHUPs, the second after
    the inner block said the first, raised the second as a KeyboardInterrupt while the card was put back."""
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal (the runner may be under nohup)
    try:
        _two_hangups()
    finally:
        signal.signal(signal.SIGHUP, before)


def _two_hangups():
    with stops_as_ctrl_c():
        outer = signal.getsignal(signal.SIGHUP)
        with pytest.raises(KeyboardInterrupt):
            with stops_as_ctrl_c():
                assert signal.getsignal(signal.SIGHUP) is outer
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(1)
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal's second, within a second of the first: dropped
        time.sleep(0.1)
    assert signal.getsignal(signal.SIGHUP) is not outer
