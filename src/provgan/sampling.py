"""Clips from a trained generator, written as videos, frame folders or arrays.

A clip is named by its seed: clip i of a request (seed S) uses the latent of seed S + i, drawn by
:meth:`TrainedGenerator.latents` from its own ``torch.Generator``, so the first clips of a larger
request are the clips of a smaller one (bit for bit with the same batch size, see
:func:`sample_uint8`; up to float rounding across batch sizes and devices). The engine of
``provgan generate`` and ``provgan interpolate``; the CLI in :mod:`provgan.generate` only parses
options and shows progress.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from provgan.data.video_io import write_video
from provgan.errors import ProvganError
from provgan.interpolation import chain_latents
from provgan.registry import TrainedGenerator
from provgan.video_grid import grid_frames, to_uint8, viewing_upscale

log = logging.getLogger(__name__)
FORMATS = ("mp4", "gif", "frames", "npz", "strip")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class GenerateOptions:
    """What ``provgan generate`` writes: ``num`` clips from seed ``seed`` on, per clip or as one grid."""

    num: int = 16
    seed: int = 0
    fmt: str = "mp4"
    grid: tuple[int, int] | None = None  # (rows, cols): one grid instead of one file per clip
    level: int | None = None  # None: the checkpoint's level
    fps: float = 8.0
    upscale: int | None = None  # None: enlarge videos for viewing, keep npz at the native size
    batch: int = 16
    class_index: int | None = None  # conditional G: draw this class (None: seed mod K; grid rows = classes)

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ProvganError(f"unknown format {self.fmt!r}; use one of {', '.join(FORMATS)}")
        if self.num < 1 or self.batch < 1 or self.fps <= 0 or (self.upscale is not None and self.upscale < 1):
            raise ProvganError("--num, --batch, --fps and --upscale must be positive")
        if self.grid is not None and self.num > self.grid[0] * self.grid[1]:
            raise ProvganError(f"--num {self.num} clips do not fit a {self.grid[0]}x{self.grid[1]} grid; "
                               f"lower --num or enlarge --grid")


def parse_grid(text: str) -> tuple[int, int]:
    """``"4x6"`` -> (4, 6) rows x columns."""
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ProvganError(f"--grid {text!r}: give ROWSxCOLS, e.g. 4x4") from None
    if rows < 1 or cols < 1:
        raise ProvganError(f"--grid {text!r}: rows and columns must be at least 1")
    return rows, cols


def resolve_level(tg: TrainedGenerator, level: int | None) -> int:
    """The level to sample at: the checkpoint's by default, an earlier one if asked, never a later one."""
    if level is None:
        return tg.level
    shapes = ", ".join(f"{i}={'x'.join(map(str, s))}" for i, s in enumerate(tg.config.model.plan[:tg.level + 1]))
    if not 0 <= level <= tg.level:
        raise ProvganError(f"level {level} has not been reached by {tg.path} (it is at level {tg.level}); "
                           f"use --level 0..{tg.level} ({shapes})")
    return level


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``; CUDA without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ProvganError(f"--device {name!r}: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProvganError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


def sample_uint8(tg: TrainedGenerator, z: torch.Tensor, level: int, batch: int,
                 progress: Progress | None = None, labels: torch.Tensor | None = None) -> Iterator[np.ndarray]:
    """Yield (b, T, H, W, 3) uint8 clips for the rows of ``z``, ``batch`` rows per forward pass.

    A last partial batch is padded to ``batch`` rows (the padding is dropped): CPU and GPU kernels
    are chosen by batch shape and round differently for other shapes, so without it clip i of
    ``--num 3`` and of ``--num 5`` could differ in the last bit. With padding, a clip depends only
    on its seed, its index in the request and ``batch``; ``batch=1`` makes it depend on the seed alone.
    ``labels``: one class per row of ``z``, for a conditional G.
    """
    label_chunks = labels.split(batch) if labels is not None else [None] * len(z.split(batch))
    for chunk, y in zip(z.split(batch), label_chunks):
        n = chunk.shape[0]
        if n < batch:
            chunk = torch.cat([chunk, chunk[-1:].expand(batch - n, -1)])
            y = None if y is None else torch.cat([y, y[-1:].expand(batch - n)])
        clips = to_uint8(tg.sample(chunk, level, y))[:n]
        if progress is not None:
            progress(n)
        yield clips


def enlarge(frames: np.ndarray, upscale: int) -> np.ndarray:
    """(T, H, W, 3) -> (T, H*k, W*k, 3) by pixel repetition, the way the sample grids are shown."""
    return grid_frames(frames[None], 1, 1, upscale=upscale, pad=0) if upscale > 1 else frames


def write_array(frames: np.ndarray, stem: Path, fmt: str, fps: float, meta: dict) -> Path:
    """Write one (T, H, W, 3) uint8 clip (or grid) as ``stem.mp4|.gif``, ``stem/`` of PNGs, ``stem.npz``
    or ``stem.png``, a still of its first, middle and last frames side by side (``strip``: the png the
    training's sample grids write, for a page that cannot play video).

    Every format is written under a temporary name and renamed, so no half-written output is left.
    """
    if fmt in ("mp4", "gif"):
        return write_video(stem.with_suffix(f".{fmt}"), frames, fps=fps)
    if fmt == "strip":
        from provgan.train.samples import frame_strip, write_png

        return write_png(stem.with_suffix(".png"), frame_strip(frames))
    if fmt == "npz":
        path, tmp = stem.with_suffix(".npz"), stem.with_name(f".{stem.name}.partial.npz")
        np.savez_compressed(tmp, clip=frames, **{k: np.asarray(v) for k, v in meta.items()})
        os.replace(tmp, path)
        return path
    return _write_frames(frames, stem)


def _write_frames(frames: np.ndarray, folder: Path) -> Path:
    import cv2

    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i, image in enumerate(frames):
        if not cv2.imwrite(str(tmp / f"frame-{i:04d}.png"), image[..., ::-1]):
            raise ProvganError(f"could not write PNG frames into {tmp}: check the disk and permissions")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def prepare_out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ProvganError(f"--out {out} is a file; give a folder for the clips")
    out.mkdir(parents=True, exist_ok=True)
    return out


def generate(tg: TrainedGenerator, opts: GenerateOptions, out: Path,
             progress: Progress | None = None) -> list[Path]:
    """Sample ``opts.num`` clips from seed ``opts.seed`` on and write them into ``out``; their paths."""
    level = resolve_level(tg, opts.level)
    out = prepare_out_dir(Path(out))
    seeds = list(range(opts.seed, opts.seed + opts.num))
    shape = tg.config.model.plan[level]
    upscale = opts.upscale or (1 if opts.fmt == "npz" else viewing_upscale(shape[1]))
    meta = {"level": level, "alpha": tg.alpha if level == tg.level else 1.0, "kimg": tg.kimg}
    labels = tg.labels_for(seeds, opts.class_index)
    if labels is not None and opts.grid is not None and opts.class_index is None:
        from provgan.train.samples import grid_labels

        labels = grid_labels(*opts.grid, tg.num_classes)[: len(seeds)]  # one row per class
    if labels is not None:
        meta["classes"] = [tg.class_names[i] if tg.class_names else str(i) for i in labels.tolist()]
    batches = sample_uint8(tg, tg.latents(seeds), level, opts.batch, progress, labels)
    if opts.grid is not None:
        rows, cols = opts.grid
        frames = grid_frames(np.concatenate(list(batches)), rows, cols, upscale=upscale)
        stem = out / f"grid-{rows}x{cols}-seed{opts.seed}-level{level}"
        return [write_array(frames, stem, opts.fmt, opts.fps, meta | {"seeds": seeds})]
    written, it = [], iter(seeds)
    for clips in batches:
        for clip in clips:
            seed = next(it)
            extra = {"seed": seed}
            if labels is not None:
                extra |= {"classes": None, "class": meta["classes"][seed - opts.seed]}
            written.append(write_array(enlarge(clip, upscale), out / f"seed{seed:06d}", opts.fmt, opts.fps,
                                       {k: v for k, v in (meta | extra).items() if v is not None}))
    log.debug("wrote %d clips of %s at level %d into %s", len(written), "x".join(map(str, shape)), level, out)
    return written


def interpolation_grid(tg: TrainedGenerator, seeds: Sequence[int], steps: int, mode: str = "slerp",
                       level: int | None = None, batch: int = 16, upscale: int | None = None,
                       progress: Progress | None = None, class_index: int | None = None) -> np.ndarray:
    """Appendix B grid frames: row r interpolates seed r -> seed r+1 in ``steps`` columns.

    A conditional G interpolates within one class: ``class_index``, or else row r keeps the class of
    seed r (seed mod K) along the whole row.

    Returns (T, rows*(H*k+1)+1, steps*(W*k+1)+1, 3) uint8, ready for :func:`write_video`.
    """
    if len(seeds) < 2:
        raise ProvganError("--seeds needs at least two seeds, e.g. --seeds 1,2 (rows are consecutive pairs)")
    if steps < 2:
        raise ProvganError(f"--steps {steps}: an interpolation needs at least 2 steps (the two ends)")
    level = resolve_level(tg, level)
    z = chain_latents(tg.latents(seeds), steps, mode)
    row_classes = tg.labels_for(seeds[:-1], class_index)
    labels = None if row_classes is None else row_classes.repeat_interleave(steps)
    clips = np.concatenate(list(sample_uint8(tg, z, level, batch, progress, labels)))
    k = upscale or viewing_upscale(clips.shape[2])
    return grid_frames(clips, len(seeds) - 1, steps, upscale=k)
