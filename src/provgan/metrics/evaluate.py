"""Evaluate a trained generator against a prepared store: IS, FID, FVD, KVD and video SWD.

Protocol (what ``provgan evaluate`` does, also callable from the trainer):

* Generated clips: ``num`` clips from G_ema at the checkpoint's level and fade weight, latent ``i``
  from seed ``seed + i`` (checkpoint contract: a seed names the same clip everywhere).
* Real clips: ``num`` distinct clips of the store at the same level shape, chosen by a permutation
  seeded with ``seed`` (no mirror flips).
* Both go through the same resizing to each feature network's input (:mod:`provgan.metrics.features`)
  in batches of ``batch``; nothing but features and SWD descriptors is kept in memory.
* IS (eq. 6.2) on the softmax of the IS network (offline classifier, or C3D) with ``is_splits``
  splits, for generated clips and for the real ones (``is_real``: the ceiling at this level);
  FID (eq. 6.4) on its features; FVD and KVD on I3D's Kinetics-400 logits (StyleGAN-V's
  ``fvd2048_16f``: 2048 clips, 16 frames, 224 x 224); SWD on the clips themselves.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from provgan.errors import ProvganError
from provgan.metrics import features as feats
from provgan.metrics.scores import frechet_distance_of, inception_score, kernel_distance
from provgan.metrics.swd import DescriptorSet, SWDOptions, swd_scores

log = logging.getLogger(__name__)
METRICS = ("is", "fid", "fvd", "kvd", "swd")
FVD_CLIPS = 2048  # StyleGAN-V fvd2048_16f


@dataclass(frozen=True)
class EvalOptions:
    """What to compute and with which feature networks."""

    metrics: tuple[str, ...] = ("fvd", "swd")
    num: int = FVD_CLIPS
    seed: int = 0
    batch: int = 16
    is_splits: int = 10
    classifier: str | None = None  # offline protocol: file from `provgan classifier train`
    c3d: str | None = None  # published protocol: a public-layout C3D state dict
    c3d_mean: tuple[float, float, float] | None = None
    i3d_weights: str | None = None  # a converted .pt; default: the cache of `provgan weights i3d`
    i3d_cache: str | None = None
    fvd_layer: str = "logits"  # or "pool" (1024-d Mixed_5c average pool)
    precision: str = "fp32"
    swd: SWDOptions = field(default_factory=SWDOptions)


def parse_metrics(text: str) -> tuple[str, ...]:
    """``"is,fid,fvd"`` -> ("is", "fid", "fvd"); an unknown name is one ProvganError line."""
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ProvganError(f"unknown metric(s) {', '.join(unknown) or '(none)'}: choose from {','.join(METRICS)}")
    return names


def build_nets(opts: EvalOptions) -> dict[str, feats.FeatureNet]:
    """Load the feature networks the metrics need, before any sampling (fail fast)."""
    nets: dict[str, feats.FeatureNet] = {}
    if {"is", "fid"} & set(opts.metrics):
        if opts.classifier:
            nets["is"] = feats.classifier_net(opts.classifier)
        elif opts.c3d:
            nets["is"] = feats.c3d_net(opts.c3d, opts.c3d_mean)
        else:
            raise ProvganError("IS and FID need a classifier: pass --classifier FILE (train one with "
                               "`provgan classifier train --data STORE`) or --c3d FILE (C3D weights)")
    if {"fvd", "kvd"} & set(opts.metrics):
        nets["fvd"] = feats.i3d_net(opts.i3d_weights, opts.i3d_cache)
    if opts.fvd_layer not in ("logits", "pool"):
        raise ProvganError(f"--fvd-layer must be logits or pool, got {opts.fvd_layer}")
    return nets


def real_indices(num_clips: int, num: int, seed: int) -> np.ndarray:
    """``num`` distinct store rows chosen by a seeded permutation, sorted (memory-map friendly)."""
    return np.sort(np.random.default_rng(seed).permutation(num_clips)[:num])


def _to_tensor(clips: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(clips).transpose(0, 4, 1, 2, 3)))
    return x.float().div_(127.5).sub_(1.0)


def check_counts(store, opts: EvalOptions) -> None:
    """Enough real clips for ``--num`` (and at least two, for a covariance)."""
    if opts.num < 2:
        raise ProvganError(f"--num must be at least 2, got {opts.num}")
    if opts.num > store.num_clips:
        raise ProvganError(f"store {store.path} holds {store.num_clips} clips, fewer than --num {opts.num}: "
                           f"lower --num or prepare a larger store")


def evaluate_generator(tg, store, opts: EvalOptions, nets: dict[str, feats.FeatureNet] | None = None,
                       progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Compute ``opts.metrics`` for a TrainedGenerator against an opened ClipStore; {name: value}.

    ``nets`` are the feature networks from :func:`build_nets` (built here when not given).
    """
    shape = tuple(tg.clip_shape)
    check_counts(store, opts)
    nets = build_nets(opts) if nets is None else nets
    rows = real_indices(store.num_clips, opts.num, opts.seed)
    outputs: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    swd_sets = (DescriptorSet(opts.swd, 0), DescriptorSet(opts.swd, 1)) if "swd" in opts.metrics else None
    level = store.level(shape)
    for start in range(0, opts.num, opts.batch):
        stop = min(start + opts.batch, opts.num)
        real = _to_tensor(level[rows[start:stop]])
        seeds = range(opts.seed + start, opts.seed + stop)
        labels = tg.labels_for(seeds) if hasattr(tg, "labels_for") else None  # conditional: seed mod K
        z = tg.latents(seeds)
        fake = (tg.sample(z) if labels is None else tg.sample(z, labels=labels)).cpu()
        for side, clips in (("real", real), ("fake", fake)):
            for key, net in nets.items():
                outputs.setdefault((key, side), []).append(net(clips, opts.precision))
            if swd_sets is not None:
                swd_sets[side == "fake"].add(clips)
        if progress is not None:
            progress(stop - start)
    cat = {k: (np.concatenate([o[0] for o in v]), np.concatenate([o[1] for o in v])) for k, v in outputs.items()}
    return _scores(cat, swd_sets, opts)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _scores(cat: dict, swd_sets, opts: EvalOptions) -> dict[str, float]:
    out: dict[str, float] = {}
    splits = max(1, min(opts.is_splits, opts.num // 2))
    if "is" in opts.metrics:
        out["is"], out["is_std"] = inception_score(_softmax(cat["is", "fake"][0]), splits)
        out["is_real"], out["is_real_std"] = inception_score(_softmax(cat["is", "real"][0]), splits)
    if "fid" in opts.metrics:
        out["fid"] = frechet_distance_of(cat["is", "real"][1], cat["is", "fake"][1])
    col = 0 if opts.fvd_layer == "logits" else 1
    if "fvd" in opts.metrics:
        out["fvd"] = frechet_distance_of(cat["fvd", "real"][col], cat["fvd", "fake"][col])
    if "kvd" in opts.metrics:
        out["kvd"] = kernel_distance(cat["fvd", "real"][col], cat["fvd", "fake"][col], seed=opts.seed)
    if swd_sets is not None:
        out.update(swd_scores(*swd_sets))
    return out


def metrics_path(tg) -> Path:
    """``metrics-<kimg>.json`` beside the checkpoint (same kimg numbering as ``ckpt-<kimg>.pt``)."""
    from provgan.checkpoints import kimg_tag

    return Path(tg.path).parent / f"metrics-{kimg_tag(round(tg.kimg * 1000))}.json"


def write_metrics(path: Path, record: dict) -> Path:
    """Write the record as JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class Evaluation:
    """A checked evaluation job: the generator, the store and the loaded feature networks."""

    generator: Any
    store: Any
    nets: dict
    opts: EvalOptions


def load_evaluation(checkpoint: str | Path, data: str | Path, opts: EvalOptions) -> Evaluation:
    """Load and check everything before any sampling: checkpoint, store level, clip count, networks."""
    from provgan.data.store import open_store
    from provgan.registry import load_sampler

    tg = load_sampler(checkpoint)
    store = open_store(data, shapes=[tg.clip_shape])
    check_counts(store, opts)
    return Evaluation(tg, store, build_nets(opts), opts)


def run_evaluation(job: Evaluation, progress: Callable[[int], None] | None = None) -> tuple[dict, Path]:
    """Compute the metrics and write ``metrics-<kimg>.json`` beside the checkpoint; (record, path)."""
    tg, opts = job.generator, job.opts
    values = evaluate_generator(tg, job.store, opts, job.nets, progress)
    record = {"checkpoint": str(tg.path), "kimg": tg.kimg, "level": tg.level, "alpha": tg.alpha,
              "clip_shape": list(tg.clip_shape), "store": str(job.store.path), "metrics": values,
              "options": _jsonable(asdict(opts)),
              "feature_networks": {k: n.protocol for k, n in job.nets.items()},
              "protocol": {"real": f"{opts.num} distinct store clips at the checkpoint's level "
                                   f"(seeded permutation, seed {opts.seed}, no flips)",
                           "generated": f"G_ema at the checkpoint's level and alpha, latent i from seed "
                                        f"{opts.seed}+i",
                           "swd": "PGGAN sliced Wasserstein x1e3 on 3x7x7 spatio-temporal "
                                  "Laplacian-pyramid patches"}}
    return record, write_metrics(metrics_path(tg), record)


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path, opts: EvalOptions,
                        progress: Callable[[int], None] | None = None) -> tuple[dict, Path]:
    """Load a checkpoint (or a run's newest), evaluate it on ``data``, write the JSON; (record, path)."""
    return run_evaluation(load_evaluation(checkpoint, data, opts), progress)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
