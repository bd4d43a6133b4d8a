"""Clips stored as one image each, frames stacked vertically (VGAN's Golf release, Table 8.2).

VGAN (Vondrick et al. 2016) ships its stabilised Golf videos as JPEGs of ``W x (T * H)``: frame t is
rows ``t*H .. (t+1)*H``. ``provgan prepare --stacked-frames H`` reads such images as clip sources:
every image file under SRC (any depth, natural order; class subfolders are not implied) is one
source of ``height // H`` frames, so the usual windows, crop and pooling apply unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from provgan.data.sources import Source, SourceSet, apply_split
from provgan.data.video_io import IMAGE_EXTENSIONS, VideoInfo, _image_rgb, natural_key
from provgan.errors import ProvganError


def discover_stacked(root: str | Path, split: str | Path | None = None) -> SourceSet:
    """Every image under ``root`` (a file: just it) as one stacked-frames source."""
    root = Path(root)
    if root.is_file():
        found = SourceSet(root.parent, "stacked", (Source(root, root.name),), None, ())
    elif root.is_dir():
        images = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts)]
        if not images:
            raise ProvganError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) found for --stacked-frames")
        rels = sorted((p.relative_to(root).as_posix() for p in images), key=natural_key)
        found = SourceSet(root, "stacked", tuple(Source(root / r, r) for r in rels), None, ())
    else:
        raise ProvganError(f"{root}: no such file or folder")
    return apply_split(found, Path(split)) if split is not None else found


def probe_stacked(path: str | Path, frame_height: int) -> VideoInfo:
    """Frames and frame size of a stacked image (decoded: a Golf JPEG takes a few ms)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ProvganError(f"{path}: unreadable image")
    height, width = image.shape[:2]
    if height % frame_height:
        raise ProvganError(f"{path}: {width}x{height} is not a stack of {frame_height}-pixel frames "
                           f"({height} is not a multiple of {frame_height}): check --stacked-frames")
    return VideoInfo(height // frame_height, None, width, frame_height, image.ndim == 2)


def iter_stacked(path: str | Path, frame_height: int, start: int = 0,
                 num_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames (H, W, 3) ``start, start+1, ...`` of a stacked image (decoded once)."""
    image = _image_rgb(Path(path), None)
    total = image.shape[0] // frame_height
    stop = total if num_frames is None else min(total, start + num_frames)
    for t in range(start, stop):
        yield image[t * frame_height:(t + 1) * frame_height]
