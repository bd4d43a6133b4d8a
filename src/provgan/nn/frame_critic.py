"""The frame critic (``model.frame_critic``): the progressive D on single frames, with its own SWGAN head.

DVD-GAN (Clark et al. 2019, §3) splits its critic in two: a spatial discriminator that scores k
frames of every clip on their own and a temporal one that scores the clip. The progressive SWGAN
keeps its clip critic D (thesis ch. 4 and 5) and gains the spatial half: the same network as D, built
on the plan with one frame per level (1, H_L, W_L) so it grows in space with D and fades with it,
without D's temporal statistic (a frame has no time), and with a sliced head of its own when the loss
is SWGAN (a frame's features are not a clip's, so they get their own slices).

It sees the frames of the very clips D sees (the same real batch and the same fakes), ``k`` frames of
each, drawn without replacement. Under several processes each keeps its own clips' frames and their
random draws (:meth:`provgan.shard.Shard.per_clip`), but its minibatch-stddev groups are formed from
the frames a process holds, so unlike D's they are not the groups of a one-process run.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from provgan.config import ModelConfig, Shape
from provgan.nn.discriminator import Discriminator
from provgan.nn.sliced_head import SlicedHead


def frame_plan(plan: tuple[Shape, ...]) -> tuple[Shape, ...]:
    """The plan of single frames: (T, H, W) -> (1, H, W) at every level."""
    return tuple((1, int(h), int(w)) for _, h, w in plan)


def frame_model_config(cfg: ModelConfig) -> ModelConfig:
    """D's model config for frames: the frame plan, no temporal statistic, no frame critic of its own."""
    return dataclasses.replace(cfg, plan=frame_plan(cfg.plan), temporal_std=False, frame_critic=0)


def draw_frame_index(num_clips: int, frames: int, k: int) -> torch.Tensor:
    """(N, k) distinct frame indices per clip, uniform over the T frames (global torch RNG, CPU)."""
    return torch.rand(num_clips, frames).argsort(dim=1)[:, :k]


def gather_frames(clips: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N, C, T, H, W) clips and (N, k) frame indices -> (N, C, k, H, W): frame index[i, j] of clip i at j."""
    n, c, _, h, w = clips.shape
    k = index.shape[1]
    return clips.gather(2, index.to(clips.device).view(n, 1, k, 1, 1).expand(n, c, k, h, w))


def pick_frames(clips: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N, C, T, H, W) clips and (N, k) indices -> (N * k, C, 1, H, W): frame index[i, j] of clip i at row i*k + j."""
    n, c, _, h, w = clips.shape
    return gather_frames(clips, index).transpose(1, 2).reshape(n * index.shape[1], c, 1, h, w)


class FrameCritic(nn.Module):
    """The progressive D on the frame plan (``disc``) and its sliced head (``head``, SWGAN only)."""

    def __init__(self, cfg: ModelConfig, sliced: bool):
        super().__init__()
        if cfg.frame_critic < 1:
            raise ValueError("a frame critic needs model.frame_critic >= 1 (frames per clip)")
        self.frames_per_clip = cfg.frame_critic
        self.disc = Discriminator(frame_model_config(cfg), score_head=not sliced)
        self.head = SlicedHead(cfg.feature_dim) if sliced else None
