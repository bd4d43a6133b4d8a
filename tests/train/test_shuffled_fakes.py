"""``loss.shuffled_fakes``: real clips with shuffled frames in the critic's fake batch (issue 14)."""

import pytest
import torch

import provgan.train.step as step_module
from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.levels import position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import shuffle_frames, train_step, with_shuffled_reals


def _clips(n: int, frames: int = 6) -> torch.Tensor:
    """Clips whose every frame is constant and says (clip, frame): 100 * clip + frame."""
    values = 100.0 * torch.arange(n).view(n, 1, 1, 1, 1) + torch.arange(frames).view(1, 1, frames, 1, 1)
    return values.expand(n, 3, frames, 4, 4).clone()


def test_shuffle_frames_puts_each_clip_in_its_own_order():
    clips = _clips(2, 4)
    order = torch.tensor([[3, 2, 1, 0], [1, 0, 3, 2]])
    out = shuffle_frames(clips, order)
    assert out[:, 0, :, 0, 0].tolist() == [[3, 2, 1, 0], [101, 100, 103, 102]]


def test_about_the_share_of_fakes_become_the_same_clips_real_frames_reordered():
    torch.manual_seed(0)
    reals, fakes = _clips(64), torch.full((64, 3, 6, 4, 4), -7.0)
    assert torch.equal(with_shuffled_reals(fakes, reals, 0.0, Shard()), fakes)
    out = with_shuffled_reals(fakes, reals, 0.5, Shard())
    replaced = [i for i in range(64) if not torch.equal(out[i], fakes[i])]
    assert 16 <= len(replaced) <= 48
    for i in replaced:  # clip i's own six frames, each once, in some order
        frames = out[i, 0, :, 0, 0]
        assert sorted(frames.tolist()) == reals[i, 0, :, 0, 0].tolist()
        assert torch.equal(out[i], shuffle_frames(reals[i:i + 1], (frames - 100 * i).long().view(1, -1))[0])
    assert any(out[i, 0, :, 0, 0].tolist() != reals[i, 0, :, 0, 0].tolist() for i in replaced)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_the_critic_step_mixes_them_in_only_when_asked(share, monkeypatch):
    cfg = load_config("tiny", [f"loss.shuffled_fakes={share}"])
    calls = []

    def spy(fakes, reals, s, shard):
        calls.append((fakes.shape, reals.shape, s))
        return with_shuffled_reals(fakes, reals, s, shard)

    monkeypatch.setattr(step_module, "with_shuffled_reals", spy)
    torch.manual_seed(0)
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-3)
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    reals = torch.rand(8, 3, *cfg.model.plan[0]) * 2 - 1
    terms = train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 0)
    assert torch.isfinite(terms["Loss/D/total"])
    assert calls == ([] if share == 0 else [(reals.shape, reals.shape, share)] * cfg.optim.n_critic)


@pytest.mark.parametrize("share", ["-0.1", "1.0"])
def test_the_share_is_validated(share):
    with pytest.raises(ConfigError, match="shuffled_fakes"):
        load_config("tiny", [f"loss.shuffled_fakes={share}"])
