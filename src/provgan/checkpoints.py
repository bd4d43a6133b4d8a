"""Checkpoints: atomic, self-describing, loaded without running code.

A checkpoint is one ``torch.save`` of plain containers and tensors: every network's ``state_dict``,
every optimizer's state, the RNG states (torch CPU/CUDA, NumPy, Python), the data sampler's
position, the schedule position (nimg, step, level, alpha), and the resolved config as a plain dict.
It is written to a temporary file, flushed and fsynced, then renamed over ``ckpt-<kimg>.pt`` and the
folder fsynced (:func:`provgan.atomic.atomic_torch_save`), so a kill at any moment leaves the previous
checkpoint intact, and a full disk is one line naming the run folder, the space needed and the space
free, with the temp file removed. Loading uses
``torch.load(..., weights_only=True)``: a tampered file cannot run code, it is refused with one line.

The file format lives outside ``provgan.train`` so that reading a checkpoint (``generate``,
``evaluate``, ``report``) never imports the trainer; :mod:`provgan.train.checkpoint` re-exports it.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from provgan.atomic import atomic_torch_save
from provgan.errors import ProvganError

log = logging.getLogger(__name__)
CKPT_RE = re.compile(r"^ckpt-(\d{6,})(?:\.(\d{3}))?\.pt$")
FORMAT = "provgan-checkpoint-1"


def kimg_tag(nimg: int) -> str:
    """``000600`` for 600 kimg; ``000000.096`` for 96 clips (tiny runs keep distinct names)."""
    whole, rest = divmod(int(nimg), 1000)
    return f"{whole:06d}" if rest == 0 else f"{whole:06d}.{rest:03d}"


def checkpoint_name(nimg: int) -> str:
    """``ckpt-000600.pt``: the file name carries the kimg of the position it holds."""
    return f"ckpt-{kimg_tag(nimg)}.pt"


def _nimg_of(path: Path) -> int:
    m = CKPT_RE.match(path.name)
    return int(m.group(1)) * 1000 + int(m.group(2) or 0)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Finished checkpoints in a run folder, oldest first (temporary files are ignored)."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if CKPT_RE.match(p.name)]
    return sorted(found, key=_nimg_of)


def save_checkpoint(payload: dict[str, Any], run_dir: Path, nimg: int, keep: int) -> Path:
    """Write ``payload`` as the checkpoint for ``nimg`` and delete all but the newest ``keep``."""
    path = run_dir / checkpoint_name(nimg)
    atomic_torch_save({"format": FORMAT, **payload}, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    for stale in run_dir.glob(".ckpt-*.pt.tmp-*"):  # left by a killed process
        if not stale.name.endswith(f"-{os.getpid()}"):
            stale.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint file safely; any problem is a one-line ProvganError."""
    if not path.is_file():
        raise ProvganError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise ProvganError(f"{path} was refused by the safe loader (weights_only=True): {first[:200]}; "
                           f"it is not a provgan checkpoint or it was tampered with") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ProvganError(f"{path} is corrupt or truncated ({exc.__class__.__name__}); "
                           f"use an earlier checkpoint") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProvganError(f"{path} is not a provgan checkpoint (no '{FORMAT}' marker)")
    return data


def latest_checkpoint(run_dir: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict] | None:
    """The newest checkpoint that loads; a corrupt newer one is reported and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, read_checkpoint(path, map_location)
        except ProvganError as exc:
            log.warning("skipping %s", exc)
    return None


def resolve_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict]:
    """A checkpoint file, or a run folder (its newest loadable checkpoint)."""
    if path.is_dir():
        found = latest_checkpoint(path, map_location)
        if found is None:
            raise ProvganError(f"{path} holds no loadable checkpoint (ckpt-*.pt) yet; train first or "
                               f"point at a checkpoint file")
        return found
    return path, read_checkpoint(path, map_location)
