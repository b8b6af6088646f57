"""Long demo jobs as generators: they yield a Progress report every few network passes and the result
last, so the app can show how far a job is, and Gradio can stop one whose browser tab has gone (it stops a
generator between two yields; a plain function would keep the CPU busy to the end)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable, TypeVar

from PIL import Image

R = TypeVar("R")
UPDATES = 25  # progress reports per job: often enough to watch and to stop, rare enough to cost nothing


@dataclass(frozen=True)
class Progress:
    """A long job's report while it runs: a line of text, and for some jobs a picture of where it is."""
    text: str
    picture: Image.Image | None = None


class Ticker:
    """Counts a job's network passes: says when a Progress is due, and how long the job has run.
    Due every ceil(total / updates) passes, not on the last (the result follows it); with first=True on the first pass
    too, and then every that many after it."""

    def __init__(self, total_steps: int, first: bool = False, updates: int = UPDATES):
        self.total, self.first, self.done = total_steps, first, 0
        self.every = max(1, math.ceil(total_steps / updates))  # report once every this many passes
        self.start = time.perf_counter()

    def due(self) -> bool:
        """One more pass done: is a Progress due?"""
        self.done += 1
        if self.first:
            return (self.done - 1) % self.every == 0
        return self.done % self.every == 0 and self.done < self.total

    @property
    def seconds(self) -> float:
        """Seconds since the job began."""
        return time.perf_counter() - self.start

    def elapsed(self) -> str:
        """Seconds since the job began, as the texts show them: '3.2 s'."""
        return took(self.seconds)


def took(seconds: float) -> str:
    """A job's time in words: '3.2 s', and under a second two decimals ('0.14 s', not '0.1 s' beside '138 ms a
    step')."""
    return f"{seconds:.1f} s" if round(seconds, 2) >= 1 else f"{seconds:.2f} s"  # 0.996: '1.0 s', not '1.00 s'


def finish(stream: Iterable[Progress | R]) -> R:
    """Run a job's stream to the end and return its result (the last item), skipping the Progress reports."""
    result = None
    for result in stream:
        pass
    return result
