"""The model registry: model.arch builds G and the critic set for training, info, sampling and loading."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import provgan
from provgan.config import architecture_diff, load_config
from provgan.errors import ConfigError, ProvganError
from provgan.registry import build_generator, build_parts, latent_dim, load_sampler

SMALL = {"vgan": ["model.width=0.0625"], "tgan": ["model.width=0.0625"], "mocogan": ["model.width=0.0625"]}


@pytest.mark.parametrize("arch,critics,loss", [("vgan", {"D"}, "ns"), ("tgan", {"D"}, "wgan"),
                                               ("mocogan", {"D_image", "D_video"}, "ns")])
def test_each_baseline_builds_from_its_preset_at_the_one_level_of_its_plan(arch, critics, loss):
    cfg = load_config(f"{arch}-digits", SMALL[arch])
    parts = build_parts(cfg)
    assert parts.arch == arch and set(parts.critics) == critics and parts.loss == loss
    assert not parts.schedule_lr and parts.head is None
    g = parts.generator
    assert latent_dim(cfg) == g.latent_dim
    with torch.no_grad():
        clips = g.eval()(torch.randn(2, g.latent_dim), 0, 1.0)
    assert clips.shape == (2, 3, *cfg.model.plan[0]) and clips.abs().max() <= 1
    assert type(build_generator(cfg)) is type(g)


def test_progressive_is_one_clip_critic_with_the_schedule_lr():
    parts = build_parts(load_config("tiny"))
    assert parts.arch == "progressive" and list(parts.critics) == ["D"] and parts.schedule_lr
    assert parts.critics["D"].view == "clip" and parts.critics["D"].constraint is None
    assert parts.head is not None  # swgan: the sliced head
    assert build_parts(load_config("tiny", ["loss.name=wgan-gp"])).head is None
    rms = build_parts(load_config("tiny", ["optim.name=rmsprop", "optim.weight_decay=1e-4"])).critics["D"].optimizer
    assert rms.name == "rmsprop" and rms.weight_decay == 1e-4


@pytest.mark.parametrize("overrides,match", [
    (["model.arch=stylegan"], "model.arch 'stylegan' is not one of"),
    (["model.arch=vgan", "loss.name=ns"], "model.plan must hold one level"),
    (["model.plan=[[16,32,32]]", "model.arch=tgan", "loss.name=swgan"], "trains with loss.name ns or wgan"),
    (["model.options={lr: 0.1}"], "model.options .* is for the baselines"),
    (["model.width=0"], "model.width must be > 0"),
    (["optim.name=sgd"], "optim.name 'sgd' is not one of adam, rmsprop"),
])
def test_bad_model_choices_are_one_line(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", overrides)


def test_a_baseline_with_another_loss_or_an_unknown_option_is_one_line():
    with pytest.raises(ConfigError, match="tgan trains with loss.name wgan"):
        build_parts(load_config("tgan-digits", ["loss.name=ns"]))
    with pytest.raises(ConfigError, match="unknown model.options for vgan: nope"):
        build_parts(load_config("vgan-digits", ["model.options.nope=1"]))


def test_arch_width_and_options_make_checkpoints_incompatible():
    base = load_config("vgan-digits")
    assert architecture_diff(base, load_config("vgan-digits", ["model.width=0.25"])) == ["model.width"]
    assert "model.arch" in architecture_diff(base, load_config("tgan-digits"))
    assert architecture_diff(base, load_config("vgan-digits", ["model.options.mask_weight=0.2"])) == ["model.options"]


def test_a_checkpoint_whose_weights_are_of_another_arch_is_one_line(tmp_path):
    from provgan.checkpoints import save_checkpoint

    vgan = load_config("vgan-digits", SMALL["vgan"])
    wrong = build_generator(load_config("tiny"))  # progressive weights under a vgan config
    save_checkpoint({"config": vgan.to_dict(), "models": {"G_ema": wrong.state_dict()},
                     "position": {"nimg": 0, "level": 0, "alpha": 1.0}}, tmp_path, 0, 1)
    with pytest.raises(ProvganError, match="does not match its own config"):
        load_sampler(tmp_path)
    right = build_generator(vgan)
    save_checkpoint({"config": vgan.to_dict(), "models": {"G_ema": right.state_dict()},
                     "position": {"nimg": 8, "level": 0, "alpha": 1.0}}, tmp_path, 8, 1)
    tg = load_sampler(tmp_path)
    assert tg.latent_dim == right.latent_dim and tg.clip_shape == (16, 32, 32)
    assert tg.sample(tg.latents([0, 1])).shape == (2, 3, 16, 32, 32)


def test_metrics_and_generate_do_not_import_the_trainer():
    src = Path(provgan.__file__).parent
    for path in (src / "metrics").glob("*.py"):
        assert "provgan.train" not in path.read_text(), path
    code = ("import sys, provgan.metrics.evaluate, provgan.registry, provgan.generate, provgan.sampling; "
            "bad = [m for m in sys.modules if m.startswith('provgan.train')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_info_shows_a_baseline_and_the_table_a1_count():
    from provgan.commands.info import info_table

    text = info_table(load_config("mocogan-digits"))
    assert "arch: mocogan" in text and "D_image" in text and "frame" in text and "D_video" in text
    assert "3,702,091" in info_table(load_config("thesis-256"))


@pytest.mark.parametrize("name", ["vgan", "tgan", "mocogan"])
def test_the_experiments_baseline_systems_resolve_to_their_arch(name):
    from provgan.experiment.systems import SYSTEMS, require_runnable, run_config

    system = require_runnable(SYSTEMS[name])
    cfg = run_config(system, ["model.plan=[[16, 32, 32]]", "model.width=0.5"], 16, 1)
    assert cfg.model.arch == name and cfg.schedule.total_kimg == 16 and cfg.run.seed == 1
    assert set(build_parts(cfg).critics) == ({"D_image", "D_video"} if name == "mocogan" else {"D"})
