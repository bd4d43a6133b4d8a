"""A process's place in the global minibatch (rank, world), and how it takes its share.

Random numbers are drawn for the whole global batch on every rank and each rank keeps rows
``[rank::world]``; data is sharded the same way. Minibatch-stddev groups are strided (sample n is in
group n % M), so a K-process run sees exactly the groups, latents and interpolation weights of a
one-process run with the same global batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    def take(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.rank::self.world] if self.world > 1 else x

    def local(self, global_batch: int) -> int:
        if global_batch % self.world:
            raise ValueError(f"global minibatch {global_batch} is not divisible by {self.world} processes")
        return global_batch // self.world


SINGLE = Shard()
