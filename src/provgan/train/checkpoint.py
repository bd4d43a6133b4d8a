"""Checkpoints: atomic, self-describing, loaded without running code.

A checkpoint is one ``torch.save`` of plain containers and tensors: every network's ``state_dict``,
every optimizer's state, the RNG states (torch CPU/CUDA, NumPy, Python), the data sampler's
position, the schedule position (nimg, step, level, alpha), and the resolved config as a plain dict.
It is written to a temporary file, flushed and fsynced, then renamed over ``ckpt-<kimg>.pt`` and the
folder fsynced, so a kill at any moment leaves the previous checkpoint intact. Loading uses
``torch.load(..., weights_only=True)``: a tampered file cannot run code, it is refused with one line.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from provgan.config import Config, config_from_dict
from provgan.errors import ProvganError
from provgan.levels import level_reached
from provgan.nn import Generator

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


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, rename; a full disk is one clear error."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProvganError(f"could not write checkpoint {path}: {exc.strerror or exc}; free disk space "
                           f"or choose another --out, then resume with --resume auto") from None


def save_checkpoint(payload: dict[str, Any], run_dir: Path, nimg: int, keep: int) -> Path:
    """Write ``payload`` as the checkpoint for ``nimg`` and delete all but the newest ``keep``."""
    path = run_dir / checkpoint_name(nimg)
    atomic_torch_save({"format": FORMAT, **payload}, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    for stale in run_dir.glob(".ckpt-*.pt.tmp-*"):
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


# ---------------------------------------------------------------------------------------------
# the trained generator, for generate / interpolate / evaluate


@dataclass(frozen=True)
class TrainedGenerator:
    """The EMA generator of a checkpoint at the level and fade weight it had reached."""

    generator: torch.nn.Module
    config: Config
    level: int
    alpha: float
    kimg: float
    path: Path
    class_names: tuple[str, ...] = ()  # a conditional checkpoint's classes, in label order

    @property
    def latent_dim(self) -> int:
        return self.config.model.latent_dim

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional G; 0 for an unconditional one."""
        return self.config.model.num_classes if self.config.model.conditional else 0

    def class_index(self, name: str | int) -> int:
        """A class given by index or by name (``3``, or ``zoom``), or a one-line error naming the choices."""
        if not self.num_classes:
            raise ProvganError(f"{self.path} is unconditional: --class needs a checkpoint trained with "
                               f"model.conditional=true")
        names = self.class_names or tuple(str(i) for i in range(self.num_classes))
        text = str(name)
        if text in names:
            return names.index(text)
        if text.lstrip("-").isdigit() and 0 <= int(text) < self.num_classes:
            return int(text)
        raise ProvganError(f"class {text!r} is not one of this checkpoint's {self.num_classes} classes "
                           f"({', '.join(names[:12])}{', ...' if len(names) > 12 else ''})")

    def labels_for(self, seeds: Sequence[int], fixed: int | None = None) -> torch.Tensor | None:
        """Classes for the clips of ``seeds``: ``fixed`` for all, else seed mod num_classes (every class
        equally often, and a seed names the same clip everywhere); None for an unconditional G."""
        if not self.num_classes:
            return None
        seeds = torch.as_tensor([int(s) for s in seeds], dtype=torch.long)
        return torch.full_like(seeds, int(fixed)) if fixed is not None else seeds % self.num_classes

    @property
    def clip_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.model.plan[self.level])  # type: ignore[return-value]

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        """One N(0, I) latent per seed, so a seed names the same clip everywhere."""
        return torch.stack([torch.randn(self.latent_dim, generator=torch.Generator().manual_seed(int(s)))
                            for s in seeds])

    @torch.no_grad()
    def sample(self, z: torch.Tensor, level: int | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, H, W) float32 in [-1, 1] at the checkpoint's level (or an earlier one); a
        conditional G needs ``labels`` (:meth:`labels_for`)."""
        if self.num_classes and labels is None:
            raise ProvganError(f"{self.path} is class-conditional ({self.num_classes} classes): "
                               f"pass the classes to draw")
        if labels is not None and not self.num_classes:
            raise ProvganError(f"{self.path} is unconditional: it takes no classes")
        level = self.level if level is None else level
        if level > self.level:
            raise ProvganError(f"level {level} has not been reached by this checkpoint (it is at level "
                               f"{self.level}, {'x'.join(map(str, self.clip_shape))})")
        alpha = self.alpha if level == self.level else 1.0
        device = next(self.generator.parameters()).device
        extra = [labels.to(device)] if labels is not None else []
        return self.generator(z.to(device), level, alpha, *extra).float().clamp(-1, 1)


def load_sampler(path: str | Path, device: str | torch.device = "cpu") -> TrainedGenerator:
    """Load G_ema from a checkpoint file or the newest checkpoint of a run folder."""
    ckpt_path, data = resolve_checkpoint(Path(path), map_location="cpu")
    try:
        cfg = config_from_dict(data["config"])
        g = Generator(cfg.model)
        g.load_state_dict(data["models"]["G_ema"])
    except (KeyError, RuntimeError, ProvganError) as exc:
        raise ProvganError(f"{ckpt_path} does not match its own config ({str(exc).splitlines()[0][:160]})") \
            from None
    pos = data["position"]
    level, alpha = level_reached(cfg.model.plan, cfg.schedule, int(pos["nimg"]), int(pos["level"]),
                                 float(pos["alpha"]))
    return TrainedGenerator(g.to(device).eval().requires_grad_(False), cfg, level, alpha,
                            float(pos["nimg"]) / 1000, ckpt_path, tuple(data.get("classes", ())))
