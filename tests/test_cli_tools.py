"""The smaller command lines: ddpm.benchmark, ddpm.demo.timing and ddpm.data (their --help: test_cli.py)."""
import json

import numpy as np
import pytest

from ddpm import hub

from conftest import MNIST, tiny_model


def test_benchmark_times_both_samplers_and_layouts(tmp_path, capsys):
    from ddpm import benchmark

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--n", "2", "--repeats", "2", "--ddim-steps", "3",
                           "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["seconds"]) == {"ddpm-20", "ddim-3", "ddim-3-eta1"} and len(res["seconds"]["ddim-3"]["all"]) == 2
    assert res["forward_ms"] > 0 and res["forward_ms_nchw"] > 0 and res["mflop_per_image"] > 0
    # more DDIM steps than T would time T steps under a name that says 500: refused, as ddpm.sample refuses them
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--n", "1", "--repeats", "1", "--ddim-steps", "500"]) == 2
    assert "--ddim-steps 500 is more than this model's T = 20" in capsys.readouterr().err
    assert set(benchmark.run(str(tmp_path / "m"), n=1, repeats=1, ddim_steps=20)["seconds"]) == \
        {"ddpm-20", "ddim-20", "ddim-20-eta1"}
    # not given: 50 steps, or T for a model of fewer timesteps (as ddpm.sample), named by the steps run
    assert benchmark.main(["--weights", str(tmp_path / "m"), "--n", "1", "--repeats", "1", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["seconds"]) == {"ddpm-20", "ddim-20", "ddim-20-eta1"}
    # the printed figures name the threads they were measured on, in words ("1 threads" read as a slip)
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert benchmark.main(["--weights", str(tmp_path / "m"), "--n", "1", "--repeats", "1", "--ddim-steps",
                               "3"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert " MFLOP/image, " in (out := capsys.readouterr().out) and ", 1 thread on " in out


def test_benchmark_times_what_each_row_names(tmp_path, monkeypatch):
    """The eta1 rows draw with eta 1, the autoguided rows with the guide (the README's "up to 40% more" rests on
    them), and the FLOPs are per image whatever the batch."""
    from ddpm import benchmark
    from ddpm.autoguidance import Autoguided

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    hub.save_pretrained(tiny_model(1), tmp_path / "m" / hub.GUIDE_SUBFOLDER)
    drawn = {}
    monkeypatch.setattr(benchmark, "sample", lambda model, sched, n, seed, **kw: drawn.setdefault(
        (type(model).__name__, kw.get("sampler"), kw.get("eta", 0.0)), kw))
    benchmark.run(str(tmp_path / "m"), n=1, repeats=1, ddim_steps=3, autoguidance=2.0)
    assert set(drawn) == {(name, sampler, eta) for name in ("UNet", Autoguided.__name__)
                          for sampler, eta in (("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0))}
    model = tiny_model()
    assert benchmark.forward_cost(model, 1, 1)[0] == pytest.approx(benchmark.forward_cost(model, 2, 1)[0])


def test_demo_timing_times_each_tabs_default_action_and_a_w_sweep_only_for_a_model_with_labels(tmp_path):
    from types import SimpleNamespace

    from ddpm.demo import timing
    from ddpm.schedule import NoiseSchedule

    def names(model):
        rt = SimpleNamespace(T=20, sched=NoiseSchedule(20), model=model, classifier=None)
        return list(timing.actions(rt, tmp_path / "t.gif"))
    labelled, unlabelled = names(tiny_model()), names(tiny_model(num_classes=0))
    assert [n[0] for n in labelled] == ["1", "1", "1", "2", "2", "3", "4", "4", "4", "2"]  # every tab, the sweep last
    assert labelled[-1].startswith("2 compare w = ") and unlabelled == labelled[:-1]  # no w without labels


def test_demo_timing_refuses_no_repeats_and_a_model_it_cannot_load(monkeypatch, capsys):
    from ddpm.demo import timing

    with pytest.raises(SystemExit):  # 0 repeats would still run once, and --repeats 0 is no figure at all
        timing.main(["--repeats", "0"])
    assert "argument --repeats: must be 1 or more, not 0" in capsys.readouterr().err
    monkeypatch.setenv("DDPM_MODEL", "/nonexistent/weigths")  # a typo is a line, as app.py says it, not a traceback
    assert timing.main(["--repeats", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load the model: ") and "Set DDPM_MODEL to a model folder" in err


def test_the_sample_writer_refuses_counts_and_folders_it_cannot_use_in_a_line(tmp_path, monkeypatch, capsys):
    """python -m ddpm.data writes the shipped sample: 0 per digit wrote an empty file, -1 all but one test image of
    each digit, --out s wrote s.npz, and a missing --data-dir or a Ctrl-C ended in a traceback."""
    from ddpm import data

    for args, says in ((["--per-class", "0"], "must be 1 or more, not 0"), (["--out", str(tmp_path / "s")],
                                                                           "it must end in .npz")):
        with pytest.raises(SystemExit) as e:
            data.main(["--out", str(tmp_path / "s.npz"), *args])
        assert e.value.code == 2 and says in capsys.readouterr().err
    with monkeypatch.context() as m, pytest.raises(SystemExit) as e:  # --out "$UNSET": not the shipped asset, unsaid
        m.setattr(data, "make_sample", lambda *a: pytest.fail(f"wrote {a[2]}"))
        data.main(["--out", ""])
    assert e.value.code == 2 and "--out is empty: give a file ending in .npz" in capsys.readouterr().err
    with monkeypatch.context() as m, pytest.raises(SystemExit) as e:  # what torchvision does offline (no download)
        m.setattr(data, "_torchvision_dataset", lambda *a: (_ for _ in ()).throw(RuntimeError("no network")))
        data.main(["--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "s.npz")])
    assert e.value.code == 2 and "error: could not load mnist from" in capsys.readouterr().err
    with monkeypatch.context() as m:
        m.setattr(data, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        assert data.main(["--out", str(tmp_path / "s.npz")]) == 130
    assert "stopped (Ctrl-C); nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists() and not (tmp_path / "none").exists()
    (tmp_path / "notes.txt").write_text("")  # a file as --data-dir: not "put the files in notes.txt/MNIST/raw/"
    with pytest.raises(SystemExit) as e:
        data.main(["--data-dir", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "s.npz")])
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in capsys.readouterr().err
    if (MNIST / "MNIST" / "raw").exists():  # the count is checked against the test set's digits
        with pytest.raises(SystemExit) as e:
            data.main(["--data-dir", str(MNIST), "--per-class", "893", "--out", str(tmp_path / "s.npz")])
        assert "(--per-class) must be from 1 to 892" in capsys.readouterr().err and not (tmp_path / "s.npz").exists()
        assert data.main(["--data-dir", str(MNIST), "--per-class", "2", "--out", str(tmp_path / "s.npz")]) == 0
        with np.load(tmp_path / "s.npz") as f:
            assert sorted(f["labels"].tolist()) == sorted(list(range(10)) * 2)
