"""What an experiment is: a frozen, validated record built from a YAML preset and the command line.

Presets live in ``provgan/experiment/presets/*.yaml`` (``digits-small``, ``ucf101-thesis``) or any
YAML file; keys are checked like training configs (an unknown key names the closest valid one). The
command line overrides the budget, the seeds, the systems, the metrics and the evaluation files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from provgan.config import ConfigError, Shape, build_dataclass, yaml_load
from provgan.experiment.systems import SYSTEMS, System, parse_systems

FEATURES = ("classifier", "c3d")


@dataclass(frozen=True)
class SystemSetting:
    """How one experiment refines a system of the table: another base preset, more overrides, a score shape."""

    preset: str = ""  # "" keeps the table's
    overrides: tuple[str, ...] = ()
    score_shape: tuple[int, ...] = ()  # () keeps the table's (or the top of the system's plan)


@dataclass(frozen=True)
class EvalSetting:
    """The one protocol every run is scored under (passed to :mod:`provgan.metrics.evaluate`)."""

    num: int = 128  # clips per side; 0: every clip of the store
    seed: int = 0  # generated clip i uses latent seed ``seed + i``; real clips by a permutation of it
    batch: int = 16
    is_splits: int = 10
    precision: str = "fp32"
    fvd_layer: str = "logits"
    features: str = "classifier"  # IS/FID network: the offline classifier trained once, or C3D
    classifier: str = ""  # an existing classifier file instead of training one
    c3d: str = ""  # public-layout C3D weights (features: c3d)
    protocol: str = ""  # a named metric protocol (issue 16), passed through to evaluate


@dataclass(frozen=True)
class ClassifierSetting:
    """The offline classifier trained once per experiment on the store's labelled clips."""

    epochs: int = 8
    batch_size: int = 16
    lr: float = 1e-3
    width: int = 16
    holdout: float = 0.2
    seed: int = 0
    max_clips: int = 0  # 0: every clip


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment: budget, seeds, systems, metrics, per-system settings and the protocol."""

    name: str = "custom"
    kimg: float = 16.0
    seeds: int = 3
    systems: tuple[str, ...] = tuple(SYSTEMS)
    metrics: tuple[str, ...] = ("is", "fid", "fvd", "swd")
    overrides: tuple[str, ...] = ()  # config overrides for every run of every system
    system: Mapping[str, SystemSetting] = field(default_factory=dict)
    eval: EvalSetting = field(default_factory=EvalSetting)
    classifier: ClassifierSetting = field(default_factory=ClassifierSetting)

    def resolved_system(self, name: str) -> System:
        """The table's record for ``name`` with this experiment's setting applied."""
        base, setting = SYSTEMS[name], self.system.get(name, SystemSetting())
        return dataclasses.replace(
            base, preset=setting.preset or base.preset, overrides=base.overrides + setting.overrides,
            score_shape=tuple(setting.score_shape) if setting.score_shape else base.score_shape)


def validate_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """Cross-field checks; ``spec`` unchanged or one ConfigError line."""
    from provgan.metrics.evaluate import parse_metrics

    if spec.kimg <= 0 or spec.seeds < 1:
        raise ConfigError(f"kimg must be > 0 and seeds >= 1 (got kimg {spec.kimg:g}, seeds {spec.seeds})")
    parse_systems(spec.systems)
    parse_metrics(",".join(spec.metrics))
    for name, setting in spec.system.items():
        parse_systems([name])
        if len(setting.score_shape) not in (0, 3) or min(setting.score_shape, default=1) < 1:
            raise ConfigError(f"system.{name}.score_shape must be [T, H, W], got {list(setting.score_shape)}")
    e = spec.eval
    if e.num < 0 or e.num == 1 or e.batch < 1 or e.is_splits < 1:
        raise ConfigError("eval.num must be 0 (every clip) or >= 2, eval.batch and eval.is_splits >= 1")
    if e.features not in FEATURES:
        raise ConfigError(f"eval.features must be one of {', '.join(FEATURES)}, got '{e.features}'")
    if e.precision not in ("fp32", "bf16") or e.fvd_layer not in ("logits", "pool"):
        raise ConfigError("eval.precision must be fp32 or bf16 and eval.fvd_layer logits or pool")
    c = spec.classifier
    if c.epochs < 1 or c.batch_size < 2 or not 0 < c.holdout < 1 or c.width < 1 or c.max_clips < 0:
        raise ConfigError("classifier: epochs >= 1, batch_size >= 2, 0 < holdout < 1, width >= 1, max_clips >= 0")
    return spec


def spec_from_dict(data: Mapping[str, Any], where: str = "experiment") -> ExperimentSpec:
    """Build and validate a spec from plain data; system and metric names are normalised."""
    from provgan.metrics.evaluate import parse_metrics

    spec = build_dataclass(ExperimentSpec, data, where)
    return validate_spec(dataclasses.replace(spec, systems=parse_systems(spec.systems),
                                             metrics=parse_metrics(",".join(spec.metrics))))


def experiment_presets() -> list[str]:
    """Names of the experiment presets shipped with the package."""
    folder = resources.files("provgan.experiment") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_spec(name_or_path: str) -> ExperimentSpec:
    """An experiment preset by name (``digits-small``) or a YAML file, validated."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"experiment file '{name_or_path}' does not exist")
        text, origin, default = path.read_text(), str(path), path.stem
    else:
        names = experiment_presets()
        if name_or_path not in names:
            raise ConfigError(f"unknown experiment preset '{name_or_path}'; presets: {', '.join(names)} "
                              "(or give a YAML file)")
        text = (resources.files("provgan.experiment") / "presets" / f"{name_or_path}.yaml").read_text()
        origin, default = f"experiment preset {name_or_path}", name_or_path
    try:
        data = yaml_load(text) or {}
    except Exception as exc:  # noqa: BLE001 - a YAML syntax error is the user's to fix
        raise ConfigError(f"{origin}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    data.setdefault("name", default)
    return spec_from_dict(data)


def with_options(spec: ExperimentSpec, **changes: Any) -> ExperimentSpec:
    """``spec`` with command-line values (``None`` keeps the preset's); ``eval_*`` keys go to eval."""
    top = {k: v for k, v in changes.items() if v is not None and not k.startswith("eval_")}
    ev = {k[5:]: v for k, v in changes.items() if v is not None and k.startswith("eval_")}
    if "overrides" in top:
        top["overrides"] = spec.overrides + tuple(top["overrides"])
    if "systems" in top:
        top["systems"] = parse_systems(top["systems"])
    if "metrics" in top:
        from provgan.metrics.evaluate import parse_metrics
        top["metrics"] = parse_metrics(top["metrics"])
    spec = dataclasses.replace(spec, **top, eval=dataclasses.replace(spec.eval, **ev))
    return validate_spec(spec)


def score_shape_text(shape: Shape | tuple[int, ...]) -> str:
    return "x".join(map(str, shape))
