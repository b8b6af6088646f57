"""Long demo jobs as generators: they yield a Progress report every few network passes and the result
last, so the app can show how far a job is, and Gradio can stop one whose browser tab has gone (it stops a
generator between two yields; a plain function would keep the CPU busy to the end)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, TypeVar

from PIL import Image

R = TypeVar("R")
UPDATES = 25  # progress lines per job: often enough to watch and to stop, rare enough to cost nothing


@dataclass(frozen=True)
class Progress:
    """A long job's report while it runs: a line of text, and for some jobs a picture of where it is."""
    text: str
    picture: Image.Image | None = None


def every(total_steps: int, updates: int = UPDATES) -> int:
    """Report once every this many of total_steps network passes."""
    return max(1, math.ceil(total_steps / updates))


def finish(stream: Iterable[Progress | R]) -> R:
    """Run a job's stream to the end and return its result (the last item), skipping the Progress reports."""
    result = None
    for result in stream:
        pass
    return result
