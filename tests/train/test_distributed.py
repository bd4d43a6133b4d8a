"""Two CPU processes with gloo hold identical parameters and match one process with the same global batch."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from provgan.config import load_config
from provgan.shard import Shard
from provgan.train.distributed import DistContext
from provgan.train.loop import Trainer

from conftest import FAST_OVERRIDES  # noqa: E402

# Adam with beta1 = 0 turns early updates into about lr * sign(grad), which hides gradient magnitudes
# and lets float noise flip near-zero elements. With eps >> sqrt(v) its update is lr / eps * grad:
# plain SGD with step 1e-2, so the comparison below checks the averaged gradients themselves.
OVERRIDES = FAST_OVERRIDES + ["schedule.total_kimg=0.024", "schedule.minibatch_default=8",
                              "schedule.lr_default=1e6", "optim.eps=1e8",
                              "run.snapshot_kimg=1", "run.sample_kimg=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, store: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cfg = load_config("tiny", OVERRIDES)
        ctx = DistContext(Shard(rank, world), torch.device("cpu"), rank)
        trainer = Trainer(cfg, store, __import__("pathlib").Path(out) / "run", ctx, show_progress=False)
        trainer.run()
        torch.save(trainer.state()["models"], f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_match_single_process(tiny_store, tmp_path):
    mp.start_processes(_worker, args=(2, _free_port(), str(tiny_store), str(tmp_path)), nprocs=2,
                       start_method="spawn", join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    torch.set_num_threads(1)
    single = Trainer(load_config("tiny", OVERRIDES), tiny_store, tmp_path / "single",
                     DistContext(Shard(), torch.device("cpu"), 0), show_progress=False)
    single.run()
    s = single.state()["models"]
    for net in s:
        for key in s[net]:
            assert torch.equal(r0[net][key], r1[net][key]), f"ranks differ in {net}.{key}"
            torch.testing.assert_close(r0[net][key], s[net][key], rtol=1e-4, atol=1e-5,
                                       msg=lambda m: f"{net}.{key}: {m}")
    theta = r0["head"]["theta"]
    assert torch.allclose(theta.T @ theta, torch.eye(theta.shape[0]), atol=1e-5)
    # only rank 0 writes: one stats file, no rank-1 artefacts
    assert (tmp_path / "run" / "stats.jsonl").exists()
    assert single.progress.step == 3
