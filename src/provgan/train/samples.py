"""Sample grids during training: fixed latents through G_ema, written as mp4 + gif and to TensorBoard."""

from __future__ import annotations

from pathlib import Path

import torch

from provgan.data.video_io import write_video
from provgan.video_grid import grid_frames, to_uint8, viewing_upscale


def fixed_latents(count: int, dim: int, seed: int) -> torch.Tensor:
    """The same latents for every grid of a run, from their own generator (the training RNG is untouched)."""
    return torch.randn(count, dim, generator=torch.Generator().manual_seed(seed + 1_000_003))


@torch.no_grad()
def write_sample_grid(g_ema: torch.nn.Module, latents: torch.Tensor, level: int, alpha: float,
                      rows: int, cols: int, stem: Path, fps: float = 8.0) -> tuple[list[Path], "object"]:
    """Write ``stem.mp4`` and ``stem.gif``; return their paths and the middle frame (H, W, 3) uint8."""
    device = next(g_ema.parameters()).device
    clips = torch.cat([g_ema(z.to(device), level, alpha) for z in latents.split(16)])
    frames = to_uint8(clips)
    grid = grid_frames(frames, rows, cols, upscale=viewing_upscale(frames.shape[2]))
    paths = [write_video(stem.with_suffix(ext), grid, fps=fps) for ext in (".mp4", ".gif")]
    return paths, grid[grid.shape[0] // 2]
