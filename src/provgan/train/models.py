"""The networks and optimizers the training loop drives, built from a config.

The loop only needs this small interface: a generator ``G(z, level, alpha)``, a discriminator with
``features(x, level, alpha)`` and (for non-sliced losses) a scalar head, the optional SWGAN head, an
EMA copy of G, and one Adam per trainable part. A fixed-size baseline is a one-level plan with its
own G and D behind the same interface.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from provgan.config import Config
from provgan.losses import Critic, get_loss
from provgan.nn import Discriminator, Generator, SlicedHead
from provgan.nn.conditioning import ConditionedSlicedHead
from provgan.optim import make_adam


@dataclass
class GanModels:
    generator: nn.Module
    discriminator: nn.Module
    head: SlicedHead | None
    generator_ema: nn.Module

    def critic(self, level: int, alpha: float, labels: torch.Tensor | None = None) -> Critic:
        """D bound to a level and fade weight, with the head the loss needs (sliced or scalar); a
        conditional D is bound to the batch's labels too (its projection term joins either head)."""
        d = self.discriminator
        features = lambda x: d.features(x, level, alpha)  # noqa: E731
        if d.projection is None and labels is not None:
            raise ValueError("this discriminator is unconditional: it takes no class labels")
        if self.head is not None:
            head = self.head if d.projection is None else ConditionedSlicedHead(self.head, d.projection, labels)
            return Critic(features, head, sliced=head)
        return Critic(features, lambda e: d.score_features(e, labels))

    def modules(self) -> dict[str, nn.Module]:
        out = {"G": self.generator, "D": self.discriminator, "G_ema": self.generator_ema}
        if self.head is not None:
            out["head"] = self.head
        return out


@dataclass
class GanOptimizers:
    g: torch.optim.Adam
    d: torch.optim.Adam
    head: torch.optim.Adam | None

    def all(self) -> dict[str, torch.optim.Optimizer]:
        out: dict[str, torch.optim.Optimizer] = {"G": self.g, "D": self.d}
        if self.head is not None:
            out["head"] = self.head
        return out


def build_models(cfg: Config, device: torch.device | str = "cpu") -> GanModels:
    """G, D (with a scalar head only when the loss needs one), the sliced head for SWGAN, and G_ema."""
    sliced = get_loss(cfg.loss.name).sliced
    g = Generator(cfg.model).to(device)
    d = Discriminator(cfg.model, score_head=not sliced).to(device)
    head = SlicedHead(cfg.model.feature_dim).to(device) if sliced else None
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    return GanModels(g, d, head, g_ema)


def build_optimizers(models: GanModels, cfg: Config, lr: float) -> GanOptimizers:
    o = cfg.optim
    head_opt = None
    if models.head is not None:
        head_opt = make_adam(models.head.parameters(), lr, o.beta1, o.beta2, o.eps)
    return GanOptimizers(
        g=make_adam(models.generator.parameters(), lr, o.beta1, o.beta2, o.eps),
        d=make_adam(models.discriminator.parameters(), lr, o.beta1, o.beta2, o.eps),
        head=head_opt,
    )
