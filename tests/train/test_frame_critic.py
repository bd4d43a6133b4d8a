"""``model.frame_critic``: a second progressive critic on single frames (DVD-GAN's spatial D; issue 14)."""

import dataclasses

import pytest
import torch

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.levels import position_at
from provgan.nn.frame_critic import draw_frame_index, frame_plan, pick_frames
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import g_step
from tests.train.test_rotation_task import _step  # one step of the tiny config from seed 0

FRAMES = ["model.frame_critic=2"]


def test_pick_frames_gathers_frame_index_ij_of_clip_i_at_row_i_k_plus_j():
    clips = torch.randn(3, 2, 5, 4, 6)
    index = torch.tensor([[0, 4], [3, 1], [2, 2]])
    out = pick_frames(clips, index)
    assert out.shape == (6, 2, 1, 4, 6)
    for i in range(3):
        for j in range(2):
            assert torch.equal(out[i * 2 + j, :, 0], clips[i, :, index[i, j]])


def test_frame_indices_are_distinct_within_a_clip_and_uniform():
    torch.manual_seed(0)
    index = draw_frame_index(20000, 4, 3)
    assert index.shape == (20000, 3) and int(index.min()) == 0 and int(index.max()) == 3
    assert all(len(set(row)) == 3 for row in index[:500].tolist())
    share = torch.bincount(index.flatten(), minlength=4).float() / index.numel()
    assert torch.allclose(share, torch.full((4,), 0.25), atol=0.01)


def test_the_frame_critic_is_d_on_the_plan_of_single_frames():
    cfg = load_config("tiny", FRAMES + ["model.temporal_std=true"])
    assert frame_plan(cfg.model.plan) == ((1, 4, 4), (1, 8, 8), (1, 16, 16))
    torch.manual_seed(0)
    models = build_models(cfg)
    f = models.frames
    assert f is not None and f.frames_per_clip == 2 and f.head is not None  # swgan: its own sliced head
    assert f.head is not models.head
    assert f.disc.epilogue.tstd is None  # a frame has no time: no temporal statistic
    assert f.disc.plan == frame_plan(cfg.model.plan)
    for level, (_, h, w) in enumerate(cfg.model.plan):  # it grows with D, and reads frames at every level
        for alpha in (0.0, 0.5, 1.0):
            assert f.disc.features(torch.randn(6, 3, 1, h, w), level, alpha).shape == (6, cfg.model.feature_dim)
    # a scalar-head loss gives it a scalar head instead of the slices
    other = build_models(load_config("tiny", FRAMES + ["loss.name=wgan-gp"]))
    assert other.frames.head is None and other.frames.disc.score is not None


def test_off_by_default_no_critic_no_term_no_checkpoint_entry():
    models, terms = _step([])
    assert models.frames is None and "F" not in models.modules()
    assert not any("frames" in k for k in terms)


def test_on_both_losses_add_the_weighted_frame_terms():
    models, terms = _step(FRAMES)
    f = models.frames
    assert "F" in models.modules()
    assert f.disc.from_rgb[0].conv.weight.grad.abs().sum() > 0 and f.head.bias.grad.abs().sum() > 0
    # the Stiefel step keeps the frame head's slices orthonormal
    theta = f.head.theta.detach()
    assert torch.allclose(theta.T @ theta, torch.eye(theta.shape[1]), atol=1e-4)
    _, double = _step(FRAMES, FRAMES + ["loss.frame_weight=2"])
    assert torch.isclose(double["Loss/D/frames/loss"], terms["Loss/D/frames/loss"])
    assert torch.isclose(double["Loss/D/total"] - terms["Loss/D/total"], terms["Loss/D/frames/loss"], atol=1e-5)
    for weight, t in ((1, terms), (2, double)):  # swgan's G loss is the mean critic value of the fakes
        assert torch.isclose(t["Loss/G/total"], t["Loss/G/fake"] + weight * t["Loss/G/frames/fake"], atol=1e-5)


def g_step_setup(overrides):
    """The tiny config's networks from seed 0, their optimizers, the first position and the RNG state a
    G step would start from (a test draws the step's latents itself, then rewinds to this state)."""
    cfg = load_config("tiny", overrides)
    torch.manual_seed(0)
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-3)
    return cfg, models, opts, position_at(0, cfg.model.plan, cfg.schedule), torch.random.get_rng_state()


def test_the_g_term_is_the_frame_critic_on_frames_of_the_same_fakes():
    """Recompute G's frame term from the same draws: z, then the frame indices, then f(E_F(frames))."""
    cfg, models, opts, pos, state = g_step_setup(FRAMES)
    z = torch.randn(8, cfg.model.latent_dim)
    index = draw_frame_index(8, cfg.model.plan[0][0], 2)
    with torch.no_grad():
        frames = pick_frames(models.generator(z, 0), index)
        expected = models.frames.head(models.frames.disc.features(frames, 0)).mean()
    torch.random.set_rng_state(state)
    terms = g_step(models, opts, 8, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    assert torch.isclose(terms["Loss/G/frames/fake"], expected, atol=1e-5)


def test_under_several_processes_each_rank_keeps_its_own_clips_frames():
    rows = torch.arange(12)  # 6 clips of 2 frames: clip i owns rows 2i, 2i+1
    for rank in range(3):
        kept = Shard(rank, 3).per_clip(2).take(rows)
        assert kept.tolist() == [r for c in range(rank, 6, 3) for r in (2 * c, 2 * c + 1)]
    assert Shard().per_clip(2).take(rows) is rows


def test_a_conditional_frame_critic_reads_each_frames_clip_label():
    cfg = load_config("tiny", FRAMES + ["model.conditional=true", "model.num_classes=3"])
    torch.manual_seed(0)
    models = build_models(cfg)
    proj = models.frames.disc.projection
    assert proj is not None
    labels = torch.tensor([0, 2])
    e = torch.randn(4, cfg.model.feature_dim)
    critic = models.frame_critic(0, 1.0, labels)
    expected = models.frames.head(e) + proj(e, torch.tensor([0, 0, 2, 2]))
    assert torch.allclose(critic.head(e), expected, atol=1e-6)


def test_a_run_with_a_frame_critic_resumes_exactly(tiny_store, fast_cfg, tmp_path):
    from tests.train.test_conditional import assert_resumes_exactly

    last = assert_resumes_exactly(FRAMES, ("G", "D", "F", "G_ema"), tiny_store, fast_cfg, tmp_path)
    assert "F" in last["models"] and "F" in last["optimizers"]


@pytest.mark.parametrize("overrides, match", [
    (["model.frame_critic=-1"], "frame_critic must be >= 0"),
    (["model.frame_critic=5"], "at most that many"),
    (FRAMES + ["loss.frame_weight=-1"], "frame_weight must be >= 0"),
])
def test_bad_settings_are_one_clear_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", overrides)


def test_a_baseline_takes_no_frame_critic():
    base = load_config("tiny")
    from provgan.config import validate

    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, arch="mocogan", frame_critic=1))
    with pytest.raises(ConfigError, match="frame_critic is for model.arch progressive"):
        validate(cfg)


def test_info_counts_the_frame_critic():
    from provgan.commands.info import info_table
    from provgan.nn.frame_critic import FrameCritic

    cfg = load_config("tiny", FRAMES)
    count = sum(p.numel() for p in FrameCritic(cfg.model, sliced=True).parameters())
    assert f"2 frames of each clip, one at a time, with its head): {count:,}" in info_table(cfg)
    assert "Frame critic" not in info_table(load_config("tiny"))
