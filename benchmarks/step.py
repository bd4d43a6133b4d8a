"""Time one full training step (G and D forward + backward, penalties included) per level.

Prints one table: preset, level, clip shape, minibatch, loss, precision, memory format, ms/step,
clips/s, achieved GFLOP/s (FLOPs counted with torch's flop registry on the same step) and that as a
fraction of the conv3d peak this script measures in the same run on a large 3x3x3 convolution.

    python benchmarks/step.py                      # thesis-256 and ucf101-128, levels up to 64x64
    python benchmarks/step.py --max-res 32 --losses swgan --precisions fp32
    python benchmarks/step.py --device cuda --max-res 256
    python benchmarks/step.py --presets digits-32 --set loss.reg_interval=4   # lazy regularisation

Steps are timed at consecutive step indices, so with ``loss.reg_interval=k`` a row is the mean over
steps with and without the penalty (give ``--repeats`` a multiple of k).

bf16 rows are skipped on CPUs without avx512_bf16/amx_bf16 (emulated bf16 is far slower than fp32).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from provgan.config import load_config
from provgan.levels import kimg_to_reach, position_at
from provgan.shard import Shard
from provgan.train.hardware import cpu_has_bf16, cpu_name
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import autocast, train_step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_peak_gflops(device: torch.device, precision: str, channels_last: bool, repeats: int = 5) -> float:
    """Achieved GFLOP/s of a large 3x3x3 convolution forward: the machine's practical conv3d peak."""
    n, c, t, h, w = (8, 64, 16, 32, 32) if device.type == "cpu" else (16, 128, 16, 64, 64)
    x = torch.randn(n, c, t, h, w, device=device)
    conv = torch.nn.Conv3d(c, c, 3, padding=1).to(device)
    if channels_last:
        x, conv = x.to(memory_format=torch.channels_last_3d), conv.to(memory_format=torch.channels_last_3d)
    flops = 2 * n * c * c * 27 * t * h * w
    with torch.no_grad(), autocast(device, precision):
        conv(x)
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            conv(x)
        sync(device)
    return flops * repeats / (time.perf_counter() - start) / 1e9


class FlopCount(TorchDispatchMode):
    """Counts FLOPs of every dispatched op torch's flop registry knows (convs, matmuls, their grads).

    torch's FlopCounterMode cannot be used here: its module hooks break ``autograd.grad``, which the
    gradient penalties call.
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        counter = flop_registry.get(func._overloadpacket)
        if counter is not None:
            self.total += counter(*args, **kwargs, out_val=out)
        return out


FIRST_STEP = 10**6  # past the EMA ramp; a multiple of any small reg_interval, so it carries the penalty


def step_flops(models, opts, reals, pos, cfg, precision) -> float:
    """FLOPs of one step, averaged over a lazy-regularisation cycle (``loss.reg_interval`` steps)."""
    k = cfg.loss.reg_interval
    with FlopCount() as counter:
        for i in range(k):
            train_step(models, opts, reals, pos, cfg, Shard(), precision, FIRST_STEP + i)
    return float(counter.total) / k


def time_level(preset: str, level: int, loss: str, precision: str, channels_last: bool, device: torch.device,
               repeats: int, overrides: tuple[str, ...] = ()) -> dict:
    cfg = load_config(preset, [f"loss.name={loss}", *overrides])
    sched = cfg.schedule
    pos = position_at(kimg_to_reach(cfg.model.plan, sched, level), cfg.model.plan, sched)
    torch.manual_seed(0)
    models = build_models(cfg, device)
    opts = build_optimizers(models, cfg, pos.lr)
    reals = torch.rand(pos.minibatch, 3, *cfg.model.plan[level], device=device) * 2 - 1
    if channels_last:
        for m in models.modules().values():
            m.to(memory_format=torch.channels_last_3d)
        reals = reals.contiguous(memory_format=torch.channels_last_3d)
    train_step(models, opts, reals, pos, cfg, Shard(), precision, FIRST_STEP)  # warm-up
    flops = step_flops(models, opts, reals, pos, cfg, precision)
    sync(device)
    start = time.perf_counter()
    for i in range(repeats):
        train_step(models, opts, reals, pos, cfg, Shard(), precision, FIRST_STEP + i)
    sync(device)
    seconds = (time.perf_counter() - start) / repeats
    return {"shape": "x".join(map(str, cfg.model.plan[level])), "batch": pos.minibatch, "seconds": seconds,
            "gflops": flops / seconds / 1e9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="thesis-256,ucf101-128")
    ap.add_argument("--losses", default="wgan-gp,swgan")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--max-res", type=int, default=64, help="skip levels above this H (time/memory on CPU)")
    ap.add_argument("--min-res", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--layouts", default="ncdhw,cl3d", help="memory formats to time: ncdhw and/or cl3d")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every row (repeatable), e.g. loss.reg_interval=4")
    args = ap.parse_args()
    device = torch.device(args.device)
    precisions = [p for p in args.precisions.split(",") if p != "bf16" or device.type == "cuda" or cpu_has_bf16()]
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"# {machine}; {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"python {platform.python_version()}; bf16 rows: {'yes' if 'bf16' in precisions else 'skipped'}"
          + (f"; overrides: {' '.join(args.overrides)}" if args.overrides else ""))
    layouts = [name == "cl3d" for name in args.layouts.split(",")]
    peaks = {}
    for prec in precisions:
        for cl in (False, True):
            peaks[prec, cl] = conv_peak_gflops(device, prec, cl)
            print(f"# conv3d peak {prec} {'channels_last_3d' if cl else 'contiguous'}: "
                  f"{peaks[prec, cl]:.0f} GFLOP/s")
    header = (f"{'preset':<11}{'lvl':>4} {'clip':>11}{'batch':>6} {'loss':<8}{'prec':<5}{'layout':<7}"
              f"{'ms/step':>9}{'clips/s':>9}{'GFLOP/s':>9}{'%peak':>7}")
    print(header)
    for preset in args.presets.split(","):
        plan = load_config(preset).model.plan
        for level, (_, h, _) in enumerate(plan):
            if not args.min_res <= h <= args.max_res:
                continue
            for loss in args.losses.split(","):
                for prec in precisions:
                    for cl in layouts:
                        r = time_level(preset, level, loss, prec, cl, device, args.repeats, tuple(args.overrides))
                        peak = max(peaks[prec, False], peaks[prec, True])
                        print(f"{preset:<11}{level:>4} {r['shape']:>11}{r['batch']:>6} {loss:<8}{prec:<5}"
                              f"{'cl3d' if cl else 'ncdhw':<7}{r['seconds'] * 1000:>9.0f}"
                              f"{r['batch'] / r['seconds']:>9.1f}{r['gflops']:>9.0f}{100 * r['gflops'] / peak:>6.0f}%",
                              flush=True)


if __name__ == "__main__":
    main()
