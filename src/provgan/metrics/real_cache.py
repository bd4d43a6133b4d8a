"""Features of a store's real clips, computed once per feature network and protocol, then reused.

Why: FVD-2048 passes 2048 real and 2048 generated clips through I3D (thesis ch. 6; StyleGAN-V's
``fvd2048_16f``), and the real half is the same for every checkpoint scored against one store. On a
2-core CPU the I3D passes are nearly all of the 24 minutes an FVD-2048 takes (README, "Metrics"), so
keeping the real features halves every evaluation after the first, as StyleGAN2-ADA keeps its
dataset statistics.

The key is everything that decides those features: the store's content hash and the level, which
real clips (their count and the seed of :func:`provgan.metrics.evaluate.real_indices`), the feature
network's protocol card (network, weights SHA-256, layer, preprocessing, precision, provgan
version), and the evaluation's whole real plan (every network's clip count, SWD's and the batch
size): which real clips share a batch decides the batches a network sees, and the train-mode dropout
of ``is-tgan17`` draws its masks batch by batch. So the features are reused by the same evaluation
of another checkpoint, the common case (a run's checkpoints, an experiment's runs). A file that
cannot be read, or whose arrays do not have the expected count, is computed again; a folder that
cannot be written (a read-only store) only costs the saving.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from provgan.atomic import atomic_write_with

log = logging.getLogger(__name__)
FORMAT = 1
FOLDER = Path("cache") / "real-features"  # inside the store, next to its levels


def cache_key(store, shape, spec: dict) -> str:
    """SHA-256 of what decides the real features of one feature network: the store's content, the
    level, and ``spec`` (its protocol card and the evaluation's real plan; see the module docstring)."""
    record = {"format": FORMAT, "store": store.manifest.get("content_hash"), "num_clips": store.num_clips,
              "shape": [int(s) for s in shape], "spec": spec}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def load(folder: str | Path, key: str, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached (outputs, features) of ``count`` real clips, or None (absent, damaged, wrong size)."""
    path = Path(folder) / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            outputs, features = np.asarray(data["outputs"]), np.asarray(data["features"])
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: unreadable cached real features (%s): computing them again", path, exc)
        return None
    if len(outputs) != count or len(features) != count:
        log.warning("%s: cached real features of %d clips, %d wanted: computing them again", path,
                    len(outputs), count)
        return None
    return outputs, features


def save(folder: str | Path, key: str, outputs: np.ndarray, features: np.ndarray, card: dict) -> Path | None:
    """Write one network's real features atomically; None where the folder cannot be written."""
    path = Path(folder) / f"{key}.npz"

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, outputs=outputs, features=features, card=np.array(json.dumps(card, default=str)))

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_with(path, write)
    except PermissionError as exc:
        log.warning("cannot keep the real features in %s (%s): the next evaluation computes them again",
                    path.parent, exc)
        return None
