"""Loading the datasets offline: MNIST's raw files, Debian's Fashion-MNIST, and what is said when they are
missing, misplaced or damaged."""
from pathlib import Path

import pytest


def test_fashion_mnist_from_debians_package_loads_offline(tmp_path, monkeypatch):
    """Debian's dataset-fashion-mnist gzips the idx files anew, so torchvision's md5 check of .gz files fails and
    it would try the network: they are unpacked instead, also into a raw/ folder an earlier failed try left empty."""
    from ddpm import data

    system = tmp_path / "system"
    fake_debian_copy(system, monkeypatch)
    (tmp_path / "d" / "FashionMNIST" / "raw").mkdir(parents=True)
    x, y = data.load_dataset("fashion-mnist", tmp_path / "d", train=False)
    assert x.shape == (2, 28, 28) and y.tolist() == [0, 1]
    assert data.load_dataset("fashion-mnist", tmp_path / "d", train=True)[0].shape == (3, 28, 28)
    (tmp_path / "file").write_text("")  # a --data-dir under a file: said before anything is tried
    with pytest.raises(data.DataError, match=r"could not load fashion-mnist from .*: .*file is a file, not a folder"):
        data.load_dataset("fashion-mnist", tmp_path / "file" / "d")

    def read_only(*a):
        raise OSError(30, "Read-only file system")
    with monkeypatch.context() as m, pytest.raises(data.DataError, match=r"found .*system's copy, but could not "
                                                    r"unpack it into .*ro/FashionMNIST/raw \(Read-only file system\): "
                                                    r"give a --data-dir that can be written"):
        m.setattr(data, "atomic_write_bytes", read_only)  # a --data-dir the copy cannot be unpacked into
        data.load_dataset("fashion-mnist", tmp_path / "ro")  # not "put the raw files in ..., or apt-get it"
    (system / "t10k-labels-idx1-ubyte.gz").write_bytes(b"no gzip")  # a damaged copy: reinstall, not install
    with pytest.raises(data.DataError, match=r"t10k-labels-idx1-ubyte.gz cannot be read \(Not a gzipped file .*\): "
                                             r"reinstall it \(`apt-get install --reinstall dataset-fashion-mnist`\)"):
        data.load_dataset("fashion-mnist", tmp_path / "e", train=False)

def test_an_unknown_dataset_is_refused_before_torchvision_is_asked(tmp_path, monkeypatch):
    from ddpm import data

    monkeypatch.setattr(data, "_torchvision_dataset", lambda *a: pytest.fail("asked torchvision for cifar"))
    with pytest.raises(data.DataError, match=r"dataset must be one of \('mnist', 'fashion-mnist'\), not 'cifar'"):
        data.load_dataset("cifar", tmp_path)
    assert not list(tmp_path.iterdir())


