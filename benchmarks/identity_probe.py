"""Does G keep a digit's identity through a clip, and does its critic notice when it does not?

The learning curves of issue 14 plateau at a clip-level sure share near 0.2 (real clips: 0.83).
This script splits that number into *shapes* and *time*, for the built-in moving digits at the
checkpoint's level:

1. **Frame by frame.** Every frame of a clip is repeated into a still clip and read by the offline
   classifier: how many of a clip's frames show a digit it is sure of (digit probability > 0.8), and,
   among clips with two or more sure frames, how often all of them name the same digit. For real
   clips the second number is below 1 only because the classifier misreads some rotated digits
   (a spinning 6 passes through a 9).
   Then the whole clip read at once, split by whether its frames agree: the share of clips whose
   digit the classifier is sure of, of clips whose motion (bounce, slide, zoom, rotate) it is sure
   of, and the digit's sure share among clips whose frames agree and among the rest. Real clips are
   read sure either way and always sure of their motion, so G's clips that agree frame by frame and
   are still unsure as a whole are unsure for what only the whole clip shows: the motion.
2. **What the run's critic penalises.** The AUC of its score (as ``critic_probe.py``: the sliced head
   for SWGAN) between real clips and: the checkpoint's G_ema clips; the same real clips with the
   digit swapped for another one half-way (rendered again with the same colour, size, background
   and trajectory draws, so nothing but the digit changes); the real clips with their frames
   shuffled; and, as a control that must give 0.5, whole clips of the other digit. 0.5 = blind.
3. **Can a critic learn it at all?** With ``--fresh-steps N``: new networks trained, supervised, to
   tell real clips from clips whose digit is swapped half-way (the real clips of one half of the
   rows, the swapped clips of the other, so no clip appears twice), held-out accuracy every 100
   steps: the run's progressive D architecture as it is (Adam at the run's lr, betas (0, 0.99), as
   in training), the same centred on the store's pixel mean (``data.center``), and the offline
   classifier's network (BatchNorm, ReLU, max-pooling; Adam 1e-3) as a reference.

    python benchmarks/identity_probe.py runs/long/ckpt-000090.pt --data data/md --classifier clf16.pt
    python benchmarks/identity_probe.py runs/preset/ckpt-000030.pt --data data/md --classifier clf16.pt \
        --num 2048 --fresh-steps 600

It needs a store made by ``provgan prepare --builtin moving-digits`` (to render the swapped clips).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import provgan.data.moving_digits as md
from provgan.data.store import open_store, pool_levels
from provgan.metrics.classifier import VideoClassifier, load_classifier, predict
from provgan.metrics.coverage import factor_probabilities, label_factor
from provgan.train.hardware import resolve_precision
from provgan.train.models import load_models
from provgan.video_grid import to_uint8

sys.path.insert(0, str(Path(__file__).resolve().parent))  # critic_probe.py: the fresh-D training loop
from critic_probe import fresh_critic_curve, split  # noqa: E402

SURE = 0.8


def frame_readings(classifier, clips: np.ndarray, sizes, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Per clip and frame, each frame read alone (repeated into a still clip): (sure (N, T), digit (N, T))."""
    frames = clips.shape[1]
    per_frame = [factor_probabilities(predict(classifier, np.repeat(clips[:, t:t + 1], frames, axis=1))[0],
                                      sizes, factor) for t in range(frames)]
    digit = np.stack(per_frame, 1)  # (N, T, classes of the factor)
    return digit.max(-1) > SURE, digit.argmax(-1)


