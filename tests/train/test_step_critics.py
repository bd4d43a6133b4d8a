"""The step with a set of critics, part by part (fast: tiny models, one step each).

test_step_units.py and test_critic_regression.py pin down the progressive one-critic step; these
cover the paths only the other models take: MoCoGAN's two critics on their own views and batches,
VGAN's extra G term, TGAN's post-step constraint, and the position and labels a fading or conditional
progressive G is asked for. Each checks what the step must do: which module each optimizer moves,
what each critic sees, what the G step sums and logs, and what G and the critics are called with.
"""

import copy
import dataclasses
import inspect

import pytest
import torch
import torch.nn.functional as F

import provgan.train.step as step_mod
from provgan.baselines.common import CriticPart, frame_index
from provgan.config import load_config
from provgan.levels import position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import critic_step, d_step, g_step, train_step

CPU = torch.device("cpu")
CONDITIONAL = ("model.conditional=true", "model.num_classes=3", "loss.name=wgan-gp")


def _setup(preset, *extra):
    torch.manual_seed(0)
    cfg = load_config(preset, [*(["model.width=0.0625"] if preset != "tiny" else []), *extra])
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-2)  # a baseline ignores this lr: it keeps its own
    return cfg, models, opts, position_at(0, cfg.model.plan, cfg.schedule)


def _fading(*extra):
    """The tiny progressive model a quarter into the fade-in of level 1."""
    cfg, models, opts, _ = _setup("tiny", *extra)
    pos = position_at(cfg.schedule.stable_kimg + 0.25 * cfg.schedule.fade_kimg, cfg.model.plan, cfg.schedule)
    assert pos.level == 1 and 0.0 < pos.alpha < 1.0
    return cfg, models, opts, pos


def _reals(cfg, n=4, level=0):
    return torch.rand(n, 3, *cfg.model.plan[level]) * 2 - 1


def _snapshot(models):
    return {k: [p.detach().clone() for p in m.parameters()] for k, m in models.modules().items()}


def _moved(models, before):
    return {k for k, m in models.modules().items()
            if any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))}


def _record(monkeypatch, obj, name, calls):
    """Wrap ``obj.name`` so each call appends ``(name, args)`` to ``calls``, then runs as before."""
    inner = getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append((name, args))
        return inner(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)


def _record_critic(monkeypatch, models, seen):
    """Each ``models.critic`` call appends (name, labels, autocast on) to ``seen``."""
    inner = models.critic

    def critic(name, level, alpha, labels=None):
        seen.append((name, labels, torch.is_autocast_enabled("cpu")))
        return inner(name, level, alpha, labels)

    monkeypatch.setattr(models, "critic", critic)


def test_each_critic_step_moves_only_its_critic_and_feeds_it_its_view_of_reals_and_fakes(monkeypatch):
    cfg, models, opts, pos = _setup("mocogan-digits")
    inputs = {name: set() for name in models.critics}
    for name, part in models.critics.items():
        part.module.register_forward_pre_hook(lambda m, args, name=name: inputs[name].add(tuple(args[0].shape)))
    decoded = []
    _record(monkeypatch, models.generator, "frames", decoded)
    _record(monkeypatch, models.generator, "forward_with_aux", decoded)
    t, h, w = cfg.model.plan[0]
    for name, n, view, decode in (("D_image", 6, (6, 3, h, w), "frames"),
                                  ("D_video", 4, (4, 3, t, h, w), "forward_with_aux")):
        decoded.clear()
        before = _snapshot(models)
        terms = critic_step(models, opts, name, _reals(cfg, n), pos, cfg, Shard(), "fp32", 3)
        assert _moved(models, before) == {name}
        assert inputs[name] == {view}  # reals and fakes alike: (N, C, H, W) frames or (N, C, T, H, W) clips
        # fakes of the critic's batch; the image critic's are decoded frames only, not whole clips
        assert [(c, args[0].shape[0]) for c, args in decoded] == [(decode, n)]
        assert set(terms) == {f"Loss/{name}/real", f"Loss/{name}/fake", f"Loss/{name}/total"}
        assert all(not v.requires_grad for v in terms.values())


