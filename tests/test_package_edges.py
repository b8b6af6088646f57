"""Edges of the package's config checks, records, JSON files, null teacher and benchmark that hand-made mutation
testing found unguarded (each test fails on the mutant it was written for): an infinite weight decay, a guide
of another image size, a teacher asked at the wrong t, a timing at the wrong size, a figure that is a bool."""
import dataclasses
import json
import math

import pytest
import torch

from ddpm.config import ConfigError, ModelConfig, TrainConfig

from conftest import tiny_config


def test_eps_mismatch_names_each_setting_that_changes_the_data_or_the_noise():
    """A guide or a null teacher of another image size or another class count runs on our x_t all the same (the
    convolutions take any size), so each such setting must be named, not only T and the schedule."""
    ours = tiny_config()
    for key, theirs in [("image_size", 32), ("in_channels", 3), ("num_classes", 0), ("timesteps", 50),
                        ("schedule", "cosine")]:
        assert ours.eps_mismatch(tiny_config(**{key: theirs})) == [(key, getattr(ours, key), theirs)]
    assert ours.eps_mismatch(tiny_config(base_channels=16, num_res_blocks=2)) == []  # its own network may differ


def test_train_config_refuses_an_infinite_weight_decay():
    """inf passes `>= 0`: AdamW's decay would then turn every weight into nan at the first step."""
    with pytest.raises(ConfigError) as e:
        TrainConfig(weight_decay=math.inf)
    assert e.value.field == "weight_decay" and "inf" in str(e.value)


def test_train_config_refuses_a_label_dropout_of_1():
    """--label-dropout 1 would train every row on the null class: no class would ever be learnt, while the card
    called the model class-conditional."""
    TrainConfig(label_dropout=0.99)
    with pytest.raises(ConfigError) as e:
        TrainConfig(label_dropout=1.0)
    assert e.value.field == "label_dropout"


def test_train_config_refuses_a_teacher_autoguidance_past_the_largest_weight():
    """--null-teacher-autoguidance takes what --autoguidance takes, 0 to 10: 50 would distil a saturated teacher."""
    with pytest.raises(ConfigError) as e:
        TrainConfig(null_teacher="weights", label_dropout=0.5, null_teacher_autoguidance=10.5)
    assert e.value.field == "null_teacher_autoguidance" and "between 0 and 10" in str(e.value)


def test_a_null_teacher_autoguided_below_1_is_autoguided_too(tmp_path):
    """W < 1 (towards the guide) is a weight like any other than 1: it must not be dropped for the plain teacher."""
    from ddpm import hub
    from ddpm.autoguidance import Autoguided
    from ddpm.teacher import null_teacher

    from conftest import tiny_model
    from train_helpers import train_cfg

    main, guide = tiny_model(0, timesteps=100), tiny_model(1, timesteps=100)
    folder = hub.save_pretrained(main, tmp_path / "teacher")
    hub.save_pretrained(guide, folder / "guide")
    cfg = train_cfg(tmp_path / "run", label_dropout=0.5, null_teacher=str(folder), null_teacher_autoguidance=0.5)
    teacher = null_teacher(cfg, tmp_path / "run", torch.device("cpu"))
    x_t, t, y = torch.randn(2, 1, 28, 28), torch.tensor([10, 40]), torch.tensor([1, 2])
    with torch.no_grad():
        torch.testing.assert_close(teacher(x_t, t, y), Autoguided(main, guide, 0.5, t_max=60)(x_t, t, y))


def test_null_rows_target_asks_the_teacher_at_each_dropped_rows_own_x_t_t_and_label():
    """The teacher's eps is E[eps | x_t] at the row's own noisy image and timestep: given eps, or t = 0, it would
    teach the wrong target without any shape going wrong."""
    from ddpm.teacher import null_rows_target

    class Recorder(torch.nn.Module):
        def forward(self, x_t, t, y):
            self.args = (x_t.clone(), t.clone(), y.clone())
            return x_t + t[:, None, None, None]

    g = torch.Generator().manual_seed(0)
    x_t, eps = torch.randn(4, 1, 28, 28, generator=g), torch.randn(4, 1, 28, 28, generator=g)
    t, y, drop = torch.tensor([3, 7, 11, 15]), torch.tensor([1, 2, 3, 4]), torch.tensor([True, False, True, False])
    teacher, before = Recorder(), eps.clone()
    target = null_rows_target(teacher, x_t, t, y, eps, drop)
    assert all(torch.equal(a, b[drop]) for a, b in zip(teacher.args, (x_t, t, y)))
    torch.testing.assert_close(target[drop], x_t[drop] + t[drop, None, None, None])
    assert torch.equal(target[~drop], eps[~drop]) and torch.equal(eps, before)  # eps itself left as drawn


