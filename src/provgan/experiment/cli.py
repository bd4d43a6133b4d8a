"""``provgan experiment table8``: the thesis' Tables 8.1 and 8.2 by one command."""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path

import click

from provgan.errors import ProvganError

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def experiment() -> None:
    """Train and score several systems with one budget, one store and one protocol."""


def canonical_command(preset: str, data: Path, out: Path, spec, extra: dict) -> str:
    """The command with every resolved value spelled out: running it again reproduces the experiment."""
    args = ["provgan", "experiment", "table8", "--preset", preset, "--data", str(data), "--kimg", f"{spec.kimg:g}",
            "--seeds", str(spec.seeds), "--systems", ",".join(spec.systems), "--metrics", ",".join(spec.metrics),
            "--num", str(spec.eval.num), "--out", str(out)]
    for flag, value in extra.items():
        if value:
            args += [flag, str(value)]
    return shlex.join(args)


@experiment.command("table8", context_settings={"show_default": True})
@click.option("--preset", default="digits-small", help="Experiment preset (digits-small, ucf101-thesis) or YAML file.")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Prepared store every system trains on.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Experiment folder (resumable).")
@click.option("--kimg", type=float, default=None, help="Clips shown per run, in thousands (the preset's).")
@click.option("--seeds", type=int, default=None, help="Seeds per system: 0..N-1 (the preset's).")
@click.option("--systems", default=None, help="Comma list of vgan,tgan,mocogan,prog-wgan-gp,prog-swgan.")
@click.option("--metrics", default=None, help="Comma list of is,fid,fvd,kvd,swd (the preset's).")
@click.option("--num", type=int, default=None, help="Clips per side for the metrics; 0: every store clip.")
@click.option("--classifier", type=click.Path(path_type=Path), default=None,
              help="Existing offline classifier for IS/FID (default: train one once per experiment).")
@click.option("--c3d", type=click.Path(path_type=Path), default=None, help="C3D weights for IS/FID (published protocol).")
@click.option("--protocol", default=None, help="Named metric protocol passed to evaluate (e.g. thesis, is-tgan17).")
@click.option("--i3d-weights", type=click.Path(path_type=Path), default=None, help="Converted I3D .pt for FVD.")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help="Weights cache folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Config override for every run of every system (repeatable), e.g. run.device=cuda.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its estimated time; train nothing.")
@click.option("--no-timing", is_flag=True, help="With --dry-run: skip the step timing (stored timings only).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def table8(preset, data, out, kimg, seeds, systems, metrics, num, classifier, c3d, protocol, i3d_weights, cache,
           overrides, dry_run, no_timing, quiet) -> None:
    """Train every system x seed on the same clips for the same budget, score all by one protocol.

    Writes DIR/results.md and DIR/results.json: mean ± std over seeds per system and metric, the
    real-data ceiling at each system's resolution, wall time and clips/s, the protocol card and the
    command. Run the same command again after a kill: finished runs are kept, a partial one resumes.

    \b
    Examples:
      provgan prepare --builtin moving-digits data/digits --plan digits-32
      provgan weights i3d
      provgan experiment table8 --data data/digits --out exp/digits --dry-run
      provgan experiment table8 --data data/digits --out exp/digits --systems prog-wgan-gp,prog-swgan
      provgan experiment table8 --preset ucf101-thesis --data data/ucf101 --c3d c3d-ucf101.pt \\
          --protocol thesis --out exp/ucf --set run.device=cuda
    """
    from provgan.experiment.plan import describe, make_plan
    from provgan.experiment.spec import load_spec, with_options

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ProvganError("provgan experiment runs in one process; train single runs with torchrun instead")
    spec = with_options(load_spec(preset), kimg=kimg, seeds=seeds, systems=systems, metrics=metrics,
                        overrides=overrides or None, eval_num=num, eval_protocol=protocol,
                        eval_classifier=str(classifier) if classifier else None,
                        eval_c3d=str(c3d) if c3d else None, eval_features="c3d" if c3d else None)
    extra = {"--classifier": classifier, "--c3d": c3d, "--protocol": protocol, "--i3d-weights": i3d_weights,
             "--cache": cache}
    command = canonical_command(preset, data, out, spec, extra)
    command += "".join(f" --set {shlex.quote(o)}" for o in overrides)
    plan = make_plan(spec, data, out, command, str(i3d_weights) if i3d_weights else None,
                     str(cache) if cache else None)
    if dry_run:
        click.echo("\n".join(describe(plan)))
        click.echo("\n".join(estimate_lines(plan, timing=not no_timing)))
        return
    from provgan.experiment.runner import run_experiment

    run_experiment(plan, show_progress=not quiet)
    click.echo(f"wrote {out / 'results.md'} and {out / 'results.json'}")


def estimate_lines(plan, timing: bool = True) -> list[str]:
    """The dry-run's time estimate, per system and in total, saying where each number comes from."""
    import math

    from provgan.experiment import timing as tm
    from provgan.experiment.results import duration

    lines = ["estimate (training: 'timed' = 2 steps per schedule phase on this machine, plus the checkpoints, "
             "sample grids and quality measurements the run writes, each timed once per level; 'measured' = a "
             "finished run in this folder):"]
    total = 0.0
    for est in tm.estimate_training(plan, timing=timing):
        part = est.seconds_per_run * est.remaining_runs
        total += part if math.isfinite(part) else 0.0
        lines.append(f"  {est.name:<14} {duration(est.seconds_per_run):>9} per run ({est.source}), "
                     f"{est.remaining_runs:.2f} runs to train: {duration(part)}")
    jobs = tm.scoring_jobs(plan)
    if timing and jobs:
        shape = plan.reference_shape
        per_clip = tm.seconds_per_scored_clip(plan, shape)
        # each job passes its generated clips; the real clips' features are computed once per score
        # shape and shared (provgan.metrics.real_cache)
        shapes = len({score for _, score in plan.ceiling_pairs()})
        scoring = per_clip * plan.num * (jobs + shapes)
        classifier = tm.seconds_for_classifier(plan)
        total += scoring + classifier
        lines.append(f"  scoring        {jobs} jobs (runs + ceilings) x {plan.num} generated clips + {shapes} x "
                     f"{plan.num} real at {per_clip * 1000:.1f} ms/clip (timed): {duration(scoring)}")
        if classifier:
            lines.append(f"  classifier     trained once (timed from one batch): {duration(classifier)}")
    lines.append(f"  total          {duration(total)} still to run")
    return lines
