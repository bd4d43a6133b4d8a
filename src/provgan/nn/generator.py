"""The progressive 3D generator (thesis ch. 4, Table A.1).

Level 0: pixel-normalised latent -> dense to C0*T0*H0*W0 (gain sqrt(2)/4) -> LReLU -> PixelNorm ->
conv 3x3x3 -> LReLU -> PixelNorm. Each further level: nearest upsample by the level's (tT, 2, 2) ->
two (conv -> LReLU -> PixelNorm), the first mapping C_{L-1} to C_L channels. Every level has its own
linear 1x1x1 toRGB. The network runs at the shape of the level asked for; while a level fades in,
its output is ``fade(up(toRGB_{L-1}(h)), toRGB_L(block_L(h)), alpha)`` (§4.1). With ``model.g_skips``
every toRGB stays: level L draws ``up(rgb_{L-1}) + alpha * toRGB_L(block_L(h))`` (StyleGAN2's skip G).

A class-conditional generator (``model.conditional``) reads ``[pn(z), pn(embed(y))]`` instead of z
(:mod:`provgan.nn.conditioning`): the dense layer sees twice the latent width, nothing else changes.
An unconditional G with ``model.latent_codes`` reads its own code c = argmax(z[:K]) the same way.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from provgan.config import ModelConfig, Shape
from provgan.levels import fade, growth_factor
from provgan.nn.conditioning import LatentConditioning, latent_code
from provgan.nn.layers import (UPSAMPLERS, EqualizedConv3d, EqualizedLinear, assert_shape, channel_vector,
                               leaky_relu, pixel_norm, upsample)


class BiaslessEqualizedLinear(EqualizedLinear):
    """An equalized dense layer without a bias: the first block adds its own bias per channel."""

    def __init__(self, in_features: int, out_features: int, gain: float):
        super().__init__(in_features, out_features, gain)
        self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, (self.weight * self.weight_gain).to(x.dtype))


class StyleModulation(nn.Module):
    """``x * A(w)``: a per-sample, per-channel scale of a convolution's input (model.style_modulation).

    StyleGAN2's modulation (Karras et al. 2020, eq. 1) applied to the activations rather than the
    weights (the same product for a convolution); the PixelNorm that follows every G convolution
    plays the part of demodulation. A's bias starts at 1, so at initialisation every scale is
    1 + N(0, 1) as in StyleGAN2. The scale is one number per clip and channel, shared by every frame
    and pixel: what is global to a clip reaches all of it.
    """

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.affine = EqualizedLinear(latent_dim, channels, gain=1.0)
        with torch.no_grad():
            self.affine.bias.fill_(1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * self.affine(w).to(x.dtype)[:, :, None, None, None]


def _modulate(mod: StyleModulation | None, x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    return x if mod is None else mod(x, w)


class MappingNetwork(nn.Module):
    """StyleGAN's mapping network f: pn(z) -> w (Karras et al. 2019, §2): ``layers`` dense layers with
    LReLU at a learning-rate multiplier (``model.mapping_lr_mul``; StyleGAN's 0.01), the width of the
    latent G reads.

    Why (issue 14): the moving digits are ten separate shapes, and a G fed the Gaussian directly has to
    send every path between two latents of different digits through hybrids; a learned warp of the
    latent can shrink the part of its mass that lands between them.
    """

    def __init__(self, dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        self.layers = nn.ModuleList(EqualizedLinear(dim, dim, lr_mul=lr_mul) for _ in range(layers))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            w = leaky_relu(layer(w))
        return w


class FirstGeneratorBlock(nn.Module):
    """Latent vector -> features at the smallest level's shape.

    The dense layer's bias is one value per channel, added after the reshape to (C, T, H, W), as in
    PGGAN and the reference code (their dense layer has no bias of its own and the per-channel bias
    follows), not one per output unit: Table A.1's count is then 3,702,091 for the thesis-256 plan.

    With ``factorized`` (model.factorized_base) the dense layer draws ``C*(H0*W0 + T0)`` values, a
    content map ``(C, 1, H0, W0)`` and a per-frame code ``(C, T0, 1, 1)``, summed by broadcasting:
    every frame starts from the same spatial layout, and what differs between frames is a vector
    with no layout of its own.
    """

    def __init__(self, latent_dim: int, channels: int, shape: Shape, style: bool = False,
                 factorized: bool = False):
        super().__init__()
        self.channels, self.shape, self.factorized = channels, shape, factorized
        t0, h0, w0 = shape
        units = channels * (h0 * w0 + t0) if factorized else channels * math.prod(shape)
        self.dense = BiaslessEqualizedLinear(latent_dim, units, gain=math.sqrt(2) / 4)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv = EqualizedConv3d(channels, channels)
        self.mod = StyleModulation(latent_dim, channels) if style else None

    def base(self, w: torch.Tensor) -> torch.Tensor:
        """The dense layer's output as (N, C, T0, H0, W0), before the bias and the nonlinearity."""
        n, c, (t0, h0, w0) = w.shape[0], self.channels, self.shape
        y = self.dense(w)
        if not self.factorized:
            return y.reshape(n, c, t0, h0, w0)
        content, time = y.split([c * h0 * w0, c * t0], dim=1)
        return content.reshape(n, c, 1, h0, w0) + time.reshape(n, c, t0, 1, 1)

    def forward(self, z: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """``w``: pn(z) when the caller has it already (the Generator computes it once per forward)."""
        w = pixel_norm(z) if w is None else w
        x = self.base(w)
        x = pixel_norm(leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1, 1)))
        return pixel_norm(leaky_relu(self.conv(_modulate(self.mod, x, w))))


