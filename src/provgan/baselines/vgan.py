"""VGAN (Vondrick, Pirsiavash, Torralba 2016): a two-stream generator and a 3D critic.

The thesis' weakest baseline (Table 8.1, IS 8.18; Table 8.2): a 3D foreground stream with a sigmoid
mask over a static 2D background, G(z) = m * f + (1 - m) * b (BASELINES.md §1.1). Its static
background is the assumption the thesis blames for VGAN's poor FID on unstabilised data. Trained with
the logistic (``ns``) loss on s = o_real - o_fake of its 2-logit D (§1.3), plus the mask sparsity
term 0.1 * mean(m) in the G loss only (Torch's ``L1Penalty``). Adam 2e-4, (0.5, 0.999).
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor, nn

from provgan.baselines.common import (BaselineGenerator, BaselineParts, CriticPart, OptimizerSpec, Shape,
                                      check_width, read_options, stages)
from provgan.baselines.layers import critic_stack3d, halving, init_normal, time_plan, up2d, up3d

DEFAULTS: dict[str, Any] = {
    "latent_dim": 100,
    "mask_weight": 0.1,  # L1Penalty(0.1, sizeAverage=true) on the mask (§1.3)
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "init_std": 0.01,  # weights_init: N(0, 0.01), not DCGAN's 0.02
}


class VganGenerator(BaselineGenerator):
    """Foreground f and mask m from 3D deconvolutions, background b from 2D ones, composed (§1.1).

    ``forward_with_aux`` also returns the mask (N, 1, T, H, W) and the background (N, C, H, W).
    """

    def __init__(self, shape: Shape, channels: int, width: float, latent_dim: int):
        super().__init__()
        s = stages(shape)
        t0, doubles = time_plan(shape[0], s)
        ch = halving(512, s, width)
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        fg: list[nn.Module] = [nn.ConvTranspose3d(latent_dim, ch[0], (t0, 4, 4)), nn.BatchNorm3d(ch[0]), nn.ReLU()]
        bg: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch[0], 4), nn.BatchNorm2d(ch[0]), nn.ReLU()]
        for i in range(1, s):
            fg += [up3d(ch[i - 1], ch[i], doubles[i - 1]), nn.BatchNorm3d(ch[i]), nn.ReLU()]
            bg += [up2d(ch[i - 1], ch[i]), nn.BatchNorm2d(ch[i]), nn.ReLU()]
        self.foreground = nn.Sequential(*fg)
        self.video = nn.Sequential(up3d(ch[-1], channels, doubles[-1]), nn.Tanh())
        self.mask = nn.Sequential(up3d(ch[-1], 1, doubles[-1]), nn.Sigmoid())
        self.background = nn.Sequential(*bg, up2d(ch[-1], channels), nn.Tanh())

    def forward_with_aux(self, z: Tensor, level: int = 0, alpha: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
        self.check_latent(z)
        h = self.foreground(z[:, :, None, None, None])  # (N, 64w, T/2, H/2, W/2) at the last stage
        f, m = self.video(h), self.mask(h)  # (N, C, T, H, W), (N, 1, T, H, W)
        b = self.background(z[:, :, None, None])  # (N, C, H, W), one image per clip
        video = m * f + (1 - m) * b[:, :, None]  # b broadcast over all T frames (nn.Replicate)
        return video, {"mask": m, "background": b}


class VganCritic(nn.Module):
    """VGAN's 3D critic (§1.2): S stride-2 convs, BN (eps 1e-3) from the second, LReLU 0.2, then a
    conv over the remaining (T', 4, 4) to 2 logits. Returns s = o_real - o_fake per clip, (N,): the
    2-class cross-entropy equals the logistic loss on s, so provgan's ``ns`` is exact on it.
    """

    def __init__(self, shape: Shape, channels: int, width: float):
        super().__init__()
        self.features, t0, c_out = critic_stack3d(shape, channels, width, lambda c: nn.BatchNorm3d(c, eps=1e-3))
        self.logits = nn.Conv3d(c_out, 2, (t0, 4, 4))

    def forward(self, x: Tensor) -> Tensor:
        o = self.logits(self.features(x)).flatten(1)  # (N, 2): [real, fake] logits
        return o[:, 0] - o[:, 1]


def mask_term(weight: float):
    """The G-only mask sparsity term: ``weight * mean(m)`` over every mask element of the batch (§1.3)."""
    def term(aux: dict[str, Tensor]) -> Tensor:
        return weight * aux["mask"].mean()
    return term


def build(shape: Shape, channels: int = 3, width: float = 1.0,
          options: Mapping[str, Any] | None = None) -> BaselineParts:
    """VGAN at ``shape`` (T, H, W), channel counts times ``width``; ``options`` override DEFAULTS."""
    check_width(width)
    o = read_options(options, DEFAULTS, "vgan")
    g = VganGenerator(shape, channels, width, o["latent_dim"])
    d = VganCritic(shape, channels, width)
    for net in (g, d):  # the mask layer's N(0, 0.01) re-draw (§1.3) is the same law: nothing to add
        init_normal(net, o["init_std"], gamma_std=0.02)
    adam = OptimizerSpec("adam", o["lr"], (o["beta1"], o["beta2"]))
    return BaselineParts(generator=g, critics={"D": CriticPart(d, "clip", None, adam)}, loss="ns",
                         g_optimizer=adam, g_extra=mask_term(o["mask_weight"]))
