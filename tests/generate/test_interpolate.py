"""Appendix B interpolations: slerp on the sphere, exact endpoints, rows of consecutive seed pairs."""

import math

import numpy as np
import pytest
import torch

from provgan.data.video_io import probe_video
from provgan.errors import ProvganError
from provgan.interpolation import chain_latents, interpolate, lerp, parse_seeds, slerp
from provgan.sampling import GenerateOptions, generate, interpolation_grid


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.acos(max(-1.0, min(1.0, float(a.double() @ b.double() / (a.double().norm() * b.double().norm())))))


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, generator=g), torch.randn(64, generator=g)


def test_slerp_keeps_the_norm_when_both_ends_have_it(pair):
    a, b = pair
    b = b * (a.norm() / b.norm())
    path = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(path.norm(dim=1), a.norm().expand(11), rtol=1e-5)
    # a straight line would cut inside the sphere
    assert lerp(a, b, torch.tensor([0.5])).norm() < 0.9 * a.norm()


def test_slerp_moves_at_constant_angular_speed_on_the_great_circle(pair):
    a, b = pair
    omega = angle(a, b)
    t = torch.linspace(0, 1, 9)
    path = slerp(a, b, t)
    for ti, z in zip(t.tolist(), path):
        assert angle(a, z) == pytest.approx(ti * omega, abs=1e-5)
        assert angle(z, b) == pytest.approx((1 - ti) * omega, abs=1e-5)
    # the norm goes linearly from |a| to |b|
    assert torch.allclose(path.norm(dim=1), (1 - t) * a.norm() + t * b.norm(), rtol=1e-5)


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_endpoints_are_exactly_the_latents(pair, mode):
    a, b = pair
    path = interpolate(a, b, 7, mode)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)


def test_lerp_is_the_straight_line(pair):
    a, b = pair
    assert torch.allclose(interpolate(a, b, 3, "lerp")[1], (a + b) / 2)


def test_parallel_ends_do_not_divide_by_zero(pair):
    a, _ = pair
    path = slerp(a, 2 * a, torch.linspace(0, 1, 5))
    assert torch.isfinite(path).all()
    assert torch.allclose(path[2], 1.5 * a, rtol=1e-5)


def test_chain_rows_run_between_consecutive_latents():
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    rows = chain_latents(z, 5).reshape(3, 5, 8)
    for r in range(3):
        assert torch.equal(rows[r, 0], z[r]) and torch.equal(rows[r, -1], z[r + 1])


def test_parse_seeds():
    assert parse_seeds("3, 7,11") == [3, 7, 11]
    with pytest.raises(ValueError, match="'x'"):
        parse_seeds("1,x")


def cells(grid: np.ndarray, rows: int, cols: int, h: int, w: int) -> np.ndarray:
    """Grid frames (T, Hg, Wg, 3) with a 1-px border -> (rows, cols, T, h, w, 3)."""
    return np.stack([np.stack([grid[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w]
                               for c in range(cols)]) for r in range(rows)])


def test_interpolation_endpoints_equal_the_plain_samples_of_those_seeds(sampler, tmp_path):
    seeds = [3, 8, 11]
    grid = interpolation_grid(sampler, seeds, steps=4, batch=1, upscale=1)
    tiles = cells(grid, 2, 4, 16, 16)
    plain = {}
    for s in seeds:
        (path,) = generate(sampler, GenerateOptions(num=1, seed=s, fmt="npz", batch=1), tmp_path)
        plain[s] = np.load(path)["clip"]
    for r, (a, b) in enumerate(zip(seeds[:-1], seeds[1:])):
        assert np.array_equal(tiles[r, 0], plain[a]) and np.array_equal(tiles[r, -1], plain[b])
        assert not np.array_equal(tiles[r, 1], plain[a])  # the middle columns are new clips
    # with the default batch the float rounding may differ, never the picture
    batched = cells(interpolation_grid(sampler, seeds, steps=4, upscale=1), 2, 4, 16, 16)
    assert np.abs(batched.astype(int) - tiles).max() <= 1


def test_interpolation_errors(sampler):
    with pytest.raises(ProvganError, match="at least two seeds"):
        interpolation_grid(sampler, [1], steps=4)
    with pytest.raises(ProvganError, match="at least 2 steps"):
        interpolation_grid(sampler, [1, 2], steps=1)
    with pytest.raises(ProvganError, match="has not been reached"):
        interpolation_grid(sampler, [1, 2], steps=3, level=sampler.level + 1)


def test_cli_interpolate_writes_the_grid_video(trained, cli, tmp_path):
    out = tmp_path / "samples" / "interpolation.mp4"
    code, stdout, err = cli("interpolate", trained.run, "--seeds", "0,1,2", "--steps", 5, "--out", out,
                            "--mode", "lerp", "--level", 1)
    assert code == 0, err
    assert "2x5 lerp interpolation" in stdout and "level 1: 4x8x8" in stdout
    info = probe_video(out)
    assert info.num_frames == 4 and (info.height, info.width) == (2 * 97 + 1 + 1, 5 * 97 + 1)
    code, _, err = cli("interpolate", trained.run, "--seeds", "0,1", "--out", tmp_path / "x.avi")
    assert code == 2 and ".mp4 or .gif" in err
