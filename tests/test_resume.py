"""An interrupted or repeated run: --resume continues exactly, and refuses what would lose work."""
import dataclasses
import json
import re

import pytest
import torch

from ddpm import hub
from ddpm.data import load_sample
from ddpm.safeio import load_tensors
from ddpm.training import train

from conftest import tiny_config, tiny_model
from train_helpers import train_cfg, train_on_sample


@pytest.mark.parametrize("decay, dropout", [(0, 0.0), (12, 0.1)])
def test_resume_matches_an_uninterrupted_run(tmp_path, decay, dropout):
    """Also with dropout, which draws from torch's global generator: the checkpoint restores it."""
    # 18 steps; with decay, the lr falls over steps 6..18
    kw = dict(epochs=2, lr_decay_steps=decay, model=tiny_config(timesteps=100, dropout=dropout))
    full = train_on_sample(train_cfg(tmp_path / "full", **kw), max_steps=14)
    part = train_cfg(tmp_path / "part", **kw)
    train_on_sample(part, max_steps=5)  # stops mid-epoch (9 steps/epoch), as a killed run would after a checkpoint
    resumed = train_on_sample(part, max_steps=14, resume=True)
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, meta = load_tensors(resumed / "checkpoint.safetensors")
    assert meta["progress"]["step"] == 14
    assert a.keys() == b.keys() and "rng.cuda" not in a  # a CPU run's dropout draws from torch's CPU generator
    for k in a:  # weights, EMA, optimizer moments and the generator's state
        assert torch.equal(a[k], b[k]), k


def test_resume_goes_on_with_the_float16_loss_scale_it_stopped_at(tmp_path, monkeypatch):
    """On a GPU without bfloat16 the loss scale grows every growth_interval steps without an overflow: a resume that
    began again at 2^16 would have skipped other steps than an unbroken run. (A CPU scaler stands in for it.)"""
    from ddpm import training

    monkeypatch.setattr(training, "mixed_precision", lambda device, choice: (
        None, torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=3)))
    full = train_on_sample(train_cfg(tmp_path / "full", epochs=2), max_steps=14)
    part = train_cfg(tmp_path / "part", epochs=2)
    train_on_sample(part, max_steps=5)
    resumed = train_on_sample(part, max_steps=14, resume=True)
    (a, full_meta), (b, meta) = (load_tensors(run / "checkpoint.safetensors") for run in (full, resumed))
    assert full_meta["grad_scaler"]["scale"] == 2.0**20  # doubled after steps 3, 6, 9 and 12
    assert meta["grad_scaler"] == full_meta["grad_scaler"] and all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupt_mid_step_still_resumes_exactly(tmp_path, monkeypatch, request):
    """Ctrl-C (or kill) lands mid-step, after the step's draws from the generator: it takes effect at the step's
    end, so the checkpoint holds whole steps and the resumed run matches an unbroken one."""
    import signal

    from ddpm import training

    # a pytest started in the background (`&`, nohup in a script) inherits SIGINT ignored, which training keeps
    # ignored (next test): this one sends Ctrl-C, so it gets Python's own handler, and gives back the old one
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))

    kw = dict(epochs=2)
    full = train_on_sample(train_cfg(tmp_path / "full", **kw), max_steps=14)
    calls, loss = [], training.diffusion_loss
    def interrupted_at_6(*a, **k):  # noqa: E306
        value = loss(*a, **k)  # t, eps and the dropped labels are drawn
        calls.append(1)
        if len(calls) == 6:
            signal.raise_signal(signal.SIGINT)
        return value
    monkeypatch.setattr(training, "diffusion_loss", interrupted_at_6)
    part = train_cfg(tmp_path / "part", **kw)
    with pytest.raises(training.Stopped):  # raised once the checkpoint and the EMA weights are written
        train_on_sample(part, max_steps=14)
    monkeypatch.setattr(training, "diffusion_loss", loss)
    _, meta = load_tensors(part.out + "/checkpoint.safetensors")
    assert meta["progress"]["step"] == 6  # stopped after the step it came in
    resumed = train_on_sample(part, max_steps=14, resume=True)
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, _ = load_tensors(resumed / "checkpoint.safetensors")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    calls.clear()  # a Ctrl-C during the last step: the run has reached its end, so it is not reported as stopped
    monkeypatch.setattr(training, "diffusion_loss", interrupted_at_6)
    assert train_on_sample(train_cfg(tmp_path / "last", **kw), max_steps=6) == tmp_path / "last"


