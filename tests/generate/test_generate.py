"""provgan generate: seeds name clips, every format and the grid hold exactly the generator's output."""

import pickle

import cv2
import numpy as np
import pytest
import torch

from provgan.data.video_io import probe_video, read_video
from provgan.errors import ProvganError
from provgan.sampling import GenerateOptions, generate, parse_grid


def direct_clip(tg, seed: int, level: int | None = None) -> np.ndarray:
    """The clip of ``seed`` computed without provgan.sampling: N(0, I) latent from its own generator."""
    level = tg.level if level is None else level
    alpha = tg.alpha if level == tg.level else 1.0
    z = torch.randn(1, tg.latent_dim, generator=torch.Generator().manual_seed(seed))
    x = tg.generator(z, level, alpha).clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 3, 0).numpy()  # (T, H, W, C)
    return x


def npz_clips(paths) -> dict[int, np.ndarray]:
    out = {}
    for p in paths:
        with np.load(p) as d:
            out[int(d["seed"])] = d["clip"]
    return out


def test_same_seed_same_clips_and_a_larger_num_extends_a_smaller_one(sampler, tmp_path):
    small = npz_clips(generate(sampler, GenerateOptions(num=3, seed=7, fmt="npz"), tmp_path / "a"))
    large = npz_clips(generate(sampler, GenerateOptions(num=6, seed=7, fmt="npz"), tmp_path / "b"))
    again = npz_clips(generate(sampler, GenerateOptions(num=3, seed=7, fmt="npz"), tmp_path / "c"))
    assert sorted(small) == [7, 8, 9] and sorted(large) == list(range(7, 13))
    for seed in small:
        assert np.array_equal(small[seed], large[seed]) and np.array_equal(small[seed], again[seed])
    # the clips are those of the seeds' own latents (up to float rounding between batch shapes)
    for seed, clip in large.items():
        assert clip.shape == (8, 16, 16, 3)
        assert np.abs(clip.astype(int) - direct_clip(sampler, seed)).max() <= 1