def test_g_step_sums_every_critics_g_loss_each_on_fresh_fakes_of_its_own_batch(monkeypatch):
    cfg, models, opts, pos = _setup("mocogan-digits", "model.options.image_batch=6")
    ref = copy.deepcopy(models)
    decoded = []
    _record(monkeypatch, models.generator, "frames", decoded)
    _record(monkeypatch, models.generator, "forward_with_aux", decoded)
    before = _snapshot(models)
    torch.manual_seed(5)
    terms = g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert _moved(models, before) == {"G"}
    assert [(c, args[0].shape[0]) for c, args in decoded] == [("frames", 6), ("forward_with_aux", 4)]
    # the same draws by hand, in the critics' order: D_image's 6 latents and frames, then D_video's 4 latents
    torch.manual_seed(5)
    g = ref.generator
    with torch.no_grad():
        z = torch.randn(6, g.latent_dim)
        image = ref.critics["D_image"].module(g.frames(z, frame_index(6, g.frames_per_clip)))
        video = ref.critics["D_video"].module(g(torch.randn(4, g.latent_dim)))
    image_loss, video_loss = F.softplus(-image).mean().item(), F.softplus(-video).mean().item()
    assert set(terms) == {"Loss/G/D_image/fake", "Loss/G/D_image/loss", "Loss/G/D_video/fake",
                          "Loss/G/D_video/loss", "Loss/G/total"}
    assert terms["Loss/G/D_image/fake"].item() == pytest.approx(image.mean().item(), rel=1e-5, abs=1e-6)
    assert terms["Loss/G/D_video/fake"].item() == pytest.approx(video.mean().item(), rel=1e-5, abs=1e-6)
    assert terms["Loss/G/D_image/loss"].item() == pytest.approx(image_loss, rel=1e-5)
    assert terms["Loss/G/D_video/loss"].item() == pytest.approx(video_loss, rel=1e-5)
    assert terms["Loss/G/total"].item() == pytest.approx(image_loss + video_loss, rel=1e-5)
    assert all(not v.requires_grad for v in terms.values())


def test_g_step_freezes_every_critic_and_gives_them_back_even_when_one_fails(monkeypatch):
    cfg, models, opts, pos = _setup("mocogan-digits")
    frozen = []
    inner = models.critic

    def critic(name, *args):
        frozen.append((name, not any(p.requires_grad for p in models.critic_parameters())))
        if name == "D_video":
            raise RuntimeError("boom")
        return inner(name, *args)

    monkeypatch.setattr(models, "critic", critic)
    with pytest.raises(RuntimeError, match="boom"):
        g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert frozen == [("D_image", True), ("D_video", True)]
    assert all(p.requires_grad for p in models.critic_parameters())
    monkeypatch.setattr(models, "critic", inner)
    g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert all(p.requires_grad and p.grad is None for p in models.critic_parameters())


def test_the_extra_g_term_is_averaged_over_the_g_forwards_and_added_to_the_sum(monkeypatch):
    cfg, models, _, pos = _setup("vgan-digits")
    d = models.critics["D"]  # a second critic with its own batch: two G forwards, two mask terms
    models.critics["D2"] = CriticPart(copy.deepcopy(d.module), "clip", 2, d.optimizer)
    opts = build_optimizers(models, cfg, 1e-2)
    pos = dataclasses.replace(pos, alpha=0.5)  # a baseline G ignores the position, but is asked at it
    asked = []
    _record(monkeypatch, models.generator, "forward_with_aux", asked)
    extras = []
    inner = models.g_extra

    def g_extra(aux):
        extras.append(inner(aux))
        return extras[-1]

    models.g_extra = g_extra
    terms = g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert [(args[0].shape[0], *args[1:]) for _, args in asked] == [(4, 0, 0.5), (2, 0, 0.5)]
    assert len(extras) == 2 and extras[0].item() != extras[1].item()
    mean = (extras[0].item() + extras[1].item()) / 2
    assert set(terms) == {"Loss/G/D/fake", "Loss/G/D/loss", "Loss/G/D2/fake", "Loss/G/D2/loss",
                          "Loss/G/extra", "Loss/G/total"}
    assert terms["Loss/G/extra"].item() == pytest.approx(mean, rel=1e-6)
    losses = terms["Loss/G/D/loss"].item() + terms["Loss/G/D2/loss"].item()
    assert terms["Loss/G/total"].item() == pytest.approx(losses + mean, rel=1e-6)
    assert all(not v.requires_grad for v in terms.values())


def test_one_critic_logs_its_g_terms_under_loss_g_and_the_extra_term_once():
    cfg, models, opts, pos = _setup("vgan-digits")
    terms = g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert set(terms) == {"Loss/G/fake", "Loss/G/extra", "Loss/G/total"}


@pytest.mark.parametrize("conditional", [False, True])
def test_both_steps_ask_g_for_the_fading_position_and_a_conditional_g_for_the_labels(monkeypatch, conditional):
    cfg, models, opts, pos = _fading(*(CONDITIONAL if conditional else ()))
    asked = []
    models.generator.register_forward_pre_hook(lambda m, args: asked.append(args[1:]))
    seen = []
    _record_critic(monkeypatch, models, seen)
    labels = torch.tensor([2, 0, 1, 2]) if conditional else None
    critic_step(models, opts, "D", _reals(cfg, 4, 1), pos, cfg, Shard(), "fp32", 0, labels)
    torch.manual_seed(7)
    g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert [a[:2] for a in asked] == [(1, pos.alpha), (1, pos.alpha)]
    if not conditional:
        assert [len(a) for a in asked] == [2, 2] and [s[1] for s in seen] == [None, None]
        return
    torch.manual_seed(7)  # G's labels: uniform over the classes, drawn after its latents
    torch.randn(4, cfg.model.latent_dim)
    drawn = torch.randint(3, (4,))
    assert torch.equal(asked[0][2], labels) and torch.equal(seen[0][1], labels)  # fakes for the reals' classes
    assert torch.equal(asked[1][2], drawn) and torch.equal(seen[1][1], drawn)


