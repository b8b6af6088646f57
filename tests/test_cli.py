"""The command lines: --help, sampling to .png/.npz and output paths (train.py's: test_cli_train.py; ddpm.push's:
test_cli_push.py; the classifier's: test_classifier.py; the benchmark, ddpm.demo.timing and ddpm.data:
test_cli_tools.py)."""
import os
import json
import shlex
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import hub

from conftest import at_once, run_python, sample_cli, tiny_model


COMMANDS = ["train.py", "ddpm.sample", "ddpm.data", "ddpm.evaluate", "ddpm.benchmark", "ddpm.classifier", "ddpm.card",
            "ddpm.demo.timing", "ddpm.push", "app.py"]
# Each command's `--help`, run as `python -m` / `python FILE` runs it (runpy, as __main__), in one process: torch and
# gradio load once, not ten times. Prints {command: [exit code, stdout]} as JSON.
HELP_ALL = """
import contextlib, io, json, runpy, sys
out = {}
for cmd in sys.argv[1:]:
    sys.argv = [cmd, "--help"]
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            (runpy.run_path if cmd.endswith(".py") else runpy.run_module)(cmd, run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code
    except Exception as e:  # noqa: BLE001 - named in the failing test, not in a crash of all ten
        code = repr(e)
    out[cmd] = [code, buf.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helps():
    r = run_python("-c", HELP_ALL, *COMMANDS)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help(helps, cmd):
    code, text = helps[cmd]
    assert code == 0 and "usage" in text


def test_the_app_refuses_a_flag_it_does_not_have_before_loading_anything():
    r = run_python("app.py", "--port", "3", timeout=60)
    assert r.returncode == 1 and "app.py takes no arguments, not --port 3" in r.stderr and "Traceback" not in r.stderr


def test_sample_cli_png_and_npz(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    r, png = at_once(  # the .npz and the .png, a core each (the second .npz below replaces the first: after it)
        partial(run_python, "-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--n", "6", "--sampler", "ddim",
                "--steps", "3", "--label", "random", "--guidance", "2", "--out", str(tmp_path / "s.npz")),
        partial(run_python, "-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--n", "4", "--device", "auto",
                "--out", str(tmp_path / "g.png")))  # auto: a GPU where there is one
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "s.npz") as f:
        assert f["samples"].shape == (6, 28, 28) and f["samples"].dtype == np.uint8
        assert f["label"].item() == "random" and f["guidance"].item() == 2.0  # ddpm.evaluate --from-samples reads them
        assert f["first"].item() == 0  # the index of its first sample, so shards can be joined
    r = run_python("-m", "ddpm.sample", "--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps",
                   "2", "--out", str(tmp_path / "s.npz"))  # over the last: that one is kept, and said
    assert r.returncode == 0 and f"; the file it replaced is kept as {tmp_path / 's.npz.previous'}" in r.stdout
    with np.load(tmp_path / "s.npz.previous") as f:  # (out of the way of a --from-samples 's*.npz' glob)
        assert f["samples"].shape == (6, 28, 28)
    r = png
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "g.png").size == (2 * 62, 2 * 62)  # 2x2 digits, 2 px padding, scaled 2x


@pytest.mark.parametrize("kw", [dict(sampler="ddim", steps=4, label="3", guidance=2.0, eta=1.0),
                                dict(sampler="ddpm", label="random", guidance=0.5), dict(sampler="ddim", steps=3),
                                dict(sampler="ddim", steps=3, label="5", guidance=0.0, eta=0.30000000000000004)])
def test_the_command_generate_shows_draws_its_digits_again(tmp_path, capsys, kw):
    """Generate ends with the `python -m ddpm.sample` line of its settings (whose defaults differ from the app's):
    run as shown, it draws the same uint8 digits."""
    from ddpm.demo.generate import check_settings, generate
    from ddpm.images import to_uint8_np
    from ddpm.schedule import NoiseSchedule

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    model = hub.load_pretrained(tmp_path / "m")
    s = check_settings(**(dict(seed=5, n=3, steps=None, label="any", guidance=1.0) | kw), T=model.config.timesteps)
    last = list(generate(model, NoiseSchedule(model.config.timesteps), s, weights=str(tmp_path / "m")))[-1]
    command = last.text.split("From the command line:\n\n```\n")[1].removesuffix("\n```")
    assert command == s.command(str(tmp_path / "m")) and command.startswith("python -m ddpm.sample --seed 5 ")
    rc, err = sample_cli(shlex.split(command)[3:-2] + ["--out", str(tmp_path / "d.npz")], capsys)
    assert rc == 0, err
    with np.load(tmp_path / "d.npz") as f:
        assert np.array_equal(f["samples"], to_uint8_np(last.samples))


@pytest.mark.parametrize("module, args, says", [
    ("benchmark", ["--repeats", "0"], "argument --repeats: must be 1 or more, not 0"),
    ("benchmark", ["--n", "-3"], "argument --n: must be between 1 and 1024, not -3"),
    ("benchmark", ["--n", "100000000"], "argument --n: must be between 1 and 1024, not 100000000"),
    ("benchmark", ["--ddim-steps", "0"], "argument --ddim-steps: must be 1 or more, not 0"),
    ("benchmark", ["--train-widths", "16,0"], "argument --train-widths: must be between 1 and 256, not 0"),
    ("benchmark", ["--bf16"], "--bf16 times training steps: give it with --train-widths"),
    ("classifier", ["--width", "0"], "argument --width: must be 1 or more, not 0"),
    ("classifier", ["--epochs", "two"], "argument --epochs: must be a whole number, not 'two'"),
    ("classifier", ["--threads", "0"], "argument --threads: must be 1 or more, not 0"),  # 0 was torch's choice, unsaid
    ("classifier", ["--batch-size", "100000000"], "argument --batch-size: must be between 1 and 4096"),  # 24 GB
    ("classifier", ["--seed", "-1"], "argument --seed: must be between 0 and 4294967295, not -1"),
    ("classifier", ["--lr", "nan"], "--lr must be a positive number, not nan"),  # it blamed --label-smoothing too
    ("classifier", ["--lr", "0"], "--lr must be a positive number, not 0.0"),  # minutes of training that learn nothing
    ("classifier", ["--label-smoothing", "1"], "--label-smoothing must be in [0, 1), not 1.0")])  # all targets alike
def test_counts_below_one_are_refused_as_they_parse(module, args, says, capsys, monkeypatch, tmp_path):
    """sample's, evaluate's, benchmark's, timing's and the classifier's counts share one argparse type, so each
    refuses 0 in the same words, before loading."""
    import importlib

    cli = importlib.import_module(f"ddpm.{module}")
    job = {"benchmark": "run", "classifier": "train"}[module]  # a count let through must not time or train
    monkeypatch.setattr(cli, job, lambda *a, **k: pytest.fail(f"{args} ran {job}"))
    with pytest.raises(SystemExit):
        cli.main([*args, "--out", str(tmp_path / "c.safetensors")] if module == "classifier" else args)
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--n", "0"], "--n: must be between 1 and 100000, not 0"), (["--label", "12"], "--label: must be"),
    (["--out", "x.jpg"], ".png or .npz"), (["--out", "/tmp"], "--out /tmp is a folder: name a file in it, such as "
                                                              "/tmp/digits.png"),
    (["--weights", "/nonexistent/folder"], "not a model folder"),
    (["--eta", "2", "--sampler", "ddim"], "--eta must be"), (["--eta", "1"], "--eta is a DDIM setting"),
    (["--steps", "50"], "--steps 50 is a DDIM setting (add --sampler ddim); DDPM always runs all T = 20 steps of "
                        "this model: leave --steps out, or give 20"),  # (the tiny model's T)
    (["--sampler", "ddim", "--variance", "beta_tilde"], "--variance is a DDPM setting; DDIM's noise is set by --eta"),
    (["--first", "-1"], "--first: must be between 0 and"), (["--seed", "-1"], "--seed: must be between 0 and"),
    (["--seed", str(2**64)], "--seed: must be between 0 and 9007199254740991, not"),  # an .npz could not hold it
    (["--label", "3", "--guidance", "nan"], "--guidance must be between 0 and 10"),
    (["--label", "3", "--guidance", "11", "--weights", "/nonexistent/folder"],  # refused before any weights load
     "--guidance must be between 0 and 10"),
    (["--guidance", "3"], "--guidance steers toward a class: add --label"),
    # refused before any weights load (with no check, the model would load, then fail mid-way or sample for long)
    (["--sampler", "ddim", "--steps", "0", "--weights", "/nonexistent/folder"], "argument --steps: must be 1 or more, not 0"),
    (["--batch-size", "0", "--weights", "/nonexistent/folder"], "argument --batch-size: must be 1 or more, not 0"),
    (["--batch-size", "2.5"], "argument --batch-size: must be a whole number, not '2.5'"),
    (["--n", "100001", "--weights", "/nonexistent/folder"], "--n: must be between 1 and 100000, not 100001"),
    (["--device", "tpu"], "unknown device 'tpu': use auto, cpu, cuda or mps")]
    + ([(["--device", "cuda"], "device 'cuda' is not available on this machine")] if not torch.cuda.is_available()
       else []))
def test_sample_cli_rejects_bad_input(args, message, tmp_path, capsys):
    """Each refused before sampling; should a check regress, the tiny model draws its digits in a blink, into
    tmp_path (a case's own --weights or --out comes later, so it wins)."""
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--out", str(tmp_path / "s.png"), *args], capsys)
    assert rc == 2 and message in err
    assert not (tmp_path / "s.png").exists()


def test_sample_cli_takes_guidance_from_0_to_10():
    """The ends of --guidance's range (MAX_GUIDANCE) are accepted, and a scale above it refused (above)."""
    from ddpm import sample

    assert [sample.parse_args(["--label", "3", "--guidance", w]).guidance for w in ("0", "10")] == [0.0, 10.0]
    assert sample.parse_args(["--label", "3"]).guidance == 1.0  # as --help says: the plain conditional model


def test_sample_cli_refuses_a_label_for_an_unconditional_model_and_no_clip_is_heard(tmp_path, capsys):
    """--label for a model trained without labels is refused in a line (exit 2, not a traceback); --no-clip
    changes what DDPM draws (x0_hat left unclipped) and is recorded so."""
    import numpy as np

    hub.save_pretrained(tiny_model(num_classes=0), tmp_path / "u")
    rc, err = sample_cli(["--weights", str(tmp_path / "u"), "--label", "3", "--out", str(tmp_path / "x.png")], capsys)
    assert rc == 2 and "this model is unconditional; drop --label" in err and "Traceback" not in err
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    drawn = []
    for flags in ([], ["--no-clip"]):
        out = tmp_path / f"s{len(drawn)}.npz"
        assert sample_cli(["--weights", str(tmp_path / "m"), "--n", "2", "--out", str(out), *flags], capsys)[0] == 0
        with np.load(out) as f:
            drawn.append((f["samples"], bool(f["clip"]) if "clip" in f.files else True))  # recorded when off
    assert [clip for _, clip in drawn] == [True, False] and not np.array_equal(drawn[0][0], drawn[1][0])


def test_sample_cli_takes_every_digit_and_up_to_100000_of_them():
    """The ends of --label's and --n's ranges are accepted (the values past them are refused above)."""
    import argparse

    from ddpm import sample
    from ddpm.cli_args import label_arg

    assert [label_arg(v) for v in ("0", "9", "Random", "RANDOM")] == [0, 9, "random", "random"]
    for bad in ("10", "-1", "3.5", "any"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be a digit 0-9 or 'random'"):
            label_arg(bad)
    a = sample.parse_args(["--label", "9", "--n", "100000"])
    assert (a.label, a.n) == (9, 100000)


def test_sample_cli_takes_a_fashion_mnist_class_by_name_for_a_fashion_mnist_model_alone(tmp_path, capsys):
    """--label Sneaker was refused ("must be a digit 0-9") though the model card names the classes; for an MNIST
    model the name is refused, not taken for its index (a Sneaker asked of it would have drawn sevens)."""
    import argparse

    from ddpm.cli_args import label_or_name_arg
    from ddpm.eval_files import read_samples

    assert [label_or_name_arg(v) for v in ("sneaker", " Ankle Boot", "T-shirt/top", "7", "random")] == [7, 9, 0, 7,
                                                                                                        "random"]
    with pytest.raises(argparse.ArgumentTypeError, match="Fashion-MNIST's by name: T-shirt/top, .*, not 'sneakers'"):
        label_or_name_arg("sneakers")
    mnist, fashion = hub.save_pretrained(tiny_model(num_classes=10), tmp_path / "m"), tmp_path / "f"
    hub.save_pretrained(tiny_model(num_classes=10), fashion)
    (fashion / "training.json").write_text('{"dataset": "fashion-mnist"}')
    args = ["--label", "Sneaker", "--n", "2", "--sampler", "ddim", "--steps", "2"]
    rc, err = sample_cli(["--weights", str(mnist), *args, "--out", str(tmp_path / "m.npz")], capsys)
    assert rc == 2 and "--label Sneaker is a class of Fashion-MNIST, and this model was trained on MNIST" in err
    assert not (tmp_path / "m.npz").exists()
    from ddpm import sample

    assert sample.main(["--weights", str(fashion), *args, "--out", str(tmp_path / "f.npz")]) == 0
    assert capsys.readouterr().out.startswith("wrote 2 images to")  # not "digits"
    images, facts = read_samples(tmp_path / "f.npz")
    assert facts["label"] == 7 and facts["dataset"] == "fashion-mnist" and images.shape == (2, 28, 28)


def test_sample_cli_refuses_a_bad_out_or_steps_before_sampling_and_records_the_steps_run(tmp_path, monkeypatch, capsys):
    from ddpm import sample

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "d.png").mkdir()
    (tmp_path / "file").write_text("")
    drawn = []
    real = sample.sample_images
    monkeypatch.setattr(sample, "sample_images", lambda *a, **k: drawn.append(a) or real(*a, **k))
    for out in (tmp_path / "d.png", tmp_path / "file" / "x.npz"):  # a folder; a folder under a file
        rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "1", "--out", str(out)], capsys)
        assert rc == 2 and f"cannot write {out}" in err and not drawn
    assert f"{tmp_path / 'file'} is a file, not a folder" in err  # not mkdir's bare "File exists"
    assert not (tmp_path / "new").exists()
    T = hub.load_pretrained(tmp_path / "m").config.timesteps
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "1", "--sampler", "ddim", "--steps", str(T + 1),
                          "--out", str(tmp_path / "new" / "s.npz")], capsys)
    assert rc == 2 and f"--steps {T + 1} is more than this model's T = {T}" in err and not drawn  # as diffusers refuses
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "1", "--steps", "3",  # DDPM would run all T
                          "--out", str(tmp_path / "new" / "s.npz")], capsys)
    assert rc == 2 and f"--steps 3 is a DDIM setting (add --sampler ddim); DDPM always runs all T = {T}" in err
    assert not drawn
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "1", "--sampler", "ddpm", "--steps", str(T),
                          "--out", str(tmp_path / "new" / "s.npz")], capsys)  # the issue's --sampler ddpm --steps K
    assert rc == 0, err
    with np.load(tmp_path / "new" / "s.npz") as f:
        assert f["steps"].item() == T == drawn[0][4]  # DDPM runs all T steps (others are refused); the file says so
    assert T < 50  # a model of fewer timesteps than DDIM's default 50 steps: with no --steps, DDIM runs T of them
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "1", "--sampler", "ddim",
                          "--out", str(tmp_path / "new" / "d.npz")], capsys)
    assert rc == 0, err
    with np.load(tmp_path / "new" / "d.npz") as f:
        assert f["steps"].item() == T