def frames_agree(sure: np.ndarray, name: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: (>= 2 sure frames, and all of its sure frames name one digit)."""
    several = sure.sum(1) >= 2
    one = np.array([len(set(n[s])) == 1 for s, n in zip(sure, name)])
    return several, several & one


def frame_by_frame(sure: np.ndarray, name: np.ndarray) -> tuple[float, float, float]:
    """(sure frames per clip, share of clips with >= 2 sure frames, share of those naming one digit)."""
    several, agree = frames_agree(sure, name)
    share = float(agree.sum() / several.sum()) if several.any() else float("nan")
    return float(sure.sum(1).mean()), float(several.mean()), share


def clip_versus_frames(classifier, clips: np.ndarray, sizes, factor: int, sure: np.ndarray,
                       name: np.ndarray) -> dict[str, float]:
    """Why the whole clip is unsure: its digit and its motion read from the whole clip, split by whether
    its single frames agree on one digit (>= 2 sure frames, all naming one digit) or not.

    Real clips are read sure of their digit whether or not their frames agree (a spinning 6 passes
    through a 9), and always sure of their motion; a clip whose frames agree but whose whole-clip
    reading is unsure is unsure for what only the clip shows: how the digit moves.
    """
    probs, _ = predict(classifier, clips)
    digit_sure = factor_probabilities(probs, sizes, factor).max(1) > SURE
    out = {"clip sure": float(digit_sure.mean())}
    if len(sizes) == 2:  # (digit, motion): the other factor is the motion
        out["motion sure"] = float((factor_probabilities(probs, sizes, 1 - factor).max(1) > SURE).mean())
    agree = frames_agree(sure, name)[1]
    out["frames agree"] = float(agree.mean())
    out["clip sure where frames agree"] = float(digit_sure[agree].mean()) if agree.any() else float("nan")
    out["clip sure where they do not"] = float(digit_sure[~agree].mean()) if (~agree).any() else float("nan")
    return out


def render_swapped(store, sprites: md.Sprites, index: int, digit: int | None, shape) -> np.ndarray:
    """Clip ``index`` of a built-in store at ``shape``, with its digit replaced by ``digit`` (same draws)."""
    source = store.manifest["source"]
    top = tuple(store.shapes[-1])
    # every option of the store, so that nothing but the digit differs from the stored clip
    clip = md.render_clip(sprites.with_styles(int(source.get("styles", 0))), int(source["seed"]), index, top,
                          int(source.get("max_digits", 2)), float(source.get("motion_speed", 1.0)),
                          str(source.get("colour", "hue")), float(source.get("digit_scale", 1.0)),
                          tuple(source.get("motions", md.MOTIONS)), digit=digit)
    shapes = [tuple(s) for s in store.shapes]
    return pool_levels(clip[None], shapes)[shapes.index(tuple(shape))][0]


def auc(score_real: torch.Tensor, score_other: torch.Tensor) -> float:
    """P(score(other) > score(real)) (Mann-Whitney), ties counted half: reals score low."""
    diff = score_other.view(-1, 1) - score_real.view(1, -1)
    return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


def classifier_curve(shape, parts, steps: int, batch: int, seed: int) -> list[float]:
    """Held-out accuracy every 100 steps of the offline classifier's network trained on the same task."""
    torch.manual_seed(seed)
    net = VideoClassifier(shape, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xtr, ytr, xte, yte = parts
    gen = torch.Generator().manual_seed(seed)
    curve = []
    for step in range(steps + 1):
        if step % 100 == 0:
            net.eval()
            with torch.no_grad():
                curve.append(float((net(xte)[0].argmax(1).float() == yte).float().mean()))
            net.train()
        if step == steps:
            break
        idx = torch.randint(len(xtr), (batch,), generator=gen)
        loss = F.cross_entropy(net(xtr[idx])[0], ytr[idx].long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="the run's built-in moving-digits store")
    ap.add_argument("--classifier", type=Path, required=True, help="offline classifier at the checkpoint's level")
    ap.add_argument("--num", type=int, default=256, help="clips per row (the last clips of the store)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fresh-steps", type=int, default=0, help="train new critics on real vs swapped clips")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    store = open_store(args.data)
    if store.manifest.get("source", {}).get("builtin") != "moving-digits":
        raise SystemExit(f"error: {args.data} is not a built-in moving-digits store (provgan prepare --builtin)")
    trained = load_models(args.checkpoint)
    cfg, models, level, alpha = trained.cfg, trained.models, trained.level, trained.alpha
    shape = tuple(cfg.model.plan[level])
    classifier, _ = load_classifier(args.classifier)
    if tuple(classifier.clip_shape) != shape:
        raise SystemExit(f"error: the classifier reads {classifier.clip_shape} clips, the checkpoint draws {shape}")
    sizes, factor = label_factor(store.label_names, "digit")
    rng = np.random.default_rng(args.seed)
    start = store.num_clips - args.num
    real = np.asarray(store.level(shape)[start:])
    labels = np.asarray(store.labels[start:]) if store.labels is not None else None
    sprites = md.load_sprites(store.shapes[-1][2]).with_styles(int(store.manifest["source"].get("styles", 0)))
    swapped, other = [], []
    for offset, index in enumerate(range(start, store.num_clips)):
        digit = int(np.unravel_index(int(labels[offset]), sizes)[factor]) if labels is not None else 0
        replacement = (digit + int(rng.integers(1, sizes[factor]))) % sizes[factor]
        whole = render_swapped(store, sprites, index, replacement, shape)
        clip = real[offset].copy()
        clip[shape[0] // 2:] = whole[shape[0] // 2:]
        swapped.append(clip)
        other.append(whole)
    z = torch.randn(args.num, models.generator_ema.latent_dim, generator=torch.Generator().manual_seed(args.seed))
    fakes = models.generator_ema(z, level, alpha).float().clamp(-1, 1)
    print(f"# {args.checkpoint} at {trained.kimg:g} kimg, level {level} ({'x'.join(map(str, shape))}); "
          f"{args.num} clips per row; classifier {args.classifier}\n")
    print("| clips | sure frames per clip (of %d) | clips with >= 2 sure frames | of those, all name one digit |"
          % shape[0])
    print("|---|---|---|---|")
    rows = {}
    for name, clips in (("real", real), ("G_ema", to_uint8(fakes))):
        readings = frame_readings(classifier, clips, sizes, factor)
        frames, several, agree = frame_by_frame(*readings)
        print(f"| {name} | {frames:.2f} | {several:.2f} | {agree:.2f} |")
        rows[name] = clip_versus_frames(classifier, clips, sizes, factor, *readings)
    keys = list(rows["real"])
    print("\n| the whole clip read at once | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[k]:.2f}" for k in keys) + " |")

    if "D" not in models.critics:  # a baseline (VGAN, TGAN, MoCoGAN): no single progressive clip critic
        print(f"\n(no critic rows: this {cfg.model.arch} checkpoint has critics "
              f"{', '.join(models.critics)}, not the progressive D)")
        return
    critic = models.critics["D"].module

    def score(x: torch.Tensor) -> torch.Tensor:
        e = critic.features(x, level, alpha).float()
        return (models.head(e) if models.head is not None else -critic.score_features(e)).view(-1)

    def tensor(clips) -> torch.Tensor:
        array = np.ascontiguousarray(np.stack(clips).transpose(0, 4, 1, 2, 3))
        return torch.from_numpy(array).float() / 127.5 - 1.0

    real_score = score(tensor(real))
    shuffled = [clip[rng.permutation(shape[0])] for clip in real]
    print("\n| the run's critic: AUC against real clips (0.5 = blind) | AUC |\n|---|---|")
    for name, s in (("G_ema clips", score(fakes)), ("the digit swapped half-way", score(tensor(swapped))),
                    ("frames shuffled", score(tensor(shuffled))), ("control: the other digit, whole clip",
                                                                     score(tensor(other)))):
        print(f"| {name} | {auc(real_score, s):.3f} |")
    if not args.fresh_steps:
        return
    torch.set_grad_enabled(True)
    half = args.num // 2
    parts = split(tensor(list(real[:half])), tensor(swapped[half:]), args.seed)
    lr = float(dict(cfg.schedule.lr).get(shape[1], cfg.schedule.lr_default))
    precision = resolve_precision("auto", torch.device("cpu"))
    centred = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pixel_mean=store.pixel_mean()))
    print(f"\n| new critic, real vs digit swapped half-way ({len(parts[0])} train, {len(parts[2])} held out, "
          f"batch 16) | held-out accuracy at step 0, 100, ... |\n|---|---|")
    for name, variant in ((f"progressive D as it is, Adam {lr:g}", cfg), ("the same, input centred", centred)):
        curve = fresh_critic_curve(variant, level, alpha, parts, args.fresh_steps, 16, lr, precision, args.seed)
        print(f"| {name} | {' '.join(f'{a:.2f}' for step, a in curve if step % 100 == 0)} |", flush=True)
    curve = classifier_curve(shape, parts, args.fresh_steps, 16, args.seed)
    print(f"| the offline classifier's network (BatchNorm, ReLU, max-pool), Adam 1e-3 | "
          f"{' '.join(f'{a:.2f}' for a in curve)} |")


if __name__ == "__main__":
    main()
