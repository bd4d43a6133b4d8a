"""Class-conditional training (model.conditional): every loss steps, the checkpoint carries the
classes and resumes exactly, and the CLI's --class is checked in one line."""

import subprocess
import sys

import pytest
import torch

COND = ["model.conditional=true", "data.label=digit"]


def _run(cfg, store, out, resume=None):
    from provgan.shard import Shard
    from provgan.train.distributed import DistContext
    from provgan.train.loop import run_training

    return run_training(cfg, store, out, DistContext(Shard(), torch.device("cpu"), 0), resume=resume,
                        show_progress=False)


@pytest.mark.parametrize("loss", ["swgan", "wgan-gp", "ns", "hinge"])
def test_one_conditional_step_per_loss_is_finite_and_uses_the_labels(tiny_store, fast_cfg, loss):
    import dataclasses

    from provgan.data.store import ClipSampler, open_store
    from provgan.levels import position_at
    from provgan.shard import Shard
    from provgan.train.classes import class_map, with_classes
    from provgan.train.models import build_models, build_optimizers
    from provgan.train.step import train_step

    cfg = fast_cfg(*COND, f"loss.name={loss}", "loss.r1_gamma=1")
    store = open_store(tiny_store, shapes=cfg.model.plan)
    classes = class_map(store, "digit")
    cfg = with_classes(cfg, classes)
    assert cfg.model.num_classes == 10 and classes.names[3] == "3"
    torch.manual_seed(0)
    models = build_models(cfg)
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    opts = build_optimizers(models, cfg, pos.lr)
    clips, labels = ClipSampler(store, seed=0).next(cfg.model.plan[0], 4)
    y = torch.from_numpy(classes.index(labels.numpy()))
    before = models.discriminator.projection.embed.detach().clone()
    terms = train_step(models, opts, clips, pos, cfg, Shard(), "fp32", 0, y)
    assert all(torch.isfinite(v).all() for v in terms.values())
    moved = (models.discriminator.projection.embed.detach() - before).abs().sum(dim=1)
    assert (moved[y.unique()] > 0).all()  # the classes in the batch got a gradient ...
    untouched = [c for c in range(10) if c not in set(y.tolist())]
    assert torch.equal(moved[untouched], torch.zeros(len(untouched)))  # ... and only they
    with pytest.raises(ValueError, match="labelled clips"):
        train_step(models, opts, clips, pos, cfg, Shard(), "fp32", 1)
    assert dataclasses.replace(cfg.model, conditional=False) != cfg.model


def test_class_map_reads_one_factor_of_the_mixed_radix_label(tiny_store):
    import numpy as np

    from provgan.data.store import open_store
    from provgan.train.classes import class_map

    store = open_store(tiny_store)
    digit, motion, whole = class_map(store, "digit"), class_map(store, "motion"), class_map(store, "")
    decoded = [store.decode_label(int(v)) for v in store.labels[:12]]
    assert [digit.names[i] for i in digit.index(store.labels[:12])] == [d["digit"] for d in decoded]
    assert [motion.names[i] for i in motion.index(store.labels[:12])] == [d["motion"] for d in decoded]
    assert whole.num_classes == digit.num_classes * motion.num_classes
    assert np.array_equal(whole.index(store.labels), store.labels)
    assert whole.names[int(store.labels[5])] == f"{decoded[5]['digit']} x {decoded[5]['motion']}"


def assert_resumes_exactly(overrides, networks, tiny_store, fast_cfg, tmp_path) -> dict:
    """Train 48 clips unbroken, and 24 then resumed to 48: every tensor of ``networks`` is equal.
    Returns the unbroken run's last checkpoint."""
    from provgan.train.checkpoint import list_checkpoints, read_checkpoint

    full = fast_cfg(*overrides, "schedule.total_kimg=0.048")
    _run(full, tiny_store, tmp_path / "unbroken")
    _run(fast_cfg(*overrides, "schedule.total_kimg=0.024"), tiny_store, tmp_path / "broken")
    _run(full, tiny_store, tmp_path / "broken", resume="auto")
    a = read_checkpoint(list_checkpoints(tmp_path / "unbroken")[-1])
    b = read_checkpoint(list_checkpoints(tmp_path / "broken")[-1])
    assert a["position"]["nimg"] == b["position"]["nimg"] == 48
    for name in networks:
        for key, value in a["models"][name].items():
            assert torch.equal(value, b["models"][name][key]), f"{name}.{key}"
    return a


def test_conditional_run_resumes_exactly_and_saves_its_classes(tiny_store, fast_cfg, tmp_path):
    from provgan.train.checkpoint import load_sampler

    a = assert_resumes_exactly(COND, ("G", "D", "G_ema", "head"), tiny_store, fast_cfg, tmp_path)
    assert a["classes"] == [str(i) for i in range(10)] and a["config"]["model"]["num_classes"] == 10
    tg = load_sampler(tmp_path / "unbroken")
    assert tg.num_classes == 10 and tg.class_index("7") == 7
    z = tg.latents([0, 0])
    two = tg.sample(z, labels=torch.tensor([2, 5]))
    assert not torch.equal(two[0], two[1])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "provgan", *args], capture_output=True, text=True)


def test_class_option_errors_are_one_line(tiny_store, fast_cfg, tmp_path):
    import yaml

    from provgan.config import load_config

    _run(fast_cfg(*COND), tiny_store, tmp_path / "cond")
    _run(fast_cfg(), tiny_store, tmp_path / "plain")
    out = _cli("generate", str(tmp_path / "cond"), "--class", "10", "--num", "2", "--out", str(tmp_path / "x"))
    assert out.returncode != 0 and "not one of this checkpoint's 10 classes" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = _cli("generate", str(tmp_path / "plain"), "--class", "3", "--num", "2", "--out", str(tmp_path / "y"))
    assert out.returncode != 0 and "unconditional" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    ok = _cli("generate", str(tmp_path / "cond"), "--class", "3", "--grid", "2x2", "--format", "npz",
              "--out", str(tmp_path / "threes"))
    assert ok.returncode == 0, ok.stderr
    assert "of class 3" in ok.stdout
    interp = _cli("interpolate", str(tmp_path / "cond"), "--seeds", "0,1", "--steps", "3", "--class", "4",
                  "--out", str(tmp_path / "i.gif"))
    assert interp.returncode == 0, interp.stderr
    assert yaml.safe_load((tmp_path / "cond" / "config.yaml").read_text())["model"]["num_classes"] == 10
    assert load_config("tiny").model.conditional is False
