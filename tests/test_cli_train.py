"""train.py's command line: end to end on MNIST (an offline Hub push), its flags and --resume; how it stops (nan,
kill, SIGTERM, Ctrl-C) is in test_cli_train_stops.py."""
import json
from functools import partial

import pytest
import torch
from PIL import Image

from ddpm import hub
from ddpm.sample import card_grid_command

from conftest import FAKE_TOKEN, MNIST, POSIX, at_once, run_python, sh, tiny_model
from train_helpers import fewer_card_samples


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_train_cli_end_to_end_with_offline_push(tmp_path):
    out = tmp_path / "run"
    # T = 5: each of the card's 1000 scored samples costs T passes (T = 20 took 17 s more); 5 < 50 still tests the
    # scoring's "50 DDIM steps or T if fewer"
    r = run_python("train.py", "--data-dir", str(MNIST), "--out", str(out), "--max-steps", "2", "--batch-size", "8",
            "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "5",
            "--push-to-hub", "--hub-model-id", "me/ddpm-test", env=FAKE_TOKEN)
    assert r.returncode == 1, r.stderr  # the push fails offline ...
    assert "could not push" in r.stdout and "Nothing was lost" in r.stdout
    assert f"writing the model card's sample grid (64 samples, each through all 5 DDPM steps; Ctrl-C stops here, " \
           f"the run is kept and nothing pushed): {card_grid_command(out)}" in r.stdout  # as it can be run again
    assert "stopped: --max-steps 2 at step 2 (epoch " in r.stdout and "loss: L_simple (Eq. 14), the mean" in r.stdout
    for name in ("config.json", "model.safetensors", "README.md", "checkpoint.safetensors", "loss.csv"):
        assert (out / name).exists(), name  # ... and every local file is kept
    card = (out / "README.md").read_text()
    assert "--max-steps 2" in card and "![samples](samples.png)" in card
    assert "me/ddpm-test" not in card.split("## Use")[1]  # not pushed: its code loads the folder, not the repo
    # the card it would have published carries measured figures (1000 DDIM samples, T = 5 steps here), not
    # "Not evaluated yet", and the scoring command is said, to run again
    assert "scoring it for the card it publishes (1000 samples, 50 DDIM steps or T if fewer" in r.stdout
    assert f"python -m ddpm.evaluate --weights {sh(out)} --n 1000 --sampler ddim" in r.stdout
    assert json.loads((out / "eval.json").read_text())["runs"]["ddim-5"]["n"] == 1000
    assert "| ddim-5 | 1000 |" in card and "Not evaluated yet" not in card
    assert Image.open(out / "samples.png").size == (2 * 242, 2 * 242)  # the card's 8x8 grid


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_run_with_a_guide_that_does_not_load_is_not_pushed(tmp_path, monkeypatch, capsys):
    """train.py --push-to-hub checks the folder as ddpm.push does: a guide/ put in it whose run has not ended (no
    model yet) was uploaded as it was, card, loss log and all."""
    import train

    pushed = []
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr("ddpm.push.push_to_hub", lambda *a, **kw: pushed.append(a) or True)
    drawn_on = []  # the grid is not what this is about; it is drawn on the run's own device (a GPU's, after one)
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda out, device: drawn_on.append(device))
    fewer_card_samples(monkeypatch)
    out = tmp_path / "run"
    flags = ["--data-dir", str(MNIST), "--out", str(out), "--batch-size", "8", "--base-channels", "8",
             "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "20"]
    assert train.main(flags + ["--max-steps", "2", "--device", "cpu"]) == 0 and drawn_on == [torch.device("cpu")]
    (out / "guide").mkdir()
    (out / "guide" / "checkpoint.safetensors").write_bytes(b"x")
    assert train.main(flags + ["--resume", "--max-steps", "3", "--push-to-hub", "--hub-model-id", "me/x"]) == 1
    err = capsys.readouterr().err
    assert f"error: {out} is not pushed: {out / 'guide'} is missing config.json" in err and not pushed
    assert f"`python -m ddpm.push {sh(out)} me/x` publishes it then" in err
    assert "me/x" not in (out / "README.md").read_text().split("## Use")[1]


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_quick_run_can_skip_the_cards_grid(tmp_path, monkeypatch, capsys):
    """--no-sample-grid (a lab's 30-second run): the 64-digit, all-T DDPM grid took most of a tiny run's time; the
    card is written without it and both say which command draws it later."""
    import train

    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda out, device: pytest.fail("drew the grid"))
    out = tmp_path / "run"
    assert train.main(["--data-dir", str(MNIST), "--out", str(out), "--max-steps", "2", "--batch-size", "8",
                       "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "20",
                       "--no-sample-grid"]) == 0
    assert f"--no-sample-grid: the card has no samples.png; `{card_grid_command(out)}` draws it" in \
        capsys.readouterr().out
    assert f"No sample grid yet: `{card_grid_command(out)}` makes one" in (out / "README.md").read_text()


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_train_cli_ctrl_c_during_the_push_keeps_the_finished_run(tmp_path, monkeypatch, capsys):
    import train

    def stopped(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr("ddpm.push.push_to_hub", stopped)
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda out, device: None)  # the grid is not what this is about
    fewer_card_samples(monkeypatch)
    out = tmp_path / "run"
    assert train.main(["--data-dir", str(MNIST), "--out", str(out), "--max-steps", "2", "--batch-size", "8",
                       "--base-channels", "8", "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "20",
                       "--push-to-hub", "--hub-model-id", "me/ddpm-test"]) == 130
    err = capsys.readouterr().err
    assert "the push was stopped (Ctrl-C or kill); its trained weights are saved" in err and "--resume" not in err
    assert f"python -m ddpm.push {sh(out)} me/ddpm-test" in err
    assert "me/ddpm-test" not in (out / "README.md").read_text().split("## Use")[1]  # loads the folder: no repo made
    recorded = json.loads((out / "training.json").read_text())["command"]  # main(argv)'s, not the process's (pytest's)
    assert recorded == f"python train.py --data-dir {sh(MNIST)} --out {sh(out)} --max-steps 2 --batch-size 8 " \
                       "--base-channels 8 --channel-mult 1,2 --attention-res 14 --timesteps 20 --push-to-hub " \
                       "--hub-model-id me/ddpm-test"


