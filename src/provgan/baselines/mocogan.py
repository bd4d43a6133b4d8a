"""MoCoGAN (Tulyakov, Liu, Yang, Kautz 2018): content and motion codes, an image and a video critic.

The thesis' strongest baseline (Table 8.1, IS 12.42). A clip's latent splits into a content code
z_C held fixed over the clip and a motion path z_M(t) = h_t from a GRUCell driven by per-frame noise;
a DCGAN image generator draws every frame from [z_C, z_M(t)] (BASELINES.md §3.1). Two critics: a
patch image critic on single frames and a 3D video critic that keeps time stride 1 (§3.2). Both and
G use the logistic (``ns``) loss and Adam 2e-4, (0.5, 0.999), weight decay 1e-5 (coupled L2, §3.3).

provgan's z ~ N(0, I) is sliced into [z_C (50) | h_0 (10) | eps_1..T (10 each)], which is exactly the
original's prior, so one seed still names one clip. The unconditional model: no category code and
the plain VideoDiscriminator (the original's ``dim_z_category 0`` setting, §3.3).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from provgan.baselines.common import (BaselineGenerator, BaselineParts, CriticPart, OptimizerSpec, Shape,
                                      check_width, read_options, stages)
from provgan.baselines.layers import doubling, halving, up2d
from provgan.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "dim_content": 50,
    "dim_motion": 10,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "weight_decay": 1e-5,
    "image_batch": 0,  # frames per D_I step; 0: the run's minibatch (one frame per clip)
    "video_batch": 0,  # clips per D_V step; 0: the run's minibatch
}


class MocoganGenerator(BaselineGenerator):
    """Content code + GRUCell motion codes + a DCGAN image generator per frame (§3.1).

    ``aux``: ``content`` (N, T, dim_content) and ``motion`` (N, T, dim_motion), the per-frame codes.
    """

    def __init__(self, shape: Shape, channels: int, width: float, dim_content: int, dim_motion: int):
        super().__init__()
        s = stages(shape)
        self.frames_per_clip, self.dim_content, self.dim_motion = shape[0], dim_content, dim_motion
        self.latent_dim = dim_content + dim_motion * (shape[0] + 1)  # z_C, h_0, eps_1..T
        self.gru = nn.GRUCell(dim_motion, dim_motion)
        ch = halving(512, s, width)
        layers: list[nn.Module] = [nn.ConvTranspose2d(dim_content + dim_motion, ch[0], 4, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU()]
        for i in range(1, s):
            layers += [up2d(ch[i - 1], ch[i], bias=False), nn.BatchNorm2d(ch[i]), nn.ReLU()]
        self.image = nn.Sequential(*layers, up2d(ch[-1], channels, bias=False), nn.Tanh())

    def codes(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(content, motion), each (N, T, dim): z_C repeated over frames, z_M(t) = h_t for t = 1..T."""
        self.check_latent(z)
        n, c, m = z.shape[0], self.dim_content, self.dim_motion
        content, h = z[:, :c], z[:, c:c + m]
        noise = z[:, c + m:].view(n, self.frames_per_clip, m)  # eps_t per frame
        motion = []
        for t in range(self.frames_per_clip):
            h = self.gru(noise[:, t], h)
            motion.append(h)
        return content[:, None].expand(n, self.frames_per_clip, c), torch.stack(motion, 1)

    def frames(self, z: Tensor, index: Tensor) -> Tensor:
        """Frame ``index[i]`` of clip i, (N, C, H, W), decoding only those frames (§3.1 [suggested]).

        The image critic's fakes at 1/T of a clip's cost: the GRU runs over all T steps (cheap) and
        the image generator decodes one code per clip. Equal to ``G(z)[i, :, index[i]]`` with BN in
        eval mode; in train mode BN normalises over these N frames instead of N*T, as the original's
        ``sample_images`` decodes its own batch.
        """
        content, motion = self.codes(z)
        rows = torch.arange(z.shape[0], device=z.device)
        index = index.to(z.device)
        codes = torch.cat([content[rows, index], motion[rows, index]], 1)  # (N, dim_z)
        return self.image(codes[:, :, None, None])

    def forward_with_aux(self, z: Tensor, level: int = 0, alpha: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
        content, motion = self.codes(z)
        n, t = motion.shape[:2]
        codes = torch.cat([content, motion], 2).reshape(n * t, -1, 1, 1)  # frames folded into the batch
        frames = self.image(codes)  # (N*T, C, H, W)
        video = frames.view(n, t, *frames.shape[1:]).transpose(1, 2)  # (N, C, T, H, W)
        return video, {"content": content, "motion": motion}


class PatchImageCritic(nn.Module):
    """D_I (§3.2, PatchImageDiscriminator): four stride-2 2D convs, no bias, BN on the middle two,
    LReLU 0.2, to an (H/16 x W/16) map of logits; returns it as (N, P), the loss averages patches."""

    def __init__(self, size: int, channels: int, width: float):
        super().__init__()
        if size % 16:
            raise ConfigError(f"MoCoGAN's patch image critic needs H divisible by 16, got {size}")
        c = doubling(64, 3, 256, width)
        self.net = nn.Sequential(
            nn.Conv2d(channels, c[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(c[0], c[1], 4, 2, 1, bias=False), nn.BatchNorm2d(c[1]), nn.LeakyReLU(0.2),
            nn.Conv2d(c[1], c[2], 4, 2, 1, bias=False), nn.BatchNorm2d(c[2]), nn.LeakyReLU(0.2),
            nn.Conv2d(c[2], 1, 4, 2, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ConfigError(f"the image critic expects frames (N, C, H, W), got {tuple(x.shape)}")
        return self.net(x).flatten(1)  # (N, H/16 * W/16)


class VideoCritic(nn.Module):
    """D_V (§3.2, §3.4): L = log2(H/4) Conv3d k4, stride (1, 2, 2), pad (0, 1, 1), so T shrinks by 3
    per layer; BN from the second; LReLU 0.2; then a conv over the remaining (T - 3L, 4, 4) to one
    logit per clip, (N,). Exact at the native 16x64x64."""

    def __init__(self, shape: Shape, channels: int, width: float):
        super().__init__()
        layers_n = stages(shape)
        t_left = shape[0] - 3 * layers_n
        if t_left < 1:
            raise ConfigError(f"MoCoGAN's video critic needs T >= {3 * layers_n + 1} at {shape[1]}x{shape[2]} "
                              f"(each layer takes 3 frames), got T = {shape[0]}")
        ch = doubling(64, layers_n, 512, width)
        layers: list[nn.Module] = []
        for i in range(layers_n):
            layers.append(nn.Conv3d(channels if i == 0 else ch[i - 1], ch[i], 4, (1, 2, 2), (0, 1, 1), bias=False))
            if i > 0:
                layers.append(nn.BatchNorm3d(ch[i]))
            layers.append(nn.LeakyReLU(0.2))
        self.features = nn.Sequential(*layers)
        self.logit = nn.Conv3d(ch[-1], 1, (t_left, 4, 4), bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.logit(self.features(x)).flatten()


def build(shape: Shape, channels: int = 3, width: float = 1.0,
          options: Mapping[str, Any] | None = None) -> BaselineParts:
    """MoCoGAN at ``shape`` (T, H, W), channel counts times ``width``; ``options`` override DEFAULTS.

    PyTorch's default init, as the original sets none (§3.3).
    """
    check_width(width)
    o = read_options(options, DEFAULTS, "mocogan")
    for key in ("dim_content", "dim_motion"):
        if o[key] < 1:
            raise ConfigError(f"model.options.{key} for mocogan must be >= 1, got {o[key]}")
    for key in ("image_batch", "video_batch"):
        if o[key] < 0:
            raise ConfigError(f"model.options.{key} for mocogan must be >= 0 (0: the run's minibatch)")
    g = MocoganGenerator(shape, channels, width, o["dim_content"], o["dim_motion"])
    adam = OptimizerSpec("adam", o["lr"], (o["beta1"], o["beta2"]), weight_decay=o["weight_decay"])
    critics = {
        "D_image": CriticPart(PatchImageCritic(shape[1], channels, width), "frame", o["image_batch"] or None, adam),
        "D_video": CriticPart(VideoCritic(shape, channels, width), "clip", o["video_batch"] or None, adam),
    }
    return BaselineParts(generator=g, critics=critics, loss="ns", g_optimizer=adam)
