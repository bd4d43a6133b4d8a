"""The three baselines by name: ``arch -> build`` and a parameter table for the README.

The trainer's model registry (issue 15 part A) looks builders up here, so adding a baseline is one
module and one entry. ``python -m provgan.baselines --shape 16x64x64 --width 1`` prints the counts
the README quotes.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from provgan.baselines import mocogan, tgan, vgan
from provgan.baselines.common import BaselineParts, Shape, count_parameters
from provgan.errors import ConfigError

Builder = Callable[..., BaselineParts]
BUILDERS: dict[str, Builder] = {"vgan": vgan.build, "tgan": tgan.build, "mocogan": mocogan.build}


def build_baseline(arch: str, shape: Shape, channels: int = 3, width: float = 1.0,
                   options: Mapping[str, Any] | None = None) -> BaselineParts:
    """The parts of baseline ``arch`` at clip ``shape``; an unknown name is one error line."""
    if arch not in BUILDERS:
        raise ConfigError(f"unknown baseline '{arch}': choose from {', '.join(BUILDERS)}")
    return BUILDERS[arch](tuple(shape), channels, width, options)


def parameter_counts(parts: BaselineParts) -> dict[str, int]:
    """Parameters of G and of each critic, by name."""
    return {"G": count_parameters(parts.generator),
            **{name: count_parameters(part.module) for name, part in parts.critics.items()}}


def parameter_table(shape: Shape, width: float, channels: int = 3) -> list[str]:
    """Markdown rows: arch, G latent size, G parameters, each critic's parameters."""
    rows = ["| arch | latent | G | critics |", "|---|---|---|---|"]
    for arch in BUILDERS:
        parts = build_baseline(arch, shape, channels, width)
        counts = parameter_counts(parts)
        critics = ", ".join(f"{n} {c:,}" for n, c in counts.items() if n != "G")
        rows.append(f"| {arch} | {parts.generator.latent_dim} | {counts['G']:,} | {critics} |")
    return rows
