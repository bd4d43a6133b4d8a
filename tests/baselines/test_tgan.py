"""TGAN: shapes, the uniform prior, singular value clipping and the BN gamma clip, settings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from provgan.baselines import tgan
from provgan.baselines.common import count_parameters
from provgan.errors import ConfigError

WIDTH = 1 / 16


def power_iteration_sigma(a: torch.Tensor, steps: int = 500) -> float:
    """The largest singular value of a matrix by power iteration on a^T a (no SVD)."""
    v = torch.ones(a.shape[1], dtype=torch.float64) / a.shape[1] ** 0.5
    a = a.double()
    for _ in range(steps):
        v = a.T @ (a @ v)
        v = v / v.norm()
    return float((a @ v).norm())


def kernel_matrices(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().reshape(p.shape[0], -1) for n, p in module.named_parameters() if p.dim() >= 2}


@pytest.mark.parametrize("shape", [(16, 32, 32), (16, 64, 64)])
def test_shapes_and_range(shape):
    torch.manual_seed(0)
    parts = tgan.build(shape, width=WIDTH)
    g, d = parts.generator, parts.critics["D"].module
    video, aux = g.forward_with_aux(torch.randn(3, g.latent_dim))
    assert video.shape == (3, 3, *shape)
    assert aux["z1"].shape == (3, g.latent_dim, shape[0])
    assert video.abs().max() <= 1.0 and aux["z1"].abs().max() < 1.0
    assert d(video).shape == (3,)


def test_native_size_matches_the_original_table():
    """16x64x64, width 1: temporal 0.83 M, image 3.62 M, D 11.0 M (BASELINES.md §0)."""
    parts = tgan.build((16, 64, 64))
    assert round(count_parameters(parts.generator.temporal) / 1e4) == 83
    assert round(count_parameters(parts.generator.image) / 1e4) == 362
    assert round(count_parameters(parts.critics["D"].module) / 1e5) == 110


def test_z0_is_uniform_on_minus_one_one():
    """The generator's own z0 (aux) from z ~ N(0, I): the empirical CDF is U(-1, 1)'s (KS distance)."""
    g = tgan.build((16, 32, 32), width=WIDTH).generator
    torch.manual_seed(1)
    with torch.no_grad():
        _, aux = g.forward_with_aux(torch.randn(64, g.latent_dim))
    z0 = aux["z0"].flatten().sort().values
    uniform = torch.linspace(-1, 1, z0.numel())
    assert z0.abs().max() < 1.0
    assert (z0 - uniform).abs().max() / 2 < 0.03  # KS distance; 6,400 draws: 0.02 at the 1% level


def _trained_critic(seed: int):
    torch.manual_seed(seed)
    part = tgan.build((16, 32, 32), width=WIDTH).critics["D"]
    d = part.module.train()
    with torch.no_grad():
        for _ in range(3):  # move running_var away from 1
            d(torch.randn(6, 3, 16, 32, 32) * 3)
        for m in d.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(-2.0, 4.0)  # some below the floor, some above the ceiling
    return part, d


def test_svc_clips_every_kernel_matrix_right_after_a_clipping_step():
    part, d = _trained_critic(2)
    before = {n: power_iteration_sigma(a) for n, a in kernel_matrices(d).items()}
    assert max(before.values()) > 1.05  # LeCun init: the clip has work to do
    singular_before = {n: torch.linalg.svdvals(a) for n, a in kernel_matrices(d).items()}
    part.constraint(d, 4)  # the 5th D step: clips
    for name, a in kernel_matrices(d).items():
        assert power_iteration_sigma(a) <= 1 + 1e-5, name
        assert torch.allclose(torch.linalg.svdvals(a), singular_before[name].clamp(max=1.0), atol=1e-5)
    for m in d.modules():
        if isinstance(m, nn.BatchNorm3d):
            sigma = m.running_var.sqrt()
            assert (m.weight >= 0.01 * sigma - 1e-7).all() and (m.weight <= sigma + 1e-7).all()
            assert m.bias is None  # the "NoBeta" critic


def test_svc_is_exact_inside_a_bf16_autocast_region():
    part, d = _trained_critic(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        part.constraint(d, 4)
    for name, a in kernel_matrices(d).items():
        assert a.dtype == torch.float32 and power_iteration_sigma(a) <= 1 + 1e-5, name


def test_svc_fires_only_every_fifth_step():
    part, d = _trained_critic(3)
    state = {k: v.clone() for k, v in d.state_dict().items()}
    for step in (0, 1, 2, 3, 5, 8):
        part.constraint(d, step)
    assert all(torch.equal(state[k], v) for k, v in d.state_dict().items())
    part.constraint(d, 9)
    assert not all(torch.equal(state[k], v) for k, v in d.state_dict().items())


def test_settings_and_bad_input():
    parts = tgan.build((16, 32, 32), width=WIDTH)
    assert parts.loss == "wgan" and parts.g_extra is None
    for spec in (parts.g_optimizer, parts.critics["D"].optimizer):
        assert (spec.name, spec.lr, spec.alpha, spec.eps) == ("rmsprop", 5e-5, 0.99, 1e-8)
    assert isinstance(parts.critics["D"].optimizer.make(parts.critics["D"].module.parameters()),
                      torch.optim.RMSprop)
    temporal_norms = [m for m in parts.generator.temporal.modules() if isinstance(m, nn.BatchNorm1d)]
    assert temporal_norms and all(m.bias is None for m in temporal_norms)
    with pytest.raises(ConfigError, match="power of two >= 2"):
        tgan.build((12, 32, 32))
    with pytest.raises(ConfigError, match="svc_every must be >= 1"):
        tgan.build((16, 32, 32), options={"svc_every": 0})
