"""The tables: mean +- std over seeds per system and metric, the ceilings, timings and the protocol.

``results.json`` holds every number (per run, per system, per ceiling) and the protocol card;
``results.md`` is the same as a page a reader can paste into a paper or the README: the exact
command first, then Table 8.1/8.2 in one table (one row per system, one per real-data ceiling), the
per-run values, the protocol and the settings each system used. Both are rewritten (atomically)
after every run, so a partial experiment already has its partial table.
"""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from provgan.experiment.plan import Plan, write_json
from provgan.experiment.spec import score_shape_text

HIGHER_IS_BETTER = {"is": True, "fid": False, "fvd": False, "kvd": False, "swd": False}
NAMES = {"is": "IS", "fid": "FID", "fvd": "FVD", "kvd": "KVD", "swd": "SWD"}


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof 1, the spread of a few seeds) of finite values.

    One value has no spread: std is NaN (shown as a dash). Non-finite values are left out and counted.
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "n": n, "non_finite": len(values) - n}


def summarize(per_seed: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """{metric: mean_std over the runs that have it} for every metric any run reports."""
    keys = list(dict.fromkeys(k for run in per_seed for k in run))
    return {k: mean_std([run[k] for run in per_seed if k in run]) for k in keys}


def machine() -> str:
    """The CPU or GPU the experiment ran on, for the header."""
    from provgan.train.hardware import cpu_name

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu_name()
    return f"{device}; {torch.get_num_threads()} threads; torch {torch.__version__}; python {platform.python_version()}"


def _optimizer_text(spec) -> str:
    """One optimizer as a reader compares it: ``adam lr 0.0002 betas (0.5, 0.999) wd 1e-05``."""
    text = f"{spec.name} lr {spec.lr:g}"
    text += f" alpha {spec.alpha:g}" if spec.name == "rmsprop" else f" betas ({spec.betas[0]:g}, {spec.betas[1]:g})"
    return text + (f" wd {spec.weight_decay:g}" if spec.weight_decay else "")


def system_settings(cfg) -> dict[str, Any]:
    """The settings a reader needs to judge a comparison (loss, optimizers, EMA, batch, mirror).

    A progressive system's optimizers follow the schedule (per-resolution lr, one Adam setting for G,
    D and the head); a baseline keeps each network's own optimizer as its original code sets it
    (TGAN's RMSprop, MoCoGAN's Adam with weight decay), so those are read from the networks it
    builds, not from ``cfg.optim``, which a baseline does not use.
    """
    from provgan.registry import build_parts

    o, s = cfg.optim, cfg.schedule
    settings: dict[str, Any] = {"loss": cfg.loss.name}
    parts = build_parts(cfg)
    if parts.schedule_lr:
        settings |= {"optimizer": o.name, "lr": s.lr_default, "lr_per_resolution": dict(s.lr),
                     "adam_betas": [o.beta1, o.beta2], "d_lr_mult": o.d_lr_mult}
    else:
        settings["optimizers"] = {"G": _optimizer_text(parts.g_optimizer)} | {
            name: _optimizer_text(part.optimizer) for name, part in parts.critics.items()}
    settings |= {"n_critic": o.n_critic,
                 "g_ema": f"half-life {o.ema_halflife_kimg:g} kimg" if o.ema_halflife_kimg > 0 else f"beta {o.ema_beta:g}",
                 "minibatch": dict(s.minibatch) or s.minibatch_default, "mirror": cfg.data.mirror,
                 "reg_interval": cfg.loss.reg_interval, "precision": cfg.run.precision,
                 "arch": cfg.model.arch, "width": cfg.model.width}
    return settings


def build_results(plan: Plan, card: dict, runs: dict[str, dict], ceilings: list[dict]) -> dict[str, Any]:
    """``results.json``: ``runs`` maps a run's key to its merged trained/scores records."""
    systems = []
    for system in plan.systems:
        planned = plan.runs_of(system.name)
        done = {r.seed: runs[r.key] for r in planned if r.key in runs and "metrics" in runs[r.key]}
        walls = [d["wall_s"] for d in done.values() if d.get("wall_s") is not None]
        systems.append({
            "name": system.name, "label": system.label, "preset": system.preset,
            "overrides": list(system.overrides + plan.spec.overrides),
            "native_shape": list(planned[0].native_shape), "score_shape": list(planned[0].score_shape),
            "settings": system_settings(planned[0].config),
            "runs": {str(seed): d for seed, d in done.items()},
            "summary": summarize([d["metrics"] for d in done.values()]),
            "wall_s": mean_std(walls), "clips_per_s": mean_std([d.get("clips_per_s") for d in done.values()]),
        })
    return {"command": plan.command, "experiment": plan.spec.name,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
            "budget_kimg": plan.spec.kimg, "seeds": list(range(plan.spec.seeds)), "metrics": list(plan.spec.metrics),
            "runs_planned": len(plan.runs), "runs_finished": sum(len(s["runs"]) for s in systems),
            "protocol": card, "systems": systems, "ceilings": ceilings}


def _num(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def _cell(summary: dict[str, float] | None) -> str:
    if not summary or not summary["n"]:
        return "-"
    text = _num(summary["mean"]) + (f" ± {_num(summary['std'])}" if summary["n"] > 1 else "")
    return text + (f" ({summary['non_finite']} non-finite)" if summary.get("non_finite") else "")


def duration(seconds: float | None) -> str:
    """``42 s``, ``6.3 min`` or ``2.15 h``; a dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.2f} h"


def main_table(results: dict[str, Any]) -> list[str]:
    """One row per system (mean ± std over seeds) and one per real-data ceiling."""
    metrics = results["metrics"]
    head = ["system", "trained at", "scored at", "seeds"]
    head += [f"{NAMES[m]} {'↑' if HIGHER_IS_BETTER[m] else '↓'}" for m in metrics]
    head += ["train time / run", "clips/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in results["systems"]:
        cells = [f"{s['label']} (`{s['name']}`)", score_shape_text(s["native_shape"]),
                 score_shape_text(s["score_shape"]), str(len(s["runs"]))]
        cells += [_cell(s["summary"].get(m)) for m in metrics]
        cells += [duration(s["wall_s"]["mean"]), _num(s["clips_per_s"]["mean"])]
        lines.append("| " + " | ".join(cells) + " |")
    for c in results["ceilings"]:
        values = c["metrics"]
        cells = [f"real clips at {score_shape_text(c['native_shape'])} (ceiling)",
                 score_shape_text(c["native_shape"]), score_shape_text(c["score_shape"]), "-"]
        cells += [_num(values.get(m)) for m in metrics] + ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def run_table(results: dict[str, Any]) -> list[str]:
    metrics = results["metrics"]
    lines = ["| run | " + " | ".join(NAMES[m] for m in metrics) + " | train time | clips/s | resumed |",
             "|" + "---|" * (len(metrics) + 4)]
    for s in results["systems"]:
        for seed, d in s["runs"].items():
            cells = [f"{s['name']} seed {seed}"] + [_num(d["metrics"].get(m)) for m in metrics]
            cells += [duration(d.get("wall_s")), _num(d.get("clips_per_s") or math.nan),
                      "yes" if d.get("resumed") else "no"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    r = results
    lines = [f"# Experiment table8: {r['experiment']}", "", "```bash", r["command"], "```", "",
             f"Budget {r['budget_kimg']:g} kimg (thousands of real clips shown) per run; seeds "
             f"{', '.join(map(str, r['seeds']))}; {r['runs_finished']} of {r['runs_planned']} runs finished; "
             f"{r['machine']}; updated {r['updated']}.", "", *main_table(r), "",
             "Mean ± sample standard deviation (ddof 1) over seeds; ↑ higher is better, ↓ lower is better. "
             "A ceiling row scores real clips at that resolution by the same protocol. Train time is the "
             "training wall time of a run (a resumed run: its last segment's clips/s over the whole budget).",
             "", "## Runs", "", *run_table(r), "", "## Protocol", ""]
    for key, value in r["protocol"].items():
        if isinstance(value, dict):
            lines += [f"- {key}:"] + [f"  - {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"- {key}: {value}")
    lines += ["", "## Settings of each system", ""]
    for s in r["systems"]:
        settings = ", ".join(f"{k} {v}" for k, v in s["settings"].items())
        lines.append(f"- `{s['name']}` ({s['label']}): preset `{s['preset']}`, overrides "
                     f"`{' '.join(s['overrides']) or '-'}`; {settings}")
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` atomically; (json path, md path)."""
    json_path = write_json(out / "results.json", _json_safe(results))
    md = out / "results.md"
    tmp = md.with_name(".results.md.tmp")
    tmp.write_text(render_markdown(results))
    tmp.replace(md)
    return json_path, md


def _json_safe(tree: Any) -> Any:
    """NaN and infinities as null: strict JSON readers reject them."""
    if isinstance(tree, dict):
        return {k: _json_safe(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_json_safe(v) for v in tree]
    if isinstance(tree, float) and not math.isfinite(tree):
        return None
    return tree
