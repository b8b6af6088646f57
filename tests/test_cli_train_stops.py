"""How train.py stops: weights gone nan or inf, a hard kill, `kill` (SIGTERM) and Ctrl-C, each leaving the folder's
record whole (the checkpoint, its config and the recipe agree; nothing half-written is published)."""
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import train
from ddpm import facts, training
from ddpm.data import load_sample
from ddpm.sample import card_grid_command
from conftest import CLI_ENV, FAKE_TOKEN, MNIST, POSIX, ROOT, at_once, sh
from train_helpers import train_cfg

TINY = ["--batch-size", "8", "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14",
        "--timesteps", "20", "--device", "cpu"]


@pytest.fixture
def run_of_two_steps(tmp_path, monkeypatch):
    """train.py in-process on the bundled 300 digits: a finished sitting of 2 steps in tmp_path/run, with scores
    (eval.json) a later sitting would set aside. Returns the folder."""
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "run"
    assert train.main([*TINY, "--out", str(out), "--max-steps", "2"]) == 0
    (out / "eval.json").write_text("{}")
    return out


def test_a_sitting_killed_hard_leaves_its_recipe_line_and_config_together_or_neither(run_of_two_steps, monkeypatch):
    """Killed after its first checkpoint, a resumed sitting's recipe line and train_config.json agree (the next
    resume takes its flags, as the recipe shows), the line noted as stopped at the step of the weights (they are
    the last sitting's until this one's end saves its own), and the scores stay beside the weights they describe;
    killed before it, the folder's record is as it was."""
    out, tiny = run_of_two_steps, TINY
    monkeypatch.setattr(training, "train", functools.partial(training.train, checkpoint_every=2))
    real_step = training.train_step

    def killed_at(k):  # a kill -9 stood in for: an exception out of the k-th step of the sitting
        steps = []

        def step(*a, **kw):
            steps.append(1)
            if len(steps) == k:
                raise SystemExit("killed")
            return real_step(*a, **kw)
        return step

    record = lambda: ((out / "training.json").read_bytes(), (out / "train_config.json").read_bytes())  # noqa: E731
    before = record()
    monkeypatch.setattr(training, "train_step", killed_at(1))  # before its first checkpoint
    with pytest.raises(SystemExit):
        train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "9", "--lr", "5e-4"])
    assert record() == before
    monkeypatch.setattr(training, "train_step", killed_at(4))  # after its checkpoint at step 4
    with pytest.raises(SystemExit):
        train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "9", "--lr", "1e-3"])
    # the weights are still the first sitting's: the line says this one stopped where they are, until it saves its own
    assert json.loads((out / "training.json").read_text())["command"].endswith(
        "--resume --max-steps 9 --lr 1e-3  # stopped at step 2")
    assert json.loads((out / "train_config.json").read_text())["lr"] == 1e-3
    assert (out / "eval.json").exists() and (out / "samples.png").exists()
    monkeypatch.setattr(training, "train_step", real_step)  # the same line run to its end: the note goes once its
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda *a: sys.exit("killed"))  # weights are saved
    with pytest.raises(SystemExit):  # (killed while drawing the card's grid, after them)
        train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "9", "--lr", "1e-3"])
    assert facts.read_weights_meta(out)["steps"] == 9
    assert json.loads((out / "training.json").read_text())["command"].split("\n")[-1].endswith("--lr 1e-3")


