"""Training variants compared at equal kimg by their quality curves (README, "Learning curves").

Each variant is the ``benchmarks/learning/digits-16.yaml`` preset (the demo's digits-32 stopped at
8x16x16, where the digits take shape) plus a few overrides. Every run is scored during training by
the offline classifier (``run.classifier``; train one with ``provgan classifier train --level
8x16x16``), so the table reads the ``Metrics/`` rows the runs wrote: the classifier's sure share,
the effective number of digits, the IS, and the video SWD, at the kimg asked for.

    python benchmarks/learning.py --data demo/data/moving-digits --classifier clf16.pt \
        --out runs/learning --variants preset,reg1,lr2e-3 --kimg 32 --at 20,24,28,32

A run already in ``--out`` continues (``--resume auto``); ``--table-only`` just prints the table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from quality_curves import metric_rows  # noqa: E402 - the sibling script's reader of Metrics rows

PRESET = Path(__file__).with_name("learning") / "digits-16.yaml"

# name -> (what it changes, overrides of the preset)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "preset": ("digits-32 up to 8x16x16 (swgan, lr 5e-3, minibatch 8, lazy reg every 4th D step)", []),
    "wgan-gp": ("loss WGAN-GP (PGGAN)", ["loss.name=wgan-gp"]),
    "ns-r1": ("non-saturating logistic loss with R1, gamma 1", ["loss.name=ns", "loss.r1_gamma=1"]),
    "ns-r1-small": ("non-saturating logistic loss with R1, gamma 0.01 (StyleGAN2-ADA's rule at 16 px)",
                    ["loss.name=ns", "loss.r1_gamma=0.01"]),
    "reg1": ("the gradient penalty on every D step (thesis, reference code)", ["loss.reg_interval=1"]),
    "lr2e-3": ("learning rate 2e-3 at every level", ["schedule.lr_default=0.002"]),
    "lr1e-3": ("learning rate 1e-3 at every level (PGGAN)", ["schedule.lr_default=0.001"]),
    "batch16": ("minibatch 16 at 8x8x8 and 8x16x16", ["schedule.minibatch={4: 16, 8: 16, 16: 16}"]),
    "ncritic2": ("two D steps per G step", ["optim.n_critic=2"]),
    "wide": ("G and D channels 128, 128, 64", ["model.g_channels=[128, 128, 64]"]),
    "ema2": ("G EMA half-life 2 kimg", ["optim.ema_halflife_kimg=2"]),
    "mbstd8": ("minibatch-stddev group 8", ["model.mbstd_group=8"]),
    "gp5": ("SWGAN gradient penalty weight lambda1 5 instead of 50", ["loss.swgan_lambda1=5"]),
    "gp05": ("SWGAN gradient penalty weight lambda1 0.5 instead of 50", ["loss.swgan_lambda1=0.5"]),
    "center": ("G and D centred on the store's per-channel pixel mean (data.center)", ["data.center=true"]),
    "proj1": ("SWGAN feature-projection penalty weight lambda2 1 instead of 10", ["loss.swgan_lambda2=1"]),
    "bcast": ("every G block reads the latent as a bias broadcast over time and space",
              ["model.latent_broadcast=true"]),
    "tstd": ("bcast, and D sees the temporal stddev of its spatially pooled features",
             ["model.latent_broadcast=true", "model.temporal_std=true"]),
    "shuffle": ("a quarter of D's fake batch is real clips with their frames shuffled",
                ["loss.shuffled_fakes=0.25"]),
    "style": ("G's convolutions and toRGB modulated per clip by an affine map of pn(z) (StyleGAN2)",
              ["model.style_modulation=true"]),
    "fbase": ("G's first block draws one content map for all frames plus a code per frame",
              ["model.factorized_base=true"]),
    "rot": ("the critic also predicts the quarter turns of rotated real clips (SS-GAN's task, weight 1)",
            ["loss.rotation_weight=1"]),
    "skips": ("StyleGAN2's skip G and input-skip D: every level's toRGB and fromRGB stay in use",
              ["model.g_skips=true", "model.d_skips=true"]),
    "gskip": ("StyleGAN2's skip G alone", ["model.g_skips=true"]),
    "linup": ("trilinear instead of nearest upsampling in G's blocks", ["model.g_upsample=linear"]),
    "info": ("an unsupervised 10-way code in G's latent and InfoGAN's term at weight 0.02",
             ["model.latent_codes=10", "loss.info_weight=0.02"]),
    "frames": ("a second progressive critic on 4 single frames of every clip (DVD-GAN's spatial D)",
               ["model.frame_critic=4"]),
    "mapping": ("StyleGAN's mapping network, 2 layers, in front of G", ["model.mapping_layers=2"]),
    "cond": ("class-conditional G and D on the digit (not the demo's method; Metrics/agree)",
             ["model.conditional=true"]),
}

COLUMNS = (("Metrics/sure", "sure"), ("Metrics/classes", "digits"), ("Metrics/is", "IS"), ("Metrics/swd", "SWD"),
           ("Metrics/agree", "agree"))


def row_at(rows: list[dict], kimg: float) -> dict | None:
    """The row measured nearest ``kimg`` (within 1 kimg), or None."""
    near = [r for r in rows if abs(r["kimg"] - kimg) <= 1.0]
    return min(near, key=lambda r: abs(r["kimg"] - kimg)) if near else None


def cell(row: dict | None) -> str:
    if row is None:
        return "–"
    return "/".join(f"{row[k]:.2f}" if k != "Metrics/swd" else f"{row[k]:.0f}" for k, _ in COLUMNS if k in row)


def table(out: Path, names: list[str], at: list[float]) -> str:
    lines = ["| variant | what changes | " + " | ".join(f"{k:g} kimg" for k in at) + " |",
             "|---|---|" + "---|" * len(at)]
    ceiling = None
    for name in names:
        rows = metric_rows(out / name)
        if rows and ceiling is None and "Metrics/real/sure" in rows[-1]:
            r = rows[-1]
            ceiling = f"{r['Metrics/real/sure']:.2f}/{r['Metrics/real/classes']:.2f}/{r['Metrics/real/is']:.2f}"
        lines.append(f"| {name} | {VARIANTS[name][0]} | " + " | ".join(cell(row_at(rows, k)) for k in at) + " |")
    head = "cells: G_ema's classifier sure share / effective digits / IS / video SWD (x1e3) [/ agree, conditional]"
    if ceiling:
        head += f"; real clips at the top level: {ceiling}"
    return head + "\n" + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--classifier", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--variants", default="preset,reg1,lr2e-3", help=f"comma-separated: {', '.join(VARIANTS)}")
    ap.add_argument("--kimg", type=float, default=32)
    ap.add_argument("--at", default="20,24,28,32", help="kimg of the table's columns")
    ap.add_argument("--seed", type=int, default=0, help="run.seed of every variant (a second seed: another --out)")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"error: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if not args.table_only:
        for name in names:
            cmd = [sys.executable, "-m", "provgan", "train", "--config", str(PRESET), "--data", str(args.data),
                   "--out", str(args.out / name), "--resume", "auto", "--kimg", f"{args.kimg:g}",
                   "--seed", str(args.seed), f"run.classifier={args.classifier}", "data.label=digit", *VARIANTS[name][1]]
            print("$", " ".join(cmd[1:]), flush=True)
            if subprocess.run(cmd).returncode != 0:
                sys.exit(f"error: variant {name} failed")
    print(table(args.out, names, [float(k) for k in args.at.split(",")]))


if __name__ == "__main__":
    main()
