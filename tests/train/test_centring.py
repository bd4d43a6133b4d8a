"""data.center: a run takes model.pixel_mean from its store, saves it, and generates in the data's range."""

import dataclasses

import numpy as np
import torch

from provgan.data.store import open_store
from provgan.train.classes import with_pixel_mean


def test_store_pixel_mean_is_the_per_channel_mean_in_model_units(tiny_store):
    store = open_store(tiny_store)
    top = np.asarray(store.level(store.shapes[-1]), dtype=np.float64)
    expected = top.reshape(-1, 3).mean(axis=0) / 127.5 - 1.0
    np.testing.assert_allclose(store.pixel_mean(), expected, atol=2e-3)  # the smallest level's mean, rounded
    assert store.pixel_mean() == store.pixel_mean(max_clips=10_000)
    assert all(-1.0 < v < -0.5 for v in store.pixel_mean())  # dark clips: far from 0


def test_with_pixel_mean_fills_only_when_asked(tiny_store, fast_cfg):
    store = open_store(tiny_store)
    assert with_pixel_mean(fast_cfg("data.center=true"), store).model.pixel_mean == store.pixel_mean()
    assert with_pixel_mean(fast_cfg(), store).model.pixel_mean == ()  # off by default
    on = fast_cfg("data.center=true")
    baseline = dataclasses.replace(on, model=dataclasses.replace(on.model, arch="tgan"))
    assert with_pixel_mean(baseline, store).model.pixel_mean == ()  # baselines keep their tanh range
    given = fast_cfg("data.center=true", "model.pixel_mean=[0.0, 0.0, 0.0]")
    assert with_pixel_mean(given, store).model.pixel_mean == (0.0, 0.0, 0.0)


def test_a_run_saves_its_mean_and_resumes_with_it(tiny_store, fast_cfg, tmp_path):
    from provgan.checkpoints import read_checkpoint
    from provgan.shard import Shard
    from provgan.train.distributed import DistContext
    from provgan.train.loop import run_training

    cfg = fast_cfg("schedule.total_kimg=0.02", "data.center=true")
    ctx = DistContext(Shard(), torch.device("cpu"), 0)
    trainer = run_training(cfg, tiny_store, tmp_path / "run", ctx, show_progress=False)
    mean = open_store(tiny_store).pixel_mean()
    assert trainer.cfg.model.pixel_mean == mean
    torch.testing.assert_close(trainer.models.generator_ema.pixel_mean.flatten(), torch.tensor(mean))
    ckpt = sorted((tmp_path / "run").glob("ckpt-*.pt"))[-1]
    assert tuple(read_checkpoint(ckpt)["config"]["model"]["pixel_mean"]) == mean
    # resuming with the same command finds the same mean: no architecture mismatch
    run_training(fast_cfg("schedule.total_kimg=0.03", "data.center=true"), tiny_store, tmp_path / "run", ctx, resume="auto",
                 show_progress=False)
