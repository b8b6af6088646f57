"""Files the app hands out (PNG grids, GIFs): one temp folder, old files pruned."""
from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

# Gradio copies each file it is handed into its own cache (cleaned by app.py's delete_cache), so these copies are
# needed for seconds only; a busy Space had kept an hour of 10 MB GIFs twice over
MAX_AGE_S = 600


def output_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "ddpm-app"
    d.mkdir(parents=True, exist_ok=True)
    return d


def new_path(stem: str, suffix: str, max_age_s: float = MAX_AGE_S) -> Path:
    """A fresh file name like ddpm-app/ddpm-samples-seed0-1a2b3c4d.png (stem "ddpm-samples-seed0"); files
    older than max_age_s are deleted."""
    d = output_dir()
    now = time.time()
    for old in d.iterdir():
        try:
            if now - old.stat().st_mtime > max_age_s:
                old.unlink()
        except OSError:
            pass  # another request removed it first
    return d / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"


def save_png(img: Image.Image, stem: str, comment: str | None = None) -> Path:
    """img as a fresh PNG file; comment: a text kept in the file (its PNG Comment chunk), such as how it was made."""
    info = None
    if comment:
        info = PngInfo()
        info.add_text("Comment", comment)
    path = new_path(stem, ".png")
    img.save(path, format="PNG", pnginfo=info)
    return path
