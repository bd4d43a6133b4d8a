"""Resampling clips to a feature network's input shape (the documented way, shared by C3D and I3D).

Generated clips come at the checkpoint's level shape (e.g. 16 x 64 x 64); C3D wants 16 x 112 x 112
and I3D 16 x 224 x 224. Space: bilinear with half-pixel centres (``align_corners=False``), antialiased
when shrinking. Time: nearest-frame resampling, so a 4- or 8-frame clip repeats frames and a longer
clip keeps evenly spaced frames. Real and generated clips go through the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_clips(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Resize (N, C, T, H, W) to ``shape``: nearest frames in time, bilinear (half-pixel) in space."""
    t, h, w = shape
    n, c, t0, h0, w0 = x.shape
    if t0 != t:
        index = torch.div(torch.arange(t) * t0, t, rounding_mode="floor")
        x = x[:, :, index]
    if (h0, w0) != (h, w):
        frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h0, w0)
        frames = F.interpolate(frames, size=(h, w), mode="bilinear", align_corners=False,
                               antialias=h < h0 or w < w0)
        x = frames.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4)
    return x.contiguous()
