"""The critic set: each critic's view, batch, optimizer and post-step constraint; the extra G term."""

import copy

import pytest
import torch
import torch.nn.functional as F

from provgan.config import load_config
from provgan.levels import position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import g_step, train_step


def _setup(preset, *extra):
    torch.manual_seed(0)
    cfg = load_config(preset, ["model.width=0.0625", *extra])
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1.0)  # a baseline ignores this lr: it keeps its own
    return cfg, models, opts, position_at(0, cfg.model.plan, cfg.schedule)


def _reals(cfg, n=4):
    return torch.rand(n, 3, *cfg.model.plan[0]) * 2 - 1


def test_baseline_optimizers_keep_their_own_lr_and_kind():
    cfg, models, opts, _ = _setup("mocogan-digits")
    assert set(opts.all()) == {"G", "D_image", "D_video"}
    for name, opt in opts.all().items():
        assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == 2e-4
        assert opt.param_groups[0]["weight_decay"] == 1e-5 and opts.own_lr[name] == 2e-4
    _, _, tgan_opts, _ = _setup("tgan-digits")
    assert all(isinstance(o, torch.optim.RMSprop) and o.param_groups[0]["lr"] == 5e-5
               for o in tgan_opts.all().values())


def test_each_critic_sees_its_view_and_its_optimizer_moves_only_its_own_module():
    cfg, models, opts, pos = _setup("mocogan-digits")
    seen = {}
    for name, part in models.critics.items():
        part.module.register_forward_pre_hook(lambda m, args, name=name: seen.setdefault(name, set()).add(args[0].dim()))
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in models.modules().items()}
    reals = {"D_image": _reals(cfg, 6), "D_video": _reals(cfg)}
    train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 0)
    assert seen == {"D_image": {4}, "D_video": {5}}  # (N, C, H, W) frames; (N, C, T, H, W) clips
    for name in ("D_image", "D_video"):
        # a critic step on its own: only that critic moves
        snap = {k: [p.detach().clone() for p in m.parameters()] for k, m in models.modules().items()}
        from provgan.train.step import critic_step
        critic_step(models, opts, name, reals[name], pos, cfg, Shard(), "fp32", 1)
        for k, m in models.modules().items():
            moved = any(not torch.equal(a, b) for a, b in zip(snap[k], m.parameters()))
            assert moved == (k == name), (name, k)
    assert all(any(not torch.equal(a, b) for a, b in zip(before[k], models.modules()[k].parameters()))
               for k in ("G", "D_image", "D_video"))


def test_frame_view_takes_one_frame_of_each_clip():
    from provgan.baselines.common import take_view

    clips = torch.arange(2 * 1 * 5 * 1 * 1, dtype=torch.float32).reshape(2, 1, 5, 1, 1)
    torch.manual_seed(3)
    frames = take_view("frame", clips)
    assert frames.shape == (2, 1, 1, 1)
    assert frames[0].item() in clips[0].flatten().tolist() and frames[1].item() in clips[1].flatten().tolist()
    assert take_view("clip", clips) is clips


def test_the_constraint_runs_after_its_optimizer_step_with_the_d_step_count():
    cfg, models, opts, pos = _setup("tgan-digits", "optim.n_critic=2")
    calls = []
    part = models.critics["D"]
    inner = part.constraint
    step_count = lambda: opts.all()["D"].state[next(iter(part.module.parameters()))]["step"].item()  # noqa: E731

    def spy(module, d_step):
        calls.append((d_step, step_count()))
        inner(module, d_step)

    part.constraint = spy
    for step in range(3):
        train_step(models, opts, _reals(cfg), pos, cfg, Shard(), "fp32", step)
    assert calls == [(i, i + 1) for i in range(6)]  # d_step index 0..5, each after that optimizer step
    w = next(m.weight for m in part.module.modules() if isinstance(m, torch.nn.Conv3d))
    assert torch.linalg.matrix_norm(w.detach().reshape(w.shape[0], -1), 2) <= 1 + 1e-5  # clipped at d_step 4


def test_the_extra_g_term_is_in_the_g_loss_only():
    cfg, models, opts, pos = _setup("vgan-digits")
    g0 = copy.deepcopy(models.generator)
    torch.manual_seed(1)
    terms = g_step(models, opts, 4, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    torch.manual_seed(1)
    video, aux = g0.forward_with_aux(torch.randn(4, g0.latent_dim))
    mask = 0.1 * aux["mask"].mean()  # VGAN's L1Penalty(0.1, sizeAverage), BASELINES.md §1.3
    with torch.no_grad():
        expected = F.softplus(-models.critics["D"].module(video)).mean() + mask
    assert torch.allclose(terms["Loss/G/extra"], mask.detach(), atol=1e-6)
    assert torch.allclose(terms["Loss/G/total"], expected, atol=1e-5)
    d_terms = train_step(models, opts, _reals(cfg), pos, cfg, Shard(), "fp32", 0)
    assert sorted(k for k in d_terms if k.startswith("Loss/D/")) == ["Loss/D/fake", "Loss/D/real", "Loss/D/total"]


def test_a_checkpoint_of_an_older_layout_is_refused_with_one_line(tiny_store, fast_cfg, tmp_path):
    from provgan.errors import ProvganError
    from provgan.train.distributed import DistContext
    from provgan.shard import Shard as S
    from provgan.train.loop import Trainer

    cfg = fast_cfg("run.metrics_kimg=0")
    trainer = Trainer(cfg, tiny_store, tmp_path / "run", DistContext(S(0, 1), torch.device("cpu"), 0), False)
    state = trainer.state()
    dense = state["models"]["G"]["blocks.0.dense.weight"]
    state["models"]["G"]["blocks.0.dense.bias"] = torch.zeros(dense.shape[0])  # the per-unit bias of before
    with pytest.raises(ProvganError, match="does not fit the networks of its config") as err:
        trainer.load_state(state, tmp_path / "old.pt")
    assert "\n" not in str(err.value)


def test_the_progressive_optimizer_is_chosen_by_config():
    torch.manual_seed(0)
    cfg = load_config("tiny", ["optim.name=rmsprop", "optim.weight_decay=1e-4"])
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-3)
    assert set(opts.all()) == {"G", "D", "head"} and not opts.own_lr
    assert all(isinstance(o, torch.optim.RMSprop) and o.param_groups[0]["weight_decay"] == 1e-4
               and o.param_groups[0]["lr"] == 1e-3 for o in opts.all().values())
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    terms = train_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1, pos, cfg, Shard(), "fp32", 0)
    assert all(torch.isfinite(v) for v in terms.values())
