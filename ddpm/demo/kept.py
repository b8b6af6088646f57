"""The last few results of one kind, kept for every visitor by what made them: Generate's grids (generate.LastGrids)
and tab 1's loss curves (objective.LossCurves). The least recently used goes first; Gradio's worker threads share
them, so each look and each change takes the lock."""
from __future__ import annotations

import threading
from collections import OrderedDict


class LastFew:
    def __init__(self, size: int):
        self.size, self.kept, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        """The value kept for `key` (now the most recently used), or None."""
        with self._lock:
            if key not in self.kept:
                return None
            self.kept.move_to_end(key)
            return self.kept[key]

    def put(self, key, value) -> None:
        with self._lock:
            self.kept[key] = value
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)  # the least recently used

    def get_or_make(self, key, make):
        """The value kept for `key`, else make() (called outside the lock: it may take a while), kept."""
        if (value := self.get(key)) is None:
            value = make()
            self.put(key, value)
        return value
