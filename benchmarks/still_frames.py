"""A store of still frames cut from a clip store: the image version of the same data.

Issue 14 asks why the demo's generator draws so few recognisable digits. Training on single frames
(a plan of T = 1 levels) removes time from the question at an eighth of the cost per sample: if the
same networks, loss and schedule learn the still frames no better, the plateau is not about motion.
This writes every ``--every``-th frame of every clip at ``--level`` as a one-frame clip, shuffled
(with the clip's label), and the box-filter pyramid below it in space only:

    python benchmarks/still_frames.py data/md data/md-still --level 8x16x16
    provgan classifier train --data data/md-still --out clf-still.pt --level 1x16x16 --epochs 8
    provgan train --config benchmarks/learning/still-16.yaml --data data/md-still --out runs/still16 \\
        --kimg 30 run.classifier=clf-still.pt data.label=digit
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from provgan.data.store import StoreWriter, open_store, pool_levels


def still_shapes(height: int, width: int) -> list[tuple[int, int, int]]:
    """(1, 4, 4), (1, 8, 8), ... up to (1, height, width): the spatial pyramid of one frame."""
    shapes, h, w = [], height, width
    while h >= 4 and w >= 4:
        shapes.append((1, h, w))
        h, w = h // 2, w // 2
    return shapes[::-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="a prepared clip store")
    ap.add_argument("out", type=Path, help="the still-frame store to write")
    ap.add_argument("--level", default="8x16x16", help="level TxHxW of SRC to cut frames from")
    ap.add_argument("--every", type=int, default=2, help="keep every N-th frame of a clip")
    ap.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.level.split("x"))
    src = open_store(args.src, shapes=[shape])
    clips = np.asarray(src.level(shape))
    frames = clips[:, :: args.every]
    per_clip = frames.shape[1]
    frames = frames.reshape(-1, 1, *shape[1:], clips.shape[-1])
    labels = np.repeat(src.labels, per_clip) if src.labels is not None else None
    order = np.random.default_rng(args.seed).permutation(len(frames))
    frames = frames[order]
    labels = labels[order] if labels is not None else None
    shapes = still_shapes(*shape[1:])
    keep = {k: src.manifest[k] for k in ("preset", "source", "labels") if k in src.manifest}
    keep["still_frames"] = {"from": str(args.src), "level": args.level, "every": args.every, "seed": args.seed}
    with StoreWriter(args.out, shapes, len(frames), labelled=labels is not None) as writer:
        writer.add(pool_levels(frames, shapes), labels)
        writer.finish(keep)
    print(f"wrote {len(frames)} still frames of {shape[1]}x{shape[2]} ({per_clip} per clip) to {args.out}")


if __name__ == "__main__":
    main()
