"""Building blocks of the 3D progressive networks (Karras et al. 2018, extended to video in thesis ch. 4).

* Equalized learning rate: weights are drawn from N(0, 1) and multiplied at run time by
  ``gain / sqrt(fan_in)`` with ``fan_in = C_in * kT * kH * kW`` (27 * C_in for 3x3x3 kernels; in the
  reference TF code only G's fused up-convolution used 9 * C_in, a 2D leftover). Adam then sees
  every weight at the same scale.
* Pixel normalisation (eq. 4.1) over channels at every (t, y, x), eps 1e-8.
* Minibatch standard deviation (§4.2) with strided groups of 4 and the biased variance, one channel.
* Explicit, non-fused resampling by a level's own (tT, 2, 2) factor: nearest upsampling and box
  average pooling. (The reference code's fused 3D resampling padded the wrong axes at levels where T
  does not double.)
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
GAIN_RELU = math.sqrt(2.0)


def assert_shape(x: torch.Tensor, expected: Sequence[int | None], what: str) -> None:
    """Raise a ValueError naming ``what`` if ``x`` does not have ``expected`` (None = any size)."""
    if x.ndim != len(expected) or any(e is not None and e != s for s, e in zip(x.shape, expected)):
        want = "x".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{what}: expected shape {want}, got {'x'.join(map(str, x.shape))}")


def channel_vector(values: Sequence[float], channels: int) -> torch.Tensor | None:
    """A per-channel constant (model.pixel_mean) as a (1, C, 1, 1, 1) tensor; None when empty."""
    if not values:
        return None
    return torch.tensor([float(v) for v in values], dtype=torch.float32).view(1, channels, 1, 1, 1)


class EqualizedConv3d(nn.Module):
    """3D convolution with run-time weight scaling ``gain / sqrt(C_in * kT * kH * kW)`` and 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, gain: float = GAIN_RELU):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size ** 3)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        return F.conv3d(x, w.to(x.dtype), self.bias.to(x.dtype), padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k = self.weight.shape[:3]
        return f"{i}->{o}, k={k}, weight_gain={self.weight_gain:.4g}"


class EqualizedLinear(nn.Module):
    """Dense layer with run-time weight scaling ``gain / sqrt(fan_in)``.

    ``lr_mul`` (StyleGAN's learning-rate multiplier): the weights are stored divided by it and scaled
    back at run time, and so is the bias, so the layer computes the same function at initialisation
    while Adam's steps move it ``lr_mul`` times as fast.
    """

    def __init__(self, in_features: int, out_features: int, gain: float = GAIN_RELU, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = gain * lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias if self.lr_mul == 1.0 else self.bias * self.lr_mul
        return F.linear(x, w.to(x.dtype), b.to(x.dtype))

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}->{o}, weight_gain={self.weight_gain:.4g}"


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


class PixelNorm(nn.Module):
    """Eq. 4.1: ``b = a / sqrt(mean_c(a^2) + eps)`` at every spatio-temporal position."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class MinibatchStdDev(nn.Module):
    """§4.2: append one channel holding the average over features of the per-group std over samples.

    Groups are strided as in PGGAN: sample ``n`` belongs to group ``n % M`` with ``M = N / G``. The
    group size is the largest divisor of N not above ``group_size``, so any batch size works.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size = group_size
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        y = x.float().reshape(g, n // g, c, t, h, w)  # [G, M, C, T, H, W]; sample n = g * M + m
        y = y - y.mean(dim=0)  # deviation from the group mean
        y = torch.sqrt(y.square().mean(dim=0) + self.eps)  # [M, C, T, H, W] biased std
        y = y.mean(dim=(1, 2, 3, 4))  # [M]
        y = y.repeat(g).reshape(n, 1, 1, 1, 1).expand(n, 1, t, h, w)  # sample n gets group n % M
        return torch.cat([x, y.to(x.dtype)], dim=1)


class TemporalStdDev(nn.Module):
    """Append one channel: the std over time of each clip's spatially averaged features, averaged over channels.

    The minibatch stddev of §4.2 shows D how varied a group of clips is; this shows it how much one
    clip's *content* varies through time. Averaging over (H, W) first makes the statistic blind to where
    things are, so a digit that slides keeps it low and a digit that turns into another one raises it.
    A clip of one frame gets zero.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def statistic(self, x: torch.Tensor) -> torch.Tensor:
        """The appended channel alone, (N, 1, T, H, W) in ``x``'s dtype."""
        n, c, t, h, w = x.shape
        pooled = x.float().mean(dim=(3, 4))  # [N, C, T]
        spread = torch.sqrt((pooled - pooled.mean(dim=2, keepdim=True)).square().mean(dim=2) + self.eps)
        return spread.mean(dim=1).reshape(n, 1, 1, 1, 1).expand(n, 1, t, h, w).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.statistic(x)], dim=1)


def upsample(x: torch.Tensor, factor: Sequence[int]) -> torch.Tensor:
    """Nearest-neighbour upsampling by (tT, fH, fW)."""
    ft, fh, fw = factor
    if (ft, fh, fw) == (1, 1, 1):
        return x
    n, c, t, h, w = x.shape
    x = x.reshape(n, c, t, 1, h, 1, w, 1).expand(n, c, t, ft, h, fh, w, fw)
    return x.reshape(n, c, t * ft, h * fh, w * fw)


def linear_upsample(x: torch.Tensor, factor: Sequence[int]) -> torch.Tensor:
    """Trilinear upsampling by (tT, fH, fW) (half-pixel centres): each new sample a weighted mean of
    its nearest old ones, so a smooth input stays smooth where nearest-neighbour copies make blocks."""
    if tuple(factor) == (1, 1, 1):
        return x
    return F.interpolate(x, scale_factor=tuple(float(f) for f in factor), mode="trilinear", align_corners=False)


UPSAMPLERS = {"nearest": upsample, "linear": linear_upsample}


def downsample(x: torch.Tensor, factor: Sequence[int]) -> torch.Tensor:
    """Box-filter average pooling by (tT, fH, fW): the inverse of :func:`upsample` on constant blocks."""
    if tuple(factor) == (1, 1, 1):
        return x
    return F.avg_pool3d(x, kernel_size=tuple(factor), stride=tuple(factor))