def test_a_stop_during_an_epochs_grid_gets_the_grid_on_resume(tmp_path, monkeypatch):
    """A Ctrl-C is taken at once while an epoch's sample grid is drawn; the checkpoint is then at the epoch's end,
    and --resume went on with the next epoch, so that grid was never drawn. Drawn on resume, it changes no weight."""
    from ddpm import training

    kw = dict(epochs=2, sample_every_epoch=True, model=tiny_config(timesteps=20))  # grids of 20 DDIM steps, not 50
    full = train_on_sample(train_cfg(tmp_path / "full", **kw))
    draw = training._epoch_samples
    def stopped(*a, **k):  # noqa: E306
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "_epoch_samples", stopped)
    part = train_cfg(tmp_path / "part", **kw)
    with pytest.raises(training.Stopped):
        train_on_sample(part)
    assert not (tmp_path / "part" / "samples" / "epoch_000.png").exists()
    monkeypatch.setattr(training, "_epoch_samples", draw)
    resumed = train_on_sample(part, resume=True)
    for epoch in ("epoch_000.png", "epoch_001.png"):
        assert (resumed / "samples" / epoch).read_bytes() == (full / "samples" / epoch).read_bytes()
    a, _ = load_tensors(full / "checkpoint.safetensors")
    b, _ = load_tensors(resumed / "checkpoint.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_ctrl_c_during_an_epochs_grid_lets_it_be_written(tmp_path, monkeypatch, request):
    """The last epoch's grid, cut short, would be made by no resume (the run is at its end): a Ctrl-C there waits
    for the grid, as one during a step waits for the step."""
    import signal

    from ddpm import training

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in the mid-step test above
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))
    draw = training._epoch_samples
    def ctrl_c_then_draw(*a, **k):  # noqa: E306
        signal.raise_signal(signal.SIGINT)
        draw(*a, **k)
    monkeypatch.setattr(training, "_epoch_samples", ctrl_c_then_draw)
    cfg = train_cfg(tmp_path / "run", epochs=1, sample_every_epoch=True)
    assert train_on_sample(cfg) == tmp_path / "run"  # the Ctrl-C came at the run's end: not a stop
    assert (tmp_path / "run" / "samples" / "epoch_000.png").is_file()


def test_an_ignored_sigint_stays_ignored():
    """A job started with `&` by a script ignores Ctrl-C; training leaves it so (kill stops it)."""
    import signal

    from ddpm.run_control import Interrupts

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop = Interrupts()
        previous = stop.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is stop
        stop.uninstall(previous)
        assert signal.getsignal(signal.SIGTERM) is not stop
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_second_ctrl_c_during_a_step_stops_at_once():
    """The first Ctrl-C in a step waits for its end (the checkpoint never holds half a step); a second one, for a
    step or an epoch's grid that seems to hang, stops then and there, as Interrupts' docstring promises."""
    import signal

    from ddpm.run_control import Interrupts

    stop = Interrupts()
    stop.defer = True
    stop(signal.SIGINT, None)  # deferred: returns
    with pytest.raises(KeyboardInterrupt):
        stop(signal.SIGINT, None)
    stop = Interrupts()
    stop.defer = True
    stop(signal.SIGTERM, None)
    with pytest.raises(KeyboardInterrupt):  # the first, at the step's end
        stop.end_of_step()


def test_a_run_without_resume_never_overwrites_a_checkpoint(tmp_path):
    cfg = train_cfg(tmp_path)
    out = train_on_sample(cfg, max_steps=3)
    before = (out / "checkpoint.safetensors").read_bytes()
    said = f"holds a run .* continue it with `python train.py --resume --out {re.escape(str(out))}` "
    with pytest.raises(ValueError, match=said):
        train_on_sample(cfg, max_steps=2)
    assert (out / "checkpoint.safetensors").read_bytes() == before
    (out / "checkpoint.safetensors").unlink()  # a finished model as a download or a push leaves it: no checkpoint
    model = (out / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="holds a model .* that a new run would overwrite"):
        train_on_sample(cfg, max_steps=2)
    assert (out / "model.safetensors").read_bytes() == model
    (out / "model.safetensors").unlink()  # config.json alone, written after a checkpoint: another's
    (out / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="holds config.json but no checkpoint.safetensors or model.safetensors, which "
                                         "a new run would overwrite"):
        train_on_sample(cfg, max_steps=2)
    assert (out / "config.json").read_text() == "{}"
    (out / "config.json").unlink()
    for name in ("train_config.json", "training.json", "loss.csv"):  # what a run that died at its first save left
        (out / name).write_text("{}")
    said = []
    assert train(cfg, data=load_sample(), log=said.append, progress_bar=False, max_steps=2) == out
    assert f"this run replaces train_config.json, training.json, loss.csv in {out}, which no checkpoint goes " \
        "with" in said and (out / "loss.csv").read_text().startswith("step,")
    with pytest.raises(ValueError, match="--batch-size 301 is more than the 300 training images"):
        train_on_sample(train_cfg(tmp_path / "b", batch_size=301), max_steps=2)
    with pytest.raises(ValueError, match="--lr-decay-steps 10 is longer than the run: --epochs 1 of 9 steps"):
        train_on_sample(train_cfg(tmp_path / "c", epochs=1, lr_decay_steps=10), max_steps=2)  # its lr would start near 0
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()  # refused before anything is written


