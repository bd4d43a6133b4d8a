"""Several processes, one or many machines: launched by ``torchrun``, gloo on CPU, nccl on CUDA.

Each process holds full copies of the networks; the global minibatch is split across ranks
(:mod:`provgan.shard`) and gradients are averaged with one all-reduce per network per step
(:func:`provgan.train.step._all_reduce_grads`). Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from provgan.shard import Shard
from provgan.train.hardware import resolve_device


@dataclass(frozen=True)
class DistContext:
    shard: Shard
    device: torch.device
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.shard.rank == 0


def init_distributed(device_name: str) -> DistContext:
    """Join the process group that torchrun describes in the environment, or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistContext(Shard(rank, world), device, local_rank)


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if not dist.is_initialized():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def all_ranks_agree(flag: bool, device: torch.device) -> bool:
    """True only if ``flag`` is true on every rank (used for the non-finite check)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
