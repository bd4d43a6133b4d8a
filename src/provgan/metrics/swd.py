"""Video sliced Wasserstein distance: PGGAN's SWD metric on spatio-temporal Laplacian-pyramid patches.

Karras et al. (2018, §5) compare two image sets by the sliced Wasserstein distance between random
7x7 neighbourhoods of each level of their Laplacian pyramids (cv2.pyrDown filter, levels down to
16x16, 128 neighbourhoods per image, each channel of a set normalised by that set's own mean and std,
4 repeats of 128 random unit directions; values reported x 1e3). It needs no trained network, which
makes it the one metric here that works on any data at any level.

For video the pyramid is built per frame (time is short, 4 to 32 frames, and our levels already
resample time), and a neighbourhood is a ``patch_frames x 7 x 7`` block (3 frames by default), so a
descriptor sees motion as well as texture: 3 * 3 * 7 * 7 = 441 numbers. Everything else is PGGAN's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

# cv2.pyrDown's 5x5 binomial filter, as in PGGAN's metrics/sliced_wasserstein.py
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


@dataclass(frozen=True)
class SWDOptions:
    """Settings of the video SWD (PGGAN's defaults, patches extended by ``patch_frames`` in time)."""

    patch_size: int = 7
    patch_frames: int = 3
    patches_per_clip: int = 128
    dir_repeats: int = 4
    dirs_per_repeat: int = 128
    min_resolution: int = 16
    seed: int = 0


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Separable 5x5 binomial filter over H and W of (N, C, T, H, W), mirror padding (scipy 'mirror')."""
    n, c, t, h, w = x.shape
    k = (_BINOMIAL * gain ** 0.5).to(x.dtype)
    y = x.permute(0, 2, 1, 3, 4).reshape(n * t * c, 1, h, w)
    y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="reflect"), k.view(1, 1, 1, 5))
    y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="reflect"), k.view(1, 1, 5, 1))
    return y.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur then keep every second row and column of each frame (cv2.pyrDown)."""
    return _blur(x)[..., ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    """Zero-insert to twice the size, then blur with 4x the filter (cv2.pyrUp)."""
    n, c, t, h, w = x.shape
    up = x.new_zeros(n, c, t, 2 * h, 2 * w)
    up[..., ::2, ::2] = x
    return _blur(up, gain=4.0)


def laplacian_pyramid(clips: torch.Tensor, num_levels: int) -> list[torch.Tensor]:
    """Per-frame Laplacian pyramid of (N, C, T, H, W): finest band first, the coarsest Gaussian last."""
    pyramid = [clips.float()]
    for _ in range(1, num_levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def pyramid_resolutions(height: int, width: int, min_resolution: int = 16) -> list[int]:
    """Heights of the pyramid levels that are compared: halving down to ``min_resolution`` (PGGAN)."""
    res, out = min(height, width), []
    while res >= min_resolution or not out:
        out.append(res)
        res //= 2
    return out


def _patch_extent(size: int, wanted: int) -> int:
    """The largest odd patch size <= wanted that fits in ``size`` pixels."""
    p = min(wanted, size)
    return p if p % 2 == 1 else p - 1


def extract_patches(band: torch.Tensor, count: int, opts: SWDOptions, rng: np.random.Generator) -> np.ndarray:
    """``count`` random (C, pt, p, p) neighbourhoods per clip of one band -> (N * count, C, pt, p, p)."""
    n, c, t, h, w = band.shape
    p, pt = _patch_extent(min(h, w), opts.patch_size), min(opts.patch_frames, t)
    ti = rng.integers(0, t - pt + 1, size=(n, count))
    yi = rng.integers(0, h - p + 1, size=(n, count))
    xi = rng.integers(0, w - p + 1, size=(n, count))
    # index grids: (n, count, pt, p, p)
    tt = ti[..., None, None, None] + np.arange(pt)[:, None, None]
    yy = yi[..., None, None, None] + np.arange(p)[None, :, None]
    xx = xi[..., None, None, None] + np.arange(p)[None, None, :]
    nn_ = np.broadcast_to(np.arange(n)[:, None, None, None, None], tt.shape[:2] + (pt, p, p))
    data = band.permute(0, 2, 3, 4, 1).numpy()  # (n, t, h, w, c)
    patches = data[nn_, tt, yy, xx]  # (n, count, pt, p, p, c)
    return np.ascontiguousarray(np.moveaxis(patches, -1, 2).reshape(n * count, c, pt, p, p))


def batch_descriptors(clips: torch.Tensor, opts: SWDOptions, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Raw descriptors of one batch (N, C, T, H, W) per pyramid level: {resolution: float16 (M, C, pt, p, p)}.

    Stored as float16 to halve memory (2048 clips x 128 patches x 441 values is 231 MB per level);
    the precision lost is far below the metric's sampling noise.
    """
    resolutions = pyramid_resolutions(clips.shape[-2], clips.shape[-1], opts.min_resolution)
    pyramid = laplacian_pyramid(clips, len(resolutions))
    return {res: extract_patches(band, opts.patches_per_clip, opts, rng).astype(np.float16)
            for res, band in zip(resolutions, pyramid)}


def finalize_descriptors(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate, normalise each channel by this set's own mean and std (PGGAN), flatten to (M, D).

    Per-set normalisation makes the metric compare structure, not global colour offsets.
    """
    desc = np.concatenate(parts, axis=0).astype(np.float32)
    desc -= desc.mean(axis=(0, 2, 3, 4), keepdims=True)
    desc /= desc.std(axis=(0, 2, 3, 4), keepdims=True) + 1e-8
    return desc.reshape(desc.shape[0], -1)


class DescriptorSet:
    """Descriptors of one clip set, collected batch by batch (so clips need not stay in memory)."""

    def __init__(self, opts: SWDOptions, stream: int):
        self.opts = opts
        self.rng = np.random.default_rng([opts.seed, stream])
        self.parts: dict[int, list[np.ndarray]] = {}

    def add(self, clips: torch.Tensor) -> None:
        for res, desc in batch_descriptors(clips, self.opts, self.rng).items():
            self.parts.setdefault(res, []).append(desc)

    def finalize(self) -> dict[int, np.ndarray]:
        return {res: finalize_descriptors(parts) for res, parts in self.parts.items()}


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, dir_repeats: int, dirs_per_repeat: int,
                       rng: np.random.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between projections.

    In 1-D the optimal transport pairs sorted values, so W1 is the mean absolute difference of the
    sorted projections; both sets must have the same number of rows.
    """
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein: descriptor sets differ in shape ({a.shape} vs {b.shape})")
    results = []
    for _ in range(dir_repeats):
        dirs = rng.standard_normal((a.shape[1], dirs_per_repeat)).astype(np.float32)
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        proj_a, proj_b = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
        results.append(float(np.abs(proj_a - proj_b).mean()))
    return float(np.mean(results))


def swd_scores(real: DescriptorSet, fake: DescriptorSet) -> dict[str, float]:
    """SWD x 1e3 per pyramid level (``swd_<res>``) and their mean (``swd``); lower is better.

    Values are in PGGAN's reporting unit (x 1e3). Both sets must hold the same number of clips of
    the same shape.
    """
    desc_real, desc_fake = real.finalize(), fake.finalize()
    if desc_real.keys() != desc_fake.keys():
        raise ValueError("video_swd: real and generated clips have different shapes")
    opts, rng = real.opts, np.random.default_rng([real.opts.seed, 2])
    out = {f"swd_{res}": 1e3 * sliced_wasserstein(desc_real[res], desc_fake[res], opts.dir_repeats,
                                                  opts.dirs_per_repeat, rng)
           for res in sorted(desc_real, reverse=True)}
    out["swd"] = float(np.mean(list(out.values())))
    return out


def video_swd(real: Iterable[torch.Tensor], fake: Iterable[torch.Tensor], opts: SWDOptions = SWDOptions()
              ) -> dict[str, float]:
    """Video SWD between two streams of clip batches (N, C, T, H, W), e.g. lists of tensors."""
    sets = DescriptorSet(opts, 0), DescriptorSet(opts, 1)
    for target, stream in zip(sets, (real, fake)):
        for clips in stream:
            target.add(clips)
    return swd_scores(*sets)
