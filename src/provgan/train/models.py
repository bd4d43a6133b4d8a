"""The networks and optimizers the training loop drives, built from a config by :mod:`provgan.registry`.

The loop needs this small interface: a generator ``G(z, level, alpha)``, a named set of critics, the
optional SWGAN head (attached to the progressive critic ``D``), an EMA copy of G, and one optimizer
per trainable part. Each critic is a :class:`~provgan.baselines.common.CriticPart`: its module, the
view of a clip it sees (``clip``, or ``frame``: one random frame per clip, MoCoGAN's image critic),
its own batch, its own optimizer and an optional constraint run after its optimizer step (TGAN's
singular value clipping). The progressive model is the one-critic case: ``D`` seeing whole clips.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from provgan.baselines.common import CriticPart, OptimizerSpec
from provgan.config import Config
from provgan.losses import Critic
from provgan.nn import SlicedHead
from provgan.nn.frame_critic import FrameCritic
from provgan.nn.conditioning import ConditionedSlicedHead
from provgan.optim import make_optimizer
from provgan.registry import build_parts


def _identity(x: Tensor) -> Tensor:
    return x


@dataclass
class GanModels:
    generator: nn.Module
    critics: dict[str, CriticPart]
    head: SlicedHead | None
    generator_ema: nn.Module
    arch: str = "progressive"
    loss: str = "swgan"
    g_optimizer: OptimizerSpec | None = None
    schedule_lr: bool = True
    g_extra: Callable[[dict[str, Tensor]], Tensor] | None = None
    frames: FrameCritic | None = None  # model.frame_critic: trained in D's step, on D's clips

    @property
    def discriminator(self) -> nn.Module:
        """The progressive critic ``D`` (the one critic of ``model.arch: progressive``)."""
        return self.critics["D"].module

    def critic(self, name: str, level: int, alpha: float, labels: torch.Tensor | None = None) -> Critic:
        """Critic ``name`` bound to a level and fade weight, with the head the loss needs.

        The progressive D has ``features(x, level, alpha)`` and a scalar or sliced head; a conditional
        D is bound to the batch's labels too (its projection term joins either head). A baseline
        critic is a plain module x -> scores (N,) or a patch map, which :class:`Critic` averages.
        """
        d = self.critics[name].module
        if self.arch != "progressive":
            if labels is not None:
                raise ValueError(f"the {self.arch} critics are unconditional: they take no class labels")
            return Critic(d, _identity)
        features = lambda x: d.features(x, level, alpha)  # noqa: E731
        if d.projection is None and labels is not None:
            raise ValueError("this discriminator is unconditional: it takes no class labels")
        if self.head is not None:
            head = self.head if d.projection is None else ConditionedSlicedHead(self.head, d.projection, labels)
            return Critic(features, head, sliced=head)
        return Critic(features, lambda e: d.score_features(e, labels))

    def frame_critic(self, level: int, alpha: float, labels: torch.Tensor | None = None) -> Critic:
        """The frame critic bound like D: it reads (N * k, C, 1, H, W) frames; a conditional one is
        bound to the labels of the frames' clips, each repeated k times."""
        f = self.frames
        if f is None:
            raise ValueError("this model has no frame critic (model.frame_critic=0)")
        d = f.disc
        features = lambda x: d.features(x, level, alpha)  # noqa: E731
        if labels is not None:
            labels = labels.repeat_interleave(f.frames_per_clip)
        if f.head is not None:
            head = f.head if d.projection is None else ConditionedSlicedHead(f.head, d.projection, labels)
            return Critic(features, head, sliced=head)
        return Critic(features, lambda e: d.score_features(e, labels))

    def critic_parameters(self) -> list[nn.Parameter]:
        params = [p for part in self.critics.values() for p in part.module.parameters()]
        params += list(self.frames.parameters()) if self.frames is not None else []
        return params + (list(self.head.parameters()) if self.head is not None else [])

    def modules(self) -> dict[str, nn.Module]:
        out: dict[str, nn.Module] = {"G": self.generator}
        out |= {name: part.module for name, part in self.critics.items()}
        if self.frames is not None:
            out["F"] = self.frames
        out["G_ema"] = self.generator_ema
        if self.head is not None:
            out["head"] = self.head
        return out


