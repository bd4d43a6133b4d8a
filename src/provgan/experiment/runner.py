"""Run a plan: train every run through the real trainer, score it, write the tables; resumable.

The experiment folder::

    DIR/experiment.json            the spec and every command that started it
    DIR/classifier.pt              the offline IS/FID classifier, trained once
    DIR/ceilings/NATIVE-at-SCORE.json   real-data ceilings
    DIR/runs/SYSTEM/seedK/         a normal provgan run folder (checkpoints, config.yaml, samples)
        planned.json               its resolved config (a restart with other settings is refused)
        trained.json               written atomically when training has finished
        scores.json                its metrics, keyed by the protocol card
    DIR/results.json, results.md   rewritten after every run

A killed experiment started again with the same command skips every run with ``trained.json``
(never retrained: its checkpoints are not touched), resumes a partial run from its newest checkpoint
(``--resume auto``, exact), and reuses every score computed under the same protocol card.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from provgan.config import Shape, to_plain
from provgan.experiment.plan import (PLANNED, SCORES, TRAINED, Plan, PlannedRun, ceiling_path, check_planned,
                                     checkpoint_nimg, read_json, write_json)
from provgan.experiment.results import build_results, write_results
from provgan.experiment.scoring import card_hash, load_networks, protocol_card, score_ceiling, score_run
from provgan.experiment.spec import score_shape_text
from provgan.train import checkpoint as ckpt

log = logging.getLogger(__name__)


def record_start(plan: Plan) -> None:
    """``experiment.json``: the spec, the runs, and every command that started this folder."""
    path = plan.out / "experiment.json"
    earlier = read_json(path) or {}
    starts = earlier.get("starts", []) + [{"command": plan.command, "time": time.strftime("%Y-%m-%d %H:%M:%S")}]
    write_json(path, {"spec": to_plain(plan.spec), "data": str(plan.data), "starts": starts,
                      "runs": [{"run": r.key, "folder": str(r.folder)} for r in plan.runs]})


def train_run(run: PlannedRun, plan: Plan, show_progress: bool = True) -> dict[str, Any]:
    """Train one run to the budget (resuming a partial one) unless it has finished; its timing record."""
    from provgan.train.distributed import init_distributed
    from provgan.train.loop import run_training

    done = read_json(run.folder / TRAINED)
    if done is not None:
        log.info("%s: trained already (%s), not retrained", run.key, run.folder / TRAINED)
        return done
    check_planned(run)
    if not (run.folder / PLANNED).is_file():
        write_json(run.folder / PLANNED, to_plain(run.config))
    found = ckpt.list_checkpoints(run.folder)
    start_nimg = checkpoint_nimg(found[-1]) if found else 0
    log.info("%s: training %g kimg%s", run.key, run.config.schedule.total_kimg,
             f", resuming at {start_nimg / 1000:g} kimg" if start_nimg else "")
    started = time.perf_counter()
    trainer = run_training(run.config, plan.data, run.folder, init_distributed(run.config.run.device),
                           resume="auto", show_progress=show_progress)
    wall = time.perf_counter() - started
    nimg = trainer.progress.nimg
    rate = (nimg - start_nimg) / wall if nimg > start_nimg else None
    record = {"nimg": nimg, "steps": trainer.progress.step, "precision": trainer.precision,
              "resumed": start_nimg > 0, "segment_start_nimg": start_nimg, "segment_wall_s": wall,
              "clips_per_s": rate, "wall_s": nimg / rate if rate else None,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(run.folder / TRAINED, record)
    return record


def scores_of(run: PlannedRun, plan: Plan, opts, nets, card: dict) -> dict[str, Any]:
    """The run's scores under this protocol card: cached in ``scores.json``, else computed and cached."""
    key = card_hash(card, run.score_shape)
    cached = read_json(run.folder / SCORES)
    if cached is not None and cached.get("card") == key:
        return cached
    log.info("%s: scoring %d generated clips at %s", run.key, plan.num, score_shape_text(run.score_shape))
    started = time.perf_counter()
    record = score_run(run, plan, opts, nets)
    record |= {"card": key, "eval_s": time.perf_counter() - started}
    write_json(run.folder / SCORES, record)
    return record


def ceiling_of(native: Shape, score: Shape, plan: Plan, opts, nets, card: dict) -> dict[str, Any]:
    """The real-data ceiling at ``native`` scored at ``score``, cached like a run's scores."""
    path, key = ceiling_path(plan, native, score), card_hash(card, score)
    cached = read_json(path)
    if cached is not None and cached.get("card") == key:
        return cached
    log.info("real-data ceiling: %d real clips at %s scored at %s", plan.num, score_shape_text(native),
             score_shape_text(score))
    record = score_ceiling(native, score, plan, opts, nets) | {"card": key}
    write_json(path, record)
    return record


def run_experiment(plan: Plan, show_progress: bool = True) -> dict[str, Any]:
    """Train, score and tabulate every run of ``plan``; the results (also in DIR/results.*)."""
    plan.out.mkdir(parents=True, exist_ok=True)
    record_start(plan)
    opts, nets = load_networks(plan)  # before any training: a missing weights file fails now
    card = protocol_card(plan, opts, nets)
    ceilings = [ceiling_of(native, score, plan, opts, nets, card) for native, score in plan.ceiling_pairs()]
    records: dict[str, dict] = {}
    results: dict[str, Any] = {}
    for i, run in enumerate(plan.runs, 1):
        log.info("[%d/%d] %s (%s)", i, len(plan.runs), run.key, run.system.label)
        trained = train_run(run, plan, show_progress)
        records[run.key] = trained | scores_of(run, plan, opts, nets, card)
        results = build_results(plan, card, records, ceilings)
        write_results(plan.out, results)
    return results
