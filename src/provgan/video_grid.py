"""Clips -> a grid video for viewing: tiles clips in rows x columns and upscales by pixel repetition."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(clips: torch.Tensor) -> np.ndarray:
    """(N, C, T, H, W) in [-1, 1] -> (N, T, H, W, 3) uint8 (grayscale repeated to RGB)."""
    x = ((clips.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    x = x.permute(0, 2, 3, 4, 1).cpu().numpy()
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def grid_frames(clips: np.ndarray, rows: int, cols: int, upscale: int = 1, pad: int = 1) -> np.ndarray:
    """(N, T, H, W, 3) uint8 -> (T, rows*(H*up+pad)+pad, cols*(W*up+pad)+pad, 3), padded with black.

    Clips shorter than the longest are held on their last frame; missing cells stay black.
    """
    n, t, h, w, c = clips.shape
    if upscale > 1:
        clips = clips.repeat(upscale, axis=2).repeat(upscale, axis=3)
        h, w = h * upscale, w * upscale
    out = np.zeros((t, rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, col = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[:, y:y + h, x:x + w] = clips[i]
    return out


def viewing_upscale(height: int, target: int = 96) -> int:
    """Integer factor so a clip of ``height`` pixels shows at about ``target`` pixels or more."""
    return max(1, -(-target // height))
