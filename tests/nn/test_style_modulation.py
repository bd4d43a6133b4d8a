"""model.style_modulation: G's convolutions and toRGB read inputs scaled per clip by an affine map of pn(z)."""

import dataclasses

import torch

from provgan.config import load_config
from provgan.nn import Generator
from provgan.nn.layers import leaky_relu, pixel_norm, upsample
from tests.nn.test_identity_over_time import assert_grows_continuously


def _pair():
    cfg = load_config("tiny").model
    on = dataclasses.replace(cfg, style_modulation=True)
    torch.manual_seed(0)
    return cfg, Generator(cfg), Generator(on)


def _affine(mod, w):
    a = mod.affine
    return torch.nn.functional.linear(w, a.weight * a.weight_gain, a.bias)


def test_off_by_default_and_old_state_dicts_still_fit():
    cfg, plain, styled = _pair()
    assert not cfg.style_modulation
    assert not any("mod" in k for k in plain.state_dict())
    extra = {k for k in styled.state_dict() if "mod" in k}
    levels = range(1, len(cfg.plan))
    expected = ({f"blocks.0.mod.affine.{p}" for p in ("weight", "bias")}
                | {f"blocks.{i}.mod{j}.affine.{p}" for i in levels for j in (0, 1) for p in ("weight", "bias")}
                | {f"rgb_mods.{i}.affine.{p}" for i in range(len(cfg.plan)) for p in ("weight", "bias")})
    assert extra == expected
    assert set(plain.state_dict()) == set(styled.state_dict()) - extra


def test_block_matches_its_formula_and_starts_at_scale_one_plus_noise():
    cfg, _, g = _pair()
    z = torch.randn(3, cfg.latent_dim)
    w = pixel_norm(z)
    block = g.blocks[1]
    assert torch.all(block.mod0.affine.bias == 1.0)  # StyleGAN2's initial bias
    h = g.blocks[0](z, w)
    x = upsample(h, block.factor)
    x = pixel_norm(leaky_relu(block.conv0(x * _affine(block.mod0, w)[:, :, None, None, None])))
    expected = pixel_norm(leaky_relu(block.conv1(x * _affine(block.mod1, w)[:, :, None, None, None])))
    assert torch.allclose(block(h, w), expected, atol=1e-5)
    rgb = g.to_rgb[1](block(h, w) * _affine(g.rgb_mods[1], w)[:, :, None, None, None])
    assert torch.allclose(g(z, 1), rgb, atol=1e-5)


def test_the_scale_is_one_number_per_clip_and_channel():
    cfg, _, g = _pair()
    z = torch.randn(2, cfg.latent_dim)
    w = pixel_norm(z)
    x = torch.ones(2, cfg.g_channels[0], *cfg.plan[1])  # mod0 scales the block's input
    scaled = g.blocks[1].mod0(x, w)
    # the same at every frame and pixel, different between the two clips
    assert torch.allclose(scaled, scaled[:, :, :1, :1, :1].expand_as(scaled))
    assert not torch.allclose(scaled[0], scaled[1])


def test_shapes_fade_continuity_and_gradients_with_modulation():
    cfg, _, g = _pair()
    z = torch.randn(2, cfg.latent_dim)
    assert_grows_continuously(g, cfg, z, atol=1e-5)
    top = len(cfg.plan) - 1
    g(z, top, 0.5).square().mean().backward()
    mods = [g.blocks[0].mod, g.rgb_mods[top], g.rgb_mods[top - 1]]
    mods += [m for level in range(1, top + 1) for m in (g.blocks[level].mod0, g.blocks[level].mod1)]
    for mod in mods:
        assert mod.affine.weight.grad is not None and mod.affine.weight.grad.abs().sum() > 0


def test_parameter_count_includes_the_affines_of_the_level():
    cfg, plain, styled = _pair()
    top = len(cfg.plan) - 1
    affines = sum(p.numel() for m in [styled.blocks[0].mod, styled.rgb_mods[top]]
                  + [m for lv in range(1, top + 1) for m in (styled.blocks[lv].mod0, styled.blocks[lv].mod1)]
                  for p in m.parameters())
    assert styled.num_parameters() == plain.num_parameters() + affines
