"""Class coverage of generated clips by an offline classifier: which classes does a generator draw?

The Inception Score (eq. 6.2) folds two things into one number: how sure the classifier is of each
clip and how evenly the clips spread over the classes. A generator that draws only zeros and ones
can still score a middling IS, so the training curves and the demo also report the two parts
separately, on one label factor (e.g. the digit of the moving digits, summing over the motions):

* **sure share**: the fraction of clips whose most likely class has probability above ``sure``
  (0.8): clips the classifier would recognise;
* **effective classes**: ``exp(H)`` of the spread of the sure clips over the classes (the perplexity
  of their argmax histogram): 10 for ten equally common digits, 1 when every sure clip is a zero.

Labels of a multi-factor store are a mixed-radix number, the first factor most significant (moving
digits: ``digit * 4 + motion``), so a factor's probabilities are a reshape and a sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

SURE = 0.8


@dataclass(frozen=True)
class Coverage:
    """Sure share, effective number of classes among the sure clips, and their per-class counts."""

    sure: float
    effective: float
    counts: tuple[int, ...]


def factor_probabilities(probs: np.ndarray, sizes: Sequence[int], factor: int) -> np.ndarray:
    """(N, prod(sizes)) class probabilities -> (N, sizes[factor]) marginal of one label factor."""
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] != int(np.prod(sizes)):
        raise ValueError(f"factor_probabilities: {probs.shape[1] if probs.ndim == 2 else probs.shape} classes "
                         f"do not factor as {list(sizes)}")
    grid = probs.reshape(len(probs), *sizes)
    other = tuple(1 + i for i in range(len(sizes)) if i != factor)
    return grid.sum(axis=other) if other else grid


def effective_count(counts: np.ndarray) -> float:
    """exp(entropy) of a histogram: the number of equally common classes with the same spread (0 if empty)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def coverage(probs: np.ndarray, sure: float = SURE) -> Coverage:
    """Coverage of clips with class probabilities ``probs`` (N, K); see the module docstring."""
    probs = np.asarray(probs)
    confident = probs.max(axis=1) > sure
    counts = np.bincount(probs.argmax(axis=1)[confident], minlength=probs.shape[1])
    return Coverage(float(confident.mean()) if len(probs) else 0.0, effective_count(counts),
                    tuple(int(c) for c in counts))


def label_factor(names: Mapping[str, Sequence[str]] | None, factor: str) -> tuple[list[int], int]:
    """(sizes of all factors, index of ``factor``) from a store's label names, e.g. {"digit": [...],
    "motion": [...]}; ``factor`` "" means the whole label (every factor combined, one factor)."""
    if not names:
        if factor:
            raise ValueError(f"label factor '{factor}' asked for, but the store has no label names")
        return [], -1
    keys = list(names)
    if not factor:
        return [len(names[k]) for k in keys], -1
    if factor not in names:
        raise ValueError(f"label factor '{factor}' is not one of the store's factors ({', '.join(keys)})")
    return [len(names[k]) for k in keys], keys.index(factor)


def factor_coverage(probs: np.ndarray, sizes: Sequence[int], factor: int, sure: float = SURE) -> Coverage:
    """:func:`coverage` of one factor (``factor`` -1: the full label)."""
    return coverage(probs if factor < 0 else factor_probabilities(probs, sizes, factor), sure)