class ShapeSensitive(torch.nn.Module):
    """A generator whose output depends on the batch shape, as kernels chosen per shape round differently."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, z, level, alpha):
        return self.inner(z, level, alpha) + 0.05 * (z.shape[0] % 3)


def test_clips_do_not_depend_on_how_many_are_asked_even_with_shape_dependent_kernels(sampler, tmp_path):
    import dataclasses

    tg = dataclasses.replace(sampler, generator=ShapeSensitive(sampler.generator))
    small = npz_clips(generate(tg, GenerateOptions(num=2, seed=0, fmt="npz", batch=4), tmp_path / "a"))
    large = npz_clips(generate(tg, GenerateOptions(num=7, seed=0, fmt="npz", batch=4), tmp_path / "b"))
    assert all(np.array_equal(small[s], large[s]) for s in small)


def test_different_seeds_give_different_clips(sampler, tmp_path):
    clips = npz_clips(generate(sampler, GenerateOptions(num=4, seed=0, fmt="npz"), tmp_path))
    for a in clips:
        for b in clips:
            if a < b:
                assert np.abs(clips[a].astype(int) - clips[b]).mean() > 2, (a, b)


def test_batch_one_matches_the_direct_computation_bit_for_bit(sampler, tmp_path):
    clips = npz_clips(generate(sampler, GenerateOptions(num=2, seed=3, fmt="npz", batch=1), tmp_path))
    for seed, clip in clips.items():
        assert np.array_equal(clip, direct_clip(sampler, seed))


def test_npz_holds_the_position(sampler, tmp_path):
    (path,) = generate(sampler, GenerateOptions(num=1, seed=5, fmt="npz"), tmp_path)
    with np.load(path) as d:
        assert int(d["level"]) == sampler.level and float(d["kimg"]) == pytest.approx(sampler.kimg)
        assert float(d["alpha"]) == pytest.approx(sampler.alpha)


def test_earlier_level_is_sampled_at_its_own_shape(sampler, tmp_path):
    clips = npz_clips(generate(sampler, GenerateOptions(num=2, seed=0, fmt="npz", level=0, batch=1), tmp_path))
    assert clips[0].shape == (4, 4, 4, 3)
    assert np.array_equal(clips[1], direct_clip(sampler, 1, level=0))


def test_grid_puts_clip_i_in_row_major_cell_i_and_leaves_missing_cells_black(sampler, tmp_path):
    opts = GenerateOptions(num=3, seed=2, fmt="npz", grid=(2, 2), upscale=2)
    (path,) = generate(sampler, opts, tmp_path)
    with np.load(path) as d:
        grid, seeds = d["clip"], [int(s) for s in d["seeds"]]
    assert seeds == [2, 3, 4]
    cell = 16 * 2 + 1  # upscaled cell plus the 1-pixel black border
    assert grid.shape == (8, 2 * cell + 1, 2 * cell + 1, 3)
    for i, seed in enumerate(seeds):
        r, c = divmod(i, 2)
        tile = grid[:, 1 + r * cell:1 + r * cell + 32, 1 + c * cell:1 + c * cell + 32]
        expected = direct_clip(sampler, seed).repeat(2, axis=1).repeat(2, axis=2)
        assert np.abs(tile.astype(int) - expected).max() <= 1
    assert grid[:, 1 + cell:, 1 + cell:].max() == 0


def test_frames_format_writes_one_png_per_frame(sampler, tmp_path):
    (folder,) = generate(sampler, GenerateOptions(num=1, seed=4, fmt="frames", upscale=3), tmp_path)
    (npz,) = generate(sampler, GenerateOptions(num=1, seed=4, fmt="npz"), tmp_path / "npz")
    pngs = sorted(folder.glob("frame-*.png"))
    assert folder.name == "seed000004" and len(pngs) == 8
    with np.load(npz) as d:
        clip = d["clip"].repeat(3, axis=1).repeat(3, axis=2)
    for i, png in enumerate(pngs):
        assert np.array_equal(cv2.imread(str(png))[..., ::-1], clip[i])


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_video_formats_have_every_frame_at_the_viewing_size(sampler, tmp_path, fmt):
    paths = generate(sampler, GenerateOptions(num=2, seed=0, fmt=fmt), tmp_path)
    assert [p.name for p in paths] == [f"seed000000.{fmt}", f"seed000001.{fmt}"]
    info = probe_video(paths[0])
    assert (info.num_frames, info.height, info.width) == (8, 96, 96)  # 16 px x viewing upscale 6
    frames = read_video(paths[0])
    expected = direct_clip(sampler, 0).repeat(6, axis=1).repeat(6, axis=2)
    assert np.abs(frames.astype(float) - expected).mean() < 12  # lossy codec, same picture


def test_progress_counts_every_clip(sampler, tmp_path):
    seen = []
    generate(sampler, GenerateOptions(num=5, seed=0, fmt="npz", batch=2), tmp_path, seen.append)
    assert seen == [2, 2, 1]


def test_option_errors_are_one_clear_line():
    with pytest.raises(ProvganError, match="do not fit a 2x2 grid"):
        GenerateOptions(num=5, grid=(2, 2))
    with pytest.raises(ProvganError, match="ROWSxCOLS"):
        parse_grid("4by4")
    with pytest.raises(ProvganError, match="unknown format"):
        GenerateOptions(fmt="avi")


# ---------------------------------------------------------------------------------------------
# the command line


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_cli_generate_writes_the_files_it_reports(trained, cli, tmp_path):
    code, out, err = cli("generate", trained.run, "--num", 3, "--seed", 10, "--out", tmp_path, "--format", "gif")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed000010.gif", "seed000011.gif", "seed000012.gif"]
    assert "seeds 10..12" in out and "level 2: 8x16x16" in out
    code, out, err = cli("generate", trained.run, "--grid", "2x3", "--out", tmp_path / "g", "--level", "1")
    assert code == 0, err
    (grid,) = (tmp_path / "g").iterdir()
    assert grid.name == "grid-2x3-seed0-level1.mp4"
    info = probe_video(grid)
    assert (info.width, info.height) == (3 * (8 * 12 + 1) + 1, 2 * (8 * 12 + 1) + 1 + 1)  # 8 px x 12, borders, even pad


def test_cli_level_not_reached(trained, cli, tmp_path):
    from provgan.train.checkpoint import list_checkpoints, load_sampler

    first = list_checkpoints(trained.run)[0]
    assert load_sampler(first).level < 2
    code, _, err = cli("generate", first, "--level", 2, "--out", tmp_path)
    assert code == 2 and "has not been reached" in one_error_line(err) and "--level 0.." in err
    assert not any(tmp_path.iterdir())


def test_cli_run_folder_without_checkpoint(trained, cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text((trained.run / "config.yaml").read_text())
    code, _, err = cli("generate", run, "--out", tmp_path / "out")
    assert code == 2 and "no loadable checkpoint" in one_error_line(err)
    code, _, err = cli("interpolate", run, "--seeds", "1,2", "--out", tmp_path / "i.mp4")
    assert code == 2 and "no loadable checkpoint" in one_error_line(err)


class Payload:
    """A pickle that would create a file if it were ever unpickled with the full pickle module."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_cli_refuses_tampered_and_foreign_checkpoints(cli, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "ckpt-000001.pt"
    torch.save({"format": "provgan-checkpoint-1", "models": Payload(marker)}, evil, pickle_module=pickle)
    code, _, err = cli("generate", evil, "--out", tmp_path / "out")
    assert code == 2 and "refused by the safe loader" in one_error_line(err)
    assert not marker.exists()
    foreign = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"conv.weight": torch.zeros(2, 2)}, "epoch": 3}, foreign)
    code, _, err = cli("interpolate", foreign, "--seeds", "1,2", "--out", tmp_path / "i.mp4")
    assert code == 2 and "not a provgan checkpoint" in one_error_line(err)


