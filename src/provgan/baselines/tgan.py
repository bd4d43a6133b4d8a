"""TGAN (Saito, Matsumoto, Saito 2017) with WGAN and singular value clipping (SVC).

The thesis' Table 8.1 baseline with IS 11.85: a temporal generator of 1D deconvolutions turns one
uniform latent z0 into per-frame latents z1_t, and an image generator draws each frame from
(z0, z1_t) (BASELINES.md §2.1). The critic is a 3D CNN trained with the plain WGAN loss; its
Lipschitz bound is SVC: every 5 D updates each kernel matrix W.view(C_out, -1) gets its singular
values clipped to <= 1 and each BN gamma is clipped to [0.01 sqrt(running_var), sqrt(running_var)]
(§2.3). RMSprop 5e-5 (alpha 0.99, eps 1e-8) for all nets. The original updates G before D on the
same forward pass; provgan's trainer runs D then G, half a step apart (said in the README).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from provgan.baselines.common import (BaselineGenerator, BaselineParts, CriticPart, OptimizerSpec, Shape,
                                      check_width, read_options, stages)
from provgan.baselines.layers import critic_stack3d, gamma_only, halving, init_lecun, init_uniform, up2d
from provgan.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "latent_dim": 100,  # z0 and each z1_t
    "svc_every": 5,  # TGANUpdaterWGANSVC freq
    "lr": 5e-5,
    "image_init_scale": 0.01,  # VideoGeneratorInitUniform: U(-0.01, 0.01)
}
BN_EPS = 2e-5  # Chainer's BatchNormalization default


def temporal_channels(frames: int, width: float) -> list[int]:
    """G0's hidden channels: dc0 512, then 256, 128, 128, ... (128 for any added layer, §2.5)."""
    layers = int(math.log2(frames))
    return [max(1, int(round(max(128, 512 // 2 ** i) * width))) for i in range(layers)]


class TemporalGenerator(nn.Module):
    """G0 (§2.1): z0 (N, d) as length 1, a k1 deconv, then stride-2 1D deconvs to T frames of z1_t."""

    def __init__(self, frames: int, width: float, latent_dim: int):
        super().__init__()
        ch = temporal_channels(frames, width)
        layers: list[nn.Module] = [nn.ConvTranspose1d(latent_dim, ch[0], 1), gamma_only(nn.BatchNorm1d(ch[0], BN_EPS)),
                                   nn.ReLU()]
        for i in range(1, len(ch)):
            layers += [nn.ConvTranspose1d(ch[i - 1], ch[i], 4, 2, 1), gamma_only(nn.BatchNorm1d(ch[i], BN_EPS)),
                       nn.ReLU()]
        layers += [nn.ConvTranspose1d(ch[-1], latent_dim, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z0: Tensor) -> Tensor:
        return self.net(z0[:, :, None])  # (N, d, T): z1_t in (-1, 1)


class ImageGenerator(nn.Module):
    """G1 (§2.1): two bias-free dense maps of z0 and z1_t to 4x4 maps, concatenated, S stride-2
    deconvs halving the channels, then a 3x3 conv to the image and tanh. BN with gamma and beta."""

    def __init__(self, size: int, channels: int, width: float, latent_dim: int):
        super().__init__()
        s = stages((1, size, size))
        ch = halving(512, s + 1, width)
        half = max(1, ch[0] // 2)
        self.slow = nn.Sequential(nn.Linear(latent_dim, half * 16, bias=False), nn.BatchNorm1d(half * 16, BN_EPS),
                                  nn.ReLU())
        self.fast = nn.Sequential(nn.Linear(latent_dim, half * 16, bias=False), nn.BatchNorm1d(half * 16, BN_EPS),
                                  nn.ReLU())
        layers: list[nn.Module] = []
        c_in = 2 * half
        for c in ch[1:]:
            layers += [up2d(c_in, c, bias=False), nn.BatchNorm2d(c, BN_EPS), nn.ReLU()]
            c_in = c
        layers += [nn.Conv2d(c_in, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z0: Tensor, z1: Tensor) -> Tensor:
        h = torch.cat([self.slow(z0), self.fast(z1)], 1)  # (M, 2 * half * 16)
        return self.net(h.view(h.shape[0], -1, 4, 4))  # (M, C, H, W)


class TganGenerator(BaselineGenerator):
    """z ~ N(0, I) -> z0 = erf(z / sqrt 2) ~ U(-1, 1) exactly -> G0 -> frames from G1 (§2.1, §5.3).

    Frames are folded into the batch, so G1's BN statistics span all frames of all clips, as in the
    original ``_generate_fake_video``. ``aux``: z1 (N, d, T).
    """

    def __init__(self, shape: Shape, channels: int, width: float, latent_dim: int):
        super().__init__()
        t = shape[0]
        if t < 2 or t & (t - 1):
            raise ConfigError(f"TGAN needs a clip length that is a power of two >= 2, got {t}")
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        self.temporal = TemporalGenerator(t, width, latent_dim)
        self.image = ImageGenerator(shape[1], channels, width, latent_dim)

    def forward_with_aux(self, z: Tensor, level: int = 0, alpha: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
        self.check_latent(z)
        z0 = torch.erf(z / math.sqrt(2.0))  # the normal CDF maps N(0, 1) onto U(-1, 1)
        z1 = self.temporal(z0)  # (N, d, T)
        n, d, t = z1.shape
        frames = self.image(z0.repeat_interleave(t, 0), z1.transpose(1, 2).reshape(n * t, d))  # (N*T, C, H, W)
        video = frames.view(n, t, *frames.shape[1:]).transpose(1, 2)  # (N, C, T, H, W)
        return video, {"z0": z0, "z1": z1}


class TganCritic(nn.Module):
    """The 3D critic (§2.2): S stride-2 convs (no BN on the first, gamma-only BN after), LReLU 0.2,
    then a conv over the remaining (T', H', W') = (T', 4, 4) to one score, (N,). At T' = 1 this is
    the original's 4x4 Conv2d; a Conv3d keeps it right for other T' (the original reshape is not)."""

    def __init__(self, shape: Shape, channels: int, width: float):
        super().__init__()
        self.features, t0, c_out = critic_stack3d(shape, channels, width,
                                                  lambda c: gamma_only(nn.BatchNorm3d(c, BN_EPS)))
        self.score = nn.Conv3d(c_out, 1, (t0, 4, 4))

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x)).flatten()


@torch.no_grad()
def clip_singular_values(module: nn.Module) -> None:
    """Every weight with ndim >= 2 as the matrix (C_out, rest): singular values set to min(s, 1) (§2.3).

    This bounds the reshaped kernel matrix, not the convolution operator. Done in fp32, with autocast
    off, so a constraint called inside a bf16 region still writes back an exact clip.
    """
    for name, p in module.named_parameters():
        if p.dim() < 2 or not name.endswith("weight"):
            continue
        with torch.autocast(p.device.type, enabled=False):  # a bf16 product would undo the clip
            a = p.detach().float().reshape(p.shape[0], -1)
            u, s, vh = torch.linalg.svd(a, full_matrices=False)
            p.copy_(((u * s.clamp(max=1.0)) @ vh).view_as(p).to(p.dtype))


@torch.no_grad()
def clip_bn_gamma(module: nn.Module) -> None:
    """gamma <- clip(gamma, 0.01 sqrt(running_var), sqrt(running_var)), running var without eps (§2.3)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None and m.running_var is not None:
            sigma = m.running_var.sqrt()
            m.weight.copy_(torch.minimum(torch.maximum(m.weight, 0.01 * sigma), sigma))


def svc_constraint(every: int):
    """The post-D-step hook: SVC and the gamma clip after D updates every, 2*every, ... (§2.3).

    ``d_step`` is the 0-based count of D steps before this one, so the clip fires when
    ``(d_step + 1) % every == 0``, as the original's counter (incremented before its test) does.
    """
    if every < 1:
        raise ConfigError(f"model.options.svc_every must be >= 1, got {every}")

    def constrain(module: nn.Module, d_step: int) -> None:
        if (d_step + 1) % every == 0:
            clip_singular_values(module)
            clip_bn_gamma(module)
    return constrain


def build(shape: Shape, channels: int = 3, width: float = 1.0,
          options: Mapping[str, Any] | None = None) -> BaselineParts:
    """TGAN-SVC at ``shape`` (T, H, W), channel counts times ``width``; ``options`` override DEFAULTS."""
    check_width(width)
    o = read_options(options, DEFAULTS, "tgan")
    g = TganGenerator(shape, channels, width, o["latent_dim"])
    d = TganCritic(shape, channels, width)
    init_lecun(g.temporal)  # FrameSeedGeneratorNoBetaInitDefault
    init_uniform(g.image, o["image_init_scale"])  # VideoGeneratorInitUniform
    init_lecun(d)  # VideoDiscriminatorNoBetaInitDefault
    rms = OptimizerSpec("rmsprop", o["lr"], alpha=0.99, eps=1e-8)
    critic = CriticPart(d, "clip", None, rms, constraint=svc_constraint(o["svc_every"]))
    return BaselineParts(generator=g, critics={"D": critic}, loss="wgan", g_optimizer=rms)
