"""What a run folder holds, read without loading any network: config, stats, checkpoints, media, metrics.

A run folder (``provgan train --out RUN``) has ``config.yaml``, ``ckpt-<kimg>.pt``, ``stats.jsonl``
(one JSON object of named scalars per line), ``samples/`` (``samples-<kimg>.mp4|.gif`` and
``level<L>-<TxHxW>-final.mp4|.gif``), optionally ``metrics-<kimg>.json`` from ``provgan evaluate``
and ``interpolation*.mp4|.gif`` from ``provgan interpolate``. A run still training is fine: a
partly written last line of ``stats.jsonl`` is skipped.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from provgan.errors import ProvganError
from provgan.train.checkpoint import list_checkpoints

log = logging.getLogger(__name__)
FINAL_RE = re.compile(r"^level(\d+)-(\d+x\d+x\d+)-final$")
SAMPLES_RE = re.compile(r"^samples-(\d{6,}(?:\.\d{3})?)$")
METRICS_RE = re.compile(r"^metrics-(\d{6,}(?:\.\d{3})?)\.json$")


@dataclass(frozen=True)
class Media:
    """One video of the run: its mp4 and/or gif (same stem), and a caption."""

    label: str
    mp4: Path | None
    gif: Path | None

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.mp4, self.gif) if p is not None)


@dataclass(frozen=True)
class MetricsRecord:
    """One ``metrics-<kimg>.json``: the metric values and the context it names (checkpoint, level)."""

    path: Path
    kimg: float
    values: dict
    context: dict


@dataclass(frozen=True)
class RunFolder:
    """Everything the report shows, found in one pass over the folder."""

    path: Path
    config_text: str | None
    stats: tuple[dict, ...]
    checkpoints: tuple[Path, ...]
    level_finals: tuple[Media, ...]
    latest_samples: Media | None
    interpolations: tuple[Media, ...]
    metrics: tuple[MetricsRecord, ...]


def read_stats(path: Path) -> list[dict]:
    """Rows of ``stats.jsonl`` with a numeric ``kimg``; nulls (non-finite values) become NaN."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON (a run still writing?); skipped", path, number)
            continue
        if isinstance(row, dict) and isinstance(row.get("kimg"), (int, float)):
            rows.append({k: (math.nan if v is None else v) for k, v in row.items()
                         if v is None or isinstance(v, (int, float))})
    return rows


def _media_by_stem(folder: Path, pattern: str) -> dict[str, Media]:
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.glob(pattern)) if folder.is_dir() else []:
        if path.suffix in (".mp4", ".gif") and path.is_file() and not path.name.startswith("."):
            found.setdefault(path.stem, {})[path.suffix] = path
    return {stem: Media(stem, f.get(".mp4"), f.get(".gif")) for stem, f in found.items()}


def level_finals(samples: Path) -> list[Media]:
    """The final grid of each finished level, smallest level first, captioned ``level L · TxHxW``."""
    out = []
    for stem, media in _media_by_stem(samples, "level*-final.*").items():
        m = FINAL_RE.match(stem)
        if m:
            out.append((int(m.group(1)), Media(f"level {m.group(1)} · {m.group(2)}", media.mp4, media.gif)))
    return [media for _, media in sorted(out, key=lambda x: x[0])]


def latest_samples(samples: Path) -> Media | None:
    """The newest periodic sample grid ``samples-<kimg>``."""
    grids = [(float(m.group(1)), media) for stem, media in _media_by_stem(samples, "samples-*.*").items()
             if (m := SAMPLES_RE.match(stem))]
    if not grids:
        return None
    kimg, media = max(grids, key=lambda x: x[0])
    return Media(f"latest periodic grid · {kimg:g} kimg", media.mp4, media.gif)


def interpolations(run: Path) -> list[Media]:
    """``interpolation*.mp4|.gif`` in the run folder or its ``samples/`` (``provgan interpolate --out``)."""
    out: list[Media] = []
    for folder in (run, run / "samples"):
        out += [Media(stem, m.mp4, m.gif) for stem, m in _media_by_stem(folder, "interpolation*.*").items()]
    return out


def read_metrics(run: Path) -> list[MetricsRecord]:
    """Every ``metrics-<kimg>.json``, oldest first; the values are its ``metrics`` dict if it has one."""
    records = []
    for path in sorted(run.glob("metrics-*.json")):
        m = METRICS_RE.match(path.name)
        if not m:
            continue
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError) as exc:
            log.warning("%s is not readable JSON (%s); skipped", path, exc.__class__.__name__)
            continue
        if not isinstance(data, dict):
            continue
        values = data["metrics"] if isinstance(data.get("metrics"), dict) else data
        context = {k: v for k, v in data.items() if k != "metrics" and isinstance(v, (str, int, float, list))}
        kimg = data.get("kimg")
        kimg = float(kimg) if isinstance(kimg, (int, float)) else float(m.group(1))
        records.append(MetricsRecord(path, kimg, values, context))
    return sorted(records, key=lambda r: r.kimg)


def scan_run(path: str | Path) -> RunFolder:
    """Read a run folder; ProvganError if it is not one."""
    run = Path(path)
    if not run.is_dir():
        raise ProvganError(f"{run} is not a folder; give the run folder that `provgan train --out` made")
    config = run / "config.yaml"
    if not config.is_file() and not (run / "stats.jsonl").is_file():
        raise ProvganError(f"{run} is not a provgan run folder (no config.yaml or stats.jsonl); give the "
                           f"folder that `provgan train --out` made")
    return RunFolder(path=run,
                     config_text=config.read_text(errors="replace") if config.is_file() else None,
                     stats=tuple(read_stats(run / "stats.jsonl")),
                     checkpoints=tuple(list_checkpoints(run)),
                     level_finals=tuple(level_finals(run / "samples")),
                     latest_samples=latest_samples(run / "samples"),
                     interpolations=tuple(interpolations(run)),
                     metrics=tuple(read_metrics(run)))
