"""Atomic, pickle-free files: tensors in safetensors, everything else as JSON in its metadata."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from safetensors.torch import load, safe_open, save


# atomic_write_bytes' temporary file beside NAME: NAME.<8 random characters>.ddpm.tmp, a name nothing else makes, so
# that one a kill -9 or the OOM killer left mid-write (no cleanup runs then) can be known and removed
TMP_SUFFIX = ".ddpm.tmp"
_OURS = re.compile(r".+\.[a-z0-9_]{8}" + re.escape(TMP_SUFFIX))  # tempfile's 8 characters


# Windows refuses to replace a file that another program holds open for a moment (a virus scanner or the search
# indexer reading a checkpoint just written): os.replace is tried again then, for about 1.5 s
REPLACE_TRIES = 6 if os.name == "nt" else 1


def _replace(src: str | Path, dst: Path) -> None:
    for wait in [0.05 * 2 ** k for k in range(REPLACE_TRIES - 1)] + [None]:  # 0.05 s, 0.1 s, ... 0.8 s
        try:
            os.replace(src, dst)  # atomic on POSIX: readers see the old file or the new one
            return
        except PermissionError:
            if wait is None:
                raise
            time.sleep(wait)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over: readers see the old file or the new one,
    never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=TMP_SUFFIX)
    except OSError as e:  # a read-only folder: named by the file asked for, not by a random temporary name
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; these are meant to be shared
        _replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)  # the old file, if any, is untouched
        if isinstance(e, OSError) and e.filename in (None, tmp):  # a full disk names none, a rename the temporary
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise


def remove_stale_temporaries(folder: str | Path, old_names=(), min_age_s: float = 60.0) -> list[str]:
    """Delete the temporary files that atomic_write_bytes left in `folder` when killed mid-write, which `cp -r` of a
    run copied on: NAME.<8 random>.ddpm.tmp, and NAME<8 random>.tmp for the NAMEs in old_names (its names before
    2026-12-06, matched only for the files a caller writes). One changed in the last min_age_s may be another
    program's write in progress (ddpm.evaluate scoring the folder), and is left. Returns the names removed."""
    old = [re.compile(re.escape(name) + r"[a-z0-9_]{8}\.tmp") for name in old_names]
    removed = []
    for p in sorted(Path(folder).glob("*.tmp")):
        if not (_OURS.fullmatch(p.name) or any(o.fullmatch(p.name) for o in old)):
            continue
        try:
            if p.is_file() and time.time() - p.stat().st_mtime > min_age_s:
                p.unlink()
                removed.append(p.name)
        except OSError:  # gone meanwhile, or not ours to delete: left as it is
            pass
    return removed


def atomic_write_png(path: str | Path, image) -> None:
    """A PIL image as a PNG, written atomically: a stop or a full disk leaves the old picture, not half of one."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path: str | Path, doc) -> None:
    """`doc` as indented JSON (one line per field, so a hand edit or a diff reads easily), written atomically."""
    atomic_write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode())


def previous_blocked(path: str | Path) -> str | None:
    """Why a file at `path` could not be kept by keeping_previous (its NAME.previous is a folder), or None; for a
    command to say before it samples."""
    kept = Path(str(path) + ".previous")
    return f"{kept} is a folder, where the file now at {path} would be kept: move it" if kept.is_dir() else None


class PreviousNotKept(OSError):
    """keeping_previous's write is done, but the file it replaced could not be renamed NAME.previous: it is left
    as NAME.previous.tmp (`left`), which the next write to NAME deletes."""

    def __init__(self, path: Path, kept: Path, left: Path, e: OSError):
        super().__init__(f"{path} is written, but the file it replaced could not be kept as {kept.name} "
                         f"({e.strerror or e}): it is left as {left}, which the next write to {path.name} deletes: "
                         "move it")
        self.kept, self.left = kept, left


@contextmanager
def keeping_previous(path: str | Path) -> Iterator[Path | None]:
    """Around a write over `path`: the file there first kept as NAME.previous (one generation, out of a `*.npz`
    glob's way), given to the block (None: nothing there). The older NAME.previous goes only once the write is done;
    if it fails or is stopped, both stay as they were (the atomic write leaves the file itself whole). For samples
    that took minutes to draw: a mistyped --out should not cost them. PreviousNotKept where only the last rename
    fails."""
    path = Path(path)
    if not path.is_file():
        yield None
        return
    kept = path.with_name(path.name + ".previous")
    fresh = path.with_name(path.name + ".previous.tmp")
    try:
        fresh.unlink(missing_ok=True)
        try:
            os.link(path, fresh)  # no second copy on the disk: the write below replaces the name, not the data
        except OSError:  # a filesystem without hard links
            shutil.copy2(path, fresh)
        yield kept
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    try:
        _replace(fresh, kept)
    except OSError as e:  # the write itself is done: not a failed write
        raise PreviousNotKept(path, kept, fresh, e) from e


def file_above(path: str | Path) -> Path | None:
    """The nearest folder above `path` that is in fact a file (no file can be made under it), or None.
    os.path.isfile, not Path.is_file: that raises in a folder this user may not enter."""
    return next((p for p in Path(path).parents if os.path.isfile(p)), None)


def read_json_object(path: str | Path) -> dict:
    """A JSON file that holds an object ({} where there is no file); ValueError, saying why, for one that cannot
    be read, is not JSON, or holds something other than an object (a hand edit gone wrong)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # ValueError: not UTF-8, or not JSON
        raise ValueError(f"{path} is not a readable JSON file ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path} holds JSON, but not an object")
    return doc


def encode_tensors(tensors: dict[str, torch.Tensor], meta: dict | None = None) -> bytes:
    """A safetensors file's bytes: tensors + a JSON-able meta dict (a TypeError for a value JSON cannot hold). The
    meta is the header's one string: safetensors writes the header's keys in no fixed order, so a second key made
    the same weights' bytes differ from one save to the next."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return save(tensors, metadata={"json": json.dumps(meta or {})})


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    """Write tensors (+ a JSON-able meta dict) atomically."""
    atomic_write_bytes(path, encode_tensors(tensors, meta))


def read_meta(path: str | Path) -> dict:
    """The JSON metadata alone (reads the header, not the tensors)."""
    with safe_open(str(path), framework="pt") as f:
        return _meta(f.metadata())


def _meta(header_metadata: dict | None) -> dict:
    return json.loads((header_metadata or {}).get("json", "{}"))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(the tensors, the JSON metadata) of a safetensors file: no pickle, so loading runs no code. Read into memory,
    not mapped (load_file's way): AdamW keeps loaded moments as they are, so a resumed run's optimizer held the
    checkpoint mapped, and on Windows a mapped file cannot be replaced: the run's first save failed. Both from one
    read, so that a file replaced meanwhile (a run saving its next checkpoint) cannot mix two."""
    data = Path(path).read_bytes()
    tensors = load(data)  # checks the whole format first: the header below is then known to be sound
    n = int.from_bytes(data[:8], "little")  # the format: 8 bytes of header length, then the header's JSON
    return tensors, _meta(json.loads(data[8:8 + n]).get("__metadata__"))
