"""The command lines' long sampling runs (1000 samples of 1000 DDPM steps: about 20 minutes on 2 CPU cores): a bar
over them in `python -m ddpm.sample` and `python -m ddpm.evaluate`, which said nothing until the end (sampling from
Python shows no bar unless asked); and ddpm.sample's samples kept when --out cannot take them."""
import errno

import numpy as np
import torch

from ddpm import evaluate, hub, sample, samplers
from ddpm.schedule import NoiseSchedule

from conftest import sample_cli, tiny_model


class Bar:
    """Stands in for tqdm (which hides itself where stderr is no terminal, as under pytest)."""
    made = []

    def __init__(self, total):
        self.total, self.n, self.closed = total, 0, False
        Bar.made.append(self)

    def update(self):
        self.n += 1

    def close(self):
        self.closed = True


def test_ddpm_sample_counts_every_step_of_every_batch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(samplers, "_steps_bar", Bar)
    Bar.made = []
    model = tiny_model()
    hub.save_pretrained(model, tmp_path / "m")
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "3", "--batch-size", "2", "--sampler", "ddim",
                          "--steps", "4", "--out", str(tmp_path / "s.npz")], capsys)
    assert rc == 0, err
    assert [(b.total, b.n, b.closed) for b in Bar.made] == [(8, 8, True)]  # 2 batches of 4 steps
    samplers.sample(model, NoiseSchedule(model.config.timesteps), 2, 0, sampler="ddim", steps=3)
    assert len(Bar.made) == 1  # a notebook's or the app's call: no bar


def test_ddpm_evaluate_asks_for_the_bar(tmp_path, monkeypatch):
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    asked = []
    monkeypatch.setattr(evaluate, "sample_images",
                        lambda model, n, *a, **k: asked.append(k.get("progress")) or np.zeros((n, 28, 28), np.uint8))
    with torch.no_grad():
        evaluate.generate(str(tmp_path / "m"), 2, "ddim", 3, 0, 2, None, 1.0)
    assert asked == [True]


def test_ddpm_sample_keeps_its_samples_when_out_cannot_take_them(tmp_path, monkeypatch, capsys):
    """A disk that fills while sampling: the run's samples went with the failed write."""
    import tempfile

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "spare").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spare"))
    real, out = sample.save_npz, tmp_path / "full" / "s.npz"

    def full_disk(path, *a, **k):
        if path == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *a, **k)

    monkeypatch.setattr(sample, "save_npz", full_disk)
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps", "3",
                          "--out", str(out)], capsys)
    [spare] = (tmp_path / "spare").glob("s-*.npz")
    assert rc == 2 and f"cannot write {out}: No space left on device" in err and f"kept in {spare} instead" in err
    assert np.load(spare)["samples"].shape == (2, 28, 28) and not out.exists()


def test_ddpm_sample_whose_out_is_written_but_the_old_file_not_renamed_makes_no_rescue_copy(tmp_path, monkeypatch,
                                                                                           capsys):
    """keeping_previous's last rename (the replaced file to NAME.previous) failing after --out was written: it was
    taken for a failed write, and the samples went to the temp folder a second time, said not written."""
    import tempfile

    from ddpm import safeio

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "spare").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spare"))
    out = tmp_path / "s.npz"
    out.write_bytes(b"the older samples")
    real = safeio._replace

    def refused(src, dst):
        if dst.name.endswith(".previous"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(safeio, "_replace", refused)
    rc, err = sample_cli(["--weights", str(tmp_path / "m"), "--n", "2", "--sampler", "ddim", "--steps", "3",
                          "--out", str(out)], capsys)
    left = tmp_path / "s.npz.previous.tmp"
    assert rc == 0 and not list((tmp_path / "spare").iterdir()) and "cannot write" not in err
    assert np.load(out)["samples"].shape == (2, 28, 28) and left.read_bytes() == b"the older samples"
    assert f"warning: {out} is written, but the file it replaced could not be kept as s.npz.previous (Permission " \
           f"denied): it is left as {left}, which the next write to s.npz deletes: move it" in err
