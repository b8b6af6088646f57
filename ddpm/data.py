"""Datasets as in-memory tensors scaled to [-1, 1] (MNIST is small enough to live in RAM)."""
from __future__ import annotations

import errno
import gzip
import io
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

from .config import DATASETS
from .safeio import atomic_write_bytes, file_above

NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}  # as their authors write them
# what each class index means, where it is not the digit itself (Xiao et al. 2017, Fashion-MNIST's README)
CLASS_NAMES = {"fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                                 "Bag", "Ankle boot")}
# where Debian's dataset-fashion-mnist package puts the raw files
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "mnist_sample.npz"


def class_by_name(value, names: tuple[str, ...]) -> int | None:
    """The index of the class `value` names ('sneaker' or ' Sneaker' is Fashion-MNIST's 7), or None."""
    if isinstance(value, str):
        for index, name in enumerate(names):
            if value.strip().lower() == name.lower():
                return index
    return None


def sample_path(dataset: str = "mnist") -> Path:
    """The bundled sample of a dataset's test set: assets/mnist_sample.npz, assets/fashion-mnist_sample.npz."""
    return SAMPLE_PATH.with_name(f"{dataset}_sample.npz")


class DataError(RuntimeError):
    """The dataset could not be found or read; the message says what to do."""


def dataset_name(dataset: str) -> str:
    """A dataset id (train.py's --dataset) as its authors write it."""
    return NAMES.get(dataset, dataset)


# what MNIST's word 'digit' becomes for another dataset, in each of its senses (noun())
OTHER_WORDS = {"sample": "image", "item": "item", "class": "class"}


def noun(dataset: str, sense: str = "sample", article: bool = False) -> str:
    """What the page and the commands call a thing of `dataset`: 'digit' for MNIST in every sense; for another
    dataset a sample is an 'image', what an upload or a drawing holds an 'item' (a garment, a shoe, a bag) and a
    class a 'class'. With its article: 'a digit', 'an item'."""
    word = "digit" if dataset == "mnist" else OTHER_WORDS[sense]
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}" if article else word


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) in [0, 255] -> float (N, 1, 28, 28) in [-1, 1]. Anything else is refused: [0, 1] floats
    (torchvision's ToTensor) would come out all black, one (28, 28) image as (28, 1, 28)."""
    if not (torch.is_tensor(images_uint8) and images_uint8.dtype == torch.uint8 and images_uint8.dim() == 3):
        x = images_uint8
        got = f"{x.dtype} of shape {tuple(x.shape)}" if hasattr(x, "shape") else type(x).__name__
        raise TypeError(f"to_model_range takes a uint8 tensor of digits (N, H, W) in 0..255 (one digit: x[None]; "
                        f"numpy: torch.from_numpy(a); [0, 1] floats x are already images: x * 2 - 1), not {got}")
    return images_uint8.float().div(127.5).sub(1).unsqueeze(1)


def _torchvision_dataset(name: str, root: Path, train: bool):
    from torchvision import datasets

    if name == "mnist":
        return datasets.MNIST(str(root), train=train, download=True)
    raw = root / "FashionMNIST" / "raw"
    # Debian's copy is gzipped anew (other bytes than the md5s torchvision checks .gz files against), so it is
    # unpacked here into the idx files torchvision reads without a check; any missing one, each time
    copy = sorted(FASHION_SYSTEM_DIR.glob("*-ubyte.gz")) if FASHION_SYSTEM_DIR.is_dir() else []
    if missing := [f for f in copy if not (raw / f.name.removesuffix(".gz")).exists()]:
        print(f"Fashion-MNIST: unpacking {len(missing)} file{'s' * (len(missing) != 1)} of Debian's copy in "
              f"{FASHION_SYSTEM_DIR} into {raw} (once)", file=sys.stderr)
    for f in missing:
        idx = raw / f.name.removesuffix(".gz")
        try:
            with gzip.open(f) as src:
                unpacked = src.read()
        except (OSError, EOFError, zlib.error) as e:  # a truncated or damaged copy: apt-get has it already
            raise DataError(f"{f} cannot be read ({e}): reinstall it (`apt-get install --reinstall "
                            f"dataset-fashion-mnist`), or put the raw files in {raw}") from None
        try:
            raw.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(idx, unpacked)
        except OSError as e:  # a read-only --data-dir: the copy is there, but torchvision reads unpacked files
            raise DataError(f"found {FASHION_SYSTEM_DIR}'s copy, but could not unpack it into {raw} "
                            f"({e.strerror or e}): give a --data-dir that can be written (about 54 MB)") from None
    return datasets.FashionMNIST(str(root), train=train, download=True)


def load_dataset(name: str, data_dir: str | Path, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (images uint8 (N, 28, 28), labels int64 (N,)). torchvision finds the raw .gz files
    already in data_dir (e.g. a copy of MNIST/raw) and extracts them without the network."""
    if name not in DATASETS:
        raise DataError(f"dataset must be one of {DATASETS}, not {name!r}")
    raw = Path(data_dir) / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
    if file := file_above(raw):  # data_dir or a folder above it: torchvision's error would blame the network
        raise DataError(f"could not load {name} from {str(data_dir)!r}: {file} is a file, not a folder")
    new = [d for d in (raw, *raw.parents) if not d.exists()]  # the folders torchvision's download=True would make
    try:
        ds = _torchvision_dataset(name, Path(data_dir), train)
    except Exception as e:  # torchvision tries the network when files are missing
        for d in new:  # deepest first: a failed load leaves no empty folders behind
            try:
                d.rmdir()
            except OSError:  # not empty, or not made: leave it and those above
                break
        if isinstance(e, DataError):  # the Debian copy could not be unpacked: it says where
            raise
        hint = (f"MNIST's four *-ubyte.gz files in {raw}/" if name == "mnist" else f"the raw files in {raw}/, or "
                f"`apt-get install dataset-fashion-mnist`, whose copy in {FASHION_SYSTEM_DIR} is found by itself")
        cause = ([line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__])[-1]
        held = sorted(f.name for f in raw.glob("*-ubyte*")) if raw.is_dir() else []
        if held and isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            raise DataError(f"could not load {name} from {str(data_dir)!r}: torchvision unpacks the .gz files in "
                            f"{raw}/ and reads them there, and could not ({e.strerror or e}): give a --data-dir that "
                            f"can be written (and read), with the files copied into its {raw.parent.name}/raw/"
                            ) from None
        if held:  # the files are there but do not read: "put them there" would point the wrong way
            raise DataError(f"could not load {name} from {str(data_dir)!r}: {raw}/ holds {', '.join(held)}, but they "
                            "do not load: one is missing, damaged or cut short (a copy that stopped part way; an "
                            f"unpacked *-ubyte file is read before its .gz): delete them and put {hint} again "
                            f"(torchvision's last error: {cause})") from None
        raise DataError(f"could not load {name} from {str(data_dir)!r}: put {hint} (torchvision's last error; it "
                        f"downloads missing files where there is a network: {cause})") from None
    return ds.data.clone(), ds.targets.clone().long()


def load_sample(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """The small real sample shipped with the package: (images uint8 (N, 28, 28), labels (N,))."""
    with np.load(sample_path(dataset)) as f:
        return f["images"], f["labels"]


def make_sample(data_dir: str | Path, per_class: int = 30, out: Path | None = None, dataset: str = "mnist") -> Path:
    """Write the bundled sample (to `out`, else the dataset's asset): the first `per_class` test images of each
    class (never training data)."""
    out = Path(out) if out is not None else sample_path(dataset)
    images, labels = load_dataset(dataset, data_dir, train=False)
    fewest = int(torch.bincount(labels, minlength=10).min())
    if not 1 <= per_class <= fewest:  # more would give the classes unequal shares, and soon the whole test set
        raise DataError(f"the images per class (--per-class) must be from 1 to {fewest}, the test set's fewest of "
                        f"one class, not {per_class}")
    idx = torch.cat([torch.nonzero(labels == c)[:per_class, 0] for c in range(10)]).sort().values
    npz = io.BytesIO()
    np.savez_compressed(npz, images=images[idx].numpy(), labels=labels[idx].numpy(), test_index=idx.numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, npz.getvalue())  # the app's examples are never left half written
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .cli_args import check_writable, path_arg, positive_int, stopped

    p = argparse.ArgumentParser(prog="python -m ddpm.data", description="Write the small real sample the app and the "
                                "tests use (ddpm/assets/mnist_sample.npz) from the MNIST test set, or a Fashion-MNIST "
                                "model's (fashion-mnist_sample.npz).")
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="whose test set (default: mnist)")
    p.add_argument("--data-dir", type=path_arg, default="data/mnist",
                   help="folder with MNIST/raw/*-ubyte.gz (FashionMNIST/raw/ for --dataset fashion-mnist, which "
                        "Debian's copy is unpacked into; default: data/mnist)")
    p.add_argument("--per-class", type=positive_int, default=30,
                   help="the first this many test images of each class (default: 30, 300 in all)")
    p.add_argument("--out", type=path_arg, default=None, help="file to write (default: the dataset's shipped asset)")
    a = p.parse_args(argv)
    if a.out == "":  # --out "$UNSET": not the shipped asset, unsaid
        p.error("--out is empty: give a file ending in .npz, or omit --out for the dataset's shipped sample")
    a.out = a.out or str(sample_path(a.dataset))
    if Path(a.out).suffix.lower() != ".npz":  # it is an .npz, so named (as --save-samples and the asset are)
        p.error(f"--out {a.out}: it must end in .npz")
    if why := check_writable(a.out):
        p.error(why)
    try:
        print(make_sample(a.data_dir, a.per_class, Path(a.out), a.dataset))
    except DataError as e:
        p.exit(2, f"error: {e}\n")
    except KeyboardInterrupt:
        return stopped("nothing was written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