def test_a_diverged_sitting_is_an_error_that_leaves_the_folder_as_it_was(run_of_two_steps, tmp_path, monkeypatch,
                                                                         capsys):
    """It once ended 'done' with nan weights, a black card grid and, with --push-to-hub, a push. A resumed sitting
    that diverges before a checkpoint of its own leaves the weights, scores, config and recipe as they were
    (loss.csv keeps the rows that show it, which the next resume drops); one that wrote a checkpoint is marked
    stopped there in the recipe, and the scores stay, as the weights they describe do. In-process on the bundled
    300 digits: two train.py subprocesses took 8 s."""
    out, tiny = run_of_two_steps, TINY
    files = lambda: {p.relative_to(out): p.read_bytes() for p in out.rglob("*")  # noqa: E731
                     if p.is_file() and p.name != "loss.csv"}
    before = files()
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    assert train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "5", "--lr", "1e8", "--epochs", "30",
                       "--push-to-hub", "--hub-model-id", "me/ddpm-test"]) == 2
    said = capsys.readouterr()
    assert "error: training diverged by step 5" in said.err and "keeps the checkpoint of step 2" in said.err
    assert files() == before and "push" not in said.out.lower()

    real_step, steps = training.train_step, []

    def poisoned(model, *a, **k):  # the weights turn nan after the third step, past the checkpoint of step 2
        loss = real_step(model, *a, **k)
        steps.append(1)
        if len(steps) >= 3:
            next(model.parameters()).data.fill_(float("nan"))
        return loss

    monkeypatch.setattr(training, "train_step", poisoned)
    monkeypatch.setattr(training, "train", functools.partial(training.train, checkpoint_every=2))
    weights = (out / "model.safetensors").read_bytes()
    assert train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "8"]) == 2  # checkpoint at 4, nan at 5
    assert "by step 6 " in capsys.readouterr().err and (out / "model.safetensors").read_bytes() == weights
    assert (out / "eval.json").exists() and (out / "samples.png").exists()  # they still describe the weights
    assert json.loads((out / "training.json").read_text())["command"].endswith("--max-steps 8  # stopped at step 4")
    steps.clear()
    fresh = tmp_path / "fresh"
    assert train.main([*tiny, "--out", str(fresh), "--max-steps", "6"]) == 2
    assert "by step 4 " in capsys.readouterr().err and not (fresh / "model.safetensors").exists()
    assert json.loads((fresh / "training.json").read_text())["command"].endswith("--max-steps 6  # stopped at step 2")


