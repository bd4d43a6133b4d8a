"""One protocol for every run: the evaluation options, the feature networks, the score shape, the ceiling.

Every run is scored by :func:`provgan.metrics.evaluate.evaluate_generator` with the same options and
the same loaded networks. Two small adapters fit it to an experiment:

* :class:`ScoredGenerator` resizes a run's samples to the system's score shape (the thesis scores
  its 64x64 baselines upscaled to 128x128, §8.2) with the metrics' own resize
  (:func:`provgan.metrics.resize.resize_clips`: first T frames or repeated frames, bilinear in space);
* :class:`RealClips` plays a generator that reproduces real clips at a system's own resolution
  (store clips at its native level, resized the same way): its scores are the real-data ceiling at
  that resolution (BASELINES.md §4.3: resolution alone moves C3D-IS a lot).

The offline classifier (the IS/FID network when no C3D file is given) is trained once per
experiment on the store's labelled clips and reused by every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from provgan.config import ConfigError, Shape
from provgan.experiment.plan import Plan, PlannedRun
from provgan.experiment.spec import score_shape_text
from provgan.metrics import features as feats
from provgan.metrics.evaluate import EvalOptions, build_nets
from provgan.metrics.resize import resize_clips

log = logging.getLogger(__name__)
CLASSIFIER = "classifier.pt"


class ScoredGenerator:
    """A trained generator whose clips come out at ``shape`` (what the metrics see)."""

    def __init__(self, trained: Any, shape: Shape):
        self.trained, self.clip_shape = trained, tuple(shape)
        self.path, self.kimg = trained.path, trained.kimg

    def latents(self, seeds) -> torch.Tensor:
        return self.trained.latents(seeds)

    def labels_for(self, seeds) -> torch.Tensor | None:
        return self.trained.labels_for(seeds) if hasattr(self.trained, "labels_for") else None

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        clips = self.trained.sample(z) if labels is None else self.trained.sample(z, labels=labels)
        return resize_clips(clips, self.clip_shape)


def ceiling_rows(num_clips: int, num: int, seed: int) -> tuple[np.ndarray, bool]:
    """Store rows for the ceiling: the ``num`` clips after the evaluation's real ones in the same seeded
    permutation (:func:`provgan.metrics.evaluate.real_indices`), so the two sets are disjoint; when the
    store is too small for that, the evaluation's own rows (``held_out`` False)."""
    perm = np.random.default_rng(seed).permutation(num_clips)
    if num_clips >= 2 * num:
        return np.sort(perm[num:2 * num]), True
    return np.sort(perm[:num]), False


class RealClips:
    """Real clips at ``native`` shape resized to ``score``: a "generator" scoring the real-data ceiling.

    Latent seed ``first_seed + i`` is the i-th of ``rows``, so evaluate's batching works unchanged.
    """

    def __init__(self, store: Any, native: Shape, score: Shape, rows: np.ndarray, first_seed: int):
        self.level, self.rows, self.first = store.level(native), rows, first_seed
        self.clip_shape, self.path, self.kimg = tuple(score), store.path, 0.0

    def latents(self, seeds) -> torch.Tensor:
        return torch.tensor([int(s) - self.first for s in seeds], dtype=torch.long)

    def labels_for(self, seeds) -> None:
        return None  # real clips: no classes to ask for

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        from provgan.metrics.classifier import to_tensor

        return resize_clips(to_tensor(self.level[self.rows[z.numpy()]]), self.clip_shape)


def eval_options(plan: Plan, classifier: Path | None) -> EvalOptions:
    """The one set of options every run and ceiling is scored with; the real clips' features are
    computed once per score shape and kept in ``DIR/real-features`` (:mod:`provgan.metrics.real_cache`)."""
    e = plan.spec.eval
    extra = {"protocol": e.protocol} if e.protocol else {}
    return EvalOptions(metrics=plan.spec.metrics, num=plan.num, seed=e.seed, batch=e.batch,
                       is_splits=e.is_splits, precision=e.precision, fvd_layer=e.fvd_layer,
                       classifier=str(classifier) if classifier else None,
                       c3d=(e.c3d or None) if e.features == "c3d" else None,
                       i3d_weights=plan.i3d_weights, i3d_cache=plan.i3d_cache,
                       real_cache=str(plan.out / "real-features"), **extra)


def classifier_settings(plan: Plan) -> dict:
    """What the experiment's classifier is trained with (stored in it, checked when it is reused)."""
    return {**dataclasses.asdict(plan.spec.classifier), "shape": list(plan.reference_shape),
            "store": str(plan.store.path)}


