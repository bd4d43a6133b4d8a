"""How well can a critic tell a run's fakes from real clips? Three numbers per checkpoint.

1. **fresh D, supervised**: a new progressive D of the run's architecture trained with logistic loss
   to separate real clips from the checkpoint's G_ema clips (Adam at the schedule's lr, betas (0,
   0.99), bf16 where the CPU has it), held-out accuracy every 50 steps; once with the clips as they
   are and once centred on the store's per-channel mean (``model.pixel_mean``, ``data.center``).
   This is how fast the architecture *can* learn the difference the eye sees at once.
2. **the run's critic**: the AUC of its score (the sliced head f for SWGAN, the scalar head
   otherwise) between held-out reals and fakes, 0.5 = blind.
3. **a linear probe on the run's E(x)**: logistic regression on the frozen features (standardised),
   held-out accuracy: what the critic's features know, whether or not its head uses it.

    python benchmarks/critic_probe.py runs/preset/ckpt-000030.pt --data data/md --steps 300

It prints a table (README, "Learning curves": what the curves point at).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from provgan.data.store import open_store
from provgan.nn import Discriminator
from provgan.train.hardware import cpu_name, resolve_precision
from provgan.train.models import load_models


def real_and_fake(store, cfg, models, level: int, alpha: float, count: int, seed: int):
    """``count`` real clips (the store's last ones) and ``count`` G_ema clips, (N, C, T, H, W) in [-1, 1]."""
    shape = cfg.model.plan[level]
    reals = np.asarray(store.level(shape)[-count:])
    x = torch.from_numpy(np.ascontiguousarray(reals.transpose(0, 4, 1, 2, 3))).float() / 127.5 - 1.0
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = torch.randn(count, models.generator_ema.latent_dim, generator=gen)
        fakes = torch.cat([models.generator_ema(zz, level, alpha) for zz in z.split(256)]).float()
    return x, fakes.clamp(-1, 1)


def split(x: torch.Tensor, f: torch.Tensor, seed: int, train_share: float = 0.75):
    data, labels = torch.cat([x, f]), torch.cat([torch.zeros(len(x)), torch.ones(len(f))])
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    n = int(train_share * len(data))
    return data[order[:n]], labels[order[:n]], data[order[n:]], labels[order[n:]]


def fresh_critic_curve(cfg, level: int, alpha: float, parts, steps: int, batch: int, lr: float,
                       precision: str, seed: int) -> list[tuple[int, float]]:
    """Held-out accuracy of a new D trained to separate reals (0) from fakes (1), every 50 steps."""
    torch.manual_seed(seed)
    d = Discriminator(cfg.model)
    opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)
    xtr, ytr, xte, yte = parts
    gen = torch.Generator().manual_seed(seed)
    amp = dict(device_type="cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    curve = []
    for step in range(steps + 1):
        if step % 50 == 0:
            with torch.no_grad(), torch.autocast(**amp):
                acc = ((d(xte, level, alpha).float() > 0).float() == yte).float().mean().item()
            curve.append((step, acc))
        if step == steps:
            break
        idx = torch.randint(len(xtr), (batch,), generator=gen)
        with torch.autocast(**amp):
            loss = F.binary_cross_entropy_with_logits(d(xtr[idx], level, alpha).float(), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return curve


def auc(score_real: torch.Tensor, score_fake: torch.Tensor) -> float:
    """P(score(fake) > score(real)) (Mann-Whitney), ties counted half."""
    diff = score_fake.view(-1, 1) - score_real.view(1, -1)
    return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


def linear_probe(e_real: torch.Tensor, e_fake: torch.Tensor, seed: int) -> float:
    etr, ytr, ete, yte = split(e_real, e_fake, seed)
    mu, sd = etr.mean(0), etr.std(0) + 1e-6
    etr, ete = (etr - mu) / sd, (ete - mu) / sd
    w = torch.zeros(etr.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01)
    for _ in range(500):
        loss = F.binary_cross_entropy_with_logits(etr @ w + b, ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((((ete @ w + b) > 0).float() == yte).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--clips", type=int, default=2048, help="real clips and fake clips each")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None, help="default: the run's lr at its level")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    trained = load_models(args.checkpoint)
    cfg, models, level, alpha = trained.cfg, trained.models, trained.level, trained.alpha
    store = open_store(args.data, shapes=cfg.model.plan)
    x, f = real_and_fake(store, cfg, models, level, alpha, args.clips, args.seed)
    precision = resolve_precision("auto", torch.device("cpu"))
    res = cfg.model.plan[level][1]
    lr = args.lr or float(dict(cfg.schedule.lr).get(res, cfg.schedule.lr_default))
    print(f"# {cpu_name()}; {torch.get_num_threads()} threads; precision {precision}; {args.checkpoint} at "
          f"{trained.kimg:g} kimg, level {level} alpha {alpha:g}; {args.clips} real + {args.clips} fake clips")

    parts = split(x, f, args.seed)
    mean = open_store(args.data).pixel_mean()
    rows = []
    for name, pixel_mean in (("fresh D, clips as they are", ()), ("fresh D, centred on the store mean", mean)):
        variant = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pixel_mean=pixel_mean))
        started = time.perf_counter()
        curve = fresh_critic_curve(variant, level, alpha, parts, args.steps, args.batch, lr, precision, args.seed)
        rows.append((name, " ".join(f"{a:.2f}" for _, a in curve), time.perf_counter() - started))
    print(f"\nheld-out accuracy every 50 steps (batch {args.batch}, lr {lr:g}):\n")
    print("| critic | accuracy at step 0, 50, ... | s |\n|---|---|---|")
    for name, curve, secs in rows:
        print(f"| {name} | {curve} | {secs:.0f} |")

    d = models.critics["D"].module
    xte, yte = parts[2], parts[3]
    with torch.no_grad():
        e = d.features(xte, level, alpha).float()
        score = models.head(e) if models.head is not None else -d.score_features(e)  # reals score low
    e_real, e_fake = e[yte == 0], e[yte == 1]
    print(f"\nthe run's critic: AUC of its score, fake vs real {auc(score[yte == 0], score[yte == 1]):.3f}; "
          f"linear probe on its E(x): held-out accuracy {linear_probe(e_real, e_fake, args.seed):.3f}")


if __name__ == "__main__":
    main()