def test_train_says_what_it_kept_and_prints_commands_that_run_as_shown(tmp_path, monkeypatch, capsys):
    """train.main's own lines, training stubbed: the settings --resume keeps and the time limit it lifts; the
    recorded recipe and the card grid's command quoted as a shell needs (a folder named 'my run', an empty
    --attention-res); and a stopped private run's command that publishes it, private still."""
    import dataclasses

    import train
    from ddpm import training
    from ddpm.cli_args import command_line
    from ddpm.config import ModelConfig, TrainConfig

    assert command_line("train.py", ["--out", "my run", "--attention-res", ""]) == \
        "python train.py --out 'my run' --attention-res ''"
    out = tmp_path / "my run"
    hub.save_pretrained(tiny_model(), out, meta={"steps": 4})
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda folder, device: None)  # the grid is not the point
    monkeypatch.setattr(training, "train", lambda cfg, **kw: out)
    assert train.main(["--out", str(out), "--attention-res", ""]) == 0
    said = capsys.readouterr().out
    assert f"is kept): {card_grid_command(out)}\n" in said
    assert said.endswith(f"wrote {out / 'README.md'}, the model card; next:\n  DDPM_MODEL='{out}' python app.py   # "
                         f"open it in the app\n  python -m ddpm.evaluate --weights '{out}' --sampler ddim --steps 50 "
                         f"--out '{out / 'eval.json'}'   # score 1000 samples, a minute or two on a CPU; python -m "
                         f"ddpm.card '{out}' then puts the scores in the card\n  python -m ddpm.push '{out}' "
                         "YOUR_NAME/REPO   # publish it on the Hub\n")
    assert f"--weights '{out}' --seed 0" in card_grid_command(out)
    assert json.loads((out / "training.json").read_text())["command"] == \
        f"python train.py --out '{out}' --attention-res ''"  # the recipe replays as it is recorded

    run = TrainConfig(out=str(out), epochs=6, max_minutes=5, model=ModelConfig(base_channels=8, timesteps=20))
    (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(run)))
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr(training, "train", lambda cfg, **kw: (_ for _ in ()).throw(training.Stopped(out)))
    assert train.main(["--resume", "--out", str(out), "--push-to-hub", "--hub-model-id", "me/x", "--private"]) == 130
    stdout, err = capsys.readouterr()
    assert f"--resume: the run's own settings, from {out / 'train_config.json'}: --epochs 6 --timesteps 20 " \
           "--base-channels 8\n" in stdout
    assert "--resume: --max-minutes 5 limited the last sitting, not this one, which stops at --epochs 6\n" in stdout
    assert "--push-to-hub --hub-model-id me/x --private (pushed at its end)" in err
    assert f"`python -m ddpm.push '{out}' me/x --private` publishes it as it is" in err  # not made public by mistake


