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
* ``protocol`` names published pipelines instead (:mod:`provgan.metrics.protocols`, e.g.
  ``is-tgan17,fvd-stylegan-v``): each sets its own preprocessing, clip counts, splits and repeats
  (repeat r scores fresh fakes, latent i from seed ``seed + r * N + i``, with C3D dropout masks
  from the protocol's r-th seed where it keeps dropout on); IS over repeats is reported as mean,
  std (ddof 0, as TGAN's ``batch_inception.py``) and best. Every metrics JSON carries one protocol
  card per feature network (:func:`provgan.metrics.protocols.card`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from provgan.errors import ProvganError
from provgan.metrics import features as feats
from provgan.metrics import protocols as protos
from provgan.metrics import real_cache
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
    protocol: str | None = None  # named protocols, comma-separated (at most one per metric)
    c3d_mean_clip: str | None = None  # TGAN's mean2.npz, for the mean-clip IS protocols
    real_cache: str | None = None  # folder of cached real-clip features (provgan.metrics.real_cache); None: off


def parse_metrics(text: str) -> tuple[str, ...]:
    """``"is,fid,fvd"`` -> ("is", "fid", "fvd"); an unknown name is one ProvganError line."""
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ProvganError(f"unknown metric(s) {', '.join(unknown) or '(none)'}: choose from {','.join(METRICS)}")
    return names


def named_protocols(opts: EvalOptions) -> dict[str, protos.Protocol]:
    """The protocols ``opts.protocol`` names, keyed "is" / "fvd" (the feature-network keys)."""
    return protos.parse_protocols(opts.protocol)


def build_nets(opts: EvalOptions) -> dict[str, feats.FeatureNet]:
    """Load the feature networks the metrics need, before any sampling (fail fast)."""
    nets: dict[str, feats.FeatureNet] = {}
    named = named_protocols(opts)
    if named.get("is") and {"is", "fid"} & set(opts.metrics):
        nets["is"] = feats.protocol_net(named["is"], c3d=opts.c3d, mean_clip=opts.c3d_mean_clip, seed=opts.seed)
    elif {"is", "fid"} & set(opts.metrics):
        if opts.classifier:
            nets["is"] = feats.classifier_net(opts.classifier)
        elif opts.c3d:
            nets["is"] = feats.c3d_net(opts.c3d, opts.c3d_mean)
        else:
            raise ProvganError("IS and FID need a classifier: pass --classifier FILE (train one with "
                               "`provgan classifier train --data STORE`) or --c3d FILE (C3D weights)")
    if named.get("fvd") and {"fvd", "kvd"} & set(opts.metrics):
        nets["fvd"] = feats.protocol_net(named["fvd"], i3d_weights=opts.i3d_weights, i3d_cache=opts.i3d_cache,
                                         seed=opts.seed)
    elif {"fvd", "kvd"} & set(opts.metrics):
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


def counts(opts: EvalOptions, key: str) -> tuple[int, int]:
    """(N fake, N real) the feature network ``key`` ("is" / "fvd") scores: its protocol's, else ``num``."""
    named = named_protocols(opts).get(key)
    return (named.num_fake, named.num_real) if named is not None else (opts.num, opts.num)


def check_counts(store, opts: EvalOptions) -> None:
    """Enough real clips for ``--num`` and every named protocol (and at least two, for a covariance)."""
    if opts.num < 2:
        raise ProvganError(f"--num must be at least 2, got {opts.num}")
    if opts.num > store.num_clips:
        raise ProvganError(f"store {store.path} holds {store.num_clips} clips, fewer than --num {opts.num}: "
                           f"lower --num or prepare a larger store")
    for p in named_protocols(opts).values():
        if p.num_real > store.num_clips:
            raise ProvganError(f"protocol {p.name} scores {p.num_real} real clips but store {store.path} holds "
                               f"{store.num_clips}: prepare a larger store or choose another protocol")


def check_shape(opts: EvalOptions, shape: tuple[int, int, int]) -> None:
    """A protocol that feeds every frame to I3D (``fvd-tf``) needs clips of at least 9 frames."""
    named = named_protocols(opts).get("fvd")
    if named is not None and {"fvd", "kvd"} & set(opts.metrics) and named.frames is None and shape[0] < 9:
        raise ProvganError(f"protocol {named.name} feeds every frame, and I3D needs at least 9; these clips "
                           f"have {shape[0]} ({'x'.join(map(str, shape))}): score a level with more frames")


def evaluate_generator(tg, store, opts: EvalOptions, nets: dict[str, feats.FeatureNet] | None = None,
                       progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Compute ``opts.metrics`` for a TrainedGenerator against an opened ClipStore; {name: value}.

    ``nets`` are the feature networks from :func:`build_nets` (built here when not given).
    """
    shape = tuple(tg.clip_shape)
    check_counts(store, opts)
    check_shape(opts, shape)
    nets = build_nets(opts) if nets is None else nets
    sizes = {key: counts(opts, key) for key in nets}
    cached, keys = _cached_reals(store, shape, nets, sizes, opts)
    swd_num = opts.num if "swd" in opts.metrics else 0
    total = {"fake": max([swd_num, *(s[0] for s in sizes.values())]),
             "real": max([swd_num, *(s[1] for k, s in sizes.items() if k not in cached)])}
    rows = real_indices(store.num_clips, total["real"], opts.seed)
    # each network's real set is real_indices(its N): a prefix of the same permutation, so a subset of
    # ``rows`` in the same (sorted) order, whatever the other networks score
    member = {n: np.isin(rows, real_indices(store.num_clips, n, opts.seed))
              for n in {*(s[1] for k, s in sizes.items() if k not in cached), swd_num} if n}
    outputs: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    swd_sets = (DescriptorSet(opts.swd, 0), DescriptorSet(opts.swd, 1)) if "swd" in opts.metrics else None
    level = store.level(shape)
    masks = _dropout_streams(nets, 0)
    for start in range(0, max(total.values()), opts.batch):
        batch = {side: (start, min(start + opts.batch, n)) for side, n in total.items() if start < n}
        clips = {}
        if "real" in batch:
            clips["real"] = _to_tensor(level[rows[slice(*batch["real"])]])
        if "fake" in batch:
            seeds = range(opts.seed + batch["fake"][0], opts.seed + batch["fake"][1])
            clips["fake"] = sample_fakes(tg, seeds)
        for side, x in clips.items():
            for key, net in [*nets.items(), ("swd", None)]:
                n = swd_num if net is None else sizes[key][side == "real"]
                if n == 0 or (side == "fake" and start >= n) or (side == "real" and key in cached):
                    continue
                # real: this network's rows of the batch (anywhere in the union); fake: latents 0 .. n-1
                part = x[torch.from_numpy(member[n][slice(*batch[side])])] if side == "real" else x[:n - start]
                if not len(part):
                    continue
                if net is None:
                    swd_sets[side == "fake"].add(part)
                else:
                    _use_stream(net, masks, key, side)
                    outputs.setdefault((key, side), []).append(net(part, opts.precision, real=side == "real"))
        if progress is not None:
            progress(max(b[1] - b[0] for b in batch.values()))
    cat = {k: (np.concatenate([o[0] for o in v]), np.concatenate([o[1] for o in v])) for k, v in outputs.items()}
    for key, (digest, card) in keys.items():
        if key in cached:
            cat[key, "real"] = cached[key]
        else:
            real_cache.save(opts.real_cache, digest, *cat[key, "real"], card)
    out = _scores(cat, swd_sets, opts)
    if "is" in opts.metrics and "is" in nets:
        out.update(_is_repeats(tg, nets["is"], cat["is", "fake"][0], opts, sizes["is"][0]))
    return out


def _cached_reals(store, shape, nets: dict[str, feats.FeatureNet], sizes: dict[str, tuple[int, int]],
                  opts: EvalOptions) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, tuple[str, dict]]]:
    """With ``opts.real_cache``: the real features already computed for this store and protocol, and
    every network's cache key (to save the ones computed now); without it, nothing."""
    if not opts.real_cache:
        return {}, {}
    cards = protocol_cards(nets, opts)
    # the whole real plan, not only this network's: which real clips share a batch decides the batches
    # a network sees (and, for is-tgan17's train-mode dropout, its masks)
    plan = {"sizes": {k: list(v) for k, v in sorted(sizes.items())},
            "swd": opts.num if "swd" in opts.metrics else 0, "batch": opts.batch}
    keys = {key: (real_cache.cache_key(store, shape, {"card": cards[key], "plan": plan}), cards[key])
            for key in nets}
    cached = {}
    for key, (digest, _) in keys.items():
        hit = real_cache.load(opts.real_cache, digest, sizes[key][1])
        if hit is not None:
            cached[key] = hit
    return (cached if len(cached) == len(keys) else {}), keys  # all or none: the batches stay the same


def sample_fakes(tg, seeds: range) -> torch.Tensor:
    """Generated clips for latent ``seeds`` (a conditional generator: label seed mod K), on the CPU."""
    labels = tg.labels_for(seeds) if hasattr(tg, "labels_for") else None
    z = tg.latents(seeds)
    return (tg.sample(z) if labels is None else tg.sample(z, labels=labels)).cpu()


def _dropout_streams(nets: dict[str, feats.FeatureNet], repeat: int) -> dict[tuple[str, str], torch.Generator]:
    """Seeded C3D dropout masks for protocols that keep dropout on: fakes from the repeat's seed,
    real clips from a separate stream (seed + 2**31), so the batch size never changes a mask."""
    streams = {}
    for key, net in nets.items():
        if net.record is not None and net.record.dropout:
            seed = net.record.seeds[repeat]
            streams[key, "fake"] = torch.Generator().manual_seed(seed)
            streams[key, "real"] = torch.Generator().manual_seed(seed + 2 ** 31)
    return streams


def _use_stream(net: feats.FeatureNet, streams: dict, key: str, side: str) -> None:
    if (key, side) in streams:
        net.model.dropout_generator = streams[key, side]


def _is_repeats(tg, net: feats.FeatureNet, first: np.ndarray, opts: EvalOptions, num: int) -> dict[str, float]:
    """A protocol's IS repeats: repeat r scores ``num`` fresh fakes (latent i from seed
    ``seed + r * num + i``); mean, std (ddof 0) and best over repeats, as TGAN's batch_inception."""
    record = net.record
    if record is None or record.repeats == 1:
        return {}
    values = [inception_score(_softmax(first), record.splits)[0]]
    for r in range(1, record.repeats):
        streams = _dropout_streams({"is": net}, r)
        _use_stream(net, streams, "is", "fake")
        logits = []
        for start in range(0, num, opts.batch):
            stop = min(start + opts.batch, num)
            seeds = range(opts.seed + r * num + start, opts.seed + r * num + stop)
            logits.append(net(sample_fakes(tg, seeds), opts.precision)[0])
        values.append(inception_score(_softmax(np.concatenate(logits)), record.splits)[0])
    if net.record.dropout:
        net.model.dropout_generator = None
    return {"is": float(np.mean(values)), "is_std": float(np.std(values)), "is_best": float(np.max(values)),
            "is_repeats": len(values)}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _scores(cat: dict, swd_sets, opts: EvalOptions) -> dict[str, float]:
    out: dict[str, float] = {}
    named = named_protocols(opts).get("is")
    splits = named.splits if named is not None else max(1, min(opts.is_splits, opts.num // 2))
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
    check_shape(opts, tuple(tg.clip_shape))
    return Evaluation(tg, store, build_nets(opts), opts)


def run_evaluation(job: Evaluation, progress: Callable[[int], None] | None = None) -> tuple[dict, Path]:
    """Compute the metrics and write ``metrics-<kimg>.json`` beside the checkpoint; (record, path)."""
    tg, opts = job.generator, job.opts
    values = evaluate_generator(tg, job.store, opts, job.nets, progress)
    record = {"checkpoint": str(tg.path), "kimg": tg.kimg, "level": tg.level, "alpha": tg.alpha,
              "clip_shape": list(tg.clip_shape), "store": str(job.store.path), "metrics": values,
              "options": _jsonable(asdict(opts)),
              "feature_networks": {k: n.protocol for k, n in job.nets.items()},
              "protocol_cards": protocol_cards(job.nets, opts),
              "protocol": {"real": f"{opts.num} distinct store clips at the checkpoint's level "
                                   f"(seeded permutation, seed {opts.seed}, no flips)",
                           "generated": f"G_ema at the checkpoint's level and alpha, latent i from seed "
                                        f"{opts.seed}+i",
                           "swd": "PGGAN sliced Wasserstein x1e3 on 3x7x7 spatio-temporal "
                                  "Laplacian-pyramid patches"}}
    return record, write_metrics(metrics_path(tg), record)


def protocol_cards(nets: dict[str, feats.FeatureNet], opts: EvalOptions) -> dict[str, dict]:
    """One card per feature network: its named protocol, or provgan's default (filled in with what
    the default network really is: the offline classifier, C3D or I3D)."""
    cards = {}
    for key, net in nets.items():
        record = net.record
        if record is None:
            record = protos.get_protocol(protos.DEFAULTS[key])
            if net.name == "classifier":
                record = replace(record, name="provgan-is-classifier", network="classifier", layer="softmax",
                                 resize_to=tuple(net.input_shape[1:]), scale=1.0, offset=0.0,
                                 source=net.protocol)
            record = replace(record, num_fake=opts.num, num_real=opts.num,
                             splits=max(1, min(opts.is_splits, opts.num // 2)) if key == "is" else 1)
        fake, real = counts(opts, key)
        extra = {"mean_clip": opts.c3d_mean_clip} if record.mean_window is not None else None
        cards[key] = protos.card(record, net.weights or _weights_of(net, opts), precision=opts.precision,
                                 num_fake=fake, num_real=real, seed=opts.seed, extra_files=extra)
    return cards


def _weights_of(net: feats.FeatureNet, opts: EvalOptions) -> str | None:
    if net.name == "classifier":
        return opts.classifier
    if net.name == "c3d":
        return opts.c3d
    from provgan.metrics.i3d_weights import WEIGHTS_NAME, cache_dir

    return opts.i3d_weights or str(cache_dir(opts.i3d_cache) / WEIGHTS_NAME)


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