def ensure_classifier(plan: Plan) -> Path | None:
    """The IS/FID classifier file: the user's, the experiment's (trained here once), or None (C3D)."""
    e = plan.spec.eval
    if not plan.needs_is_net or e.features == "c3d":
        return None
    if e.classifier:
        return Path(e.classifier)
    from provgan.metrics.classifier import ClassifierOptions, load_classifier, save_classifier, train_classifier
    from provgan.metrics.cli import store_classifier_data

    path, wanted = plan.out / CLASSIFIER, classifier_settings(plan)
    if path.is_file():
        if load_classifier(path)[1].get("experiment") != wanted:
            raise ConfigError(f"{path} was trained with other classifier settings: rerun with the same "
                              "options, or use a new --out")
        return path
    c = plan.spec.classifier
    clips, labels, classes = store_classifier_data(plan.store, plan.reference_shape, c.max_clips, c.seed)
    log.info("training the offline classifier once: %d clips of %s, %d classes, %d epochs", len(labels),
             score_shape_text(plan.reference_shape), classes, c.epochs)
    opts = ClassifierOptions(epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, width=c.width,
                             holdout=c.holdout, seed=c.seed)
    result = train_classifier(clips, labels, classes, opts,
                              on_epoch=lambda ep, loss: log.info("  classifier epoch %d: loss %.4f", ep, loss))
    log.info("classifier held-out accuracy %.3f, IS of held-out real clips %.2f", result.accuracy,
             result.real_is[0])
    return save_classifier(result, path, {"experiment": wanted, "store": str(plan.store.path)})


def load_networks(plan: Plan) -> tuple[EvalOptions, dict[str, feats.FeatureNet]]:
    """Options and feature networks, loaded before any training: I3D first (a missing file fails in a
    second), then the classifier (trained here if needed), then C3D or the classifier."""
    opts = eval_options(plan, None)
    fvd_like = tuple(m for m in opts.metrics if m in ("fvd", "kvd"))
    nets = build_nets(dataclasses.replace(opts, metrics=fvd_like)) if fvd_like else {}
    opts = eval_options(plan, ensure_classifier(plan))
    if plan.needs_is_net:
        nets |= build_nets(dataclasses.replace(opts, metrics=("is",)))
    return opts, nets


def protocol_card(plan: Plan, opts: EvalOptions, nets: dict[str, feats.FeatureNet]) -> dict[str, Any]:
    """Everything the scores depend on, in words and values (results.md's protocol section)."""
    e = plan.spec.eval
    return {
        "named_protocol": e.protocol or "none (provgan's default evaluation)",
        "clips_per_side": plan.num,
        "generated": f"G_ema of each run's last checkpoint at its top level, latent i from seed {e.seed}+i, "
                     "resized to the system's score shape (first T frames or repeated frames, bilinear in space)",
        "real": f"{plan.num} distinct store clips at the score shape, chosen by a permutation seeded with "
                f"{e.seed}, no flips (the same clips for every run)",
        "ceiling": "real clips at each system's own resolution, resized to its score shape and scored like "
                   "generated clips: held-out store clips (the next ones in the same permutation) when the "
                   "store has twice the clips, else the reference clips themselves",
        "feature_networks": {k: n.protocol for k, n in nets.items()},
        "is_splits": opts.is_splits, "fvd_layer": opts.fvd_layer, "precision": opts.precision,
        "swd": "PGGAN sliced Wasserstein x1e3 on 3x7x7 spatio-temporal Laplacian-pyramid patches",
        "spread": "mean and sample standard deviation (ddof 1) over seeds",
    }


def card_hash(card: dict[str, Any], shape: Shape) -> str:
    """A short hash of the protocol card and a score shape: cached scores are reused only under both."""
    text = json.dumps({"card": card, "shape": list(shape)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def score_generator(generator: Any, plan: Plan, opts: EvalOptions, nets: dict) -> dict[str, float]:
    from provgan.metrics.evaluate import evaluate_generator

    return evaluate_generator(generator, plan.store, opts, nets)


def score_run(run: PlannedRun, plan: Plan, opts: EvalOptions, nets: dict) -> dict[str, Any]:
    """The metrics of a finished run's generator at its score shape, and where it stood."""
    from provgan.train.checkpoint import load_sampler

    trained = load_sampler(run.folder)
    if tuple(trained.clip_shape) != run.native_shape:
        log.warning("%s stands at %s, not its top level %s: scored from there", run.key,
                    score_shape_text(trained.clip_shape), score_shape_text(run.native_shape))
    values = score_generator(ScoredGenerator(trained, run.score_shape), plan, opts, nets)
    return {"metrics": values, "checkpoint": str(trained.path), "kimg": trained.kimg, "level": trained.level,
            "alpha": trained.alpha, "generated_shape": list(trained.clip_shape),
            "score_shape": list(run.score_shape)}


def score_ceiling(native: Shape, score: Shape, plan: Plan, opts: EvalOptions, nets: dict) -> dict[str, Any]:
    """The real-data ceiling at ``native`` resolution scored at ``score``."""
    rows, held_out = ceiling_rows(plan.store.num_clips, plan.num, opts.seed)
    values = score_generator(RealClips(plan.store, native, score, rows, opts.seed), plan, opts, nets)
    return {"metrics": values, "native_shape": list(native), "score_shape": list(score), "held_out": held_out}
