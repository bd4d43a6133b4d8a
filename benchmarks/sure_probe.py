"""What does the classifier's sure share measure: digit shapes, or how crisp and steady a clip is?

The learning curves of issue 14 read a generator's progress from an offline classifier's sure share
(digit probability > 0.8) and its effective number of digits. Before a plateau of that number is
blamed on the generator, this script asks what the number responds to. On real clips of the store
at the classifier's level it applies one degradation at a time and prints the coverage:

* a spatial Gaussian blur of sigma 0.5, 0.8 and 1.2 pixels on every frame;
* a hue drift along the strokes (a smooth random hue field of +-20, 45 and 90 OpenCV hue units),
  the "rainbow strokes" G draws;
* the frames shuffled in time, and the first frame repeated (no motion).

With a checkpoint it also scores G_ema and the raw G as they are and after an unsharp mask
(``x + a (x - blur(x))``), and prints every source's high-frequency share ``|x - blur(x)|^2 /
|x - mean|^2`` (blur sigma 0.8): whether G's clips are softer than the real ones.

    python benchmarks/sure_probe.py --data data/md --classifier clf16.pt --checkpoint runs/long/ckpt-000040.pt
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from provgan.data.store import open_store
from provgan.metrics.classifier import load_classifier, predict
from provgan.metrics.coverage import factor_coverage, label_factor
from provgan.video_grid import to_uint8


def blur(clips: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every frame of float (N, T, H, W, C) clips."""
    return np.stack([[cv2.GaussianBlur(frame, (0, 0), sigma) for frame in clip] for clip in clips])


def hue_drift(clips: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Shift every pixel's hue by a smooth random field (one per clip, the same in every frame)."""
    out = np.empty_like(clips)
    h, w = clips.shape[2:4]
    for i, clip in enumerate(clips):
        field = cv2.resize(rng.uniform(-strength, strength, (4, 4)).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_CUBIC)
        for t, frame in enumerate(np.clip(np.rint(clip), 0, 255).astype(np.uint8)):
            hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 0] = np.mod(hsv[..., 0] + field, 180)
            out[i, t] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return out


def high_frequency_share(clips: np.ndarray) -> float:
    return float(((clips - blur(clips, 0.8)) ** 2).mean() / ((clips - clips.mean()) ** 2).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--classifier", required=True, help="offline classifier of the store (its level is used)")
    ap.add_argument("--checkpoint", help="a run's checkpoint at the classifier's level: adds G_ema and G rows")
    ap.add_argument("--num", type=int, default=512, help="clips per row (the last clips of the store)")
    ap.add_argument("--factor", default="digit")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    classifier, _ = load_classifier(args.classifier)
    shape = tuple(classifier.clip_shape)
    store = open_store(args.data)
    sizes, factor = label_factor(store.label_names, args.factor)
    real = np.asarray(store.level(shape)[-args.num:]).astype(np.float32)
    rng = np.random.default_rng(0)

    def row(name: str, clips: np.ndarray) -> None:
        probs, _ = predict(classifier, np.clip(np.rint(clips), 0, 255).astype(np.uint8))
        c = factor_coverage(probs, sizes, factor)
        print(f"| {name} | {c.sure:.2f} | {c.effective:.2f} | {' '.join(map(str, c.counts))} |", flush=True)

    print(f"# {args.num} clips at {'x'.join(map(str, shape))}, classifier {args.classifier}; sure = digit probability > 0.8")
    print(f"| clips | sure | effective {args.factor}s | sure clips per {args.factor} |\n|---|---|---|---|")
    row("real", real)
    for sigma in (0.5, 0.8, 1.2):
        row(f"real, blur sigma {sigma}", blur(real, sigma))
    for strength in (20, 45, 90):
        row(f"real, hue drift +-{strength}", hue_drift(real, strength, rng))
    row("real, frames shuffled", real[:, rng.permutation(real.shape[1])])
    row("real, first frame repeated", np.repeat(real[:, :1], real.shape[1], axis=1))
    shares = {"real": high_frequency_share(real)}
    if args.checkpoint:
        from provgan.train.checkpoint import load_sampler

        sampler = load_sampler(args.checkpoint)
        if tuple(sampler.clip_shape) != shape:
            raise SystemExit(f"error: the checkpoint draws {sampler.clip_shape} clips, the classifier reads {shape}")
        z = torch.randn(args.num, sampler.latent_dim, generator=torch.Generator().manual_seed(123))
        fakes = {"G_ema": sampler.sample(z), "G": load_sampler(sampler.path, network="G").sample(z)}
        for name, clips in fakes.items():
            clips = to_uint8(clips).astype(np.float32)
            shares[name] = high_frequency_share(clips)
            row(name, clips)
            for amount in (1.0, 2.0):
                row(f"{name}, unsharp mask {amount}", clips + amount * (clips - blur(clips, 0.8)))
    print("# high-frequency share |x - blur(x)|^2 / |x - mean|^2: "
          + ", ".join(f"{k} {v:.3f}" for k, v in shares.items()))


if __name__ == "__main__":
    main()
