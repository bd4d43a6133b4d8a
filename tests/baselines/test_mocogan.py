"""MoCoGAN: shapes, content fixed over a clip, motion per frame, the two critics and their views."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from provgan.baselines import mocogan
from provgan.baselines.common import count_parameters, fake_view, take_view
from provgan.errors import ConfigError

WIDTH = 1 / 16


@pytest.mark.parametrize("shape", [(16, 32, 32), (16, 64, 64)])
def test_shapes_and_range(shape):
    torch.manual_seed(0)
    parts = mocogan.build(shape, width=WIDTH)
    g = parts.generator
    assert g.latent_dim == 50 + 10 * (shape[0] + 1)
    video = g(torch.randn(3, g.latent_dim), 0, 1.0)
    assert video.shape == (3, 3, *shape) and video.abs().max() <= 1.0
    frames = take_view(parts.critics["D_image"].view, video, torch.Generator().manual_seed(0))
    assert frames.shape == (3, 3, *shape[1:])
    patches = parts.critics["D_image"].module(frames)
    assert patches.shape == (3, (shape[1] // 16) * (shape[2] // 16))
    assert parts.critics["D_video"].module(take_view(parts.critics["D_video"].view, video)).shape == (3,)


def test_native_size_matches_the_original_table():
    """16x64x64, width 1: G 3.25 M, D_V 11.06 M, D_I 0.66 M (BASELINES.md §0)."""
    parts = mocogan.build((16, 64, 64))
    assert round(count_parameters(parts.generator) / 1e4) == 325
    assert round(count_parameters(parts.critics["D_video"].module) / 1e4) == 1106
    assert round(count_parameters(parts.critics["D_image"].module) / 1e4) == 66


def test_content_is_constant_over_a_clip_and_motion_differs_per_frame():
    torch.manual_seed(1)
    g = mocogan.build((16, 32, 32), width=WIDTH).generator
    z = torch.randn(4, g.latent_dim)
    content, motion = g.codes(z)
    assert torch.equal(content, z[:, None, :50].expand_as(content))
    for t in range(1, 16):
        assert torch.equal(content[:, t], content[:, 0])
        assert ((motion[:, t] - motion[:, t - 1]).abs().amax(1) > 1e-4).all()
    # the same content slice with other motion noise: same content codes, other motion, other video
    z2 = z.clone()
    z2[:, 50:] = torch.randn(4, g.latent_dim - 50)
    content2, motion2 = g.codes(z2)
    assert torch.equal(content2, content) and not torch.allclose(motion2, motion)
    g.eval()
    with torch.no_grad():
        assert not torch.allclose(g(z), g(z2))
        assert torch.equal(g(z), g(z))


def test_the_image_critic_sees_single_frames_only():
    parts = mocogan.build((16, 32, 32), width=WIDTH)
    part = parts.critics["D_image"]
    assert part.view == "frame"
    clips = torch.rand(2, 3, 16, 32, 32) * 2 - 1
    with pytest.raises(ConfigError, match=r"frames \(N, C, H, W\)"):
        part.module(clips)
    gen = torch.Generator().manual_seed(5)
    frames = take_view("frame", clips, gen)
    idx = torch.randint(16, (2,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(frames, torch.stack([clips[i, :, int(idx[i])] for i in range(2)]))


def test_each_critic_optimizer_moves_only_its_own_module():
    torch.manual_seed(2)
    parts = mocogan.build((16, 32, 32), width=WIDTH)
    modules = {name: part.module for name, part in parts.critics.items()}
    opts = {name: part.optimizer.make(part.module.parameters()) for name, part in parts.critics.items()}
    clips = torch.rand(4, 3, 16, 32, 32) * 2 - 1
    before = {name: [p.clone() for p in m.parameters()] for name, m in modules.items()}
    loss = F.softplus(-modules["D_image"](take_view("frame", clips))).mean()
    loss.backward()
    opts["D_image"].step()
    opts["D_video"].step()  # no gradient: Adam leaves it unchanged
    moved = {name: any(not torch.equal(a, b) for a, b in zip(before[name], m.parameters()))
             for name, m in modules.items()}
    assert moved == {"D_image": True, "D_video": False}


def test_settings_and_bad_input():
    parts = mocogan.build((16, 32, 32), width=WIDTH, options={"image_batch": 32, "video_batch": 16})
    assert parts.loss == "ns" and parts.g_extra is None
    for spec in (parts.g_optimizer, *(p.optimizer for p in parts.critics.values())):
        assert (spec.name, spec.lr, spec.betas, spec.weight_decay) == ("adam", 2e-4, (0.5, 0.999), 1e-5)
    assert parts.critics["D_image"].batch == 32 and parts.critics["D_video"].batch == 16
    assert mocogan.build((16, 32, 32), width=WIDTH).critics["D_video"].batch is None
    with pytest.raises(ConfigError, match="needs T >= 13"):
        mocogan.build((8, 64, 64))
    with pytest.raises(ConfigError, match="dim_motion for mocogan must be >= 1"):
        mocogan.build((16, 32, 32), options={"dim_motion": 0})
    with pytest.raises(ConfigError, match=r"expects z of shape \(N, 220\)"):
        parts.generator(torch.zeros(2, 60))


def test_fake_frames_decode_only_the_chosen_frames_and_match_the_clip():
    torch.manual_seed(6)
    parts = mocogan.build((16, 32, 32), width=WIDTH)
    g = parts.generator.eval()
    z = torch.randn(5, g.latent_dim)
    with torch.no_grad():
        cheap = fake_view("frame", g, z, generator=torch.Generator().manual_seed(9))
        full = take_view("frame", g(z), torch.Generator().manual_seed(9))
        index = torch.tensor([0, 3, 15, 7, 7])
        assert torch.allclose(g.frames(z, index), g(z)[torch.arange(5), :, index], atol=1e-6)
    assert cheap.shape == (5, 3, 32, 32)
    assert torch.allclose(cheap, full, atol=1e-6)
    clips = fake_view("clip", g, z)
    assert clips.shape == (5, 3, 16, 32, 32)


def test_fake_view_falls_back_to_the_clip_for_other_generators():
    from provgan.baselines import vgan
    torch.manual_seed(7)
    g = vgan.build((16, 32, 32), width=WIDTH).generator.eval()
    z = torch.randn(3, g.latent_dim)
    with torch.no_grad():
        assert torch.equal(fake_view("frame", g, z, generator=torch.Generator().manual_seed(1)),
                           take_view("frame", g(z), torch.Generator().manual_seed(1)))
