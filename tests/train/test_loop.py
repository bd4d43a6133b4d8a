"""The training loop: schedule positions, Adam resets, checkpoints, resume, non-finite handling."""

import pickle
import warnings

import cv2
import numpy as np
import pytest
import torch
from tqdm.std import TqdmWarning

from provgan import losses
from provgan.data.video_io import read_video
from provgan.errors import ProvganError
from provgan.shard import Shard
from provgan.train import checkpoint as ckpt
from provgan.train import monitor
from provgan.train.distributed import DistContext
from provgan.train.loop import Trainer, run_training
from provgan.train.samples import frame_strip, write_png

CPU = DistContext(Shard(), torch.device("cpu"), 0)


def test_progress_bar_ends_at_the_total_without_overshoot(fast_cfg, tiny_store, tmp_path, monkeypatch):
    # summed per-step kimg overshoots the total in floating point (0.1 + 0.2 > 0.3); tqdm then
    # warns "clamping frac to range [0, 1]" and prints a negative ETA at the end of every run
    cfg = fast_cfg("schedule.total_kimg=0.036")  # 9 steps of 4 clips: 0.004 * 9 > 0.036
    bars = []
    real_tqdm = monitor.tqdm
    monkeypatch.setattr(monitor, "tqdm", lambda *a, **k: bars.append(real_tqdm(*a, **k)) or bars[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        run_training(cfg, tiny_store, tmp_path / "run", CPU, show_progress=True)
    assert bars[0].n == pytest.approx(0.036) and bars[0].n <= bars[0].total


def test_run_writes_config_checkpoints_samples_and_stats(fast_cfg, tiny_store, tmp_path):
    cfg = fast_cfg()
    trainer = run_training(cfg, tiny_store, tmp_path / "run", CPU, show_progress=False)
    run = tmp_path / "run"
    assert trainer.progress.nimg == 80 and trainer.progress.last["level"] == 1
    assert (run / "config.yaml").read_text().count("stable_kimg: 0.016") == 1
    names = [p.name for p in ckpt.list_checkpoints(run)]
    assert names[0] == "ckpt-000000.008.pt" and names[-1] == "ckpt-000000.080.pt"
    assert (run / "samples" / "level0-4x4x4-final.mp4").stat().st_size > 0
    assert (run / "samples" / "level1-4x8x8-final.gif").stat().st_size > 0
    video = read_video(run / "samples" / "level1-4x8x8-final.gif")
    still = cv2.imread(str(run / "samples" / "level1-4x8x8-final.png"))[:, :, ::-1]
    assert still.shape == (video.shape[1], 3 * video.shape[2] + 8, 3)  # first | middle | last frame
    rows = (run / "stats.jsonl").read_text().splitlines()
    assert len(rows) >= 10 and '"Loss/D/gp"' in rows[0] and '"Progress/lod"' in rows[0]
    assert list((run / "tensorboard").iterdir())
    sampler = ckpt.load_sampler(run)
    assert sampler.level == 1 and sampler.sample(sampler.latents([1, 2])).shape == (2, 3, 4, 8, 8)


def test_frame_strip_is_the_first_middle_and_last_frame(tmp_path):
    video = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    strip = frame_strip(video, gap=2)
    assert strip.shape == (6, 3 * 7 + 4, 3)
    np.testing.assert_array_equal(strip[:, :7], video[0])
    np.testing.assert_array_equal(strip[:, 9:16], video[2])
    np.testing.assert_array_equal(strip[:, 18:], video[4])
    assert (strip[:, 7:9] == 255).all()
    path = write_png(tmp_path / "strip.png", strip)
    np.testing.assert_array_equal(cv2.imread(str(path))[:, :, ::-1], strip)  # PNG is lossless
    assert [p.name for p in tmp_path.iterdir()] == ["strip.png"]  # no temp file left behind


def test_a_run_that_ends_as_its_top_level_finishes_fading_in_writes_that_levels_final_grid(
        fast_cfg, tiny_store, tmp_path):
    # level 1 fades in over 0.016-0.032 kimg and the run stops right there: alpha has reached 1
    run_training(fast_cfg("schedule.total_kimg=0.032"), tiny_store, tmp_path / "run", CPU, show_progress=False)
    assert (tmp_path / "run" / "samples" / "level1-4x8x8-final.mp4").stat().st_size > 0
    assert ckpt.load_sampler(tmp_path / "run").alpha == 1.0


def test_a_run_that_ends_where_the_next_level_would_start_has_no_grid_of_that_level(
        fast_cfg, tiny_store, tmp_path):
    run_training(fast_cfg("schedule.total_kimg=0.016"), tiny_store, tmp_path / "run", CPU, show_progress=False)
    samples = tmp_path / "run" / "samples"
    assert (samples / "level0-4x4x4-final.mp4").stat().st_size > 0
    assert not list(samples.glob("level1-*"))


def test_adam_is_reset_exactly_when_a_fade_starts_and_ends(fast_cfg, tiny_store, tmp_path, monkeypatch):
    resets = []
    trainer = Trainer(fast_cfg(), tiny_store, tmp_path, CPU, show_progress=False)
    import provgan.train.loop as loop
    monkeypatch.setattr(loop, "reset_adam_state", lambda opt: resets.append(trainer.progress.nimg))
    trainer.run()
    # 4 clips per step; fade of level 1 starts at 16 clips and ends at 32; 3 optimizers (G, D, head)
    assert resets == [16] * 3 + [32] * 3


def test_d_lr_mult_scales_the_critics_lr_only(fast_cfg, tiny_store, tmp_path):
    trainer = Trainer(fast_cfg("optim.d_lr_mult=4", "schedule.lr_default=0.002"), tiny_store, tmp_path, CPU,
                      show_progress=False)
    trainer.step(trainer.position())
    lrs = {name: opt.param_groups[0]["lr"] for name, opt in trainer.opts.all().items()}
    assert lrs == {"G": pytest.approx(0.002), "D": pytest.approx(0.008), "head": pytest.approx(0.008)}


def test_resume_continues_exactly(fast_cfg, tiny_store, tmp_path):
    cfg = fast_cfg()
    whole = run_training(cfg, tiny_store, tmp_path / "a", CPU, show_progress=False)
    part = Trainer(cfg, tiny_store, tmp_path / "b", CPU, show_progress=False)
    part.run(total_kimg=0.036)  # stops mid-fade; its last checkpoint is at 0.032
    resumed = run_training(cfg, tiny_store, tmp_path / "b", CPU, resume="auto", show_progress=False)
    a, b = whole.state()["models"], resumed.state()["models"]
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), (net, k)
    assert whole.progress.step == resumed.progress.step


def test_resume_refuses_another_architecture(fast_cfg, tiny_store, tmp_path):
    run_training(fast_cfg(), tiny_store, tmp_path, CPU, show_progress=False)
    with pytest.raises(ProvganError, match="different architecture.*model.latent_dim"):
        run_training(fast_cfg("model.latent_dim=8"), tiny_store, tmp_path, CPU, resume="auto", show_progress=False)
    with pytest.raises(ProvganError, match="already holds checkpoints"):
        run_training(fast_cfg(), tiny_store, tmp_path, CPU, show_progress=False)


def test_corrupt_newest_checkpoint_falls_back_to_previous(fast_cfg, tiny_store, tmp_path, caplog):
    run_training(fast_cfg(), tiny_store, tmp_path, CPU, show_progress=False)
    files = ckpt.list_checkpoints(tmp_path)
    files[-1].write_bytes(files[-1].read_bytes()[:1000])  # truncated
    with pytest.raises(ProvganError, match="corrupt or truncated"):
        ckpt.read_checkpoint(files[-1])
    path, data = ckpt.latest_checkpoint(tmp_path)
    assert path == files[-2] and data["position"]["nimg"] == 72
    assert "skipping" in caplog.text


def test_tampered_checkpoint_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "ckpt-000001.pt"
    torch.save({"format": ckpt.FORMAT, "x": Evil()}, path)
    with pytest.raises(ProvganError, match="refused by the safe loader"):
        ckpt.read_checkpoint(path)
    assert not marker.exists()
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, other)
    with pytest.raises(ProvganError, match="not a provgan checkpoint"):
        ckpt.read_checkpoint(other)
    assert pickle  # the module the attack would need is not consulted by the safe loader


