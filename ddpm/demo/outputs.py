"""Files the app hands out (PNG grids, GIFs): one temp folder of this user's own, its old files pruned."""
from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

# Gradio's delete_cache (app.py): every CACHE_SWEEP_S the files it handed out (downloads, pictures) or was sent
# (uploads) more than CACHE_AGE_S old are deleted (by ctime: an upload in use is kept fresh, sources.still_uploaded).
# Not a day: the one model slot, kept busy, hands out GBs an hour (a 16-digit trajectory's frames and GIF: 13 MB), and
# a day of that would fill a free Space's disk. A download link older than an hour fails: pressing again redraws it
CACHE_SWEEP_S, CACHE_AGE_S = 1800, 3600
# Gradio copies each file it is handed into its own cache (cleaned by app.py's delete_cache), so these copies are
# needed for seconds only; a busy Space had kept an hour of 10 MB GIFs twice over
MAX_AGE_S = 600
# delete_cache removes the files Gradio handed out, each in a folder of its own (named by the content's hash), but
# not the folders: a Space up for days kept an empty one (4 KB on ext4) for every frame it had streamed. Those empty
# for a day go (the same picture handed out again reuses its folder, so one emptied an hour ago may be refilled)
SWEEP_EVERY_S, EMPTY_FOR_S = 600, 86_400
_last_sweep = [0.0]
# the folders Gradio makes in its cache, one for each file handed out or uploaded: a SHA-256 hex digest (gradio 6.31's
# processing_utils.hash_* and route_utils' upload)
GRADIO_CACHE_NAME = re.compile(r"[0-9a-f]{64}")
# the names new_path gives: the pruning deletes these alone, never a file it did not make
OURS = re.compile(r"[\w.-]+-[0-9a-f]{8}\.(png|gif)")
_fallback: dict[Path, Path] = {}  # a folder found not ours -> the fresh one used instead, for this process's life


def output_dir() -> Path:
    """<temp>/ddpm-app-<uid>, this user's own (0700). Under the system temp folder, which Gradio serves files from; one
    per user, as a lab server's /tmp is shared: a folder someone else made, or a link planted to another folder (whose
    old files the pruning would delete), is passed over for a fresh one of this process's own."""
    uid = os.getuid() if hasattr(os, "getuid") else None  # Windows: a temp folder per user already
    d = Path(tempfile.gettempdir()) / ("ddpm-app" if uid is None else f"ddpm-app-{uid}")
    if d in _fallback:
        return _fallback[d]
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:  # a file, or a link to nothing: refused below
        pass
    st = d.lstat()
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o022
    if uid is None or mine and os.access(d, os.W_OK | os.X_OK):  # access: an ACL, a root-squashed share
        return d
    _fallback[d] = Path(tempfile.mkdtemp(prefix="ddpm-app-"))
    print(f"{d} is a link or not this user's own folder: the app's files go to {_fallback[d]} instead",
          file=sys.stderr)
    return _fallback[d]


def new_path(stem: str, suffix: str, max_age_s: float = MAX_AGE_S) -> Path:
    """A fresh file name like ddpm-app-1000/ddpm-samples-seed0-1a2b3c4d.png (stem "ddpm-samples-seed0"); the ones
    it named older than max_age_s are deleted."""
    d = output_dir()
    now = time.time()
    if now - _last_sweep[0] > SWEEP_EVERY_S:
        _last_sweep[0] = now
        prune_empty_folders(gradio_cache(), EMPTY_FOR_S)
    for old in d.iterdir():
        try:
            if OURS.fullmatch(old.name) and now - old.stat().st_mtime > max_age_s:
                old.unlink()
        except OSError:
            pass  # another request removed it first
    return d / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"


def gradio_cache() -> Path:
    """Where Gradio keeps the files it hands out and the uploads (its utils.get_upload_folder)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def prune_empty_folders(root: Path, max_age_s: float) -> None:
    """Remove the empty folders right under `root` untouched for max_age_s (one that holds a file refuses rmdir) and
    named as Gradio names its cache's folders (GRADIO_CACHE_NAME): GRADIO_TEMP_DIR may be a general folder such as
    /scratch, whose other empty folders are no business of the app's. A folder Gradio has just made is young; one it
    reuses for a picture handed out again keeps its old time, and were this rmdir to fall between Gradio's mkdir and
    its write, that one request would fail: a window of microseconds, once in 10 minutes, on a picture last handed
    out a day before."""
    now = time.time()
    try:
        folders = [f for f in root.iterdir() if GRADIO_CACHE_NAME.fullmatch(f.name) and f.is_dir()]
    except OSError:  # no cache yet
        return
    for folder in folders:
        try:
            if now - folder.stat().st_mtime > max_age_s:
                folder.rmdir()
        except OSError:
            pass  # not empty, or removed by another request first


def save_png(img: Image.Image, stem: str, comment: str | None = None) -> Path:
    """img as a fresh PNG file; comment: a text kept in the file (its PNG Comment chunk), such as how it was made."""
    info = None
    if comment:
        info = PngInfo()
        info.add_text("Comment", comment)
    path = new_path(stem, ".png")
    img.save(path, format="PNG", pnginfo=info)
    return path