def test_sample_cli_ctrl_c_is_a_line_and_leaves_the_old_file_whole(tmp_path, monkeypatch, capsys):
    """Ctrl-C while sampling, or while the file is being written: one line, exit 130, and the file of the last
    run as it was (not half of a new one), with no temporary file left beside it."""

    from ddpm import safeio, sample

    hub.save_pretrained(tiny_model(), tmp_path / "m")

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    for out in (tmp_path / "g.png", tmp_path / "s.npz"):
        out.write_bytes(b"the last run's")
        with monkeypatch.context() as m:
            m.setattr(sample, "sample_images", ctrl_c)
            rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "300", "--out", str(out)], capsys)
        assert rc == 130 and err == f"\nstopped (Ctrl-C); nothing was written to {out}; --n and --first split a " \
                                    "long run into files that each survive a stop\n"
        with monkeypatch.context() as m:  # half the new file is on the disk when Ctrl-C comes
            m.setattr(safeio.os, "fsync", ctrl_c)
            rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "2", "--out", str(out)], capsys)
        assert rc == 130 and err == f"\nstopped (Ctrl-C); nothing was written to {out}\n"
        assert out.read_bytes() == b"the last run's" and sorted(os.listdir(tmp_path)) == sorted(
            ["m", "g.png"] + (["s.npz"] if out.suffix == ".npz" else []))


