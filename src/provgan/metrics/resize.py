"""Resampling clips to a feature network's input shape (the documented way, shared by every network).

Generated clips come at the checkpoint's level shape (e.g. 16 x 64 x 64); C3D wants 16 x 112 x 112
and I3D 16 x 224 x 224. Real and generated clips go through this same function.

* Space: bilinear with half-pixel centres (``align_corners=False``), antialiased when shrinking
  (the FVD reference resizes frames bilinearly to 224 x 224).
* Time: a clip longer than the network's window gives its first T frames, consecutive, so motion
  keeps its speed (StyleGAN-V's ``fvd2048_16f`` feeds 16 consecutive frames); a shorter clip (the
  4- and 8-frame levels) is stretched by nearest-frame repetition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(N, C, T0, H, W) -> (N, C, frames, H, W): the first ``frames`` frames, or nearest-frame repeats."""
    t0 = x.shape[2]
    if t0 >= frames:
        return x[:, :, :frames]
    index = torch.div(torch.arange(frames) * t0, frames, rounding_mode="floor")
    return x[:, :, index]


def resize_clips(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Resize (N, C, T, H, W) to ``shape`` = (T, H, W): :func:`fit_frames` in time, bilinear in space."""
    t, h, w = shape
    x = fit_frames(x, t)
    n, c, _, h0, w0 = x.shape
    if (h0, w0) != (h, w):
        frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h0, w0)
        frames = F.interpolate(frames, size=(h, w), mode="bilinear", align_corners=False,
                               antialias=h < h0 or w < w0)
        x = frames.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4)
    return x.contiguous()