def test_resume_drops_loss_rows_logged_after_the_checkpoint(tmp_path):
    cfg = train_cfg(tmp_path)
    out = train_on_sample(cfg, max_steps=9)
    with (out / "loss.csv").open("a") as f:  # a hard kill after the checkpoint leaves rows beyond it
        f.write("12,1,0.5,100.0,0.002\n")
    train_on_sample(cfg, max_steps=14, resume=True)
    steps = [int(r.split(",")[0]) for r in (out / "loss.csv").read_text().splitlines()[1:]]
    assert steps == [9, 14]


def test_resume_records_the_config_in_force(tmp_path):
    cfg = train_cfg(tmp_path, epochs=2)
    out = train_on_sample(cfg, max_steps=9)
    train_on_sample(dataclasses.replace(cfg, epochs=3, lr_decay_steps=9), max_steps=12, resume=True)
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["epochs"] == 3 and saved["lr_decay_steps"] == 9


def test_resume_without_its_train_config_takes_the_network_from_config_json(tmp_path, monkeypatch, capsys):
    """A run of another network (two blocks a level, 4 groups, T = 20, unconditional), its train_config.json lost:
    --resume builds the network its config.json describes, rather than refusing the one the flags' defaults build."""
    import train
    from ddpm import training
    from ddpm.config import ModelConfig
    from ddpm.data import load_sample

    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: load_sample())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tiny_config(timesteps=20, num_res_blocks=2, groups=4, num_classes=0)  # T = 100's card grid took 7 s
    out = train_on_sample(train_cfg(tmp_path, model=model), max_steps=2)
    (out / "train_config.json").unlink()
    assert train.main(["--resume", "--out", str(out), "--batch-size", "32", "--seed", "3", "--device", "cpu",
                       "--max-steps", "4"]) == 0
    assert ModelConfig.from_dict(json.loads((out / "train_config.json").read_text())["model"]) == model
    said = capsys.readouterr()
    assert f"--resume: the run's own settings, from {out / 'config.json'}: --timesteps 20 --base-channels 8 " \
           "--groups 4 --channel-mult 1,2 --num-res-blocks 2 --attention-res 14 --unconditional" in said.out
    assert "takes train.py's default, except the network's, which its config.json gives" in said.err
    (out / "train_config.json").unlink()  # and config.json holds nothing of the network: the flags build another
    (out / "config.json").write_text('{"note": "hand-made"}')
    assert train.main(["--resume", "--out", str(out), "--batch-size", "32", "--device", "cpu", "--max-steps", "6"]) == 2
    err = capsys.readouterr().err
    assert "(the network's too: no readable config.json gives them)" in err
    assert "it holds another network than these flags build: give the network's flags" in err
    assert "size mismatch" not in err  # torch's list of every key that differs, once hundreds of lines
    (out / "config.json").write_text("{")  # no JSON at all: the same words, not blamed on train_config.json
    assert train.main(["--resume", "--out", str(out), "--batch-size", "32", "--device", "cpu", "--max-steps", "6"]) == 2
    err = capsys.readouterr().err
    assert "(the network's too: no readable config.json gives them)" in err and "train_config.json is not" not in err