def test_benchmark_times_each_grid_and_forward_pass_at_n_and_guided_rows_below_w_1(tmp_path, monkeypatch):
    """--n sizes every timed grid and the forward pass the table reports "of n"; --autoguidance 0.5 (any w but 1)
    adds the guided rows it names."""
    from ddpm import benchmark, hub

    from conftest import tiny_model

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / hub.GUIDE_SUBFOLDER)
    grids, passes = [], []
    monkeypatch.setattr(benchmark, "sample", lambda model, sched, n, seed, **kw: grids.append(n))
    monkeypatch.setattr(benchmark, "forward_cost", lambda model, n=16: passes.append(n) or (1.0, 1.0, 1.0))
    res = benchmark.run(str(tmp_path / "m"), n=3, repeats=1, ddim_steps=2, autoguidance=0.5)
    rows = {f"{k}{g}" for k in ("ddpm-20", "ddim-2", "ddim-2-eta1") for g in ("", "-autoguided0.5")}
    assert set(res["seconds"]) == rows
    assert grids == [3] * 6 and passes == [3]


def test_benchmark_times_a_training_step_of_the_weights_shape_at_each_base_width(tmp_path, monkeypatch, capsys):
    """--train-widths: train.py's step (train_step, its default batch) on a fresh network of the weights' shape at
    each width, one untimed step first, then the widths interleaved; a width GroupNorm cannot take is refused."""
    from ddpm import benchmark, hub

    from conftest import tiny_model

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    steps = []
    monkeypatch.setattr(benchmark, "train_step", lambda net, sched, opt, x0, y, *a, amp_dtype=None: steps.append(
        (net.config.base_channels, net.config.channel_mult, len(x0), net.training, amp_dtype)))
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--train-widths", "8,16", "--repeats", "2"]) == 0
    mult = tiny_model().config.channel_mult
    assert steps == [(w, mult, 128, True, None) for _ in range(3) for w in (8, 16)]
    out = capsys.readouterr().out
    assert "random batch of 128" in out and "median of 2" in out
    assert "base width 8 (" in out and "base width 16 (" in out and "bf16" not in out
    steps.clear()  # --bf16: each width's float32 step, then its bfloat16 one
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--train-widths", "8", "--repeats", "1", "--bf16"]) == 0
    assert steps == [(8, mult, 128, True, dtype) for _ in range(2) for dtype in (None, torch.bfloat16)]
    assert "; bf16 autocast " in capsys.readouterr().out
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--train-widths", "12"]) == 2
    assert "positive multiple of the 8 GroupNorm groups, not 12" in capsys.readouterr().err


def test_benchmarks_nchw_figure_times_a_plain_layout_copy(monkeypatch):
    """forward_ms_nchw is the same network in the NCHW layout beside load_pretrained's channels_last one: a copy
    left channels_last would time the same layout twice under two names."""
    import copy
    from types import SimpleNamespace

    from ddpm import benchmark

    from conftest import tiny_model

    model = tiny_model().to(memory_format=torch.channels_last)
    copies = []
    keep = lambda m: copies.append(copy.deepcopy(m)) or copies[-1]  # noqa: E731
    monkeypatch.setattr(benchmark, "copy", SimpleNamespace(deepcopy=keep))
    benchmark.forward_cost(model, 1, 1)
    convs = lambda m: [c.weight for c in m.modules() if isinstance(c, torch.nn.Conv2d)]  # noqa: E731
    assert not all(w.is_contiguous() for w in convs(model))  # the model's own layout: channels_last
    assert all(w.is_contiguous() for w in convs(copies[0]))



def test_json_files_are_written_one_field_a_line_for_hand_edits(tmp_path):
    """config.json, train_config.json and eval.json are meant to be read and hand-edited: indented, newline-ended."""
    from ddpm.safeio import atomic_write_json

    atomic_write_json(tmp_path / "c.json", {"timesteps": 20, "channel_mult": [1, 2]})
    assert (tmp_path / "c.json").read_text() == '{\n  "timesteps": 20,\n  "channel_mult": [\n    1,\n    2\n  ]\n}\n'


def test_an_eval_json_row_without_its_memorised_share_or_with_a_bool_figure_is_left_out(tmp_path, capsys):
    """The card's table shows each row's memorised share and FD as numbers: a row without the one, or with `true`
    for the other (a hand edit), is a note, not a blank, "True" or a crash."""
    import json

    from ddpm.facts import read_scores

    row = {"n": 100, "fd": 1.0, "inception_score": 9.0, "memorised": 0.01, "fd_ratio": 2.0, "class_share": [0.1] * 10}
    runs = {"ddpm-20": row, "ddim-5": {k: v for k, v in row.items() if k != "memorised"}, "ddim-9": row | {"fd": True}}
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": runs}))
    assert list(read_scores(tmp_path)["runs"]) == ["ddpm-20"]
    assert "runs ddim-5, ddim-9 lack their figures and are left out" in capsys.readouterr().err