@pytest.mark.parametrize("module, target, said", [
    ("ddpm.benchmark", "run", "no figure is printed before every run has been timed"),
    ("ddpm.classifier", "train", "the classifier was not saved; "),
    ("ddpm.demo.timing", "load_runtime", "no median is printed before every action has run --repeats times")])
def test_the_measuring_command_lines_answer_ctrl_c_with_a_line(module, target, said, monkeypatch, capsys, tmp_path):
    import importlib

    m = importlib.import_module(module)
    monkeypatch.setattr(m, target, lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    args = ["--out", str(tmp_path / "c.safetensors")] if module == "ddpm.classifier" else []  # never the shipped one
    assert m.main(args) == 130 and capsys.readouterr().err.startswith(f"\nstopped (Ctrl-C); {said}")


def test_an_output_path_in_a_folder_that_cannot_be_entered_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """Path.is_file raises PermissionError in a folder this user may not enter (Python 3.11); the check of which
    parent is a file must not (root enters every folder, so the refusal is stood in for)."""
    from pathlib import Path

    from ddpm.cli_args import check_writable

    def refused(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", refused)
    monkeypatch.setattr(Path, "is_dir", refused)
    monkeypatch.setattr("tempfile.TemporaryFile", lambda dir: refused(dir))  # the try in the folder that is there
    assert check_writable(tmp_path / "locked" / "x.png") == f"cannot write {tmp_path / 'locked' / 'x.png'}: " \
                                                            f"Permission denied in {tmp_path}"  # the folder tried


def test_an_output_path_that_names_a_folder_is_refused_not_written_as_a_file(tmp_path):
    from ddpm.cli_args import check_writable

    for path in (f"{tmp_path}/o.png/", f"{tmp_path}/o.png/.", f"{tmp_path}/o.png/.."):  # Path() would drop the end
        assert check_writable(path) == f"cannot write {path}: that names a folder, not a file; name the file to write"
    r = run_python("-m", "ddpm.sample", "--sampler", "ddim", "--steps", "2", "--n", "1", "--out",
                   f"{tmp_path}/o.png/", timeout=120)
    assert r.returncode == 2 and "that names a folder, not a file" in r.stderr and not (tmp_path / "o.png").exists()


def test_a_folder_where_the_replaced_samples_would_be_kept_is_refused_before_sampling(tmp_path, monkeypatch, capsys):
    from ddpm import sample

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "s.npz").write_bytes(b"the last run's")
    (tmp_path / "s.npz.previous").mkdir()
    monkeypatch.setattr(sample, "sample_images", lambda *a, **k: pytest.fail("sampled before the refusal"))
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "2", "--out", str(tmp_path / "s.npz")], capsys)
    assert rc == 2 and f"{tmp_path / 's.npz.previous'} is a folder, where the file now at" in err
    assert (tmp_path / "s.npz").read_bytes() == b"the last run's"


