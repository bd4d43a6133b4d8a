"""The plan of an experiment: every (system, seed) run resolved and checked before anything trains.

A plan holds each run's full config (preset, overrides, the shared budget, its seed), its folder, the
shape its samples are scored at, and the one set of evaluation options. Everything a run needs is
checked here: the store holds every level of every plan and every score shape, enough clips for the
evaluation, labels for the offline classifier (or a C3D file), and a run folder from an earlier
start was planned with the same config. So a typo fails in a second, not after two hours.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provgan.config import Config, ConfigError, Shape, build_dataclass, to_plain
from provgan.data.store import ClipStore, open_store
from provgan.errors import ProvganError
from provgan.experiment.spec import ExperimentSpec, score_shape_text
from provgan.experiment.systems import System, native_shape, require_runnable, run_config
from provgan.train import checkpoint as ckpt

PLANNED = "planned.json"  # the run's resolved config, written when it first starts
TRAINED = "trained.json"  # written atomically when its training has finished
SCORES = "scores.json"  # its metrics, keyed by the protocol card they were computed under


@dataclass(frozen=True)
class PlannedRun:
    """One system trained with one seed."""

    system: System
    seed: int
    config: Config
    folder: Path
    score_shape: Shape

    @property
    def native_shape(self) -> Shape:
        return native_shape(self.config)

    @property
    def key(self) -> str:
        return f"{self.system.name} seed {self.seed}"

    def status(self) -> str:
        """``done``, ``partial at X kimg`` or ``new``: where an earlier start of the experiment left it."""
        if (self.folder / TRAINED).is_file():
            return "done"
        found = ckpt.list_checkpoints(self.folder)
        return f"partial at {checkpoint_nimg(found[-1]) / 1000:g} kimg" if found else "new"


@dataclass(frozen=True)
class Plan:
    """Every run of an experiment, the store they share and the number of clips each side is scored on."""

    spec: ExperimentSpec
    data: Path
    out: Path
    command: str
    runs: tuple[PlannedRun, ...]
    store: ClipStore
    num: int  # evaluation clips per side (eval.num, or every store clip when it is 0)
    i3d_weights: str | None = None
    i3d_cache: str | None = None

    @property
    def systems(self) -> tuple[System, ...]:
        return tuple({r.system.name: r.system for r in self.runs}.values())

    def runs_of(self, name: str) -> tuple[PlannedRun, ...]:
        return tuple(r for r in self.runs if r.system.name == name)

    def ceiling_pairs(self) -> tuple[tuple[Shape, Shape], ...]:
        """Distinct (native shape, score shape) pairs: one real-data ceiling each."""
        return tuple(dict.fromkeys((r.native_shape, r.score_shape) for r in self.runs))

    @property
    def reference_shape(self) -> Shape:
        """The largest score shape: where the offline classifier is trained."""
        return max((r.score_shape for r in self.runs), key=lambda s: s[0] * s[1] * s[2])

    @property
    def needs_is_net(self) -> bool:
        return bool({"is", "fid"} & set(self.spec.metrics))


def checkpoint_nimg(path: Path) -> int:
    """Clips shown of a checkpoint file, from its name (``ckpt-000012.500.pt`` -> 12500)."""
    m = ckpt.CKPT_RE.match(path.name)
    if m is None:
        raise ValueError(f"{path.name} is not a checkpoint name")
    return int(m.group(1)) * 1000 + int(m.group(2) or 0)


def make_plan(spec: ExperimentSpec, data: Path, out: Path, command: str, i3d_weights: str | None = None,
              i3d_cache: str | None = None) -> Plan:
    """Resolve and check every run (seed-major, so a partial experiment has every system early)."""
    systems = [require_runnable(spec.resolved_system(name)) for name in spec.systems]
    runs = []
    for seed in range(spec.seeds):
        for system in systems:
            cfg = run_config(system, spec.overrides, spec.kimg, seed)
            score = system.score_shape or native_shape(cfg)
            runs.append(PlannedRun(system, seed, cfg, out / "runs" / system.name / f"seed{seed}", tuple(score)))
    shapes = {s for r in runs for s in (*r.config.model.plan, r.score_shape)}
    store = open_store(data, shapes=sorted(shapes))
    num = spec.eval.num or store.num_clips
    if num > store.num_clips:
        raise ProvganError(f"store {store.path} holds {store.num_clips} clips, fewer than the {num} the "
                           f"evaluation scores per side: pass a smaller --num or prepare a larger store")
    plan = Plan(spec, Path(data), Path(out), command, tuple(runs), store, num, i3d_weights, i3d_cache)
    _check_scoring(plan)
    for run in runs:
        check_planned(run)
    return plan


def _check_scoring(plan: Plan) -> None:
    e = plan.spec.eval
    if e.protocol:
        from provgan.metrics.evaluate import EvalOptions

        if "protocol" not in {f.name for f in dataclasses.fields(EvalOptions)}:
            raise ConfigError(f"protocol '{e.protocol}' needs named metric protocols (issue 16), which this "
                              "provgan does not have yet: leave --protocol out to use provgan's default protocol")
    if not plan.needs_is_net:
        return
    if e.features == "c3d":
        if not e.c3d or not Path(e.c3d).is_file():
            raise ProvganError(f"experiment {plan.spec.name} scores IS and FID on C3D: pass --c3d FILE "
                               f"(a public-layout C3D state dict){'; ' + e.c3d + ' does not exist' if e.c3d else ''}")
    elif e.classifier:
        if not Path(e.classifier).is_file():
            raise ProvganError(f"classifier {e.classifier} does not exist: train one with `provgan classifier "
                               "train`, or leave --classifier out and the experiment trains its own")
    elif plan.store.labels is None:
        raise ProvganError(f"store {plan.store.path} has no labels, so no offline classifier can be trained "
                           "for IS and FID: pass --c3d FILE, or drop is,fid from --metrics")


def check_planned(run: PlannedRun) -> None:
    """A run folder from an earlier start must have been planned with exactly this config."""
    path = run.folder / PLANNED
    if not path.is_file():
        return
    saved = json.loads(path.read_text())
    try:  # settings added to provgan since then take their defaults, as a resumed checkpoint's do
        saved = to_plain(build_dataclass(Config, saved))
    except ConfigError:
        pass  # a setting since removed: compared as written, so it shows in the difference
    before, now = _flat(saved), _flat(to_plain(run.config))
    diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if diff:
        raise ProvganError(f"{run.folder} was started with other settings ({', '.join(diff[:4])} differ): "
                           f"rerun with the same options, or use a new --out")


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out |= _flat(v, f"{prefix}{k}.")
        return out
    return {prefix[:-1]: json.dumps(tree)}


def ceiling_path(plan: Plan, native: Shape, score: Shape) -> Path:
    """Where the real-data ceiling at ``native`` resolution scored at ``score`` is cached."""
    return plan.out / "ceilings" / f"{score_shape_text(native)}-at-{score_shape_text(score)}.json"


def write_json(path: Path, record: Any) -> Path:
    """Write JSON atomically (temp file, fsync, rename): a kill leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(json.dumps(record, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_json(path: Path) -> dict | None:
    """A marker written by :func:`write_json`, or None when it is absent."""
    return json.loads(path.read_text()) if path.is_file() else None


def describe(plan: Plan) -> list[str]:
    """The plan as lines of text: one per system, then the runs' folders and states."""
    s = plan.spec
    lines = [f"experiment {s.name}: {len(plan.systems)} systems x {s.seeds} seeds = {len(plan.runs)} runs of "
             f"{s.kimg:g} kimg each; metrics {','.join(s.metrics)} on {plan.num} clips per side",
             f"{'system':<14}{'label':<11}{'preset':<16}{'trained at':>11}{'scored at':>11}  overrides"]
    for system in plan.systems:
        first = plan.runs_of(system.name)[0]
        lines.append(f"{system.name:<14}{system.label:<11}{Path(system.preset).stem:<16}"
                     f"{score_shape_text(first.native_shape):>11}{score_shape_text(first.score_shape):>11}  "
                     f"{' '.join(system.overrides + s.overrides) or '-'}")
    lines.append("runs:")
    lines += [f"  {r.key:<24} {r.status():<22} {r.folder}" for r in plan.runs]
    return lines
