"""Layer builders and initialisers the three baselines share (BASELINES.md §1.5, §2.5, §3.4).

The originals are DCGAN-style stacks of stride-2 (de)convolutions. To run them at every store level
with H >= 32, the number of spatial stages follows H (S = log2(H/4)) and time follows a *time plan*:
as many of those stages as T allows double (or halve) time, the rest keep it (kernel 3, stride 1,
pad 1 in time), and the remaining length T0 is taken by the first deconvolution's / last
convolution's kernel. At 16x64x64, 16x32x32 and 32x128x128 every stage doubles time, which is the
native layout; 16x128x128 keeps time in its first stage, as BASELINES.md §1.5 proposes.
"""

from __future__ import annotations

import math
from typing import Callable

from torch import nn

from provgan.baselines.common import stages


def time_plan(t: int, s: int) -> tuple[int, tuple[bool, ...]]:
    """(T0, doubles): the start length and, per stage from small to large, whether it doubles time.

    The most stages that divide T double it (the native layout); T0 = T / 2^n >= 1.
    """
    n = 0
    while n < s and t % (2 ** (n + 1)) == 0:
        n += 1
    return t // 2 ** n, (False,) * (s - n) + (True,) * n


def up3d(c_in: int, c_out: int, double_time: bool, bias: bool = True) -> nn.ConvTranspose3d:
    """A stride-2 spatial 3D deconvolution (k4 s2 p1), doubling time or keeping it (k3 s1 p1)."""
    kt, st = (4, 2) if double_time else (3, 1)
    return nn.ConvTranspose3d(c_in, c_out, (kt, 4, 4), (st, 2, 2), 1, bias=bias)


def down3d(c_in: int, c_out: int, halve_time: bool, bias: bool = True) -> nn.Conv3d:
    """A stride-2 spatial 3D convolution (k4 s2 p1), halving time or keeping it (k3 s1 p1)."""
    kt, st = (4, 2) if halve_time else (3, 1)
    return nn.Conv3d(c_in, c_out, (kt, 4, 4), (st, 2, 2), 1, bias=bias)


def up2d(c_in: int, c_out: int, bias: bool = True) -> nn.ConvTranspose2d:
    """DCGAN's stride-2 2D deconvolution, k4 s2 p1."""
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)


def halving(top: int, count: int, width: float, floor: int = 1) -> list[int]:
    """``count`` channel counts from ``top`` halving per stage, times ``width`` (DCGAN's 512, 256, ...)."""
    return [max(floor, int(round(top * width / 2 ** i))) for i in range(count)]


def doubling(bottom: int, count: int, cap: int, width: float) -> list[int]:
    """``count`` critic channel counts from ``bottom`` doubling per layer, capped (64, 128, ..., 512)."""
    return [max(1, int(round(min(bottom * 2 ** i, cap) * width))) for i in range(count)]


def critic_stack3d(shape: tuple[int, int, int], channels: int, width: float,
                   norm: Callable[[int], nn.Module]) -> tuple[nn.Sequential, int, int]:
    """VGAN's and TGAN's critic body: S stride-2 3D convs (64, 128, ... capped at 512, times width),
    a norm from the second layer on, LReLU 0.2 (§1.2, §2.2). Returns (body, T', channels out): the
    final conv's kernel is (T', 4, 4), the extent left, so one score per clip at any level."""
    s = stages(shape)
    t0, doubles = time_plan(shape[0], s)
    ch = doubling(64, s, 512, width)
    layers: list[nn.Module] = []
    for i in range(s):
        layers.append(down3d(channels if i == 0 else ch[i - 1], ch[i], doubles[s - 1 - i]))
        if i > 0:
            layers.append(norm(ch[i]))
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers), t0, ch[-1]


CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
         nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def init_normal(module: nn.Module, std: float, gamma_std: float = 0.0) -> None:
    """Weights N(0, std), biases 0; BN gamma N(1, gamma_std), beta 0 (VGAN's ``weights_init``, §1.3)."""
    for m in module.modules():
        if isinstance(m, CONVS):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, NORMS) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gamma_std) if gamma_std else nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def init_lecun(module: nn.Module) -> None:
    """Chainer's default init: LeCun normal N(0, 1/fan_in), fan_in = shape[1] * prod(kernel) (§2.3).

    Chainer lays out Deconvolution weights (in, out, k...) as PyTorch does, so the same formula
    holds for every layer type. Biases 0, BN gamma 1.
    """
    for m in module.modules():
        if isinstance(m, CONVS):
            w = m.weight
            fan_in = w.shape[1] * math.prod(w.shape[2:])
            nn.init.normal_(w, 0.0, 1.0 / math.sqrt(fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    init_normal_norms(module)


def init_uniform(module: nn.Module, scale: float) -> None:
    """Chainer's ``Uniform(scale)``: every weight U(-scale, scale), biases 0, BN gamma 1 (§2.3)."""
    for m in module.modules():
        if isinstance(m, CONVS):
            nn.init.uniform_(m.weight, -scale, scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    init_normal_norms(module)


def init_normal_norms(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, NORMS) and m.weight is not None:
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def gamma_only(norm: nn.modules.batchnorm._BatchNorm) -> nn.modules.batchnorm._BatchNorm:
    """A BatchNorm with gamma and no beta (TGAN's "NoBeta" nets, §2.1/§2.2): the bias is removed."""
    norm.bias = None
    return norm
