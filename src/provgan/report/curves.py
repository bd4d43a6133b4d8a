"""Training curves of a run as PNG plots: losses, penalties, schedule, speed and memory over kimg.

The named scalars of ``stats.jsonl`` (``Loss/D/total``, ``Loss/D/gp``, ``Timing/clips_per_sec``...)
are sorted into panels by name, so a loss with other terms (wgan-gp's ``drift``, eq. 5.3's ``jac``
and ``lip``) is drawn without a change here; any key no panel claims gets a panel of its own.
Plots are drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot state, no display needed).
Dotted vertical lines mark where a new level starts to fade in (``Progress/level`` steps up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

# penalty terms of the losses in provgan.losses (wgan-gp, swgan, swgan-eq53, ns/hinge with R1)
PENALTY_TERMS = ("gp", "proj", "drift", "jac", "lip", "r1")
SKIPPED = ("kimg", "Progress/kimg")  # the x axis itself


@dataclass(frozen=True)
class Panel:
    """One plot: a file stem, a title, the keys drawn and whether the y axis is logarithmic."""

    name: str
    title: str
    keys: tuple[str, ...]
    log_y: bool = False


def _is_penalty(key: str) -> bool:
    return key.startswith("Loss/") and key.rsplit("/", 1)[-1] in PENALTY_TERMS


def _quality(keys: Sequence[str], name: str) -> list[str]:
    return [k for k in keys if k in (f"Metrics/{name}", f"Metrics/real/{name}")]


def panels_for(keys: Iterable[str]) -> list[Panel]:
    """Group stat names into panels; every name except the x axis lands in exactly one panel."""
    keys = sorted(set(keys) - set(SKIPPED))
    groups = [
        ("losses", "Losses (D and G totals)", [k for k in keys if k.startswith("Loss/") and k.endswith("/total")]),
        ("terms", "Loss terms", [k for k in keys if k.startswith("Loss/") and not k.endswith("/total")
                                 and not _is_penalty(k)]),
        ("penalties", "Penalties", [k for k in keys if _is_penalty(k)]),
        ("schedule", "Schedule: level, fade alpha, lod", [k for k in keys
                                                         if k in ("Progress/level", "Progress/alpha", "Progress/lod")]),
        ("speed", "Throughput (clips/s)", [k for k in keys if k == "Timing/clips_per_sec"]),
        ("memory", "Peak memory (GB)", [k for k in keys if k.startswith("Resources/")]),
        # quality of G_ema during training (train/quality.py), each next to its real-clip ceiling
        ("quality_swd", "Video SWD of G_ema (x1e3, lower is better)",
         [k for k in keys if k.startswith("Metrics/swd")]),
        ("quality_sure", "Classifier sure share (G_ema; real clips)", _quality(keys, "sure")),
        ("quality_classes", "Effective number of classes (G_ema; real clips)", _quality(keys, "classes")),
        ("quality_is", "Inception Score (G_ema; real clips)", _quality(keys, "is")),
        ("quality_distances", "FID / FVD of G_ema (lower is better)",
         [k for k in keys if k in ("Metrics/fid", "Metrics/fvd")]),
    ]
    claimed = {k for _, _, ks in groups for k in ks}
    panels = [Panel(name, title, tuple(ks), log_y=name == "penalties") for name, title, ks in groups if ks]
    for k in keys:
        if k not in claimed:
            panels.append(Panel(k.replace("/", "_").lower(), k, (k,)))
    return panels


def series(rows: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    """(kimg, value) of the rows that hold a finite ``key``."""
    points = [(float(r["kimg"]), float(r[key])) for r in rows
              if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def level_starts(rows: Sequence[dict]) -> list[tuple[float, int]]:
    """(kimg, level) of the first row of each new level: where its fade-in begins."""
    starts, previous = [], None
    for r in rows:
        level = r.get("Progress/level")
        if isinstance(level, (int, float)) and math.isfinite(level):
            if previous is not None and int(level) > previous:
                starts.append((float(r["kimg"]), int(level)))
            previous = int(level)
    return starts


def plot_panel(rows: Sequence[dict], panel: Panel, path: Path) -> Path | None:
    """Draw one panel to ``path`` (PNG); None when none of its keys has a finite value."""
    from matplotlib.figure import Figure

    drawn = [(key, *series(rows, key)) for key in panel.keys]
    drawn = [d for d in drawn if d[1]]
    if not drawn:
        return None
    fig = Figure(figsize=(5.2, 3.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    for key, x, y in drawn:
        ax.plot(x, y, label=key.split("/", 1)[-1], linewidth=1.2, marker="." if len(x) < 30 else None,
                linestyle="--" if "/real/" in key else "-")
    for kimg, level in level_starts(rows):
        ax.axvline(kimg, color="0.6", linestyle=":", linewidth=1)
        ax.annotate(f"L{level}", (kimg, 1), xycoords=("data", "axes fraction"), fontsize=7, color="0.4",
                    xytext=(2, -10), textcoords="offset points")
    if panel.log_y and all(v > 0 for _, _, y in drawn for v in y):
        ax.set_yscale("log")
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel("kimg (thousands of clips shown)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if len(drawn) > 1:
        ax.legend(fontsize=7, frameon=False)
    fig.savefig(path, format="png")
    return path


def plot_curves(rows: Sequence[dict], folder: Path) -> list[tuple[Panel, Path]]:
    """Every panel of the run's stats as ``folder/<panel>.png``; (panel, path) of those drawn."""
    keys = {k for r in rows for k in r}
    out = []
    for panel in panels_for(keys):
        path = plot_panel(rows, panel, folder / f"{panel.name}.png")
        if path is not None:
            out.append((panel, path))
    return out
