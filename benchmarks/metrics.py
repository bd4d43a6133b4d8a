"""Metric costs on this CPU: feature-extraction throughput and the wall time of FVD-2048 and IS-2048.

Tables printed (markdown):

1. Per feature network and precision: clips per second from level-shaped clips (resizing
   included), GFLOP per clip (torch's flop registry), GFLOP/s and the share of the conv3d peak that
   ``benchmarks/step.py`` measures in the same run, in fp32 and bf16 (bf16 rows only where the CPU
   has avx512_bf16 or amx_bf16: elsewhere PyTorch emulates bf16 and it is many times slower than
   fp32). Weights are random: speed does not depend
   on their values, and C3D's published weights are not available here.
2. Wall time of FVD-2048 (StyleGAN-V ``fvd2048_16f``: 2048 generated + 2048 real clips through I3D,
   then a 400-d Fréchet distance; and the same once the real clips' features are cached, as
   ``provgan evaluate`` keeps them for every later checkpoint: :mod:`provgan.metrics.real_cache`)
   and IS-2048 (2048 generated clips through the IS network, offline classifier or C3D). The network
   passes are measured on ``--sample`` clips and extrapolated (a full FVD-2048 pass takes 15-25
   minutes on 2 cores); generator sampling and the score arithmetic are measured on the real sizes.
   The generator is digits-32's at 16x32x32 (random weights).

    python benchmarks/metrics.py                 # about 3 minutes on 2 cores
    python benchmarks/metrics.py --sample 16 --batch 4
    python benchmarks/metrics.py --networks I3D --no-wall --sample 2 --batch 2   # the I3D rows only
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import sys
from pathlib import Path

import numpy as np
import torch

from provgan.config import load_config
from provgan.metrics.c3d import C3D, c3d_input
from provgan.metrics.classifier import VideoClassifier
from provgan.metrics.features import FeatureNet, inference_i3d
from provgan.metrics.i3d import I3D, fold_for_inference, i3d_input
from provgan.metrics.resize import resize_clips
from provgan.metrics.scores import frechet_distance_of, inception_score, kernel_distance
from provgan.nn import Generator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/step.py: FLOP counter, conv3d peak
LEVEL = (16, 32, 32)  # digits-32's top level: what the demo evaluates


def cpu_flags() -> set[str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("Flags:"):
            return set(line.split()[1:])
    return set()


def cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Model name")), "?")


def nets() -> dict[str, FeatureNet]:
    torch.manual_seed(0)
    clf = VideoClassifier(LEVEL, 40, 16).eval()
    return {"classifier (16x32x32, 40 cl.)": FeatureNet("classifier", clf, LEVEL, lambda x: x, ""),
            "C3D (16x112x112)": FeatureNet("c3d", C3D(101).eval(), (16, 112, 112), c3d_input, ""),
            "I3D (16x224x224)": FeatureNet("i3d", I3D().eval(), (16, 224, 224), i3d_input, ""),
            "I3D, BN folded (16x224x224)": FeatureNet("i3d", fold_for_inference(I3D()), (16, 224, 224), i3d_input, ""),
            "I3D, folded + channels-last (evaluate's)": FeatureNet("i3d", inference_i3d(I3D()), (16, 224, 224),
                                                                     i3d_input, "", channels_last=True)}


def flops_per_clip(net: FeatureNet, clip: torch.Tensor) -> float:
    """FLOPs of one clip through the network (convs and matmuls, torch's flop registry)."""
    from step import FlopCount  # benchmarks/step.py

    with FlopCount() as counter, torch.no_grad():
        net.model(net.prepare(clip[:1]))
    return float(counter.total)


def peaks(precisions: tuple[str, ...]) -> dict[str, float]:
    """The same-run conv3d peak per precision (benchmarks/step.py: the best of both memory layouts)."""
    from step import conv_peak_gflops

    cpu = torch.device("cpu")
    return {p: max(conv_peak_gflops(cpu, p, False), conv_peak_gflops(cpu, p, True)) for p in precisions}


def clips_per_second(net: FeatureNet, clips: torch.Tensor, batch: int, precision: str) -> float:
    """One warm-up batch, then all of ``clips`` in batches; clips per second."""
    net(clips[:batch], precision)
    start = time.perf_counter()
    for part in clips.split(batch):
        net(part, precision)
    return len(clips) / (time.perf_counter() - start)


def throughput_table(sample: int, batch: int, bf16: bool, only: str = "") -> dict[tuple[str, str], float]:
    clips = torch.rand(sample, 3, *LEVEL) * 2 - 1
    rates: dict[tuple[str, str], float] = {}
    precisions = ("fp32", "bf16") if bf16 else ("fp32",)
    peak = peaks(precisions)
    print("\nconv3d peak this run (benchmarks/step.py): "
          + ", ".join(f"{p} {v:.0f} GFLOP/s" for p, v in peak.items()))
    print("\n| network | GFLOP/clip | batch | precision | clips/s | GFLOP/s | % of conv3d peak |\n"
          "|---|---|---|---|---|---|---|")
    for name, net in nets().items():
        if only and only.lower() not in name.lower():
            continue
        n = sample * 8 if net.name == "classifier" else sample
        data = clips.repeat(8, 1, 1, 1, 1)[:n] if net.name == "classifier" else clips
        gflop = flops_per_clip(net, data) / 1e9
        for precision in precisions:
            rates[name, precision] = rate = clips_per_second(net, data, batch, precision)
            print(f"| {name} | {gflop:.2f} | {batch} | {precision} | {rate:.2f} | {rate * gflop:.0f} | "
                  f"{100 * rate * gflop / peak[precision]:.0f}% |", flush=True)
    return rates


def generator_rate(batch: int, total: int) -> float:
    """Clips per second of digits-32's generator at its top level (random weights), fp32."""
    cfg = load_config("digits-32")
    g = Generator(cfg.model).eval()
    level = len(cfg.model.plan) - 1
    with torch.no_grad():
        g(torch.randn(batch, cfg.model.latent_dim), level, 1.0)
        start = time.perf_counter()
        for _ in range(0, total, batch):
            g(torch.randn(batch, cfg.model.latent_dim), level, 1.0).clamp(-1, 1)
    return total / (time.perf_counter() - start)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def wall_table(rates: dict, gen_rate: float, num: int = 2048) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((num, 400))
    fd_s = timed(lambda: frechet_distance_of(logits, logits + 0.1))
    kvd_s = timed(lambda: kernel_distance(logits, logits + 0.1))
    probs = rng.dirichlet(np.ones(101), size=num)
    is_s = timed(lambda: inception_score(probs, 10))
    fid_feats = rng.standard_normal((num, 4096)).astype(np.float64)
    fid_s = timed(lambda: frechet_distance_of(fid_feats[:, :1024], fid_feats[:, 1024:2048]))
    gen_s = num / gen_rate
    print(f"\n| job ({num} clips per side) | generator | network passes | score | total |\n|---|---|---|---|---|")
    for precision in ("fp32", "bf16"):
        if ("I3D, folded + channels-last (evaluate's)", precision) not in rates:
            continue
        i3d = rates["I3D, folded + channels-last (evaluate's)", precision]
        for sides, what in ((2, f"2x{num} clips"), (1, f"{num} generated, real features cached")):
            passes = sides * num / i3d
            print(f"| FVD-{num} (I3D folded, {precision}, {what}) | {gen_s:.1f} s | {passes / 60:.1f} min (extrap.) | "
                  f"{fd_s:.1f} s (+KVD {kvd_s:.1f} s) | {(gen_s + passes + fd_s) / 60:.1f} min |")
    for name, key in [("classifier", "classifier (16x32x32, 40 cl.)"), ("C3D", "C3D (16x112x112)")]:
        if (key, "fp32") not in rates:
            continue
        rate = rates[key, "fp32"]
        print(f"| IS-{num} ({name} fp32) | {gen_s:.1f} s | {num / rate / 60:.2f} min (extrap.) | {is_s:.2f} s | "
              f"{(gen_s + num / rate + is_s) / 60:.2f} min |")
    print(f"\nFréchet distance on 1024-d features (FID-sized): {fid_s:.1f} s; generator: {gen_rate:.0f} clips/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=8, help="Clips timed per network and precision.")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--networks", default="", help="Only the networks whose name contains this (e.g. I3D).")
    parser.add_argument("--no-wall", action="store_true", help="Skip the wall-time table (generator, scores).")
    args = parser.parse_args()
    flags = cpu_flags()
    bf16 = bool({"avx512_bf16", "amx_bf16"} & flags)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, load average {os.getloadavg()[0]:.1f}; bf16 hardware: "
          f"{', '.join(sorted({'avx512_bf16', 'amx_bf16'} & flags)) or 'none (bf16 rows skipped)'}")
    rates = throughput_table(args.sample, args.batch, bf16, args.networks)
    if args.no_wall:
        return
    wall_table(rates, generator_rate(64, 512))
    resize_s = timed(lambda: resize_clips(torch.rand(16, 3, *LEVEL), (16, 224, 224)))
    print(f"resizing 16 clips {'x'.join(map(str, LEVEL))} -> 16x224x224: {resize_s:.2f} s (inside the I3D rate)")


if __name__ == "__main__":
    main()
