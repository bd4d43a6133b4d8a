"""The systems of the thesis' Tables 8.1 and 8.2, as one table of small records.

A system is how to build a run from provgan's own config: a base preset, config overrides on top of
it, the architecture the preset must build, and the clip shape it is scored at (``None``: the top
level of its own plan). The baselines (VGAN, TGAN, MoCoGAN; BASELINES.md) are ``model.arch`` of the
model registry (:mod:`provgan.registry`) with their presets in ``provgan/baselines/presets``.

Every run of an experiment gets the same budget of clips shown (kimg). A progressive preset's
schedule is scaled to that budget keeping its proportions (:func:`fit_budget`), so every run ends at
its top level at full strength and is scored there.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from provgan.config import Config, ConfigError, Shape, load_config, preset_names, validate


@dataclass(frozen=True)
class System:
    """One row of Table 8.1/8.2: a name, how its run is configured, and where it is scored."""

    name: str
    label: str  # the thesis' name for it
    preset: str  # base config preset (or YAML file)
    overrides: tuple[str, ...] = ()
    arch: str = "progressive"  # the model.arch the preset must build
    score_shape: Shape | None = None  # None: the top level of its plan


# Defaults are the thesis' own settings (ucf101-128 for the progressive models; each baseline's
# native preset); an experiment preset (spec.py) refines preset, overrides and score shape per system.
SYSTEMS: dict[str, System] = {s.name: s for s in (
    System("vgan", "VGAN", "vgan", arch="vgan"),
    System("tgan", "TGAN", "tgan", arch="tgan"),
    System("mocogan", "MoCoGAN", "mocogan", arch="mocogan"),
    System("prog-wgan-gp", "ProgVGAN", "ucf101-128", ("loss.name=wgan-gp",)),
    System("prog-swgan", "ProgSWGAN", "ucf101-128", ("loss.name=swgan",)),
)}


def _closest(name: str, names: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def runnable(system: System) -> bool:
    """True when this build of provgan has the system's preset (the baselines need issue 15's)."""
    return (system.arch == "progressive" or system.preset in preset_names()
            or system.preset.endswith((".yaml", ".yml")) and Path(system.preset).is_file())


def require_runnable(system: System) -> System:
    """``system`` itself, or one ConfigError line when this build cannot train it yet."""
    if not runnable(system):
        ready = ",".join(s.name for s in SYSTEMS.values() if runnable(s))
        raise ConfigError(f"system '{system.name}' is not built in this provgan (no '{system.preset}' preset "
                          f"with model.arch {system.arch}: the baselines of issue 15); systems that run now: "
                          f"{ready}")
    return system


def parse_systems(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"vgan,prog-swgan"`` -> names in order, duplicates dropped; unknown names are one error line."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(t.strip().lower() for t in items if t.strip()))
    if not names:
        raise ConfigError(f"no systems given: choose from {','.join(SYSTEMS)}")
    for name in names:
        if name not in SYSTEMS:
            raise ConfigError(f"unknown system '{name}'{_closest(name, list(SYSTEMS))}: choose from "
                              f"{','.join(SYSTEMS)}")
    return names


def fit_budget(cfg: Config, kimg: float) -> Config:
    """The same config trained for ``kimg`` thousand clips, its growth schedule scaled to fit.

    Every stable and fade length (the defaults and the per-resolution tables) is multiplied by
    ``kimg / schedule.total_kimg``, so the schedule keeps the preset's proportions and reaches the top
    level where the preset does, relative to its end. A one-level plan (the baselines) only gets the
    new total.
    """
    s = cfg.schedule
    f = kimg / s.total_kimg
    if len(cfg.model.plan) == 1 or f == 1.0:
        return validate(dataclasses.replace(cfg, schedule=dataclasses.replace(s, total_kimg=kimg)))
    scaled = dataclasses.replace(
        s, total_kimg=kimg, stable_kimg=s.stable_kimg * f, fade_kimg=s.fade_kimg * f,
        stable={k: v * f for k, v in s.stable.items()}, fade={k: v * f for k, v in s.fade.items()})
    return validate(dataclasses.replace(cfg, schedule=scaled))


def run_config(system: System, overrides: Sequence[str], kimg: float, seed: int) -> Config:
    """The resolved config of one run: preset + system overrides + ``overrides``, budget, seed."""
    try:
        cfg = load_config(system.preset, [*system.overrides, *overrides, f"run.seed={seed}"])
        cfg = fit_budget(cfg, kimg)
    except ConfigError as exc:
        raise ConfigError(f"system {system.name}: {exc}") from None
    arch = cfg.model.arch
    if arch != system.arch:
        raise ConfigError(f"system {system.name}: preset '{system.preset}' builds model.arch {arch}, "
                          f"not {system.arch}")
    return cfg


def native_shape(cfg: Config) -> Shape:
    """The clip shape a run generates when it is finished: the top level of its plan."""
    return tuple(cfg.model.plan[-1])  # type: ignore[return-value]
