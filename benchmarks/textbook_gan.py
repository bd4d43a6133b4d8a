"""A textbook GAN on the same clips, scored the same way: is provgan's plateau its own defect?

Issue 14 asks whether the sure-share plateau of the progressive SWGAN at 8x16x16 (about 0.2, real
clips 0.86) is a bug of this code or what any GAN reaches with this budget. This script trains a
network that shares nothing with provgan's trainer, networks or losses: a DCGAN-style 3D generator
(dense -> two stride-2 transposed 3D convolutions with BatchNorm and ReLU -> 3x3x3 conv -> tanh) and
a spectrally normalised 3D critic (three convolutions, LReLU 0.1, dense), trained with the hinge loss
(Miyato et al. 2018) and Adam 2e-4, betas (0.5, 0.999), minibatch 64: the recipe that trains
reliably on small images. It reads the store's clips of one level and scores its generator with the
same offline classifier and coverage counting as the training curves (:mod:`provgan.metrics.coverage`):
sure share, effective digits and IS of ``--num`` fixed latents, every ``--eval-kimg``.

    python benchmarks/textbook_gan.py --data data/md --classifier clf16.pt --kimg 40 --out runs/textbook

On a still-frame store (``benchmarks/still_frames.py``, ``--level 1x16x16``) it trains the image
version of the same recipe (2D convolutions; the critic has a 3x3 convolution before each strided
one): what a textbook image GAN makes of the demo's frames, with time out of the question.

    python benchmarks/textbook_gan.py --data data/md-still --classifier clf-still.pt --level 1x16x16 \
        --kimg 200 --out runs/textbook-still

It prints one row per evaluation and writes a first | middle | last frame grid per evaluation to
``--out``. fp32 only (spectral normalisation's power iteration is unstable in bf16).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from provgan.data.store import open_store
from provgan.metrics.classifier import load_classifier, predict
from provgan.metrics.coverage import factor_coverage, label_factor
from provgan.metrics.scores import inception_score
from provgan.train.samples import frame_strip, write_png
from provgan.video_grid import grid_frames, to_uint8, viewing_upscale


class TextbookGenerator(nn.Module):
    """z -> (N, 3, T, H, W) in [-1, 1]: dense to (4w, T/4, H/4, W/4), two stride-2 up-convolutions
    with BatchNorm and ReLU, a 3x3(x3) convolution and tanh. With T = 1 (a still-frame store) the same
    network in 2D, the image DCGAN, whose output gets its one-frame axis back."""

    def __init__(self, shape: tuple[int, int, int], latent_dim: int = 64, width: int = 64):
        super().__init__()
        t, h, w = shape
        self.still = t == 1
        if (t % 4 and not self.still) or h % 4 or w % 4:
            raise ValueError(f"the textbook generator needs T (or T = 1), H, W divisible by 4, got {shape}")
        self.start = (4 * width, h // 4, w // 4) if self.still else (4 * width, t // 4, h // 4, w // 4)
        norm, up, conv = ((nn.BatchNorm2d, nn.ConvTranspose2d, nn.Conv2d) if self.still
                          else (nn.BatchNorm3d, nn.ConvTranspose3d, nn.Conv3d))
        self.dense = nn.Linear(latent_dim, math.prod(self.start))
        self.net = nn.Sequential(
            norm(4 * width), nn.ReLU(),
            up(4 * width, 2 * width, 4, 2, 1), norm(2 * width), nn.ReLU(),
            up(2 * width, width, 4, 2, 1), norm(width), nn.ReLU(),
            conv(width, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(self.dense(z).view(-1, *self.start))
        return x.unsqueeze(2) if self.still else x


class TextbookCritic2d(nn.Module):
    """(N, 3, 1, H, W) -> (N,): a spectrally normalised image critic, a 3x3 conv before each stride-2
    conv and after the last (LReLU 0.1), then dense (SNGAN's small-image critic, one block shorter)."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        _, h, w = shape
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(3, width, 3, 1, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(width, width, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(width, 2 * width, 3, 1, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(2 * width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(2 * width, 4 * width, 3, 1, 1)), nn.LeakyReLU(0.1), nn.Flatten(),
            spectral_norm(nn.Linear(4 * width * (h // 4) * (w // 4), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.squeeze(2)).squeeze(1)


class TextbookCritic(nn.Module):
    """(N, 3, T, H, W) -> (N,) scores: spectrally normalised convolutions, LReLU 0.1, dense."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        t, h, w = shape
        self.net = nn.Sequential(
            spectral_norm(nn.Conv3d(3, width, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv3d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv3d(2 * width, 4 * width, 3, 1, 1)), nn.LeakyReLU(0.1), nn.Flatten(),
            spectral_norm(nn.Linear(4 * width * (t // 4) * (h // 4) * (w // 4), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a labelled store (provgan prepare)")
    ap.add_argument("--classifier", required=True, help="offline classifier of that store at --level")
    ap.add_argument("--level", default="8x16x16", help="store level TxHxW to train on")
    ap.add_argument("--kimg", type=float, default=40)
    ap.add_argument("--eval-kimg", type=float, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--num", type=int, default=256, help="clips scored per evaluation")
    ap.add_argument("--factor", default="digit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="folder for the grids")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = tuple(int(v) for v in args.level.split("x"))
    store = open_store(args.data)
    clips = torch.from_numpy(np.array(store.level(shape))).permute(0, 4, 1, 2, 3).contiguous()  # uint8 N C T H W
    classifier, _ = load_classifier(args.classifier)
    sizes, factor = label_factor(store.label_names, args.factor)
    critic = TextbookCritic2d if shape[0] == 1 else TextbookCritic  # T = 1: the image critic
    g, d = TextbookGenerator(shape, width=args.width), critic(shape, width=args.width)
    opt_g = torch.optim.Adam(g.parameters(), args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), args.lr, betas=(0.5, 0.999))
    z_fixed = torch.randn(args.num, 64, generator=torch.Generator().manual_seed(args.seed + 1))
    start, step, next_eval = time.time(), 0, args.eval_kimg
    print(f"# textbook GAN (DCGAN-3D G, SN critic, hinge) on {args.data} at {args.level}, minibatch {args.batch}, "
          f"lr {args.lr}; {args.num} clips scored by {args.classifier}")
    print(f"{'kimg':>6} {'min':>6} {'sure':>5} {'digits':>6} {'IS':>5}  sure clips per {args.factor}")
    while True:
        kimg = step * args.batch / 1000
        if kimg >= next_eval or kimg >= args.kimg:
            g.eval()
            with torch.no_grad():
                fakes = g(z_fixed).clamp(-1, 1)
            g.train()
            probs, _ = predict(classifier, to_uint8(fakes))
            c = factor_coverage(probs, sizes, factor)
            score = inception_score(probs, splits=1)[0]  # eq. 6.2 on the full label, as the training curves
            print(f"{kimg:6.1f} {(time.time() - start) / 60:6.1f} {c.sure:5.2f} {c.effective:6.2f} {score:5.2f}  "
                  f"{' '.join(map(str, c.counts))}", flush=True)
            grid = grid_frames(to_uint8(fakes[:16]), 4, 4, upscale=viewing_upscale(shape[1]))
            write_png(out / f"textbook-{kimg:06.1f}kimg.png", frame_strip(grid))
            next_eval += args.eval_kimg
            if kimg >= args.kimg:
                break
        reals = clips[torch.randint(len(clips), (args.batch,))].float().div_(127.5).sub_(1.0)
        with torch.no_grad():
            fakes = g(torch.randn(args.batch, 64))
        loss_d = F.relu(1 - d(reals)).mean() + F.relu(1 + d(fakes)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -d(g(torch.randn(args.batch, 64))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        step += 1


if __name__ == "__main__":
    main()