def test_train_reads_its_flags_before_torch_loads():
    """train.py's top-level imports (ddpm.config) load no torch: its flags are checked, and a Ctrl-C is a line,
    in the seconds before torch's start-up (ctrl_c_held)."""
    r = run_python("-c", "import sys, train; print('torch' in sys.modules)")
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_push_to_hub_without_a_repo_is_refused_with_a_token_too(tmp_path, monkeypatch, capsys):
    """--push-to-hub needs --hub-model-id before anything trains, whether or not a token is there (without one the
    token's refusal could hide a lost check of the repo)."""
    import train

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    with pytest.raises(SystemExit):
        train.parse_args(["--push-to-hub", "--out", str(tmp_path / "r")])
    assert "--push-to-hub needs --hub-model-id (e.g. you/ddpm-mnist)" in capsys.readouterr().err


def test_train_cli_bad_flags(tmp_path):
    out, never = tmp_path / "never_made", ["--out", str(tmp_path / "never")]  # never: refused before any data is read
    bad = [("--lr-decay-steps", "-5"), ("--batch-size", "0"), ("--label-dropout", "1.5"), ("--max-minutes", "-1"),
           ("--max-steps", "0")]
    done = iter(at_once(  # eleven commands of their own, read below in this order
        partial(run_python, "train.py", "--push-to-hub"),
        partial(run_python, "train.py", "--push-to-hub", "--hub-model-id", "me/ddpm", "--out", str(tmp_path / "r"),
                "--max-steps", "1", "--no-sample-grid",  # should the check be lost, a run of seconds, not minutes
                env={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf")}),  # no token anywhere
        *[partial(run_python, "train.py", flag, value, *never) for flag, value in bad],
        partial(run_python, "train.py", "--null-teacher", "weights", "--label-dropout", "0", *never),
        partial(run_python, "train.py", "--null-teacher-autoguidance", "2", *never),
        partial(run_python, "train.py", "--base-channels", "100000", "--data-dir", "/nonexistent", "--out",
                str(tmp_path / "n")),
        partial(run_python, "train.py", "--data-dir", "/nonexistent", "--max-steps", "1", "--out", str(out))))
    r = next(done)
    assert r.returncode == 2 and "--hub-model-id" in r.stderr
    r = next(done)
    assert r.returncode == 2 and r.stderr.startswith("train.py: error: --push-to-hub: no Hugging Face token here")
    assert not (tmp_path / "r").exists()  # refused before the run began
    for flag, value in bad:
        r = next(done)
        assert r.returncode == 2 and f"{flag} must be" in r.stderr and "Traceback" not in r.stderr, (flag, r.stderr)
    r = next(done)
    assert r.returncode == 2 and "--null-teacher sets the target of null-class rows only" in r.stderr
    r = next(done)
    assert r.returncode == 2 and "--null-teacher-autoguidance sets how the null teacher predicts" in r.stderr
    r = next(done)
    assert r.returncode == 2 and "makes a network of 19,180,032,600,001 weights, past the 1,000,000,000 this " \
        "trainer takes: give a smaller --base-channels" in r.stderr  # not the allocator's traceback; before the data
    r = next(done)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "could not load mnist from '/nonexistent': put MNIST's four *-ubyte.gz files in /nonexistent/MNIST/raw/ " \
           "(torchvision's last error" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # torchvision's many-line download report, in one
    assert not out.exists()  # a run that cannot start leaves no empty output folder behind


@pytest.mark.parametrize("args, message", [
    (["--base-channels", "0"], "--base-channels must be a whole number, a positive multiple of the 8 GroupNorm groups"),
    (["--base-channels", "12"], "--base-channels must be a whole number, a positive multiple"),
    (["--channel-mult", "0"], "--channel-mult"),
    (["--attention-res", "5"], "--attention-res must be among the levels' sizes [28, 14, 7]"),
    (["--timesteps", "1"], "--timesteps must be a whole number from 2 to 10000"),
    (["--timesteps", "100000000"], "--timesteps must be a whole number from 2 to 10000"),  # a card grid of hours
    (["--batch-size", "100000"], "--batch-size must be from 1 to 4096"),  # killed for memory, not refused
    (["--dropout", "nan"], "--dropout must be in [0, 1)"),
    (["--seed", "-1"], "--seed must be a whole number from 0"), (["--seed", str(2**32)], "from 0 to 4294967295"),
    (["--lr", "inf"], "--lr must be a positive number"),
    (["--out", ""], "--out must name a folder"), (["--out", "README.md"], "README.md is a file, not a folder"),
    (["--out", "README.md/run"], "README.md is a file, not a folder"),
    (["--out", "/proc/run"], "/proc cannot be written to"),  # root passes os.access there; mkdir fails after the data
    (["--push-to-hub", "--hub-model-id", "me/bad id"], "--hub-model-id: 'me/bad id' is not a Hub repo id: Repo id "
                                                       "must use alphanumeric chars"),
    (["--push-to-hub", "--hub-model-id", "ddpm-tiny"], "'ddpm-tiny' is not owner/name"),  # the card could not load it
    (["--hub-model-id", "me/ddpm"], "add --push-to-hub"), (["--private"], "add --push-to-hub")])
def test_train_cli_refuses_a_bad_network_seed_or_out_before_reading_data(args, message, capsys):
    import train

    with pytest.raises(SystemExit) as e:
        train.parse_args(args)
    assert e.value.code == 2 and message in capsys.readouterr().err


@POSIX
def test_train_cli_names_a_link_to_nothing_as_out(tmp_path, capsys):
    """runs/latest left pointing at a removed run: mkdir's bare "[Errno 17] File exists: 'runs/latest'" after the
    data had loaded."""
    import train

    (tmp_path / "latest").symlink_to(tmp_path / "gone")
    with pytest.raises(SystemExit):
        train.parse_args(["--out", str(tmp_path / "latest")])
    assert f"{tmp_path / 'latest'} is a link to nothing (it names {tmp_path / 'gone'})" in capsys.readouterr().err


def test_train_resume_keeps_the_runs_own_settings_unless_given_again(tmp_path, capsys):
    """`python train.py --resume --out DIR` alone continues the run as it was begun (README), not with the defaults."""
    import dataclasses

    import train
    from ddpm.config import ModelConfig, TrainConfig

    run = TrainConfig(out=str(tmp_path), batch_size=64, lr=1e-3, lr_decay_steps=20, label_dropout=0.5, epochs=6,
                      balance_classes=True, seed=7, max_minutes=5, max_steps=300, device="cpu",
                      mixed_precision="bf16",
                      warmup_steps=500, grad_clip=0.5, weight_decay=0.01, sample_every_epoch=False,  # no flags: a run
                      model=ModelConfig(base_channels=8, timesteps=50, num_res_blocks=2))  # begun from Python
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(run)))
    args = train.parse_args(["--resume", "--out", str(tmp_path)])
    assert args.config == dataclasses.replace(run, max_minutes=None, max_steps=None, device="auto")  # a sitting's
    # limits and machine; main() says the limits were lifted (--max-steps was lifted unsaid: 300 steps ran 18,000)
    assert args.lifted == ["--max-minutes 5", "--max-steps 300"]  # as typed (1234567 read "1.23457e+06")
    assert train.parse_args(["--resume", "--out", str(tmp_path), "--max-minutes", "9"]).lifted == ["--max-steps 300"]
    assert args.kept == ["--epochs 6", "--batch-size 64", "--lr 0.001", "--lr-decay-steps 20", "--label-dropout 0.5",
                         "--balance-classes", "--seed 7", "--mixed-precision bf16", "--timesteps 50",
                         "--base-channels 8", "--num-res-blocks 2"]  # shown as typed, where not the default
    given = train.parse_args(["--resume", "--out", str(tmp_path), "--lr", "3e-4", "--epochs", "8", "--seed", "7",
                              "--no-balance-classes", "--null-teacher", "weights"])
    cfg = given.config
    assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.model.base_channels) == (3e-4, 8, 64, 8)
    assert given.changed == ["--epochs 8 replaces the run's --epochs 6", "--lr 0.0003 replaces the run's --lr 0.001",
                             "--null-teacher weights replaces the run's --null-teacher ''",
                             "--no-balance-classes replaces the run's --balance-classes"]  # each said as typed
    assert not train.parse_args(["--resume", "--out", str(tmp_path), "--no-balance-classes"]).config.balance_classes
    assert train.parse_args(["--out", str(tmp_path)]).config.lr == 2e-3  # without --resume: the flags' defaults
    shaped = train.parse_args(["--out", str(tmp_path), "--base-channels", "12", "--groups", "4",
                               "--num-res-blocks", "2"]).config.model  # every ModelConfig width has its flag
    assert (shaped.base_channels, shaped.groups, shaped.num_res_blocks) == (12, 4, 2)
    for flags, hint in ((["--base-channels", "12"], "not 12; or give --groups a divisor of 12\n"),
                        (["--base-channels", "0"], "not 0\n")):  # no divisor to give for a base of 0
        with pytest.raises(SystemExit):
            train.parse_args(["--out", str(tmp_path), *flags])
        assert capsys.readouterr().err.endswith(hint)
    bare = dataclasses.replace(run, model=ModelConfig(base_channels=8, timesteps=50, attention_resolutions=()))
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(bare)))
    assert "--attention-res ''" in train.parse_args(["--resume", "--out", str(tmp_path)]).kept  # as a shell takes it
    # a run begun before --attention-res was checked against the levels (7 px on a 28/14 net) still resumes
    old = dataclasses.replace(run, model=ModelConfig(base_channels=8, channel_mult=(1, 2), attention_resolutions=(7,)))
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(old)))
    assert train.parse_args(["--resume", "--out", str(tmp_path)]).config.model == old.model
    for text, message in [("[]", "is not a readable run config"),  # flags given again cannot mend the file: it says so
                          ('{"model": null}', "is not a readable run config (expected an object with a 'model' "
                                              "object); repair it, or move it aside"),
                          (json.dumps(dataclasses.asdict(run) | {"epochs": "20"}), "holds a value of the wrong kind"),
                          (json.dumps(dataclasses.asdict(run) | {"epochs": 0}), "--epochs must be at least 1, not 0 "
                                                                                "(kept from"),
                          (json.dumps(dataclasses.asdict(run) | {"warmup_steps": -5}),  # no --warmup-steps to name
                           "holds a warmup_steps that no flag sets, and it must be 0 or more, not -5: repair it"),
                          (json.dumps(dataclasses.asdict(run) | {"weight_decay": "x"}),  # once AdamW's traceback
                           "holds a weight_decay that no flag sets, and it must be 0 or more, not 'x'"),
                          (json.dumps(dataclasses.asdict(run) | {"model": dataclasses.asdict(run.model) | {"groups": 6}}),
                           "multiple of the 6 GroupNorm groups, not 8 (kept from " + str(tmp_path / "train_config.json")
                           + " by --resume: give it again to change it); the 6 groups are kept from " +
                           str(tmp_path / "train_config.json") + " by --resume: give --groups a divisor of 8")]:
        (tmp_path / "train_config.json").write_text(text)
        with pytest.raises(SystemExit):
            train.parse_args(["--resume", "--out", str(tmp_path)])
        assert message in capsys.readouterr().err, text


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_resume_without_its_train_config_says_the_flags_take_their_defaults(tmp_path, capsys):
    """A checkpoint whose train_config.json is gone resumed with the default lr, epochs and label dropout, unsaid."""
    import train

    (tmp_path / "checkpoint.safetensors").write_bytes(b"not read before the notice")
    assert train.main(["--resume", "--out", str(tmp_path), "--data-dir", str(MNIST), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"--resume: {tmp_path / 'train_config.json'} is missing, so the run's own settings are not known: each " \
           "flag not given again takes train.py's default" in err and "cannot be read" in err
    assert not train.parse_args(["--resume", "--out", str(tmp_path / "none")]).__dict__.get("unrecorded")


def test_train_cli_shapes_the_network(tmp_path, capsys):
    import dataclasses

    import train
    from ddpm.config import ModelConfig, TrainConfig

    with pytest.raises(SystemExit):  # taken and never used before
        train.parse_args(["--unconditional", "--label-dropout", "0.5", "--out", str(tmp_path / "never")])
    assert "--label-dropout is the share of labels replaced by the null class, and this run is --unconditional " \
           "(trained without labels): drop --label-dropout" in capsys.readouterr().err
    assert train.parse_args(["--unconditional", "--out", str(tmp_path / "never")]).config.model.num_classes == 0
    run = tmp_path / "uncond"  # a run without labels saved before this check, with another label dropout
    run.mkdir()
    saved = TrainConfig(out=str(run), label_dropout=0.5, model=ModelConfig(num_classes=0))
    (run / "train_config.json").write_text(json.dumps(dataclasses.asdict(saved)))
    assert "--label-dropout" not in " ".join(train.parse_args(["--resume", "--out", str(run)]).kept)  # not typed back
    with pytest.raises(SystemExit):  # given again on the resume of one: refused there too
        train.parse_args(["--resume", "--out", str(run), "--label-dropout", "0.3"])
    assert "this run is --unconditional (trained without labels): drop --label-dropout" in capsys.readouterr().err

    cfg = train.parse_args(["--patch-size", "2", "--base-channels", "32", "--channel-mult", "1,2,4",
                            "--attention-res", "7,4"]).config.model
    assert (cfg.patch_size, cfg.base_channels, cfg.channel_mult, cfg.attention_resolutions) == (2, 32, (1, 2, 4), (7, 4))
    assert train.parse_args(["--attention-res", ""]).config.model.attention_resolutions == ()
    for flag, value, message in [("--attention-res", "7x", "--attention-res must be integers"),
                                 ("--patch-size", "3", "invalid choice")]:
        r = run_python("train.py", flag, value, "--out", str(tmp_path / "never"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (flag, r.stderr)


def test_a_fashion_mnist_run_goes_to_a_folder_of_its_own_by_default(tmp_path, monkeypatch):
    """`train.py --dataset fashion-mnist` wrote into runs/mnist: refused beside an MNIST run there, misnamed
    without one. A folder typed is kept, and MNIST's default stays runs/mnist."""
    import train

    monkeypatch.chdir(tmp_path)
    fashion = train.parse_args(["--dataset", "fashion-mnist"])
    assert fashion.out == fashion.config.out == "runs/fashion-mnist"
    assert train.parse_args(["--dataset", "fashion-mnist", "--out", "runs/f"]).config.out == "runs/f"
    assert train.parse_args([]).config.out == "runs/mnist"


@pytest.mark.skipif(not (MNIST / "MNIST" / "raw").exists(), reason="MNIST raw files not copied to data/mnist")
def test_a_stop_while_scoring_for_the_card_keeps_the_run_and_pushes_nothing(tmp_path, monkeypatch, capsys):
    """--push-to-hub scores the model for the card it publishes; a Ctrl-C (or kill) then is a stop, as during the
    grid: the card is written, nothing pushed, and the line says how to publish it."""
    import train

    def stopped(*a, **kw):
        raise KeyboardInterrupt

    pushed = []
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr("ddpm.push.push_to_hub", lambda *a, **kw: pushed.append(a) or True)
    monkeypatch.setattr("ddpm.sample.write_card_grid", lambda out, device: None)  # the grid is not what this is about
    monkeypatch.setattr("ddpm.evaluate.card_scores", stopped)
    out = tmp_path / "run"
    flags = ["--data-dir", str(MNIST), "--out", str(out), "--max-steps", "2", "--batch-size", "8", "--base-channels",
             "8", "--channel-mult", "1,2", "--attention-res", "14", "--timesteps", "20"]
    assert train.main(flags + ["--push-to-hub", "--hub-model-id", "me/x"]) == 130 and not pushed
    err = capsys.readouterr().err
    assert f"stopped (Ctrl-C or kill) while scoring it: its trained weights are saved in {out} with its card" in err
    assert f"nothing was pushed; `python -m ddpm.evaluate --weights {sh(out)} --n 1000" in err  # the grid was drawn
    assert err.rstrip().endswith(f" scores it; then `python -m ddpm.push {sh(out)} me/x` publishes it")
    assert (out / "README.md").exists() and not (out / "eval.json").exists()
    # a scoring that fails (it said why: no MNIST in --data-dir, a device not there) leaves the card unscored, pushed
    monkeypatch.setattr("ddpm.evaluate.card_scores", lambda *a: 2)
    assert train.main(flags + ["--out", str(tmp_path / "unscored"), "--push-to-hub", "--hub-model-id", "me/x"]) == 0
    assert "the card goes out without scores (it says how to add them)" in capsys.readouterr().err and pushed
    assert "Not evaluated yet" in (tmp_path / "unscored" / "README.md").read_text()
    pushed.clear()
    # weights whose eval.json is left (new weights set the old one aside) are not scored again (1-2 minutes; a row
    # of more samples would be refused, and the card said to go out unscored while it showed that row)
    monkeypatch.setattr("ddpm.facts.read_scores", lambda folder: {"runs": {"ddim-20": {}}})
    assert train.main(flags + ["--out", str(tmp_path / "again"), "--push-to-hub", "--hub-model-id", "me/x"]) == 0
    assert f"{tmp_path / 'again' / 'eval.json'} already scores these weights" in capsys.readouterr().out and pushed
