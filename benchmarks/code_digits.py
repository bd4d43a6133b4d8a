"""Which digit does each latent code draw? A diagnostic table for ``model.latent_codes``, not a test.

Samples ``--num`` clips from a checkpoint's EMA generator (or its raw G) at the level it reached,
reads each clip's code the way G does (:func:`provgan.nn.conditioning.latent_code`: the argmax of z's
first K entries), classifies the clips with an offline classifier of the same store
(``provgan classifier train``; one trained at another level reads resized clips), and prints one row
per code: its clips, the share the classifier is sure of (digit probability > 0.8, summed over the
motions), the sure clips per digit 0-9, and the share of the code's sure clips that name its most
frequent digit (1.00: every clip of this code the classifier is sure of is one digit). InfoGAN's
term asks each code to draw something the critic can tell apart; this says whether that something is
the digit.

    python benchmarks/code_digits.py RUN clf.pt --data STORE
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from digit_coverage import class_probabilities
from provgan.data.store import open_store
from provgan.metrics.classifier import load_classifier
from provgan.metrics.coverage import SURE, factor_probabilities, label_factor
from provgan.nn.conditioning import latent_code
from provgan.train.checkpoint import load_sampler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="checkpoint file or run folder of a model.latent_codes run")
    ap.add_argument("classifier", help="offline classifier trained on the same store")
    ap.add_argument("--data", required=True, help="the store the run trained on (its label names)")
    ap.add_argument("--num", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--network", default="G_ema", choices=("G_ema", "G"))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    classifier, _ = load_classifier(args.classifier)
    sampler = load_sampler(args.checkpoint, network=args.network)
    codes_k = sampler.config.model.latent_codes
    if codes_k < 2:
        raise SystemExit(f"error: {sampler.path} was trained without model.latent_codes; nothing to split by")
    z = torch.randn(args.num, sampler.latent_dim, generator=torch.Generator().manual_seed(args.seed))
    probs = class_probabilities(classifier, sampler.sample(z))
    store = open_store(args.data, shapes=sampler.config.model.plan)
    sizes, factor = label_factor(store.label_names, "digit")
    digit = factor_probabilities(probs, sizes, factor)
    codes = latent_code(z, codes_k).numpy()
    sure = digit.max(axis=1) > SURE
    print(f"# {sampler.path} {args.network} (kimg {sampler.kimg:g}); {args.num} clips; sure {sure.mean():.2f}")
    print(f"{'code':>4} {'clips':>5} {'sure':>5}  sure clips per digit 0-9            top digit (share)")
    for k in range(codes_k):
        mine = codes == k
        counts = np.bincount(digit[mine & sure].argmax(axis=1), minlength=digit.shape[1])
        top = int(counts.argmax())
        share = counts[top] / counts.sum() if counts.sum() else 0.0
        print(f"{k:>4} {mine.sum():>5} {sure[mine].mean():>5.2f}  {' '.join(f'{c:>3}' for c in counts)}"
              f"  {top} ({share:.2f})")


if __name__ == "__main__":
    main()
