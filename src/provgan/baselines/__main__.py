"""``python -m provgan.baselines --shape 16x64x64 --width 1 [--time BATCH]``: parameter counts, and
with ``--time`` the wall time of one update of each baseline on this machine (timing.py)."""

from __future__ import annotations

import argparse
import sys

from provgan.baselines.builders import BUILDERS, build_baseline, parameter_table
from provgan.baselines.timing import time_updates
from provgan.errors import ProvganError


def parse_shape(text: str) -> tuple[int, int, int]:
    try:
        t, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be TxHxW, e.g. 16x64x64, got '{text}'") from None
    return t, h, w


def print_times(args: argparse.Namespace) -> None:
    precision = "bf16" if args.bf16 else "fp32"
    print(f"\n| arch | s / update at {args.time} clips, {precision} | clips / s | CPU s / update |\n|---|---|---|---|")
    for arch in [a.strip() for a in args.arch.split(",") if a.strip()]:
        parts = build_baseline(arch, args.shape, args.channels, args.width)
        t = time_updates(parts, args.shape, args.channels, args.time, args.steps, bf16=args.bf16)
        print(f"| {arch} | {t.seconds_per_step:.2f} | {t.clips_per_second:.1f} | {t.cpu_seconds_per_step:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provgan.baselines", description=__doc__)
    parser.add_argument("--shape", type=parse_shape, default=(16, 64, 64), help="clip T x H x W (default 16x64x64)")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (default 1)")
    parser.add_argument("--channels", type=int, default=3, help="image channels (default 3)")
    parser.add_argument("--time", type=int, default=0, metavar="BATCH",
                        help="also time updates at this many clips per step (default: off)")
    parser.add_argument("--steps", type=int, default=3, help="timed updates per baseline (default 3)")
    parser.add_argument("--bf16", action="store_true", help="time under CPU autocast to bfloat16")
    parser.add_argument("--arch", default=",".join(BUILDERS), help="baselines to time, comma-separated (default all)")
    args = parser.parse_args(argv)
    try:
        print("\n".join(parameter_table(args.shape, args.width, args.channels)))
        if args.time > 0:
            print_times(args)
    except ProvganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