def test_generate_is_g_at_the_position_and_passes_labels_only_when_given():
    cfg, models, _, pos = _fading()
    z = torch.randn(3, cfg.model.latent_dim)
    with torch.no_grad():
        expected = models.generator(z, pos.level, pos.alpha)
        assert not torch.allclose(models.generator(z, pos.level, 1.0), expected)  # the check can tell alphas apart
        assert torch.equal(step_mod._generate(models, z, pos, None), expected)
        _, conditional, _, _ = _fading(*CONDITIONAL)
        labels = torch.tensor([0, 1, 2])
        assert torch.equal(step_mod._generate(conditional, z, pos, labels),
                           conditional.generator(z, pos.level, pos.alpha, labels))


def test_critic_step_runs_the_constraint_on_its_module_with_the_d_step_index():
    cfg, models, opts, pos = _setup("tgan-digits")
    part = models.critics["D"]
    inner, calls = part.constraint, []

    def constraint(module, index):
        calls.append((module is part.module, index))
        inner(module, index)

    part.constraint = constraint
    critic_step(models, opts, "D", _reals(cfg), pos, cfg, Shard(), "fp32", 7)
    critic_step(models, opts, "D", _reals(cfg), pos, cfg, Shard(), "fp32")  # the default: the first D step
    assert calls == [(True, 7), (True, 0)]


def test_d_step_hands_the_labels_and_the_precision_to_the_critic(monkeypatch):
    cfg, models, opts, pos = _setup("tiny", *CONDITIONAL)
    seen = []
    _record_critic(monkeypatch, models, seen)
    labels = torch.tensor([2, 0, 1, 2])
    d_step(models, opts, _reals(cfg), pos, cfg, Shard(), "bf16", 0, labels)
    d_step(models, opts, _reals(cfg), pos, cfg, Shard(), "fp32", 1, labels)
    assert [(name, torch.equal(got, labels), bf16) for name, got, bf16 in seen] == [("D", True, True),
                                                                                    ("D", True, False)]


def test_both_steps_draw_their_latents_and_labels_for_the_step_device(monkeypatch):
    cfg, models, opts, pos = _setup("tiny", *CONDITIONAL)
    drawn = []
    for fn in ("draw_latents", "draw_labels"):
        inner = getattr(step_mod, fn)
        signature = inspect.signature(inner)

        def spy(*args, inner=inner, fn=fn, signature=signature, **kwargs):
            drawn.append((fn, signature.bind(*args, **kwargs).arguments["device"]))
            return inner(*args, **kwargs)

        monkeypatch.setattr(step_mod, fn, spy)
    critic_step(models, opts, "D", _reals(cfg), pos, cfg, Shard(), "fp32", 0, torch.tensor([0, 1, 2, 0]))
    g_step(models, opts, 4, pos, cfg, Shard(), "fp32", CPU)
    assert drawn == [("draw_latents", CPU), ("draw_latents", CPU), ("draw_labels", CPU)]


def test_train_step_gives_each_critic_its_own_batch_split_over_the_rounds(monkeypatch):
    cfg, models, opts, pos = _setup("mocogan-digits", "optim.n_critic=2")
    steps, g_batches = [], []
    for fn, log in (("critic_step", steps), ("g_step", g_batches)):
        inner = getattr(step_mod, fn)
        signature = inspect.signature(inner)

        def spy(*args, inner=inner, signature=signature, log=log, **kwargs):
            log.append(signature.bind(*args, **kwargs).arguments)
            return inner(*args, **kwargs)

        monkeypatch.setattr(step_mod, fn, spy)
    reals = {"D_image": _reals(cfg, 6), "D_video": _reals(cfg, 4)}
    terms = train_step(models, opts, reals, pos, cfg, Shard(), "fp32", step=1)
    assert [(a["name"], a["d_step_index"]) for a in steps] == [("D_image", 2), ("D_video", 2),
                                                               ("D_image", 3), ("D_video", 3)]
    for a, half in zip(steps, (0, 0, 1, 1)):
        batch = reals[a["name"]]
        size = batch.shape[0] // 2
        assert torch.equal(a["reals"], batch[half * size:(half + 1) * size])
    assert [a["global_batch"] for a in g_batches] == [6]  # the G batch is the first critic's
    assert {"Loss/D_image/total", "Loss/D_video/total", "Loss/G/D_image/loss", "Loss/G/D_video/loss",
            "Loss/G/total"} <= set(terms)