def _failing_after(pair, calls: int):
    count = {"n": 0}

    def d(critic, reals, fakes, cfg, shard=Shard(), reg_weight=1.0):
        out = pair.d(critic, reals, fakes, cfg, shard=shard, reg_weight=reg_weight)
        count["n"] += 1
        if count["n"] == calls:
            out.loss = out.loss * float("nan")
            out.terms["total"] = out.loss.detach()
        return out

    return losses.LossPair(d, pair.g, pair.sliced)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(fast_cfg, tiny_store, tmp_path, monkeypatch):
    monkeypatch.setitem(losses.LOSSES, "swgan", _failing_after(losses.LOSSES["swgan"], 7))
    with pytest.raises(ProvganError, match=r"non-finite Loss/D/total at step 7 .*last good checkpoint"):
        run_training(fast_cfg(), tiny_store, tmp_path, CPU, show_progress=False)
    path, data = ckpt.latest_checkpoint(tmp_path)
    assert data["position"]["nimg"] == 24  # the snapshot before the bad step
    assert all(torch.isfinite(v).all() for v in data["models"]["G"].values())


def test_non_finite_loss_can_roll_back_and_halve_lr(fast_cfg, tiny_store, tmp_path, monkeypatch):
    monkeypatch.setitem(losses.LOSSES, "swgan", _failing_after(losses.LOSSES["swgan"], 7))
    trainer = run_training(fast_cfg("run.on_nonfinite=rollback"), tiny_store, tmp_path, CPU, show_progress=False)
    assert trainer.progress.nimg == 80 and trainer.progress.lr_scale == 0.5


def test_channels_last_run(fast_cfg, tiny_store, tmp_path):
    cfg = fast_cfg("run.channels_last=true", "schedule.total_kimg=0.024")
    trainer = run_training(cfg, tiny_store, tmp_path, CPU, show_progress=False)
    weight = trainer.models.discriminator.blocks[1].conv0.weight
    assert weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert all(torch.isfinite(p).all() for p in trainer.models.generator.parameters())
