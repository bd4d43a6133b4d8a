"""Clip-length statistics in the bins of the thesis' Table 7.2.

Table 7.2 counts TrailerFaces clips by number of frames in the bins 30-33, 34-39, 40-47, 48-57, 58-69
and 70-423 (1781, 3106, 2291, 1591, 940 and 1201 clips). We keep the same lower edges; the last bin is
open ("70+") because other sources have longer shots, and a "<30" bin appears only when
``--min-frames`` is below 30 and such clips exist.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TABLE_7_2_EDGES = (30, 34, 40, 48, 58, 70)


def bin_labels(edges: Sequence[int] = TABLE_7_2_EDGES) -> list[str]:
    """Names of the bins: ``"30-33"``, ..., ``"70+"``."""
    labels = [f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:])]
    return labels + [f"{edges[-1]}+"]


def length_histogram(lengths: Sequence[int], edges: Sequence[int] = TABLE_7_2_EDGES) -> dict[str, int]:
    """Number of clips per frame-count bin (ordered dict label -> count), Table 7.2's layout."""
    lengths = np.asarray(list(lengths), dtype=np.int64)
    counts = {label: 0 for label in bin_labels(edges)}
    short = int((lengths < edges[0]).sum())
    if short:
        counts = {f"<{edges[0]}": short, **counts}
    index = np.searchsorted(np.asarray(edges), lengths[lengths >= edges[0]], side="right") - 1
    for label, n in zip(bin_labels(edges), np.bincount(index, minlength=len(edges))):
        counts[label] = int(n)
    return counts


def format_histogram(counts: dict[str, int]) -> str:
    """The histogram as the two rows of Table 7.2 plus the total."""
    width = max(7, *(len(k) for k in counts))
    head = "Number of frames " + "".join(f"{k:>{width}}" for k in counts) + f"{'all':>{width}}"
    row = "Total clips      " + "".join(f"{v:>{width}}" for v in counts.values()) + f"{sum(counts.values()):>{width}}"
    return head + "\n" + row
