"""Which digits does a moving-digits generator draw? A diagnostic table, not a test.

Samples ``--num`` clips from a checkpoint's EMA generator (and its raw G) at the level it reached,
classifies them with an offline classifier trained on the same store at that level
(``provgan classifier train --data STORE --level 8x16x16 --out clf.pt``), and prints per source:
the share of clips the classifier is sure of (digit probability > 0.8, summed over the 4 motions),
how those sure clips spread over the 10 digits, and the effective number of digits among them
(exp of the entropy: 10 for a uniform spread, 1 when every sure clip is the same digit). With
``--data`` (the store, for its label names), the first real clips of the store at the same level give
the reference row. The counting is :mod:`provgan.metrics.coverage`, as in the training curves.

A second table reads every clip, sure or not: how many clips each digit is the most likely one of,
and the classifier's mean probability of that digit over them. It tells a generator that drops
digits (a count near 0) from one that draws them all but unclearly (counts near the real row's,
probabilities well under the real clips').

``--sample-grid`` reads the run's own sample grid (the fixed latents of ``run.sample_grid``, the grid
``level*-final.png`` draws) cell by cell: the most likely digit of every clip, upper row first, with a
``?`` where the classifier is not sure. It puts a number on "which digits can be read in the grid".

    python benchmarks/digit_coverage.py demo/run clf-8x16x16.pt --data demo/data/moving-digits
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from provgan.data.store import open_store
from provgan.metrics.classifier import load_classifier, predict, to_tensor
from provgan.metrics.coverage import SURE, factor_coverage, factor_probabilities, label_factor
from provgan.metrics.resize import resize_clips
from provgan.train.checkpoint import load_sampler
from provgan.video_grid import to_uint8



def class_probabilities(classifier, clips: torch.Tensor) -> np.ndarray:
    """(N, C, T, H, W) in [-1, 1] -> (N, K) class probabilities, through the same uint8 rounding as the
    real clips the classifier saw."""
    probs, _ = predict(classifier, to_uint8(resize_clips(clips, tuple(classifier.clip_shape))))
    return probs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="checkpoint file or run folder")
    ap.add_argument("classifier", help="offline classifier trained at the checkpoint's level")
    ap.add_argument("--num", type=int, default=512)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--data", help="the store the run trained on: adds a row of real clips", required=True)
    ap.add_argument("--factor", default="digit", help="label factor counted (default: digit)")
    ap.add_argument("--sample-grid", action="store_true",
                    help="also read the run's sample grid (its fixed latents) cell by cell")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    classifier, _ = load_classifier(args.classifier)
    sampler = load_sampler(args.checkpoint)
    z = torch.randn(args.num, sampler.latent_dim, generator=torch.Generator().manual_seed(args.seed))
    rows = {"G_ema": sampler.sample(z), "G": load_sampler(sampler.path, network="G").sample(z)}
    store = open_store(args.data, shapes=sampler.config.model.plan)
    rows["real"] = to_tensor(store.level(sampler.clip_shape)[:args.num])
    sizes, factor = label_factor(store.label_names, args.factor)
    shape = "x".join(map(str, sampler.clip_shape))
    print(f"# {sampler.path} (kimg {sampler.kimg:g}, level {sampler.level} {shape}, alpha {sampler.alpha:.2f}); "
          f"{args.num} clips; sure = digit probability > {SURE}")
    print(f"{'source':<7}{'sure':>6}{'classes':>8}  sure clips per {args.factor or 'class'}")
    probs = {name: class_probabilities(classifier, clips) for name, clips in rows.items()}
    for name, p in probs.items():
        c = factor_coverage(p, sizes, factor)
        print(f"{name:<7}{c.sure:>6.2f}{c.effective:>8.2f}  {' '.join(f'{n:>3}' for n in c.counts)}")
    print(f"\nevery clip's most likely {args.factor or 'class'}: clips per {args.factor or 'class'}, then the mean "
          f"probability of it over those clips")
    for name, p in probs.items():
        marginal = factor_probabilities(p, sizes, factor) if factor >= 0 else p
        top, best = marginal.argmax(axis=1), marginal.max(axis=1)
        counts = np.bincount(top, minlength=marginal.shape[1])
        means = [f"{best[top == k].mean():.2f}" if counts[k] else "  - " for k in range(marginal.shape[1])]
        print(f"{name:<7}{' '.join(f'{n:>4}' for n in counts)}   {' '.join(means)}")
    if args.sample_grid:
        print_sample_grid(sampler, classifier, sizes, factor)


def print_sample_grid(sampler, classifier, sizes, factor: int) -> None:
    """The classifier's reading of the training's sample grid: the same latents the trainer draws."""
    from provgan.train.samples import fixed_latents

    rows, cols = sampler.config.run.sample_grid
    z = fixed_latents(rows * cols, sampler.latent_dim, sampler.config.run.seed)
    marginal = factor_probabilities(class_probabilities(classifier, sampler.sample(z)), sizes, factor)
    top, best = marginal.argmax(axis=1), marginal.max(axis=1)
    sure = best > SURE
    print(f"\nthe run's {rows}x{cols} sample grid, most likely digit per clip ('?': not sure); "
          f"{int(sure.sum())} of {rows * cols} sure, digits among them: {sorted(set(top[sure].tolist()))}")
    for r in range(rows):
        cells = range(r * cols, (r + 1) * cols)
        print("  " + " ".join(f"{top[i]}{' ' if sure[i] else '?'}" for i in cells))


if __name__ == "__main__":
    main()