def test_resume_refuses_another_model(tmp_path):
    cfg = train_cfg(tmp_path)
    train_on_sample(cfg, max_steps=2)
    other = dataclasses.replace(cfg, model=tiny_config(timesteps=100, base_channels=16))
    with pytest.raises(ValueError, match=r"model config differs .*: base_channels 8 there, 16 here; drop the "
                                         r"network's flags given here \(--resume takes the run's own\), or train"):
        train_on_sample(other, max_steps=4, resume=True)
    with pytest.raises(FileNotFoundError, match="empty does not exist, so there is no checkpoint to go on from: "
                                                "check --out, or drop --resume"):  # a typo in --out
        train_on_sample(train_cfg(tmp_path / "empty"), max_steps=4, resume=True)
    (tmp_path / "file").write_text("")  # through the Python API (train.py's own check comes first)
    with pytest.raises(FileNotFoundError, match="file is a file, not a run's folder"):
        train_on_sample(train_cfg(tmp_path / "file"), max_steps=4, resume=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*: drop --resume to start a new run there"):
        train_on_sample(train_cfg(tmp_path / "empty"), max_steps=4, resume=True)
    hub.save_pretrained(tiny_model(), tmp_path / "empty")  # a downloaded model: no optimizer state to go on with
    with pytest.raises(FileNotFoundError, match=r"holds a model \(model.safetensors\) but no checkpoint"):
        train_on_sample(train_cfg(tmp_path / "empty"), max_steps=4, resume=True)
    with pytest.raises(ValueError, match="trained on mnist .*, not fashion-mnist: drop --dataset"):
        train_on_sample(dataclasses.replace(cfg, dataset="fashion-mnist"), max_steps=4, resume=True)
    # a step is a batch: another batch size would start the rest of the run elsewhere in the data (step 2 is image
    # 64 of the epoch, not 128) and count its epochs and lr schedule in batches of another size
    with pytest.raises(ValueError, match=r"batch size 32 .*, not 64: its steps count batches of that size"):
        train_on_sample(dataclasses.replace(cfg, batch_size=cfg.batch_size * 2), max_steps=4, resume=True)
    with pytest.raises(ValueError, match=r"--seed 3 .*, not 7: the seed orders every epoch's images, so a new one "
                                         r"part-way through an epoch would draw some of them twice and skip others"):
        train_on_sample(dataclasses.replace(cfg, seed=7), max_steps=4, resume=True)
    saved = json.loads((tmp_path / "train_config.json").read_text())
    del saved["dataset"]  # a run begun before the config recorded its dataset (MNIST, then the only one) resumes
    (tmp_path / "train_config.json").write_text(json.dumps(saved))
    out = train_on_sample(cfg, max_steps=4, resume=True)
    assert load_tensors(out / "checkpoint.safetensors")[1]["progress"]["step"] == 4


def test_resume_refuses_another_run_before_the_data_loads(tmp_path, monkeypatch):
    """Another dataset or network, or no checkpoint, is refused before the (seconds of) data loading, and a
    dataset that is not there does not hide the real reason."""
    from ddpm import training

    cfg = train_cfg(tmp_path)
    train_on_sample(cfg, max_steps=2)
    monkeypatch.setattr(training, "load_dataset", lambda *a, **k: pytest.fail("loaded the data first"))
    with pytest.raises(ValueError, match="trained on mnist .*, not fashion-mnist"):
        training.train(dataclasses.replace(cfg, dataset="fashion-mnist"), resume=True, max_steps=4)
    with pytest.raises(ValueError, match="model config differs"):
        training.train(dataclasses.replace(cfg, model=tiny_config(base_channels=16)), resume=True, max_steps=4)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        training.train(train_cfg(tmp_path / "empty"), resume=True, max_steps=4)
    (tmp_path / "train_config.json").write_text("[1, 2]")  # a hand edit gone wrong: one line, naming the file
    with pytest.raises(ValueError, match=r"train_config.json is not a readable run config \(expected an object"):
        training.train(cfg, resume=True, max_steps=4)
    # without train_config.json (or with its model hand-edited), the weights' own config.json names the network:
    # one line, not a checkpoint's size mismatch per tensor
    (tmp_path / "train_config.json").unlink()
    wider = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, base_channels=16))
    with pytest.raises(ValueError, match=r"differs from the one in .*config.json: base_channels 8 there, 16 here; "):
        training.train(wider, resume=True, max_steps=4)


def test_resume_with_damaged_files_says_what_is_wrong_or_carries_on(tmp_path):
    cfg = train_cfg(tmp_path)
    out = train_on_sample(cfg, max_steps=2)
    (out / "train_config.json").unlink()  # lost: the run's config is the one given
    (out / "loss.csv").write_text("step,epoch,loss,images_per_s,lr\n2,0,0.9,1.0,0.001\ngarbage line\n\n")
    train_on_sample(cfg, max_steps=4, resume=True)
    assert [r.split(",")[0] for r in (out / "loss.csv").read_text().splitlines()] == ["step", "2", "4"]
    (out / "loss.csv").write_text("")  # emptied: a fresh header, then the new rows
    train_on_sample(cfg, max_steps=6, resume=True)
    assert (out / "loss.csv").read_text().splitlines()[0].startswith("step,")
    ckpt = out / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # a full disk truncated it
    with pytest.raises(ValueError, match="checkpoint.safetensors cannot be read .* EMA weights of its last save"):
        train_on_sample(cfg, max_steps=8, resume=True)


