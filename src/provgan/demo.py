"""``make demo``: the main job end to end on the embedded dataset, nothing downloaded.

1. ``provgan prepare --builtin moving-digits`` renders real handwriting (scikit-learn's bundled digits)
   into moving clips and stores them per level of the ``digits-demo`` plan: one digit per clip, 1.5x
   the default size, white on a dark background, upright, bouncing at 0.3x the default speed or sliding
   (:data:`DEMO_DATA`; README, "Not time, not this code: the data", "The demo" and "Upright digits");
2. ``provgan classifier train`` fits the offline video classifier on those clips at the top level, so
   the run can be judged by the number a reader checks first: how many generated clips show a
   recognisable digit, and how many different digits they show;
3. ``provgan train --config digits-demo --loss swgan`` grows G and D from 4x4x4 to 8x32x32, scoring
   G_ema with that classifier and the video SWD every ``run.metrics_kimg`` (the report's curves);
4. the sample grid of every level is written as mp4 and gif; ``provgan interpolate`` makes the
   Appendix B interpolation grid, ``provgan evaluate`` the (weight-free) video SWD against real clips,
   and ``provgan report`` one HTML page with all of it.

Each step is the real CLI, run as a subprocess and printed, so the demo doubles as a tutorial.
Re-running continues an unfinished demo (``--resume auto``) and reuses the prepared data.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path


# The demo's data: one digit per clip, 1.5x the default size, white (Moving MNIST's look), moving by
# the two motions that keep it upright and of one size (bounce, at 0.3x its default speed, and slide).
# Measured on still frames (README, "Not time, not this code: the data"): the default store's two small
# coloured digits are learned no better by a textbook image GAN with 7x the clips than by this one, and
# one larger digit per clip doubles the share of frames a classifier is sure of at 30 kimg. Measured at
# the demo's budget (README, "The demo"): the slower bounce and spin, a digit moving under a pixel a
# frame at 16x32x32, keep the shapes through the final fade into 16x32x32 (7.2 effective digits against
# 3.9, classifier-FID 51 against 92); and without the spin and the zoom, G draws each digit at one angle
# and one size rather than at every one, and the classifier is sure of 0.55 of its clips at 26 kimg
# where all four motions give 0.32 (README, "Upright digits")
DEMO_DATA = {"max_digits": 1, "colour": "white", "digit_scale": 1.5, "motion_speed": 0.3,
             "motions": ("bounce", "slide")}


def demo_data_flags() -> list[str]:
    """DEMO_DATA as `provgan prepare` options, in its order (``--max-digits 1 --colour white ...``)."""
    return [arg for key, value in DEMO_DATA.items()
            for arg in (f"--{key.replace('_', '-')}", ",".join(value) if isinstance(value, tuple) else str(value))]


def check_demo_data(data: Path, config: str) -> None:
    """A store left in the demo folder by an older demo (other data options, or another plan) is
    refused in one line.

    A manifest written before an option existed lacks it: the store was made with its default."""
    import inspect

    from provgan.config import load_config
    from provgan.data.prepare import prepare_builtin

    defaults = inspect.signature(prepare_builtin).parameters
    manifest = json.loads((data / "manifest.json").read_text())
    source = manifest.get("source", {})
    found = {k: source.get(k, defaults[k].default) for k in DEMO_DATA}
    found = {k: tuple(v) if isinstance(v, list) else v for k, v in found.items()}  # JSON keeps tuples as lists
    again = f"delete {data.parent.parent} (or give --out NEW) and run the demo again"
    if found != DEMO_DATA:
        sys.exit(f"error: {data} was prepared with {found}, the demo now uses {DEMO_DATA}: {again}")
    plan = [list(s) for s in load_config(config).model.plan]
    if manifest.get("plan") != plan:
        sys.exit(f"error: {data} holds the levels {manifest.get('plan')}, the demo's --config {config} "
                 f"trains {plan}: {again}")


def run(args: list[str]) -> None:
    shown = " ".join(shlex.quote(a) for a in ["provgan", *args])
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run([sys.executable, "-m", "provgan", *args])
    if result.returncode != 0:
        sys.exit(result.returncode)


def final_quality(stats: Path) -> dict[str, float]:
    """The last ``Metrics/`` row of a run's stats.jsonl (the probe at the end of training), or {}."""
    last: dict[str, float] = {}
    if stats.is_file():
        for line in stats.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if any(k.startswith("Metrics/") for k in row):
                last = row
    return last


def summary_line(row: dict[str, float]) -> str:
    """One line a user compares with the README: SWD, and the classifier's view of the final samples."""
    parts = [f"G_ema at {row['kimg']:g} kimg: video SWD {row['Metrics/swd']:.1f} (x1e3)"]
    if "Metrics/sure" in row:
        parts.append(f"classifier sure of {row['Metrics/sure']:.2f} of the clips, {row['Metrics/classes']:.1f} "
                     f"effective digits (real clips: {row['Metrics/real/sure']:.2f}, "
                     f"{row['Metrics/real/classes']:.1f}), IS {row['Metrics/is']:.2f}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo", help="folder for the data, the run and the report")
    ap.add_argument("--config", default="digits-demo")
    ap.add_argument("--kimg", type=float, default=None, help="override the preset's total kimg")
    ap.add_argument("--classifier-epochs", type=int, default=6,
                    help="epochs of the offline classifier the run is scored with")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="config overrides for the training run, e.g. optim.ema_halflife_kimg=2")
    args = ap.parse_args(argv)
    out = Path(args.out)
    data, run_dir = out / "data" / "moving-digits", out / "run"
    classifier = out / "classifier.pt"
    started = time.perf_counter()
    if not (data / "manifest.json").is_file():
        run(["prepare", "--builtin", "moving-digits", str(data), "--plan", args.config, *demo_data_flags()])
    check_demo_data(data, args.config)
    if not classifier.is_file():
        run(["classifier", "train", "--data", str(data), "--out", str(classifier),
             "--epochs", str(args.classifier_epochs)])
    train = ["train", "--config", args.config, "--data", str(data), "--out", str(run_dir), "--loss", "swgan",
             "--resume", "auto", f"run.classifier={classifier}", "data.label=digit"]
    if args.kimg is not None:
        train += ["--kimg", str(args.kimg)]
    train += args.overrides
    run(train)
    run(["interpolate", str(run_dir), "--seeds", "0,1,2,3", "--steps", "8",
         "--out", str(run_dir / "samples" / "interpolation.mp4")])
    run(["evaluate", str(run_dir), "--data", str(data), "--metrics", "swd", "--num", "512"])
    report = run_dir / "report.html"
    run(["report", str(run_dir), "--out", str(report)])
    finals = sorted((run_dir / "samples").glob("level*-final.mp4"))
    print(f"\ndemo finished in {(time.perf_counter() - started) / 60:.1f} min")
    final = final_quality(run_dir / "stats.jsonl")
    if final:
        print(summary_line(final))
    print("final sample grid of each level (mp4; a .gif and a .png of three frames sit beside each):")
    for path in finals:
        print(f"  {path}")
    if report.is_file():
        print(f"report: {report}")


if __name__ == "__main__":
    main()