def test_a_training_record_naming_no_dataset_reads_as_mnist():
    """A hand edit that leaves "dataset" null or empty: the card, About and a null teacher's check read MNIST, as
    for a record without the key, not "None" or ""."""
    from ddpm.facts import dataset_in

    assert dataset_in({}) == dataset_in({"dataset": None}) == dataset_in({"dataset": ""}) == "mnist"
    assert dataset_in({"dataset": "fashion-mnist"}) == "fashion-mnist"


def test_a_write_refused_by_the_folder_names_the_file_asked_for_not_its_temporary(tmp_path, monkeypatch):
    """ddpm.card and ddpm.push on a read-only folder said "Read-only file system: '.../README.mddk5pdr03.tmp'"."""
    import errno
    import tempfile

    from ddpm.safeio import atomic_write_bytes

    def read_only(dir, prefix, suffix):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}dk5pdr03{suffix}")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(tmp_path / "README.md", b"card")
    assert e.value.filename == str(tmp_path / "README.md") and ".tmp" not in str(e.value)


def test_a_file_held_open_a_moment_on_windows_is_replaced_once_let_go(tmp_path, monkeypatch):
    """Windows refuses to replace a file another program reads (a virus scanner on a checkpoint just written): the
    save waits a little and tries again rather than stop the run; a file held for good is still said, by its name."""
    from ddpm import safeio

    real_replace, refusals = safeio.os.replace, [2]

    def held(src, dst):
        if refusals[0]:
            refusals[0] -= 1
            raise PermissionError(13, "Access is denied", str(src))
        real_replace(src, dst)

    monkeypatch.setattr(safeio, "REPLACE_TRIES", 6)
    monkeypatch.setattr(safeio.os, "replace", held)
    monkeypatch.setattr(safeio.time, "sleep", lambda s: None)
    safeio.atomic_write_bytes(f := tmp_path / "checkpoint.safetensors", b"new")
    assert f.read_bytes() == b"new" and refusals == [0]
    refusals[0] = 6
    with pytest.raises(PermissionError) as e:
        safeio.atomic_write_bytes(f, b"newer")
    assert e.value.filename == str(f) and f.read_bytes() == b"new" and list(tmp_path.iterdir()) == [f]


def test_a_replaced_file_is_kept_one_generation_and_a_failed_write_keeps_both(tmp_path):
    """keeping_previous: the file a write replaces is kept as NAME.previous; a write that fails or is stopped leaves
    the file and the generation kept before it as they were (it had deleted that generation first)."""
    from ddpm.safeio import atomic_write_bytes, keeping_previous, previous_blocked

    f, kept = tmp_path / "s.npz", tmp_path / "s.npz.previous"
    with keeping_previous(f) as nothing:
        atomic_write_bytes(f, b"one")
    assert nothing is None and not kept.exists()
    for new in (b"two", b"three"):
        with keeping_previous(f):
            atomic_write_bytes(f, new)
    assert (f.read_bytes(), kept.read_bytes()) == (b"three", b"two")  # one generation
    for stop in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(stop)):
            with keeping_previous(f):
                raise stop
        assert (f.read_bytes(), kept.read_bytes()) == (b"three", b"two")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz", "s.npz.previous"]  # no temporary left
    kept.unlink()
    kept.mkdir()  # a folder in its place: said before any sampling, by name
    assert previous_blocked(f) == f"{kept} is a folder, where the file now at {f} would be kept: move it"


def test_a_name_that_is_no_folder_nor_owner_name_is_told_what_to_give(tmp_path, monkeypatch):
    """DDPM_MODEL or --weights of a bare name, a/b/c or a missing ./path: it said only 'is not a model folder ...
    nor a Hub repo id'; it now says why (the path does not exist, or is a file) and what a repo id looks like."""
    from ddpm import hub

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    for name, why in (("ddpm-mnist", "does not exist"), ("a/b/c", "does not exist"), ("./runs/x", "does not exist"),
                      ("notes.txt", "is a file")):
        with pytest.raises(hub.ModelLoadError, match=rf"^'{name}' is not a model folder \(it {why}\) nor a Hub repo "
                                                      r"id: give a folder holding config.json and model.safetensors, "
                                                      r"or owner/name such as you/ddpm-mnist$"):
            hub.load_pretrained(name)


def test_a_saved_train_config_reads_back_with_its_model_as_a_model_config():
    cfg = TrainConfig(epochs=3, model=ModelConfig(base_channels=8, timesteps=50, schedule="cosine"))
    back = TrainConfig(**json.loads(json.dumps(dataclasses.asdict(cfg))))  # train_config.json's round trip
    assert back == cfg and isinstance(back.model, ModelConfig)
    with pytest.raises(ConfigError, match="model must be a ModelConfig .or its dict., not str"):
        TrainConfig(model="small")