def test_missing_data_says_where_to_put_it_and_leaves_no_empty_folders(tmp_path, monkeypatch):
    from ddpm import data

    def torchvision_without_the_files(name, root, train):  # what download=True does offline: folders, then fails
        (root / "FashionMNIST" / "raw").mkdir(parents=True)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried mirror, got: no network")

    monkeypatch.setattr(data, "_torchvision_dataset", torchvision_without_the_files)
    (tmp_path / "kept").mkdir()
    with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist`, whose copy in .* is found by "
                                             "itself .torchvision's last error; .*: Tried mirror, got: no network"):
        data.load_dataset("fashion-mnist", tmp_path / "kept" / "new" / "data")
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"] and not any((tmp_path / "kept").iterdir())

def test_files_that_are_there_but_do_not_read_are_called_damaged_not_missing(tmp_path, monkeypatch):
    """A truncated unpacked file beside good .gz files (torchvision reads it first) was met with "put the four files
    in raw/", where they already were (a CLI review found it); a folder torchvision cannot unpack into is said to be
    one, not damaged files (a diff read found it)."""
    from ddpm import data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03" + bytes(99980))  # cut short

    def torchvision_on_the_cut_file(name, root, train):
        raise RuntimeError("shape '[60000, 28, 28]' is invalid for input of size 99984")
    monkeypatch.setattr(data, "_torchvision_dataset", torchvision_on_the_cut_file)
    with pytest.raises(data.DataError, match=r"raw/ holds train-images-idx3-ubyte, but they do not load: one is "
                                             r"missing, damaged or cut short .*: delete them and put MNIST's four "
                                             r"\*-ubyte.gz files in .* again \(torchvision's last error: shape "
                                             r"'\[60000, 28, 28\]' is invalid"):
        data.load_dataset("mnist", tmp_path)

    def torchvision_in_a_read_only_folder(name, root, train):  # the .gz there, unpacked next to them: refused
        raise PermissionError(13, "Permission denied", str(raw / "train-labels-idx1-ubyte"))
    monkeypatch.setattr(data, "_torchvision_dataset", torchvision_in_a_read_only_folder)
    with pytest.raises(data.DataError, match=r"torchvision unpacks the .gz files in .*raw/ and reads them there, and "
                                             r"could not \(Permission denied\): give a --data-dir that can be "
                                             r"written \(and read\), with the files copied into its MNIST/raw/"):
        data.load_dataset("mnist", tmp_path)  # not "damaged": delete good files


def test_a_debian_copy_whose_compressed_data_is_damaged_is_said_in_a_line(tmp_path, monkeypatch):
    """Damage inside the deflate stream (a bad block on disk) raises zlib.error, not gzip's OSError or EOFError: it is
    said as a truncated copy is, not ended in a traceback."""
    import gzip

    from ddpm import data

    (tmp_path / "system").mkdir()
    header = gzip.compress(b"idx", mtime=0)[:10]  # a gzip header, then no deflate stream
    (tmp_path / "system" / "t10k-labels-idx1-ubyte.gz").write_bytes(header + b"\xff" * 20)
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", tmp_path / "system")
    with pytest.raises(data.DataError, match=r"t10k-labels-idx1-ubyte.gz cannot be read \(.*invalid block type\): "
                                             r"reinstall it") as e:
        data.load_dataset("fashion-mnist", tmp_path / "d", train=False)
    assert str(e.value).startswith(str(tmp_path / "system"))  # as it was raised: not after "put the raw files in"


def test_the_sample_is_the_first_images_of_each_digit_in_test_set_order(tmp_path, monkeypatch):
    """make_sample (python -m ddpm.data): per_class up to the fewest of one digit, kept in the test set's order (the
    app's index slider runs through mixed digits, not thirty 0s first), each with its index in the test set."""
    import numpy as np
    import torch

    from ddpm import data

    labels = torch.tensor([3, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 2, 4, 5, 6, 7, 8, 9, 9])  # each digit twice, 9 thrice
    images = torch.arange(len(labels), dtype=torch.uint8)[:, None, None].expand(-1, 28, 28).clone()
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: (images, labels))
    out = data.make_sample("unused", per_class=2, out=tmp_path / "s.npz")  # 2: the fewest of one digit
    with np.load(out) as f:
        idx = f["test_index"].tolist()
        assert idx == sorted(idx) and len(idx) == 20 and 20 not in idx  # the third 9 is left out
        assert f["images"][:, 0, 0].tolist() == idx and f["labels"].tolist() == labels[idx].tolist()
    monkeypatch.setattr(data, "SAMPLE_PATH", tmp_path / "mnist_sample.npz")  # without out=, the dataset's own asset
    assert data.make_sample("unused", per_class=2, dataset="fashion-mnist") == tmp_path / "fashion-mnist_sample.npz"
    assert not (tmp_path / "mnist_sample.npz").exists()  # it wrote over MNIST's examples


def test_a_full_disk_is_said_to_be_one_not_damaged_files(tmp_path, monkeypatch):
    """No space left to unpack the .gz files beside them: "give a --data-dir that can be written", as for a read-only
    one, not "delete them and put them there again" (good files, and the disk still full)."""
    import errno

    from ddpm import data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"")

    def torchvision_on_a_full_disk(name, root, train):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(data, "_torchvision_dataset", torchvision_on_a_full_disk)
    with pytest.raises(data.DataError, match=r"could not \(No space left on device\): give a --data-dir that can be "
                                             r"written"):
        data.load_dataset("mnist", tmp_path)


def test_a_data_dir_that_holds_the_unpacked_files_is_read_without_writing(tmp_path, monkeypatch, capsys):
    """Debian's copy is unpacked once, and says so: a --data-dir that already holds the idx files (a shared,
    read-only one) loads, where unpacking them again each run would be refused (and rewrite 54 MB)."""
    from ddpm import data

    fake_debian_copy(tmp_path / "system", monkeypatch)
    data.load_dataset("fashion-mnist", tmp_path / "d", train=False)  # unpacked into d/FashionMNIST/raw
    said = capsys.readouterr().err
    assert f"unpacking 4 files of Debian's copy in {tmp_path / 'system'} into {tmp_path / 'd'}" in said
    data.load_dataset("fashion-mnist", tmp_path / "d", train=False)
    assert "unpacking" not in capsys.readouterr().err  # once

    def read_only(*a):
        raise OSError(30, "Read-only file system")
    monkeypatch.setattr(data, "atomic_write_bytes", read_only)
    assert data.load_dataset("fashion-mnist", tmp_path / "d", train=True)[0].shape == (3, 28, 28)


def fake_debian_copy(system, monkeypatch) -> None:
    """A tiny Fashion-MNIST in Debian's place: 3 training and 2 test images, labels 0, 1 (, 2)."""
    import gzip
    import struct

    from ddpm import data

    system.mkdir()
    for split, n in (("train", 3), ("t10k", 2)):
        images = struct.pack(">IIII", 0x803, n, 28, 28) + bytes(range(n)) * 784
        labels = struct.pack(">II", 0x801, n) + bytes(range(n))
        for kind, payload in (("images-idx3", images), ("labels-idx1", labels)):
            (system / f"{split}-{kind}-ubyte.gz").write_bytes(gzip.compress(payload, mtime=0))
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", system)


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").exists(),
                    reason="apt-get install dataset-fashion-mnist to check the bundled Fashion-MNIST sample")
def test_the_bundled_fashion_sample_is_what_python_m_ddpm_data_writes(tmp_path):
    """ddpm/assets/fashion-mnist_sample.npz (a Fashion-MNIST model's examples in the app) is the first 30 test
    images of each class, as `python -m ddpm.data --dataset fashion-mnist` writes them from Debian's copy."""
    import numpy as np

    from ddpm import data

    assert data.main(["--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as made, np.load(data.sample_path("fashion-mnist")) as shipped:
        assert all(np.array_equal(made[k], shipped[k]) for k in ("images", "labels", "test_index"))
