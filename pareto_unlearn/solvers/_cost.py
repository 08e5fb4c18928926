"""Cost bookkeeping (docs/definitions.md §4): wall-clock with measurement paused, and sample-passes."""

from __future__ import annotations

import time
from contextlib import contextmanager

__all__ = ["CostMeter"]


class CostMeter:
    """Counts a solver's wall-clock seconds and forward / backward sample-passes.

    Time spent inside :meth:`paused` (computing UA/RA/TA/MIA for the record) is not charged: metrics are
    measurement, not the solver's work. Passes through part of the network are added as fractions.
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._paused = 0.0
        self.forward_passes = 0.0
        self.backward_passes = 0.0

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self._start - self._paused

    def add(self, forward: float = 0.0, backward: float = 0.0) -> None:
        self.forward_passes += float(forward)
        self.backward_passes += float(backward)

    @contextmanager
    def paused(self):
        begin = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - begin

    def snapshot(self) -> dict[str, float]:
        return {
            "wall_s": self.wall_s,
            "forward_passes": self.forward_passes,
            "backward_passes": self.backward_passes,
        }