class GeneratorBlock(nn.Module):
    """Upsample by (tT, 2, 2) (nearest, or trilinear with model.g_upsample=linear), then two 3x3x3
    convolutions, each followed by LReLU and PixelNorm."""

    def __init__(self, in_channels: int, out_channels: int, factor: Shape, latent_dim: int = 0,
                 style_dim: int = 0, mode: str = "nearest"):
        super().__init__()
        self.factor = factor
        self.upsample = UPSAMPLERS[mode]  # model.g_upsample
        self.conv0 = EqualizedConv3d(in_channels, out_channels)
        self.conv1 = EqualizedConv3d(out_channels, out_channels)
        # model.latent_broadcast: the same latent-dependent bias at every (t, y, x) of this block
        self.latent = EqualizedLinear(latent_dim, in_channels, gain=1.0) if latent_dim else None
        # model.style_modulation: each convolution's input scaled per clip and channel
        self.mod0 = StyleModulation(style_dim, in_channels) if style_dim else None
        self.mod1 = StyleModulation(style_dim, out_channels) if style_dim else None

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """``w``: the pixel-normalised latent pn(z), needed when the block reads it (latent_broadcast,
        style_modulation)."""
        x = self.upsample(x, self.factor)
        if self.latent is not None:
            x = x + self.latent(w).to(x.dtype)[:, :, None, None, None]
        x = pixel_norm(leaky_relu(self.conv0(_modulate(self.mod0, x, w))))
        return pixel_norm(leaky_relu(self.conv1(_modulate(self.mod1, x, w))))


