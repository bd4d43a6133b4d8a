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

    def per_clip(self, k: int) -> "Shard":
        """The shard of a batch of ``k`` rows per clip (rows i*k .. i*k+k-1 belong to clip i): draws
        made for the global batch of rows are split by clip, so each rank keeps its own clips' rows."""
        return self if self.world == 1 or k == 1 else ClipRowsShard(self.rank, self.world, k)

    def local(self, global_batch: int) -> int:
        if global_batch % self.world:
            raise ValueError(f"global minibatch {global_batch} is not divisible by {self.world} processes")
        return global_batch // self.world


@dataclass(frozen=True)
class ClipRowsShard(Shard):
    rows_per_clip: int = 1

    def take(self, x: torch.Tensor) -> torch.Tensor:
        k = self.rows_per_clip
        return x.reshape(-1, k, *x.shape[1:])[self.rank::self.world].reshape(-1, *x.shape[1:])


SINGLE = Shard()
