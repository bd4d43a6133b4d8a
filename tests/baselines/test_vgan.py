"""VGAN: shapes at the store levels, the mask term, the static background, the 2-logit critic."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from provgan.baselines import vgan
from provgan.baselines.common import count_parameters
from provgan.errors import ConfigError

WIDTH = 1 / 16  # channel counts / 16: a tiny but complete network


@pytest.mark.parametrize("shape", [(16, 32, 32), (16, 64, 64)])
def test_shapes_and_range(shape):
    torch.manual_seed(0)
    parts = vgan.build(shape, channels=3, width=WIDTH)
    g, d = parts.generator, parts.critics["D"].module
    video, aux = g.forward_with_aux(torch.randn(3, g.latent_dim), 0, 1.0)
    assert video.shape == (3, 3, *shape)
    assert aux["mask"].shape == (3, 1, *shape) and aux["background"].shape == (3, 3, *shape[1:])
    assert video.abs().max() <= 1.0
    assert d(video).shape == (3,)
    assert torch.equal(g(torch.zeros(2, g.latent_dim)), g(torch.zeros(2, g.latent_dim), 0, 0.5))


def test_native_size_matches_the_original_table():
    """At 32x64x64 and width 1 the counts equal VGAN's main.lua (16.2 M / 11.1 M, BASELINES.md §0)."""
    parts = vgan.build((32, 64, 64))
    assert round(count_parameters(parts.generator) / 1e5) == 162
    assert round(count_parameters(parts.critics["D"].module) / 1e5) == 111


def test_mask_term_is_a_tenth_of_the_mean_mask_and_reaches_g_only():
    torch.manual_seed(1)
    parts = vgan.build((16, 32, 32), width=WIDTH)
    g, d = parts.generator, parts.critics["D"].module
    _, aux = g.forward_with_aux(torch.randn(4, g.latent_dim))
    m = aux["mask"]
    written_out = 0.1 * m.sum() / (m.shape[0] * m.shape[1] * m.shape[2] * m.shape[3] * m.shape[4])
    term = parts.g_extra(aux)
    assert torch.allclose(term, written_out, rtol=1e-6, atol=0)
    term.backward()
    assert all(p.grad is None for p in d.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in g.mask.parameters())
    assert all(p.grad is None for p in g.background.parameters())  # the mask term does not touch b


def test_background_is_constant_over_frames_where_the_mask_is_zero():
    torch.manual_seed(2)
    g = vgan.build((16, 32, 32), width=WIDTH).generator.eval()
    conv = g.mask[0]
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(-1e4)  # sigmoid underflows to exactly 0: the video is the background alone
        video, aux = g.forward_with_aux(torch.randn(2, g.latent_dim))
    assert torch.equal(aux["mask"], torch.zeros_like(aux["mask"]))
    for t in range(video.shape[2]):
        assert torch.equal(video[:, :, t], aux["background"])


def test_ns_on_the_score_equals_the_two_class_cross_entropy():
    torch.manual_seed(3)
    parts = vgan.build((16, 32, 32), width=WIDTH)
    d = parts.critics["D"].module.eval()
    x = torch.rand(5, 3, 16, 32, 32) * 2 - 1
    logits = d.logits(d.features(x)).flatten(1)
    s = d(x)
    real = torch.zeros(5, dtype=torch.long)  # class 0 = real
    assert torch.allclose(F.softplus(-s), F.cross_entropy(logits, real, reduction="none"), atol=1e-6)
    assert torch.allclose(F.softplus(s), F.cross_entropy(logits, real + 1, reduction="none"), atol=1e-6)


def test_settings_and_bad_input():
    parts = vgan.build((16, 32, 32), width=WIDTH)
    assert parts.loss == "ns"
    assert parts.g_optimizer.name == "adam" and parts.g_optimizer.lr == 2e-4
    assert parts.g_optimizer.betas == (0.5, 0.999)
    assert parts.critics["D"].view == "clip" and parts.critics["D"].constraint is None
    with pytest.raises(ConfigError, match="power of two"):
        vgan.build((16, 48, 48))
    with pytest.raises(ConfigError, match="unknown model.options for vgan: mask"):
        vgan.build((16, 32, 32), options={"mask": 0.2})
    with pytest.raises(ConfigError, match="must be float"):
        vgan.build((16, 32, 32), options={"mask_weight": "a lot"})