def test_cli_bad_options(trained, cli, tmp_path):
    cases = [(("--grid", "2x2", "--num", 9), "do not fit"), (("--grid", "x3"), "ROWSxCOLS"),
             (("--device", "gpu"), "--device 'gpu'")]
    if not torch.cuda.is_available():
        cases.append((("--device", "cuda"), "CUDA is not available"))
    for args, message in cases:
        code, _, err = cli("generate", trained.run, "--out", tmp_path, *args)
        assert code == 2 and message in one_error_line(err)
    (tmp_path / "file").write_text("")
    code, _, err = cli("generate", trained.run, "--out", tmp_path / "file", "--num", 1)
    assert code == 2 and "is a file" in one_error_line(err)


def test_the_raw_generator_loads_on_request_and_differs_from_its_average(trained, sampler):
    from provgan.train.checkpoint import load_sampler, read_checkpoint

    raw = load_sampler(trained.run, network="G")
    saved = read_checkpoint(sampler.path)["models"]
    for name, value in raw.generator.state_dict().items():
        assert torch.equal(value, saved["G"][name]), name
    assert (raw.level, raw.alpha, raw.path) == (sampler.level, sampler.alpha, sampler.path)
    z = sampler.latents([0, 1])
    assert not torch.allclose(raw.sample(z), sampler.sample(z))  # G is not its EMA after training
    with pytest.raises(ValueError, match="network must be one of G_ema, G"):
        load_sampler(trained.run, network="D")


def test_every_network_of_a_checkpoint_loads_for_diagnostics(trained, sampler):
    from provgan.train.checkpoint import read_checkpoint
    from provgan.train.models import load_models

    loaded = load_models(sampler.path)
    saved = read_checkpoint(sampler.path)["models"]
    modules = loaded.models.modules()
    assert set(modules) == set(saved) and {"G", "G_ema", "D"} <= set(modules)
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, saved[name][key]), (name, key)
    assert (loaded.level, loaded.alpha, loaded.kimg) == (sampler.level, sampler.alpha, sampler.kimg)


def test_strip_is_the_grids_first_middle_and_last_frames_side_by_side(sampler, tmp_path):
    import cv2

    opts = dict(num=4, seed=1, grid=(2, 2), upscale=2)
    (npz,) = generate(sampler, GenerateOptions(fmt="npz", **opts), tmp_path / "npz")
    (png,) = generate(sampler, GenerateOptions(fmt="strip", **opts), tmp_path / "strip")
    with np.load(npz) as d:
        grid = d["clip"]
    strip = cv2.imread(str(png))[..., ::-1]
    t, h, w = grid.shape[:3]
    assert png.suffix == ".png" and strip.shape == (h, 3 * w + 8, 3)
    for i, frame in enumerate((0, t // 2, t - 1)):
        assert np.array_equal(strip[:, i * (w + 4): i * (w + 4) + w], grid[frame])
    assert (strip[:, w: w + 4] == 255).all()  # a white gap between the frames
