"""Score every checkpoint of a run with the training-time quality probe and one classifier.

A run scored during training with one classifier (say the demo's, at 16x32x32) can be put beside
runs scored with another (a classifier at 8x16x16) by scoring its checkpoints again: the probe is
the one ``run.metrics_kimg`` uses (:class:`provgan.train.quality.QualityProbe`: the same latents,
real clips, uint8 rounding and SWD), so the rows equal what the run would have written with that
classifier. Train with ``run.keep_checkpoints`` large enough to keep the checkpoints you want.
The rows go to ``--out`` as a stats.jsonl that ``benchmarks/quality_curves.py`` draws.

    python benchmarks/score_checkpoints.py runs/ref --data demo/data/moving-digits \
        --classifier clf-8x16x16.pt --level 8x16x16 --out runs/ref-clf16
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from provgan.config import config_from_dict
from provgan.data.store import open_store
from provgan.registry import build_generator, position_reached
from provgan.train.checkpoint import list_checkpoints, read_checkpoint
from provgan.train.quality import QualityProbe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a folder of ckpt-*.pt files")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--classifier", type=Path, required=True)
    ap.add_argument("--label", default="digit", help="the label factor (data.label)")
    ap.add_argument("--level", default=None, help="score only checkpoints at this level, e.g. 8x16x16")
    ap.add_argument("--out", type=Path, required=True, help="folder for the stats.jsonl of the rows")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    args.out.mkdir(parents=True, exist_ok=True)
    probe, rows = None, []
    for path in list_checkpoints(args.run):
        data = read_checkpoint(path)
        cfg = config_from_dict(data["config"])
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, classifier=str(args.classifier)),
                                  data=dataclasses.replace(cfg.data, label=args.label))
        pos = data["position"]
        level, alpha = position_reached(cfg, pos)
        if args.level and "x".join(map(str, cfg.model.plan[level])) != args.level:
            continue
        if probe is None:
            probe = QualityProbe(cfg, open_store(args.data, shapes=cfg.model.plan), torch.device("cpu"))
        g = build_generator(cfg)
        g.load_state_dict(data["models"]["G_ema"])
        values = probe.measure(g, level, alpha)
        row = {"kimg": int(pos["nimg"]) / 1000, **{f"Metrics/{k}": v for k, v in values.items()},
               "Progress/level": float(level), "Progress/alpha": alpha}
        rows.append(row)
        print(f"{row['kimg']:6.1f} kimg  " + "  ".join(f"{k[8:]} {v:.3g}" for k, v in row.items()
                                                       if k.startswith("Metrics/") and "swd_" not in k), flush=True)
    (args.out / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