class Generator(nn.Module):
    """G(z, level, alpha) -> clips of shape (N, image_channels, T_L, H_L, W_L), linear output (~[-1, 1])."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.plan: tuple[Shape, ...] = tuple(tuple(s) for s in cfg.plan)  # type: ignore[misc]
        self.latent_dim = cfg.latent_dim
        self.image_channels = cfg.image_channels
        self.skips = cfg.g_skips
        ch = cfg.g_channels
        self.num_classes = cfg.num_classes if cfg.conditional else 0
        if cfg.conditional and cfg.num_classes < 1:
            raise ValueError("a conditional generator needs model.num_classes >= 1 (resolved from the store)")
        self.condition = LatentConditioning(cfg.num_classes, cfg.latent_dim) if self.num_classes else None
        # model.latent_codes: the code read from z, embedded as a class would be
        self.num_codes = cfg.latent_codes
        self.codes = LatentConditioning(cfg.latent_codes, cfg.latent_dim) if cfg.latent_codes else None
        joined = self.condition is not None or self.codes is not None
        dense_in = cfg.latent_dim * (2 if joined else 1)
        style_dim = dense_in if cfg.style_modulation else 0
        blocks: list[nn.Module] = [FirstGeneratorBlock(dense_in, ch[0], self.plan[0], cfg.style_modulation,
                                                      cfg.factorized_base)]
        for level in range(1, len(self.plan)):
            blocks.append(GeneratorBlock(ch[level - 1], ch[level], growth_factor(self.plan, level),
                                         dense_in if cfg.latent_broadcast else 0, style_dim, cfg.g_upsample))
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv3d(c, cfg.image_channels, kernel_size=1, gain=1.0) for c in ch)
        # the colour of a clip's strokes: toRGB's input modulated too (StyleGAN2's modulated toRGB)
        self.rgb_mods = nn.ModuleList(StyleModulation(style_dim, c) for c in ch) if style_dim else None
        # data centring (model.pixel_mean): the network draws centred values, the clips it returns are
        # in the data's range; not a parameter, and not in the state dict (the config carries it)
        self.register_buffer("pixel_mean", channel_vector(cfg.pixel_mean, cfg.image_channels), persistent=False)
        # model.mapping_layers: w = mapping(pn(z)) in place of pn(z) (built last, so a G without it draws
        # the same initial weights as before it existed)
        self.mapping = MappingNetwork(dense_in, cfg.mapping_layers, cfg.mapping_lr_mul) if cfg.mapping_layers else None

    @property
    def num_levels(self) -> int:
        return len(self.plan)

    def output_shape(self, level: int) -> tuple[int, int, int, int]:
        return (self.image_channels, *self.plan[level])

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        level = self.num_levels - 1 if level is None else level
        if not 0 <= level < self.num_levels:
            raise ValueError(f"level {level} is outside this {self.num_levels}-level generator")
        assert_shape(z, [None, self.latent_dim], "generator latent")
        if self.condition is not None:
            z = self.condition(z, labels)  # [pn(z), pn(embed(y))]; the dense layer's pixel norm keeps it
        elif labels is not None:
            raise ValueError("this generator is unconditional: it takes no class labels")
        elif self.codes is not None:
            z = self.codes(z, latent_code(z, self.num_codes))  # [pn(z), pn(embed(c))], c from z
        w = pixel_norm(z)  # once: the first block's dense layer and every block that reads the latent
        if self.mapping is not None:
            w = self.mapping(w)
        h = self.blocks[0](z, w)
        rgb = self._rgb(0, h, w) if self.skips else None  # model.g_skips: the clip drawn so far
        for lv in range(1, level):
            h = self.blocks[lv](h, w)
            if rgb is not None:
                rgb = upsample(rgb, self.blocks[lv].factor) + self._rgb(lv, h, w)
        if level == 0:
            return self._uncentre(rgb if rgb is not None else self._rgb(0, h, w))
        new = self._rgb(level, self.blocks[level](h, w), w)
        if rgb is not None:  # up(rgb_{L-1}) + alpha toRGB_L(h_L): the lower levels' clip plus new detail
            old = upsample(rgb, self.blocks[level].factor)
            return self._uncentre(old + new if alpha >= 1.0 else old + alpha * new)
        if alpha >= 1.0:
            return self._uncentre(new)
        old = upsample(self._rgb(level - 1, h, w), self.blocks[level].factor)
        return self._uncentre(fade(old, new, alpha))

    def _rgb(self, level: int, h: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        mod = self.rgb_mods[level] if self.rgb_mods is not None else None
        return self.to_rgb[level](_modulate(mod, h, w))

    def _uncentre(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pixel_mean.to(x.dtype) if self.pixel_mean is not None else x

    def num_parameters(self, level: int | None = None) -> int:
        """Parameters used at ``level`` when stable: blocks 0..level and that level's toRGB only.

        This is how Table A.1 counts (earlier toRGB layers are not part of the final network);
        for the thesis-256 plan it gives 3,702,091 (the dense bias is per channel).
        """
        level = self.num_levels - 1 if level is None else level
        rgb_levels = range(level + 1) if self.skips else [level]  # a skip G draws with every toRGB
        modules = list(self.blocks[: level + 1]) + [self.to_rgb[lv] for lv in rgb_levels]
        if self.rgb_mods is not None:
            modules += [self.rgb_mods[lv] for lv in rgb_levels]
        if self.condition is not None:
            modules.append(self.condition)
        if self.codes is not None:
            modules.append(self.codes)
        if self.mapping is not None:
            modules.append(self.mapping)
        return sum(p.numel() for m in modules for p in m.parameters())
