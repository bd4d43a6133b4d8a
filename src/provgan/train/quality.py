"""Quality of the EMA generator measured while it trains: the curves that say whether a run learns.

Every ``run.metrics_kimg`` kimg, at the end of every level and at the end of the run, the trainer
samples ``run.metrics_num`` clips from G_ema at the current level and fade weight and scores them
against as many real clips of the store at that level:

* ``Metrics/swd`` (and ``Metrics/swd_<res>`` per pyramid level): the weight-free video SWD of
  :mod:`provgan.metrics.swd`, always;
* with ``run.classifier`` (a file from ``provgan classifier train`` on the same store), on the label
  factor ``data.label`` (e.g. ``digit``; empty: the full label): ``Metrics/sure`` and
  ``Metrics/classes`` (:mod:`provgan.metrics.coverage`) and ``Metrics/is`` (eq. 6.2 on the full
  label), next to the same numbers for the real clips of the level (``Metrics/real/...``: the ceiling
  a curve is read against); clips of a smaller level are resized to the classifier's shape, reals and
  fakes alike, and fakes are rounded to uint8 as a saved video would be;
* with ``run.metrics_fvd`` > 0, FVD on that many clips (I3D, Kinetics-400 logits; slow on a CPU);
* for a class-conditional G (``model.conditional``) clip ``i`` asks for class ``i mod num_classes``
  (every class equally often), and with a classifier ``Metrics/agree`` is the share of clips whose
  most probable class on the factor ``data.label`` is the one asked for.

Everything is seeded on its own streams (the latents of clip ``i`` from seed ``seed + i``, the real
clips from a seeded permutation, SWD from ``SWDOptions.seed``), never on the training RNG: a probe
does not change the run, and a run resumed after a kill writes the same ``Metrics/`` rows as an
unbroken one. Real-clip descriptors and scores are computed once per level and cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from provgan.config import Config
from provgan.errors import ProvganError
from provgan.metrics.classifier import to_tensor
from provgan.metrics.coverage import factor_coverage, factor_probabilities, label_factor
from provgan.metrics.evaluate import real_indices
from provgan.metrics.scores import frechet_distance_of, inception_score
from provgan.metrics.swd import DescriptorSet, SWDOptions, swd_scores
from provgan.video_grid import to_uint8

log = logging.getLogger(__name__)
PROBE_SEED = 7_000_000  # latents of the probe's clips: seeds PROBE_SEED + i (apart from the sample grids')


@dataclass
class _RealLevel:
    """What is measured once per level on the real clips."""

    swd: DescriptorSet
    scores: dict[str, float] = field(default_factory=dict)
    classifier_out: tuple[np.ndarray, np.ndarray] | None = None
    fvd_logits: np.ndarray | None = None


class QualityProbe:
    """Scores G_ema at a level against the store (see the module docstring); one per run."""

    def __init__(self, cfg: Config, store, device: torch.device, batch: int = 32):
        run = cfg.run
        self.cfg, self.store, self.device, self.batch = cfg, store, device, batch
        self.num = min(run.metrics_num, store.num_clips)
        if self.num < 2:
            raise ProvganError(f"run.metrics_num needs at least 2 clips (store {store.path} holds "
                               f"{store.num_clips}, metrics_num is {run.metrics_num})")
        self.swd_opts = SWDOptions()
        self.classifier = None
        if run.classifier:
            from provgan.metrics.features import classifier_net

            self.classifier = classifier_net(run.classifier)
            if store.labels is None:
                raise ProvganError(f"run.classifier is set but store {store.path} has no labels")
            try:
                self.sizes, self.factor = label_factor(store.label_names, cfg.data.label)
            except ValueError as exc:
                raise ProvganError(f"data.label: {exc}") from None
            classes = int(np.prod(self.sizes)) if self.sizes else None
            if classes is not None and classes != self.classifier.model.num_classes:
                raise ProvganError(f"{run.classifier} has {self.classifier.model.num_classes} classes but the "
                                   f"store's labels have {classes}: train the classifier on this store")
        self.fvd = None
        if run.metrics_fvd > 0:
            from provgan.metrics.features import i3d_net

            self.fvd = i3d_net()
        self.rows = real_indices(store.num_clips, self.num, cfg.run.seed)
        self._real: dict[int, _RealLevel] = {}

    # -- pieces ---------------------------------------------------------------------------------

    def _batches(self, clips_of):
        for start in range(0, self.num, self.batch):
            yield start, clips_of(start, min(start + self.batch, self.num))

    def _real_level(self, level: int) -> _RealLevel:
        if level in self._real:
            return self._real[level]
        shape = self.cfg.model.plan[level]
        frames = self.store.level(shape)
        real = _RealLevel(DescriptorSet(self.swd_opts, 0))
        outs = []
        fvd = []
        for start, clips in self._batches(lambda a, b: to_tensor(frames[self.rows[a:b]])):
            real.swd.add(clips)
            if self.classifier is not None:
                outs.append(self.classifier(clips))
            if self.fvd is not None and start < self.cfg.run.metrics_fvd:
                fvd.append(self.fvd(clips[: self.cfg.run.metrics_fvd - start])[0])
        if outs:
            real.classifier_out = (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]))
            real.scores = {f"real/{k}": v for k, v in self._classifier_scores(real.classifier_out[0]).items()}
        if fvd:
            real.fvd_logits = np.concatenate(fvd)
        self._real[level] = real
        return real

    def _classifier_scores(self, logits: np.ndarray) -> dict[str, float]:
        probs = _softmax(logits)
        cov = factor_coverage(probs, self.sizes, self.factor)
        splits = max(1, min(10, len(probs) // 2))
        return {"sure": cov.sure, "classes": cov.effective, "is": inception_score(probs, splits)[0]}

    # -- the probe ------------------------------------------------------------------------------

    @torch.no_grad()
    def measure(self, generator: torch.nn.Module, level: int, alpha: float) -> dict[str, float]:
        """``{name: value}`` for G at (level, alpha), names without the ``Metrics/`` prefix."""
        real = self._real_level(level)
        latent_dim = generator.latent_dim
        fake_swd = DescriptorSet(self.swd_opts, 1)
        outs, fvd = [], []

        num_classes = self.cfg.model.num_classes if self.cfg.model.conditional else 0

        def sample(a: int, b: int) -> torch.Tensor:
            z = torch.stack([torch.randn(latent_dim, generator=torch.Generator().manual_seed(PROBE_SEED + i))
                             for i in range(a, b)])
            extra = [probe_labels(a, b, num_classes).to(self.device)] if num_classes else []
            clips = generator(z.to(self.device), level, alpha, *extra).float().clamp(-1, 1).cpu()
            return to_tensor(to_uint8(clips))  # as a saved video would be: rounded to uint8

        was_training = generator.training
        generator.eval()
        try:
            for start, clips in self._batches(sample):
                fake_swd.add(clips)
                if self.classifier is not None:
                    outs.append(self.classifier(clips))
                if self.fvd is not None and start < self.cfg.run.metrics_fvd:
                    fvd.append(self.fvd(clips[: self.cfg.run.metrics_fvd - start])[0])
        finally:
            generator.train(was_training)
        out = dict(swd_scores(real.swd, fake_swd))
        if outs:
            logits = np.concatenate([o[0] for o in outs])
            out |= self._classifier_scores(logits)
            if num_classes:
                probs = _softmax(logits)
                if self.factor >= 0:
                    probs = factor_probabilities(probs, self.sizes, self.factor)
                if probs.shape[1] == num_classes:
                    out["agree"] = float((probs.argmax(axis=1) == probe_labels(0, self.num, num_classes).numpy()).mean())
            out["fid"] = frechet_distance_of(real.classifier_out[1], np.concatenate([o[1] for o in outs]))
        if fvd:
            out["fvd"] = frechet_distance_of(real.fvd_logits, np.concatenate(fvd))
        return out | real.scores


def probe_labels(start: int, stop: int, num_classes: int) -> torch.Tensor:
    """The classes the probe asks a conditional G for: clip i draws class i mod num_classes."""
    return torch.arange(start, stop) % num_classes


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
