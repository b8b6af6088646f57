"""The MNIST classifier itself (ddpm.classifier): its batched predictions, its training augmentation, a
training run of a few steps on the bundled digits (CPU, about a second, no MNIST), and its command line's output."""

from pathlib import Path

import pytest
import torch

from ddpm.classifier import load_classifier, predict
from ddpm.data import load_sample, to_model_range


def test_predict_covers_every_image_whatever_the_batch_size():
    """predict's batches cover every row once: a last batch of one digit, and a single digit alone, included."""
    x = to_model_range(torch.from_numpy(load_sample()[0]))  # 300 digits
    clf = load_classifier()
    whole = predict(clf, x)
    for batch_size in (299, 7):  # the last batch holds 1 digit, then 6
        torch.testing.assert_close(predict(clf, x, batch_size=batch_size), whole, rtol=1e-4, atol=1e-4)
    assert predict(clf, x[:1]).shape == (1, 10)


def test_augment_rotates_and_shifts_a_digit_and_keeps_its_background_black():
    """The training augmentation is a rotation and a shift: a centred disk turns into itself (a shear or a flip
    would not), and what comes in from beyond the edge is background (-1), not grey (0)."""
    from ddpm.classifier import augment

    g = torch.Generator().manual_seed(0)
    blank = -torch.ones(8, 1, 28, 28)
    assert torch.equal(augment(blank, g), blank)
    yy, xx = torch.meshgrid(torch.arange(28.0) - 13.5, torch.arange(28.0) - 13.5, indexing="ij")
    disk = torch.where(xx ** 2 + yy ** 2 < 64, 1.0, -1.0).expand(8, 1, 28, 28)
    assert (augment(disk, g, max_shift=0.0, max_deg=30.0) - disk).abs().mean() < 0.05


def test_the_classifier_trains_from_its_seed_and_its_file_loads_back_at_its_own_width(tmp_path, monkeypatch):
    """train() on 200 bundled digits (no MNIST): one seed gives the same weights (the init included), the model
    comes back in eval mode with its test accuracy counted as it reads, and the file main() writes loads back as
    that model at its own --width (from the file's hparams, not the shipped asset's)."""
    from ddpm import classifier

    images, labels = load_sample()
    split = {True: (torch.from_numpy(images[:200]), torch.from_numpy(labels[:200]).long()),
             False: (torch.from_numpy(images[200:]), torch.from_numpy(labels[200:]).long())}
    monkeypatch.setattr(classifier, "load_dataset", lambda name, data_dir, train=True: split[train])
    model, facts = classifier.train(epochs=1, batch_size=50, width=2, log=lambda line: None)
    again, _ = classifier.train(epochs=1, batch_size=50, width=2, log=lambda line: None)
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    x, y = to_model_range(split[False][0]), split[False][1]
    assert facts["test_accuracy"] == round((predict(model, x).argmax(1) == y).float().mean().item(), 4)
    out = tmp_path / "c.safetensors"
    assert classifier.main(["--out", str(out), "--epochs", "1", "--batch-size", "50", "--width", "2"]) == 0
    loaded = load_classifier(out)
    assert loaded.hparams["width"] == 2 and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_classifier_cli_refuses_an_out_it_cannot_write_before_training(tmp_path, monkeypatch, capsys):
    from ddpm import classifier

    monkeypatch.setattr(classifier, "train", lambda *a, **k: pytest.fail("trained before --out was checked"))
    (tmp_path / "d.safetensors").mkdir()
    (tmp_path / "file").write_text("")  # a folder that cannot be made, even by root (who writes anywhere)
    for out, says in ((tmp_path / "d.safetensors", "it is a folder; name the file to write"),
                      (tmp_path / "c.pt", "must end in .safetensors"),
                      (tmp_path / "file" / "c.safetensors", "cannot write")):
        with pytest.raises(SystemExit):
            classifier.main(["--out", str(out)])
        assert says in capsys.readouterr().err, out


def test_classifier_cli_run_bare_leaves_the_shipped_yardstick_alone(tmp_path, monkeypatch, capsys):
    """Every measured figure used ddpm/assets/classifier.safetensors: a learner's retrain goes to runs/ unless the
    asset is named (run bare, it had replaced the yardstick)."""
    from ddpm import classifier

    asset = tmp_path / "assets" / "classifier.safetensors"  # the asset's stand-in: a regression writes over it, not
    asset.parent.mkdir()  # over the shipped one
    asset.write_bytes(classifier.DEFAULT_PATH.read_bytes())
    monkeypatch.setattr(classifier, "DEFAULT_PATH", asset)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(classifier, "train", lambda *a, **k: (classifier.load_classifier(), {"test_accuracy": 0.5,
                                                                                           "minutes": 0.1}))
    assert classifier.main([]) == 0 and "saved runs/classifier.safetensors" in capsys.readouterr().out
    assert classifier.load_classifier(tmp_path / "runs" / "classifier.safetensors") is not None
    assert asset.read_bytes() == (Path(classifier.__file__).parent / "assets" / "classifier.safetensors").read_bytes()
