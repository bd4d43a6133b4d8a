"""The update benchmark runs every part of a baseline: critics, constraint, G with its extra term."""

from __future__ import annotations

import torch

from provgan.baselines.builders import build_baseline
from provgan.baselines.timing import critic_loss, generator_loss, time_updates


def test_losses_are_the_logistic_and_wgan_ones():
    real, fake = torch.tensor([[0.5, 1.5]]), torch.tensor([[-1.0, 0.0]])
    sp = torch.nn.functional.softplus
    assert torch.allclose(critic_loss("ns", real, fake), sp(-real).mean() + sp(fake).mean())
    assert torch.allclose(critic_loss("wgan", real, fake), torch.tensor(-0.5 - 1.0))
    assert torch.allclose(generator_loss("wgan", fake), torch.tensor(0.5))


def test_a_tgan_update_sequence_ends_clipped_and_moves_every_network():
    parts = build_baseline("tgan", (16, 32, 32), 3, 1 / 16)
    g, d = parts.generator, parts.critics["D"].module
    g0 = [p.clone() for p in g.parameters()]
    t = time_updates(parts, (16, 32, 32), 3, batch=2, steps=4)  # updates 0..4: the 5th clips
    assert t.seconds_per_step > 0 and t.clips_per_second > 0 and t.cpu_seconds_per_step > 0
    assert any(not torch.equal(a, b) for a, b in zip(g0, g.parameters()))
    for p in d.parameters():
        if p.dim() >= 2:
            assert torch.linalg.matrix_norm(p.detach().reshape(p.shape[0], -1), ord=2) <= 1 + 1e-5


def test_a_bf16_vgan_update_runs_and_keeps_fp32_weights():
    parts = build_baseline("vgan", (16, 32, 32), 3, 1 / 16)
    t = time_updates(parts, (16, 32, 32), 3, batch=2, steps=1, bf16=True)
    assert t.seconds_per_step > 0
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in parts.generator.parameters())
