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


# --- the named protocols' variants (provgan.metrics.protocols) -----------------------------------

RESIZE_METHODS = ("bilinear", "bilinear-antialias", "bicubic", "bilinear-tf1")
FRAME_CHOICES = ("first", "central", "random-window", "all")


def choose_frames(x: torch.Tensor, frames: int | None, choice: str,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, C, T0, H, W) -> ``frames`` consecutive frames per clip, picked as ``choice`` says.

    * ``first``: frames 0 .. frames-1 (TGAN, TGANv2 and StyleGAN-V's fakes all start at t = 0);
    * ``central``: the middle window, start ``(T0 - frames) // 2`` (the thesis' "central" frames);
    * ``random-window``: an independent uniform start per clip from ``generator`` (StyleGAN-V
      samples one random 16-frame window of every real video);
    * ``all`` (or ``frames`` None): every frame as given (the original FVD code).

    Clips shorter than ``frames`` are stretched by nearest-frame repetition (:func:`fit_frames`).
    """
    if choice not in FRAME_CHOICES:
        raise ValueError(f"choose_frames: choice {choice!r} not in {FRAME_CHOICES}")
    t0 = x.shape[2]
    if frames is None or choice == "all":
        return x
    if t0 <= frames:
        return fit_frames(x, frames)
    if choice == "first":
        return x[:, :, :frames]
    if choice == "central":
        start = (t0 - frames) // 2
        return x[:, :, start:start + frames]
    starts = torch.randint(0, t0 - frames + 1, (x.shape[0],), generator=generator)
    index = starts[:, None] + torch.arange(frames)[None, :]  # (N, frames)
    return torch.stack([clip[:, idx] for clip, idx in zip(x, index)])


def _tf1_bilinear_axis(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """TF1 ``resize_bilinear`` along one axis: source = dest * in / out (no half-pixel centres)."""
    n_in = x.shape[dim]
    src = torch.arange(size, dtype=torch.float64) * (n_in / size)
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = (src - lo.double()).to(x.dtype)
    shape = [1] * x.ndim
    shape[dim] = size
    frac = frac.view(shape)
    return x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac


def resize_frames(x: torch.Tensor, size: tuple[int, int], method: str) -> torch.Tensor:
    """Resize every frame of (N, C, T, H, W) to ``size`` = (H, W) the way a protocol's code did.

    * ``bilinear``: half-pixel centres, no antialiasing (Chainer ``F.resize_images`` of TGANv2 and
      PyTorch's ``interpolate``, which StyleGAN-V's I3D uses);
    * ``bilinear-antialias``: provgan's default (antialiased when shrinking);
    * ``bicubic``: cv2 ``INTER_CUBIC`` (a = -0.75, half-pixel centres, no antialiasing), TGAN's;
    * ``bilinear-tf1``: TF1 ``tf.image.resize_bilinear`` with its defaults (``align_corners`` and
      ``half_pixel_centers`` False: source x = dest x * in / out), the original FVD code's.
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize_frames: method {method!r} not in {RESIZE_METHODS}")
    n, c, t, h0, w0 = x.shape
    h, w = size
    if (h0, w0) == (h, w):
        return x
    frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h0, w0)
    if method == "bilinear-tf1":
        frames = _tf1_bilinear_axis(_tf1_bilinear_axis(frames, h, 2), w, 3)
    else:
        mode = "bicubic" if method == "bicubic" else "bilinear"
        frames = F.interpolate(frames, size=(h, w), mode=mode, align_corners=False,
                               antialias=method == "bilinear-antialias" and (h < h0 or w < w0))
    return frames.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4)


def centre_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The central ``size`` = (H, W) window of every frame (TGAN: [8:120, 8:120] of 128 x 128)."""
    h0, w0 = x.shape[-2:]
    h, w = size
    top, left = (h0 - h) // 2, (w0 - w) // 2
    return x[..., top:top + h, left:left + w]
