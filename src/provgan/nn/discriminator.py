"""The progressive 3D discriminator, the mirror of the generator (thesis ch. 4, Table A.2).

fromRGB_L (1x1x1 conv + LReLU) -> for each level L..1: conv C_L->C_L, LReLU, conv C_L->C_{L-1}, LReLU,
average-pool by (tT, 2, 2) -> epilogue at the smallest level: minibatch stddev (§4.2), conv, dense to
the feature E(x) (``feature_dim``, 128) with LReLU. E(x) feeds the SWGAN sliced head (ch. 5); an
optional linear dense 128 -> 1 (gain 1) gives the scalar critic for WGAN-GP, NS and hinge.

While level L fades in: ``x = fade(fromRGB_{L-1}(pool(v)), block_L(fromRGB_L(v)), alpha)`` (§4.1).
With ``model.d_skips`` every fromRGB stays: ``x = alpha * block_L(fromRGB_L(v)) + fromRGB_{L-1}(pool(v))``,
and each lower level adds its fromRGB of the clip pooled to its shape the same way (StyleGAN2's
input-skip D), so alpha = 0 is the previous level's D.

With ``loss.rotation_weight`` a 4-way linear head on E(x) predicts how many quarter turns a clip's
frames were rotated by (the self-supervised task of Chen et al. 2019, on real clips). With
``loss.info_weight`` a K-way linear head (InfoGAN's Q) predicts G's latent code from E(x) of its clips.

A class-conditional critic (``model.conditional``) adds the projection term ``<embed(y), E(x)>``
(Miyato & Koyama 2018) to whichever head scores E(x): the scalar dense or the SWGAN sliced head.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from provgan.config import ModelConfig, Shape
from provgan.levels import fade, growth_factor
from provgan.nn.conditioning import ProjectionTerm
from provgan.nn.layers import (EqualizedConv3d, EqualizedLinear, MinibatchStdDev, TemporalStdDev, assert_shape,
                               channel_vector, downsample, leaky_relu)

QUARTER_TURNS = 4


class FromRGB(nn.Module):
    def __init__(self, image_channels: int, channels: int):
        super().__init__()
        self.conv = EqualizedConv3d(image_channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leaky_relu(self.conv(x))


class DiscriminatorBlock(nn.Module):
    """Two 3x3x3 convolutions with LReLU, then average pooling by the level's (tT, 2, 2)."""

    def __init__(self, in_channels: int, out_channels: int, factor: Shape):
        super().__init__()
        self.factor = factor
        self.conv0 = EqualizedConv3d(in_channels, in_channels)
        self.conv1 = EqualizedConv3d(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky_relu(self.conv0(x))
        x = leaky_relu(self.conv1(x))
        return downsample(x, self.factor)


class DiscriminatorEpilogue(nn.Module):
    """Minibatch stddev (and optionally the temporal stddev) -> conv 3x3x3 -> dense to E(x), LReLU."""

    def __init__(self, channels: int, shape: Shape, feature_dim: int, mbstd_group: int, temporal_std: bool = False):
        super().__init__()
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.tstd = TemporalStdDev() if temporal_std else None
        self.conv = EqualizedConv3d(channels + 1 + int(temporal_std), channels)
        self.dense = EqualizedLinear(channels * math.prod(shape), feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the temporal statistic of the features alone, not of the minibatch-stddev channel beside them
        x = self.mbstd(x) if self.tstd is None else torch.cat([self.mbstd(x), self.tstd.statistic(x)], dim=1)
        x = leaky_relu(self.conv(x))
        return leaky_relu(self.dense(x.flatten(1)))


class Discriminator(nn.Module):
    """D.features(x, level, alpha) -> E(x) of shape (N, feature_dim); D(x, ...) -> scalar critic (N,)."""

    def __init__(self, cfg: ModelConfig, score_head: bool = True, rotation_head: bool = False,
                 info_codes: int = 0):
        super().__init__()
        self.plan: tuple[Shape, ...] = tuple(tuple(s) for s in cfg.plan)  # type: ignore[misc]
        self.image_channels = cfg.image_channels
        self.feature_dim = cfg.feature_dim
        self.skips = cfg.d_skips
        ch = cfg.discriminator_channels
        self.from_rgb = nn.ModuleList(FromRGB(cfg.image_channels, c) for c in ch)
        blocks: list[nn.Module] = [nn.Identity()]  # level 0 has no block: the epilogue follows fromRGB
        for level in range(1, len(self.plan)):
            blocks.append(DiscriminatorBlock(ch[level], ch[level - 1], growth_factor(self.plan, level)))
        self.blocks = nn.ModuleList(blocks)
        self.epilogue = DiscriminatorEpilogue(ch[0], self.plan[0], cfg.feature_dim, cfg.mbstd_group,
                                              cfg.temporal_std)
        self.score = EqualizedLinear(cfg.feature_dim, 1, gain=1.0) if score_head else None
        # loss.rotation_weight: E(x) -> logits of 0, 1, 2 or 3 quarter turns (Chen et al. 2019)
        self.rotation = EqualizedLinear(cfg.feature_dim, QUARTER_TURNS, gain=1.0) if rotation_head else None
        # loss.info_weight: InfoGAN's Q, E(x) -> logits of G's latent code (model.latent_codes)
        self.info = EqualizedLinear(cfg.feature_dim, info_codes, gain=1.0) if info_codes else None
        if cfg.conditional and cfg.num_classes < 1:
            raise ValueError("a conditional discriminator needs model.num_classes >= 1 (resolved from the store)")
        self.projection = ProjectionTerm(cfg.num_classes, cfg.feature_dim) if cfg.conditional else None
        # data centring (model.pixel_mean): D reads x - mean. Uncentred dark clips (moving digits: mean
        # -0.8) put a large constant on every fromRGB unit; D then separated real clips from G's rings
        # at 67% after 300 supervised steps, against 98% when centred (README, "Learning curves")
        self.register_buffer("pixel_mean", channel_vector(cfg.pixel_mean, cfg.image_channels), persistent=False)

    @property
    def num_levels(self) -> int:
        return len(self.plan)

    def input_shape(self, level: int) -> tuple[int, int, int, int]:
        return (self.image_channels, *self.plan[level])

    def features(self, x: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """E(x): the 128-d feature the SWGAN head slices (thesis ch. 5)."""
        level = self.num_levels - 1 if level is None else level
        if not 0 <= level < self.num_levels:
            raise ValueError(f"level {level} is outside this {self.num_levels}-level discriminator")
        assert_shape(x, [None, *self.input_shape(level)], f"discriminator input at level {level}")
        if self.pixel_mean is not None:
            x = x - self.pixel_mean.to(x.dtype)
        h = self.from_rgb[level](x)
        if level > 0 and self.skips:  # model.d_skips: every level adds its own view of the pooled clip
            h = self.blocks[level](h)
            h = h if alpha >= 1.0 else alpha * h
            for lv in range(level - 1, -1, -1):
                x = downsample(x, self.blocks[lv + 1].factor)
                h = h + self.from_rgb[lv](x)
                h = self.blocks[lv](h) if lv > 0 else h
            return self.epilogue(h)
        if level > 0:
            h = self.blocks[level](h)
            if alpha < 1.0:
                h = fade(self.from_rgb[level - 1](downsample(x, self.blocks[level].factor)), h, alpha)
        for lv in range(level - 1, 0, -1):
            h = self.blocks[lv](h)
        return self.epilogue(h)

    def forward(self, x: torch.Tensor, level: int | None = None, alpha: float = 1.0,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.score is None:
            raise RuntimeError("this discriminator was built without a scalar head (SWGAN uses the sliced head)")
        return self.score_features(self.features(x, level, alpha), labels)

    def score_features(self, e: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar critic of E(x): dense(E) (+ the projection term of a conditional critic), (N,)."""
        out = self.score(e).squeeze(1)
        return out if self.projection is None else out.float() + self.projection(e, labels)