@dataclass
class GanOptimizers:
    """One optimizer per trainable part, keyed like :meth:`GanModels.modules` ("G", each critic, "head").

    ``own_lr``: the lr each optimizer keeps (a baseline's spec); empty when the schedule sets the lr.
    """

    by_name: dict[str, torch.optim.Optimizer]
    own_lr: dict[str, float] = field(default_factory=dict)

    @property
    def g(self) -> torch.optim.Optimizer:
        return self.by_name["G"]

    @property
    def head(self) -> torch.optim.Optimizer | None:
        return self.by_name.get("head")

    def all(self) -> dict[str, torch.optim.Optimizer]:
        return dict(self.by_name)


def build_models(cfg: Config, device: torch.device | str = "cpu") -> GanModels:
    """G, the critics (with a scalar head only when the loss needs one), the SWGAN head and G_ema."""
    parts = build_parts(cfg)
    g = parts.generator.to(device)
    critics = {name: CriticPart(part.module.to(device), part.view, part.batch, part.optimizer, part.constraint)
               for name, part in parts.critics.items()}
    head = parts.head.to(device) if parts.head is not None else None
    frames = parts.frames.to(device) if parts.frames is not None else None
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    return GanModels(g, critics, head, g_ema, parts.arch, parts.loss, parts.g_optimizer, parts.schedule_lr,
                     parts.g_extra, frames)


@dataclass(frozen=True)
class TrainedModels:
    """Every network of a checkpoint, built from its own config, at the level and fade it reached."""

    cfg: Config
    models: GanModels
    level: int
    alpha: float
    kimg: float


def load_models(path) -> TrainedModels:
    """All networks of a checkpoint file, or of a run folder's newest (G, G_ema, the critics, the head):
    for diagnostics of a critic (``benchmarks/critic_probe.py``, ``identity_probe.py``); sampling
    needs only :func:`provgan.registry.load_sampler`."""
    from pathlib import Path

    from provgan.checkpoints import resolve_checkpoint
    from provgan.config import config_from_dict
    from provgan.registry import position_reached

    _, data = resolve_checkpoint(Path(path), map_location="cpu")
    cfg = config_from_dict(data["config"])
    models = build_models(cfg)
    for name, module in models.modules().items():
        module.load_state_dict(data["models"][name])
    level, alpha = position_reached(cfg, data["position"])
    return TrainedModels(cfg, models, level, alpha, float(data["position"]["nimg"]) / 1000)


def _make(spec: OptimizerSpec, params, lr: float) -> torch.optim.Optimizer:
    return make_optimizer(params, spec.name, lr, spec.betas, spec.eps, spec.weight_decay, spec.alpha)


def build_optimizers(models: GanModels, cfg: Config, lr: float) -> GanOptimizers:
    """One optimizer per part. With the schedule's lr (progressive) every one starts at ``lr``; a
    baseline's start at their own spec's lr and keep it (BASELINES.md §5.3 item 5)."""
    g_spec = models.g_optimizer
    assert g_spec is not None
    specs: dict[str, tuple[OptimizerSpec, list]] = {"G": (g_spec, list(models.generator.parameters()))}
    for name, part in models.critics.items():
        specs[name] = (part.optimizer, list(part.module.parameters()))
    if models.head is not None:
        specs["head"] = (specs["D"][0], list(models.head.parameters()))
    if models.frames is not None:  # the frame critic and its head step with D's settings
        specs["F"] = (specs["D"][0], list(models.frames.parameters()))
    by_name = {name: _make(spec, params, lr if models.schedule_lr else spec.lr)
               for name, (spec, params) in specs.items()}
    own = {} if models.schedule_lr else {name: spec.lr for name, (spec, _) in specs.items()}
    return GanOptimizers(by_name, own)
