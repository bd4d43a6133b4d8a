"""Named scalars (``Loss/D/gp``, ``Progress/lod``, ``Timing/sec_per_kimg``...) fanned out to a JSONL
file for scripts and to TensorBoard, from one place (as StyleGAN2-ADA's ``training_stats``).

Each row is appended in one write that a full disk cuts back to nothing (:func:`provgan.atomic.append_line`),
so ``stats.jsonl`` never ends in half a row and a full disk is one line, not a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from provgan.atomic import append_line, atomic_write_text


class StatsWriter:
    """Accumulates per-step scalars and writes their means at each flush (rank 0 only)."""

    def __init__(self, run_dir: Path | None, tensorboard: bool = True):
        self.run_dir = run_dir
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._tensorboard = tensorboard and run_dir is not None
        self._tb = None  # opened on first use, reopened after close()

    def _board(self):
        if self._tb is None and self._tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
        return self._tb

    def add(self, scalars: dict[str, torch.Tensor]) -> None:
        """Accumulate without a host sync (values stay on their device until the flush)."""
        for k, v in scalars.items():
            v = v.detach().float()
            self._sums[k] = self._sums[k] + v if k in self._sums else v
            self._counts[k] = self._counts.get(k, 0) + 1

    def flush(self, kimg: float, extra: dict[str, float]) -> dict[str, float]:
        """Write the means accumulated since the last flush, plus ``extra``, as one row at ``kimg``."""
        means = {k: float(v.item()) / self._counts[k] for k, v in self._sums.items()}
        means |= extra
        self._sums.clear()
        self._counts.clear()
        self.write(kimg, means)
        return means

    def write(self, kimg: float, values: dict[str, float]) -> None:
        """Write one row of ready values (e.g. ``Metrics/...``) without touching the running means."""
        if self.run_dir is not None:
            row = {"kimg": round(kimg, 6)} | {k: (v if math.isfinite(v) else None) for k, v in values.items()}
            append_line(self.run_dir / "stats.jsonl", json.dumps(row))  # a whole row or none
        board = self._board()
        if board is not None:
            step = int(round(kimg * 1000))
            for k, v in values.items():
                board.add_scalar(k, v, step)

    def truncate_after(self, kimg: float) -> int:
        """Drop the rows written after ``kimg`` (a resumed run writes them again); returns how many.

        A run killed between two checkpoints logged rows past the one it resumes from; without this
        the file would hold those steps twice. A partly written last line is dropped too.
        """
        path = None if self.run_dir is None else self.run_dir / "stats.jsonl"
        if path is None or not path.is_file():
            return 0
        kept, dropped = [], 0
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
                keep = float(row["kimg"]) <= kimg + 1e-9
            except (ValueError, KeyError, TypeError):
                keep = False
            if keep:
                kept.append(line)
            else:
                dropped += 1
        if dropped:
            atomic_write_text(path, "".join(line + "\n" for line in kept))
        return dropped

    def image(self, tag: str, hwc_uint8: np.ndarray, kimg: float) -> None:
        board = self._board()
        if board is not None:
            board.add_image(tag, hwc_uint8, int(round(kimg * 1000)), dataformats="HWC")
            board.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> "StatsWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
