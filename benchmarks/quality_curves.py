"""Quality of G_ema over kimg for one or more runs, side by side: the README's learning curves.

Reads the ``Metrics/`` rows that ``run.metrics_kimg`` writes into each run's ``stats.jsonl`` and draws
one panel per metric (sure share, effective classes, IS, video SWD), a line per run, the real-clip
ceiling of the first run dashed, and dotted lines where its levels start. Prints the last row of
each run as a table too.

    python benchmarks/quality_curves.py runs/ref runs/wide --labels preset,wide --out docs/quality.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from provgan.report.curves import level_starts, series

PANELS = (("Metrics/sure", "classifier sure share"), ("Metrics/classes", "effective digits"),
          ("Metrics/is", "Inception Score"), ("Metrics/swd", "video SWD (x1e3)"))


def metric_rows(run: Path) -> list[dict]:
    rows = []
    for line in (run / "stats.jsonl").read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if any(k.startswith("Metrics/") for k in row):
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--labels", help="comma-separated names, one per run (default: folder names)")
    ap.add_argument("--out", type=Path, default=Path("quality-curves.png"))
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    labels = args.labels.split(",") if args.labels else [r.name for r in args.runs]
    runs = {label: metric_rows(run) for label, run in zip(labels, args.runs)}

    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.2), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(PANELS))
    first = next(iter(runs.values()))
    for ax, (key, title) in zip(axes, PANELS):
        for label, rows in runs.items():
            x, y = series(rows, key)
            ax.plot(x, y, label=label, linewidth=1.3)
        real = key.replace("Metrics/", "Metrics/real/")
        x, y = series(first, real)
        if x:
            ax.plot(x, y, color="0.3", linestyle="--", linewidth=1, label="real clips")
        for kimg, level in level_starts(first):
            ax.axvline(kimg, color="0.6", linestyle=":", linewidth=1)
            ax.annotate(f"L{level}", (kimg, 1), xycoords=("data", "axes fraction"), fontsize=7, color="0.4",
                        xytext=(2, -10), textcoords="offset points")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("kimg", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    if args.title:
        fig.suptitle(args.title, fontsize=10)
    fig.savefig(args.out, format="png")
    print(f"{'run':<16}{'kimg':>7}{'sure':>7}{'digits':>8}{'IS':>7}{'SWD':>7}")
    for label, rows in runs.items():
        if rows:
            r = rows[-1]
            vals = [r.get(k, math.nan) for k in ("Metrics/sure", "Metrics/classes", "Metrics/is", "Metrics/swd")]
            print(f"{label:<16}{r['kimg']:>7.1f}" + "".join(f"{v:>7.2f}" if i else f"{v:>7.2f}"
                                                            for i, v in enumerate(vals)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