@pytest.mark.parametrize("change, max_steps, message", [
    (dict(epochs=1), 14, "past the end of --epochs 1.*--epochs 2 or more"),
    (dict(max_minutes=1e-6), 14, "past --max-minutes 1e-06"),
    ({}, 5, "past --max-steps 5"),
    ({}, 12, "at or past --max-steps 12")])  # the same command again: refused, eval.json not set aside
def test_resume_past_its_limits_says_so_and_changes_nothing(tmp_path, change, max_steps, message):
    cfg = train_cfg(tmp_path, epochs=2)
    out = train_on_sample(cfg, max_steps=12)  # 9 steps per epoch: into the second epoch
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    with pytest.raises(ValueError, match=message):
        train_on_sample(dataclasses.replace(cfg, **change), resume=True, max_steps=max_steps)
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_resuming_a_finished_run_with_its_own_command_changes_nothing(tmp_path):
    cfg = train_cfg(tmp_path, epochs=1)
    out = train_on_sample(cfg)  # 9 steps per epoch: the run ends at step 9, its --epochs
    (out / "eval.json").write_text("{}")  # the scores of these weights, which a new run would set aside
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    with pytest.raises(ValueError, match="at or past the end of --epochs 1.*--epochs 2 or more"):
        train_on_sample(cfg, resume=True)
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_a_finished_run_whose_weights_were_never_written_gets_them_on_resume(tmp_path):
    """A full disk (or a kill) between the last checkpoint and model.safetensors: the same command was refused, the
    run being at its end, and no command wrote the weights without training on. It writes them, taking no step."""
    cfg = train_cfg(tmp_path, epochs=1)
    out = train_on_sample(cfg)
    kept, meta = load_tensors(out / "model.safetensors")
    (out / "model.safetensors").unlink()
    said = []
    train(cfg, resume=True, data=load_sample(), log=said.append, progress_bar=False)
    again, meta_again = load_tensors(out / "model.safetensors")
    assert kept.keys() == again.keys() and all(torch.equal(kept[k], again[k]) for k in kept)
    assert meta_again["steps"] == meta["steps"] == 9 and any("has no weights file beside it" in s for s in said)


def test_a_run_stopped_by_its_time_limit_is_told_the_limit_for_as_much_time_again():
    from ddpm.run_control import check_limits_left

    cfg = train_cfg("unused", epochs=100, max_minutes=5)
    with pytest.raises(ValueError, match=r"past --max-minutes 5, which counts every sitting; for 5 more minutes give "
                                         r"--max-minutes 12\.5$"):
        check_limits_left(cfg, {"step": 30, "train_seconds": 450}, 9, None)  # 7.5 min trained, of 5 + a sitting over
    check_limits_left(cfg, {"step": 30, "train_seconds": 290}, 9, None)  # under the limit: trains on


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: AdamW keeps its step counts on the CPU there")
def test_a_run_on_a_gpu_resumes(tmp_path):
    """The resume's finiteness check gathers the optimizer's CPU step counts and its GPU moments on one device (it
    met torch's device error on an H100, 2026-12-05)."""
    part = train_cfg(tmp_path / "part", epochs=2, device="cuda")
    train_on_sample(part, max_steps=5)
    resumed = train_on_sample(part, max_steps=8, resume=True)
    tensors, meta = load_tensors(resumed / "checkpoint.safetensors")
    assert meta["progress"]["step"] == 8 and "rng.cuda" in tensors  # the GPU's dropout generator, for an exact resume


def test_a_resume_says_how_much_of_max_minutes_is_left_for_it(tmp_path):
    """--max-minutes counts every sitting (documented in --help): a resume said nothing of it, and a learner's
    2.5-minute sitting after 1.6 minutes of training stopped after 50 s, unexplained."""
    cfg = train_cfg(tmp_path / "run", epochs=2, max_minutes=100)
    said = []
    train(cfg, data=load_sample(), log=said.append, progress_bar=False, max_steps=3)
    assert any(line.startswith("loss: L_simple (Eq. 14)") for line in said)  # a first sitting's bar explained
    said.clear()
    train(cfg, resume=True, data=load_sample(), log=said.append, progress_bar=False, max_steps=5)
    assert any(re.match(r"--max-minutes 100 counts every sitting: (\d+\.\d) min trained, so this one has "
                        r"(\d+\.\d) min$", line) for line in said), said
    assert not any(line.startswith("loss:") for line in said)
    assert said[-1].startswith("stopped: --max-steps 5 at step 5 ")