def test_both_sampling_command_lines_load_a_model_by_one_path_and_evaluate_says_how_to_get_one(tmp_path, capsys):
    from ddpm import evaluate, sample

    missing = ["--weights", str(tmp_path / "none"), "--n", "2"]
    assert sample.main(missing + ["--out", str(tmp_path / "g.png")]) == 2
    said = capsys.readouterr().err
    assert "is not a model folder" in said and "python train.py" not in said
    assert evaluate.main(missing) == 2
    said = capsys.readouterr().err
    assert "is not a model folder" in said and "train a model with `python train.py`" in said
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    loaded = sample.load_for_sampling(str(tmp_path / "m"), "cpu", "ddim", None)
    assert loaded.dataset == "mnist" and loaded.steps == min(50, loaded.model.config.timesteps)
    assert loaded.digest == hub.weights_digest(loaded.model)


def test_the_output_check_leaves_no_folder_behind_so_a_missing_weights_folder_is_said_as_missing(tmp_path, capsys):
    """train.py's next line, `ddpm.evaluate --weights RUN --out RUN/eval.json`, with RUN mistyped: the --out check
    made RUN, empty, and the load then said "missing config.json" instead of "does not exist"."""
    from ddpm import evaluate
    from ddpm.cli_args import check_writable

    (tmp_path / "kept").mkdir()
    assert check_writable(tmp_path / "a" / "b" / "x.png") is None and check_writable(tmp_path / "kept" / "x") is None
    assert check_writable(tmp_path / "a" / ".." / "kept" / "x.png") is None  # (a is missing: still kept's place)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]  # nothing made, nothing taken away
    run = tmp_path / "run"
    assert evaluate.main(["--weights", str(run), "--n", "2", "--out", str(run / "eval.json")]) == 2
    assert "(it does not exist)" in capsys.readouterr().err and not run.exists()


def test_the_output_check_sees_the_folders_as_the_write_will(tmp_path, monkeypatch):
    """Through links, as the system does: what the check passes, the write (a temporary file in the folder, then a
    rename) can do, and what the write would fail on is said before the run."""
    from ddpm.cli_args import check_writable

    if not hasattr(os, "symlink") or os.name == "nt":
        pytest.skip("symlinks")
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "f").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "x" / "y")  # link/.. is x, so link/../f is x's file f
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    assert check_writable(tmp_path / "link" / ".." / "f" / "o.png") == \
        f"cannot write {tmp_path}/link/../f/o.png: {tmp_path}/link/../f is a file, not a folder"
    assert check_writable(tmp_path / "gone" / "o.png") == \
        f"cannot write {tmp_path}/gone/o.png: {tmp_path}/gone is a link to nothing, not a folder"
    assert check_writable(tmp_path / "x") == f"cannot write {tmp_path}/x: it is a folder; name the file to write"
    assert check_writable(tmp_path / "link" / "new" / "o.png") is None
    monkeypatch.setattr(os.path, "lexists", lambda p: False)  # a drive or share that is not there
    assert check_writable(tmp_path / "o.png") == f"cannot write {tmp_path}/o.png: none of the folders above it exists"