def test_a_resume_from_nan_weights_or_from_step_0_gets_advice_that_works(run_of_two_steps, monkeypatch, capsys):
    """A checkpoint a run saved after it diverged (before training checked) is refused as it is read, not retried
    with each lower --lr; a divergence resumed from the step-0 checkpoint a Ctrl-C before the first step leaves
    points to that checkpoint, as a fresh run into the folder is refused."""
    from ddpm.safeio import load_tensors, save_tensors

    out, tiny = run_of_two_steps, TINY
    tensors, meta = load_tensors(out / "checkpoint.safetensors")
    for poisoned in (("model.", "ema."), ("optim.",)):  # the weights and their EMA, or AdamW's moments alone
        save_tensors(out / "checkpoint.safetensors", {k: v.clone().fill_(float("nan"))
                                                      if v.is_floating_point() and k.startswith(poisoned) else v
                                                      for k, v in tensors.items()}, meta)
        before = (out / "model.safetensors").read_bytes()
        assert train.main([*tiny, "--out", str(out), "--resume", "--max-steps", "4", "--lr", "1e-5"]) == 2
        err = capsys.readouterr().err
        assert "the checkpoint of step 2 in " in err and "are not finite (nan or inf)" in err, poisoned
        assert "--lr below" not in err and (out / "model.safetensors").read_bytes() == before
    assert (out / "model.safetensors").read_bytes() == before

    fresh, real_step = out.parent / "fresh", training.train_step
    monkeypatch.setattr(training, "train_step", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert train.main([*tiny, "--out", str(fresh), "--max-steps", "5"]) == 130  # stopped before its first step
    monkeypatch.setattr(training, "train_step", real_step)
    assert train.main([*tiny, "--out", str(fresh), "--resume", "--max-steps", "5", "--lr", "1e8"]) == 2
    said = f"{fresh} keeps the checkpoint of step 0: with an --lr below 1e+08, say `python train.py --resume --out "
    assert said + f"{sh(fresh)} --lr 1e+07`, it goes on from there" in capsys.readouterr().err


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_ctrl_c_during_the_end_grid_is_a_stop_the_card_written_and_nothing_pushed(run_of_two_steps, monkeypatch,
                                                                                       capsys):
    """The run is finished when its card's grid is drawn (a minute of DDPM on a CPU): a Ctrl-C there exited 0 and
    went on to push, where the README says a stop publishes nothing and exits 130."""
    from ddpm import push

    out = run_of_two_steps
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda folder, device: (_ for _ in ()).throw(KeyboardInterrupt))
    monkeypatch.setattr(push, "push_status", lambda *a, **k: pytest.fail("pushed after a Ctrl-C"))
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    (out / "README.md").unlink()
    assert train.main([*TINY, "--out", str(out), "--resume", "--max-steps", "3", "--push-to-hub", "--hub-model-id",
                       "me/x"]) == 130
    err = capsys.readouterr().err
    assert "stopped (Ctrl-C or kill) while drawing the sample grid: its trained weights are saved" in err
    assert "Traceback" not in err
    assert f"nothing was pushed; `{card_grid_command(out)}` draws its grid; then `python -m ddpm.evaluate --weights " \
           f"{sh(out)} --n 1000 --sampler ddim" in err  # what is left, in order
    assert err.rstrip().endswith(f"; then `python -m ddpm.push {sh(out)} me/x` publishes it")
    assert train.main([*TINY, "--out", str(out), "--resume", "--max-steps", "4"]) == 130  # no push: the grid alone
    assert capsys.readouterr().err.rstrip().endswith(f"while drawing the sample grid: its trained weights are saved in "
                                                     f"{out} with its card; `{card_grid_command(out)}` draws its grid")
    assert "load_pretrained(\"me/x\")" not in (out / "README.md").read_text()  # no repo it was not pushed to


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_pipe_whose_reader_has_gone_costs_a_finished_run_its_lines_alone(tmp_path):
    """`python train.py ... | head -1`, or a tee ended by the terminal's Ctrl-C: stdout into a pipe is block-buffered,
    so no write failed, only Python's flush at exit, after train.py had put its streams back ("Exception ignored ...
    BrokenPipeError", exit 120, the run saved)."""
    env = {k: v for k, v in CLI_ENV.items() if k != "PYTHONUNBUFFERED"}  # a user's shell has it unset
    out = tmp_path / "run"

    def reader_gone() -> tuple[int, str]:
        p = subprocess.Popen([sys.executable, "train.py", "--data-dir", str(MNIST), "--out", str(out), *TINY,
                              "--max-steps", "2", "--no-sample-grid"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdout.close()  # the reader gone before the first line
        err = p.stderr.read()
        return p.wait(timeout=300), err

    (code, err), both = at_once(reader_gone, lambda: subprocess.run(  # two runs of their own, a core each
        [sys.executable, "train.py", "--data-dir", str(MNIST), "--out", str(tmp_path / "log"), *TINY, "--max-steps",
         "2", "--no-sample-grid"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300).stdout)  # `2>&1 | tee train.log`
    assert code == 0 and "Exception ignored" not in err, err[-2000:]
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    assert both.index("device cpu") < both.index("step/s")  # the run's first lines, then its bar (not at the end)


@POSIX
def test_train_cli_stops_cleanly_on_sigterm(tmp_path):
    """`kill` writes the checkpoint, the EMA model and the card before exiting, so nothing is lost."""
    import signal
    import time

    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "train.py", "--data-dir", str(MNIST), "--out", str(out), "--batch-size", "8",
                          "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "20", "--epochs", "1",
                          "--push-to-hub", "--hub-model-id", "me/ddpm-test"],
                         cwd=ROOT, env=CLI_ENV | FAKE_TOKEN, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "loss.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    if not (out / "loss.csv").exists():  # said as such, not as a stop that was not clean
        p.kill()
        pytest.fail(f"train.py began no loss.csv in 120 s:\n{p.communicate()[1][-2000:]}")
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    # stopped before its end: all saved, the card written, exit 130 so a script does not go on to publish it
    assert p.returncode == 130 and "stopped: interrupted" in stdout
    assert f"continue it with python train.py --resume --out {sh(out)} --push-to-hub" in stderr  # the whole line
    assert (out / "model.safetensors").exists() and (out / "checkpoint.safetensors").exists()
    assert (out / "README.md").exists() and "Traceback" not in stderr
    steps = facts.read_weights_meta(out)["steps"]  # the recipe says where this sitting stopped, so that it replays
    recorded = json.loads((out / "training.json").read_text())["command"]  # with the checkpoint, at its first save
    assert recorded.startswith("python train.py --data-dir")
    assert recorded.endswith(f"--hub-model-id me/ddpm-test  # stopped at step {steps}")
    assert "could not push" not in stdout and f"python -m ddpm.push {sh(out)} me/ddpm-test" in stderr  # not published


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # no /proc, or the process has just ended
        return "/torch/"


@POSIX
def test_train_cli_ctrl_c_before_training_is_a_message_not_a_traceback(tmp_path):
    """Ctrl-C while torch and the data load (before training takes Ctrl-C over): a line, exit 130, nothing written."""
    import signal
    import time

    p = subprocess.Popen([sys.executable, "train.py", "--out", str(tmp_path / "run"), "--base-channels", "8",
                          "--timesteps", "20", "--max-steps", "5"], cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not ignored, as under `&`
    maps, deadline = Path(f"/proc/{p.pid}/maps"), time.time() + 60
    if not maps.exists():  # no /proc (macOS): past Python's start, before torch has loaded, on an idle machine
        time.sleep(1.0)
    while p.poll() is None and time.time() < deadline and "/torch/" not in _read(maps):
        time.sleep(0.01)  # torch's libraries mapped: inside ctrl_c_held, seconds before training takes Ctrl-C over
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "stopped (Ctrl-C)" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_train_holds_a_ctrl_c_while_torch_loads_and_leaves_an_ignored_one_ignored():
    import signal
    import threading

    import train

    # a pytest started in the background (`&`, nohup in a script) inherits SIGINT ignored, which ctrl_c_held
    # rightly leaves alone: this test sends Ctrl-C, so it gets Python's own handler, and gives back the old one
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        reached_the_end = []
        with pytest.raises(KeyboardInterrupt):
            with train.ctrl_c_held():
                signal.raise_signal(signal.SIGINT)  # held here: nothing is raised inside (torch's C++ start-up)
                reached_the_end.append(True)
        assert reached_the_end and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a job run with `&`: Ctrl-C is not for it
        with train.ctrl_c_held():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raised = []  # train.main called from another thread (signal.signal works on the main thread only)

        def held_off_the_main_thread():
            try:
                with train.ctrl_c_held():
                    pass
            except BaseException as e:
                raised.append(e)

        worker = threading.Thread(target=held_off_the_main_thread)
        worker.start()
        worker.join()
        assert raised == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_that_also_ends_tee_still_saves_the_run(tmp_path, monkeypatch, request):
    """`python train.py 2>&1 | tee train.log`: a terminal's Ctrl-C ends tee too, and the progress bar's close, or the
    next line, raised BrokenPipeError before the final save: no checkpoint, no weights (and with stdout alone piped,
    `error: [Errno 32] Broken pipe`, no card). Lines to a gone stream are dropped; the saves and the exit stay."""
    import io
    import signal

    class Gone(io.StringIO):  # the pipe's reader has exited
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored, as a pytest run with `&` has it
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    loss, calls = training.diffusion_loss, []

    def ctrl_c_at_3(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)
        return loss(*a, **k)
    monkeypatch.setattr(training, "diffusion_loss", ctrl_c_at_3)
    for piped in ("both", "stdout"):
        calls.clear()
        monkeypatch.setattr(sys, "stdout", Gone())
        monkeypatch.setattr(sys, "stderr", Gone() if piped == "both" else io.StringIO())
        out = tmp_path / piped
        assert train.main([*TINY, "--out", str(out), "--max-steps", "6", "--no-sample-grid"]) == 130, piped
        assert facts.read_weights_meta(out)["steps"] == 3 and (out / "checkpoint.safetensors").is_file()
        assert (out / "README.md").is_file()
    assert "continue it with python train.py --resume" in sys.stderr.getvalue()  # stderr whole: the hint is there
    calls.clear()  # train() called by a script or notebook, not train.py: the same, with its own log
    monkeypatch.setattr(sys, "stderr", Gone())
    with pytest.raises(training.Stopped):
        training.train(train_cfg(tmp_path / "lib"), max_steps=6, data=load_sample(), log=Gone().write)
    assert facts.read_weights_meta(tmp_path / "lib")["steps"] == 3


def test_a_card_that_cannot_be_written_is_a_line_that_says_the_run_is_saved(tmp_path, monkeypatch, capsys):
    """A full disk at README.md, after the weights and the checkpoint were saved, ended train.py in a traceback that
    made the run look lost: a line says so, what is saved and how to write the card; a stop still says --resume."""
    import errno

    from ddpm import card

    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    write = card.atomic_write_bytes

    def full_at_the_card(path, data):
        if Path(path).name == "README.md":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(path, data)
    monkeypatch.setattr(card, "atomic_write_bytes", full_at_the_card)
    out = tmp_path / "run"
    said = (f"error: could not write the card {out / 'README.md'}: No space left on device; the trained weights and "
            f"the checkpoint are saved in {out}; once there is room (or the folder is writable), `python -m ddpm.card "
            f"{sh(out)}` writes the card")
    assert train.main([*TINY, "--out", str(out), "--max-steps", "2", "--no-sample-grid"]) == 1
    assert said in capsys.readouterr().err and facts.read_weights_meta(out)["steps"] == 2
    monkeypatch.setattr(training, "train_step", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert train.main([*TINY, "--out", str(out), "--resume", "--max-steps", "4", "--no-sample-grid"]) == 130
    err = capsys.readouterr().err
    assert said in err and f"continue it with python train.py --resume --out {sh(out)}" in err
    assert (out / "checkpoint.safetensors").is_file() and not (out / "README.md").exists()


def test_a_ctrl_c_as_the_data_loads_names_the_folder_and_what_it_keeps(run_of_two_steps, tmp_path, monkeypatch,
                                                                        capsys):
    """Before training takes Ctrl-C over: a resume's message is the whole command that continues it; a fresh run's
    says there is no checkpoint yet."""
    from ddpm.unsaved import resume_command
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    capsys.readouterr()
    assert train.main(["--resume", "--out", str(run_of_two_steps)]) == 130
    said = capsys.readouterr().err
    assert f"the checkpoint in {run_of_two_steps} is kept; `{resume_command(run_of_two_steps)}`" in said, said
    fresh = tmp_path / "fresh"
    assert train.main([*TINY, "--out", str(fresh), "--max-steps", "2"]) == 130
    assert f"before training began: {fresh} holds no checkpoint" in capsys.readouterr().err


def test_a_ctrl_c_after_training_ended_says_the_card_is_left_not_a_resume(tmp_path, monkeypatch, capsys):
    """Past training's own Ctrl-C (the card, check_loads): a --resume would take no step."""
    from ddpm import card
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    monkeypatch.setattr(card, "what_next", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    out = tmp_path / "run"
    assert train.main([*TINY, "--out", str(out), "--max-steps", "2", "--no-sample-grid"]) == 130
    said = capsys.readouterr().err
    assert f"after training ended: its weights are saved in {out}; `python -m ddpm.card {sh(out)}` writes its " \
           "card" in said, said
