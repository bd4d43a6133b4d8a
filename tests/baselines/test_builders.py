"""The builder table, the shared contract's validation and the parameter-count command."""

from __future__ import annotations

import pytest
import torch

from provgan.baselines import builders
from provgan.baselines.__main__ import main
from provgan.baselines.common import CriticPart, OptimizerSpec, read_options, take_view
from provgan.errors import ConfigError

WIDTH = 1 / 16


@pytest.mark.parametrize("arch", sorted(builders.BUILDERS))
def test_every_baseline_keeps_the_generator_contract(arch):
    """G(z, level, alpha) in [-1, 1] from z ~ N(0, I) of G.latent_dim; each critic scores its view."""
    torch.manual_seed(0)
    parts = builders.build_baseline(arch, (16, 32, 32), channels=1, width=WIDTH)
    g = parts.generator
    clips = g(torch.randn(2, g.latent_dim), 0, 1.0)
    assert clips.shape == (2, 1, 16, 32, 32) and clips.abs().max() <= 1
    video, aux = g.forward_with_aux(torch.randn(2, g.latent_dim))
    assert video.shape == clips.shape and isinstance(aux, dict)
    for part in parts.critics.values():
        scores = part.module(take_view(part.view, video))
        assert scores.shape[0] == 2 and torch.isfinite(scores).all()


@pytest.mark.parametrize("arch", sorted(builders.BUILDERS))
@pytest.mark.parametrize("shape", [(32, 128, 128), (16, 128, 128), (32, 64, 64)])
def test_every_baseline_scales_to_the_larger_store_levels(arch, shape):
    """The scaling rules of BASELINES.md §1.5/§2.5/§3.4: one score (or patch map) per clip."""
    parts = builders.build_baseline(arch, shape, width=1 / 32)
    g = parts.generator
    with torch.no_grad():
        video = g(torch.randn(2, g.latent_dim))
        assert video.shape == (2, 3, *shape)
        for part in parts.critics.values():
            scores = part.module(take_view(part.view, video))
            assert scores.shape[0] == 2 and scores[0].numel() in (1, (shape[1] // 16) ** 2)


def test_counts_and_bad_names():
    counts = builders.parameter_counts(builders.build_baseline("mocogan", (16, 32, 32), width=WIDTH))
    assert set(counts) == {"G", "D_image", "D_video"} and min(counts.values()) > 0
    with pytest.raises(ConfigError, match="unknown baseline 'vgann'"):
        builders.build_baseline("vgann", (16, 32, 32))
    with pytest.raises(ConfigError, match="model.width must be > 0"):
        builders.build_baseline("tgan", (16, 32, 32), width=0)


def test_contract_validation_is_one_line_each():
    with pytest.raises(ConfigError, match="optimizer 'sgd'"):
        OptimizerSpec("sgd", 1e-3)
    with pytest.raises(ConfigError, match="lr must be > 0"):
        OptimizerSpec("adam", 0.0)
    with pytest.raises(ConfigError, match="critic view 'clips'"):
        CriticPart(torch.nn.Identity(), "clips", None, OptimizerSpec("adam", 1e-3))
    with pytest.raises(ConfigError, match="must be int"):
        read_options({"n": 1.5}, {"n": 1}, "x")
    assert read_options({"lr": 1}, {"lr": 0.1}, "x") == {"lr": 1.0}


def test_the_parameter_table_command(capsys):
    assert main(["--shape", "16x32x32", "--width", "0.0625"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("| arch |") and [r.split("|")[1].strip() for r in rows[2:]] == ["vgan", "tgan", "mocogan"]
    assert main(["--shape", "16x48x48"]) == 2
    assert "power of two" in capsys.readouterr().err


@pytest.mark.parametrize("arch", sorted(builders.BUILDERS))
def test_state_dicts_round_trip_exactly(arch, tmp_path):
    """G and every critic reload (weights_only) into a fresh build and compute the same outputs."""
    torch.manual_seed(3)
    parts = builders.build_baseline(arch, (16, 32, 32), width=WIDTH)
    g = parts.generator
    g(torch.randn(4, g.latent_dim))  # a train-mode forward moves the BN running statistics
    nets = {"G": g, **{n: c.module for n, c in parts.critics.items()}}
    torch.save({n: m.state_dict() for n, m in nets.items()}, tmp_path / "ckpt.pt")
    torch.manual_seed(4)  # another init: only the loaded state can make the outputs equal
    fresh = builders.build_baseline(arch, (16, 32, 32), width=WIDTH)
    fresh_nets = {"G": fresh.generator, **{n: c.module for n, c in fresh.critics.items()}}
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    for name, net in fresh_nets.items():
        net.load_state_dict(state[name])
    z = torch.randn(2, g.latent_dim)
    with torch.no_grad():
        assert torch.equal(g.eval()(z), fresh.generator.eval()(z))
        video = g(z)
        for name, part in parts.critics.items():
            x = take_view(part.view, video, torch.Generator().manual_seed(0))
            assert torch.equal(part.module.eval()(x), fresh_nets[name].eval()(x))
