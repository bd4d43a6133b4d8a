"""``loss.rotation_weight``: the critic's self-supervised rotation task (Chen et al. 2019; issue 14)."""

import pytest
import torch
import torch.nn.functional as F

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.levels import position_at
from provgan.losses import rotate_frames, rotation_task_loss
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import train_step


def test_rotate_frames_turns_each_clip_by_its_own_quarter_turns():
    clips = torch.randn(5, 3, 2, 4, 4)
    turns = torch.tensor([0, 1, 2, 3, 1])
    out = rotate_frames(clips, turns)
    for i, k in enumerate(turns.tolist()):
        assert torch.equal(out[i], torch.rot90(clips[i], k, dims=(2, 3)))
    # a quarter turn moves the top-left pixel of every frame to the bottom-left (counter-clockwise)
    assert torch.equal(out[1, :, :, 3, 0], clips[1, :, :, 0, 0])


def test_the_task_loss_is_the_cross_entropy_written_out():
    torch.manual_seed(0)
    reals, turns = torch.randn(6, 3, 2, 4, 4), torch.tensor([0, 1, 2, 3, 0, 2])
    weight = torch.randn(4, 3 * 2 * 4 * 4)
    features, head = (lambda x: x.flatten(1)), (lambda e: e @ weight.T)
    loss = rotation_task_loss(features, head, reals, turns)
    logits = torch.stack([weight @ torch.rot90(reals[i], int(k), dims=(2, 3)).flatten()
                          for i, k in enumerate(turns)])
    expected = -logits.log_softmax(dim=1)[torch.arange(6), turns]
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(loss, F.cross_entropy(logits, turns, reduction="none"), atol=1e-5)


def _step(overrides, step_overrides=None):
    """One step of the tiny config from seed 0; ``step_overrides``: the step's config, if not the models'."""
    cfg = load_config("tiny", overrides)
    torch.manual_seed(0)
    models = build_models(cfg)
    cfg = cfg if step_overrides is None else load_config("tiny", step_overrides)
    opts = build_optimizers(models, cfg, 1e-3)
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    reals = torch.rand(8, 3, *cfg.model.plan[0]) * 2 - 1
    return models, train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 0)


def test_off_by_default_no_head_and_no_term():
    models, terms = _step([])
    assert models.critics["D"].module.rotation is None
    assert "Loss/D/rotation" not in terms


def test_on_the_critic_learns_the_task_and_the_term_is_logged():
    models, terms = _step(["loss.rotation_weight=1"])
    head = models.critics["D"].module.rotation
    assert head is not None and head.weight.shape[0] == 4
    # an untrained head is near chance: log 4
    assert abs(float(terms["Loss/D/rotation"]) - torch.log(torch.tensor(4.0))) < 0.7
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    # the total is the adversarial loss plus the weighted task term: twice the weight adds it once more
    _, double = _step(["loss.rotation_weight=1"], ["loss.rotation_weight=2"])
    assert torch.isclose(double["Loss/D/rotation"], terms["Loss/D/rotation"])
    assert torch.isclose(double["Loss/D/total"] - terms["Loss/D/total"], terms["Loss/D/rotation"], atol=1e-5)


@pytest.mark.parametrize("overrides, match", [
    (["loss.rotation_weight=-1"], "rotation_weight must be >= 0"),
    (["loss.rotation_weight=1", "model.plan=[[2, 4, 8], [4, 8, 16]]", "model.g_channels=[8, 8]"], "square"),
])
def test_bad_settings_are_one_clear_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", overrides)
