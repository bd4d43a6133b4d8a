"""One command for a GPU machine: thesis-256 per level, FVD throughput and a 1-process torchrun (nccl).

On one CUDA GPU, within about 8 minutes:

1. every level of the ``thesis-256`` preset trains a few steps in bf16 (``train_step`` of the real
   trainer, random clips at the level's minibatch): s/step, clips/s, peak memory, and the full
   schedule's estimate from those s/step (each level's stable + fade kimg / its minibatch);
2. I3D (random weights: speed does not depend on them) on 16x224x224 clips in bf16 and fp32:
   clips/s and the FVD-2048 feature time (4,096 clips);
3. ``torchrun --nproc_per_node 1 -m provgan train`` with the nccl backend on a tiny moving-digits
   store, for a few steps: that the distributed path starts, trains and writes a checkpoint.

It prints one markdown table for the README's GPU section. On a machine without CUDA it prints
"no CUDA device" and exits 0 (so it is safe in any script).

    python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --steps 5 --budget 420
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def no_cuda() -> bool:
    if not torch.cuda.is_available():
        print("no CUDA device: benchmarks/gpu_check.py measures a CUDA GPU; nothing to do on this machine")
        return True
    return False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else float("nan")


def level_rows(preset: str, steps: int, deadline: float, device: torch.device | None = None,
               precision: str = "bf16") -> list[dict]:
    """s/step, clips/s and peak memory of every level, until the deadline (``device`` default cuda;
    the tests run it on the CPU with a tiny preset)."""
    from provgan.config import load_config
    from provgan.levels import kimg_to_reach, level_timeline, position_at
    from provgan.shard import Shard
    from provgan.train.models import build_models, build_optimizers
    from provgan.train.step import train_step

    cfg = load_config(preset)
    device = device or torch.device("cuda")
    timeline = {lvl: end - start for lvl, start, _, end in level_timeline(cfg.model.plan, cfg.schedule)}
    rows = []
    for level, shape in enumerate(cfg.model.plan):
        row = {"level": level, "shape": "x".join(map(str, shape))}
        rows.append(row)
        if time.monotonic() > deadline:
            row["note"] = "skipped (time budget)"
            continue
        pos = position_at(kimg_to_reach(cfg.model.plan, cfg.schedule, level), cfg.model.plan, cfg.schedule)
        row["batch"] = pos.minibatch
        try:
            torch.manual_seed(0)
            _reset_peak(device)
            models = build_models(cfg, device)
            opts = build_optimizers(models, cfg, pos.lr)
            reals = torch.rand(pos.minibatch, 3, *shape, device=device) * 2 - 1
            first = 10 ** 6  # past the EMA ramp, on a lazy-regularisation step
            train_step(models, opts, reals, pos, cfg, Shard(), precision, first)  # warm-up (cuDNN autotune)
            _sync(device)
            start = time.perf_counter()
            for i in range(steps):
                train_step(models, opts, reals, pos, cfg, Shard(), precision, first + 1 + i)
            _sync(device)
            seconds = (time.perf_counter() - start) / steps
        except torch.cuda.OutOfMemoryError:
            row["note"] = "out of memory"
            continue
        finally:
            models = opts = reals = None  # noqa: F841 - free before the next level
        row |= {"s_step": seconds, "clips_s": pos.minibatch / seconds,
                "peak_gib": _peak_gib(device),
                "level_hours": timeline[level] * 1000 / pos.minibatch * seconds / 3600}
    return rows


def fvd_rows(batch: int, clips: int) -> list[dict]:
    """I3D clips/s in bf16 and fp32 and the FVD-2048 feature time (2,048 real + 2,048 fake)."""
    from provgan.metrics.i3d import I3D

    model = I3D().cuda().eval()
    x = torch.rand(batch, 3, 16, 224, 224, device="cuda") * 2 - 1
    rows = []
    for precision in ("bf16", "fp32"):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            model(x)
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(max(1, clips // batch)):
                model(x)
            torch.cuda.synchronize()
        rate = max(1, clips // batch) * batch / (time.perf_counter() - start)
        rows.append({"precision": precision, "clips_s": rate, "fvd2048_min": 4096 / rate / 60})
    return rows


def torchrun_check(timeout: float, device: str = "cuda", precision: str = "bf16", kimg: float = 0.2) -> str:
    """A 1-process ``torchrun`` of ``provgan train`` (nccl on CUDA; the tests run it on the CPU, gloo)."""
    with tempfile.TemporaryDirectory(prefix="provgan-gpu-check-") as tmp:
        store, run = Path(tmp) / "store", Path(tmp) / "run"
        from provgan.data.prepare import prepare_builtin

        prepare_builtin("moving-digits", store, "tiny", num_clips=64, seed=0)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port", "29533",
               "-m", "provgan", "train", "--config", "tiny", "--data", str(store), "--out", str(run),
               "--device", device, "--precision", precision, "--kimg", str(kimg), "--quiet"]
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        seconds = time.perf_counter() - start
        ckpts = sorted(run.glob("ckpt-*.pt"))
        if done.returncode != 0 or not ckpts:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"failed (rc {done.returncode}): {tail[:160]}"
        # provgan.train.distributed picks nccl whenever the device is CUDA, gloo otherwise
        return f"ok: {'nccl' if device.startswith('cuda') else 'gloo'}, {kimg:g} kimg in {seconds:.0f} s, wrote {ckpts[-1].name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="thesis-256")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per level (after one warm-up)")
    ap.add_argument("--budget", type=float, default=360, help="seconds for the per-level part")
    ap.add_argument("--fvd-clips", type=int, default=64)
    ap.add_argument("--fvd-batch", type=int, default=16)
    args = ap.parse_args()
    if no_cuda():
        return
    began = time.monotonic()
    name = torch.cuda.get_device_name(0)
    total = torch.cuda.get_device_properties(0).total_memory / 2 ** 30
    print(f"# {name} ({total:.0f} GiB); torch {torch.__version__}; CUDA {torch.version.cuda}; bf16 autocast")
    rows = level_rows(args.preset, args.steps, began + args.budget)
    print(f"\n| {args.preset} level | clip | batch | s/step | clips/s | peak GiB | level time (h) |")
    print("|---|---|---|---|---|---|---|")
    hours, complete = 0.0, True
    for r in rows:
        if "s_step" not in r:
            complete = False
            print(f"| {r['level']} | {r['shape']} | {r.get('batch', '')} | {r['note']} | | | |")
            continue
        hours += r["level_hours"]
        print(f"| {r['level']} | {r['shape']} | {r['batch']} | {r['s_step']:.3f} | {r['clips_s']:.1f} | "
              f"{r['peak_gib']:.2f} | {r['level_hours']:.1f} |")
    print(f"\nfull {args.preset} schedule on this GPU: {hours:.1f} h"
          f"{'' if complete else ' (levels not measured are left out: a lower bound)'}")
    print("\n| I3D 16x224x224 | clips/s | FVD-2048 features (min) |\n|---|---|---|")
    for r in fvd_rows(args.fvd_batch, args.fvd_clips):
        print(f"| {r['precision']} | {r['clips_s']:.1f} | {r['fvd2048_min']:.2f} |")
    left = max(60.0, 470 - (time.monotonic() - began))
    print(f"\ntorchrun --nproc_per_node 1 (nccl): {torchrun_check(left)}")
    print(f"\n# gpu_check took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
