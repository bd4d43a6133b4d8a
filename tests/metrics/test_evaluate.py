"""`provgan evaluate` end to end on a tiny store and checkpoint, checked against the score functions
called directly on the same clips; and the one-line errors for bad input."""

import json

import numpy as np
import pytest
import torch

from provgan.cli import main
from provgan.config import load_config
from provgan.errors import ProvganError
from provgan.metrics import features
from provgan.metrics.classifier import ClassifierOptions, save_classifier, train_classifier
from provgan.metrics.evaluate import EvalOptions, evaluate_generator, parse_metrics, real_indices
from provgan.metrics.scores import frechet_distance_of, inception_score, kernel_distance
from provgan.metrics.swd import video_swd
from provgan.nn import Generator

NUM = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An 80-clip moving-digits store (tiny plan), a level-2 checkpoint, a classifier."""
    from provgan.data.prepare import prepare_builtin
    from provgan.data.store import open_store
    from provgan.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("eval")
    prepare_builtin("moving-digits", root / "store", "tiny", num_clips=80, seed=1)
    store = open_store(root / "store")
    cfg = load_config("tiny")
    torch.manual_seed(0)
    g = Generator(cfg.model)
    (root / "run").mkdir()
    save_checkpoint({"config": cfg.to_dict(), "models": {"G_ema": g.state_dict()},
                     "position": {"level": 2, "alpha": 1.0, "nimg": 3000}}, root / "run", 3000, keep=1)
    result = train_classifier(np.asarray(store.level((8, 16, 16))), store.labels, 40,
                              ClassifierOptions(epochs=1, width=4))
    save_classifier(result, root / "clf.pt")
    return root, store


class CheapI3D(torch.nn.Module):
    """Stands in for I3D here (the real port is checked in test_i3d): same input and outputs, no cost."""

    def forward(self, x):
        assert x.shape[1:] == (3, 16, 224, 224)  # the FVD input protocol was applied
        logits = torch.nn.functional.adaptive_avg_pool3d(x, (4, 2, 2)).flatten(1)
        return logits, logits[:, :8]


def test_evaluate_writes_json_and_table_that_match_direct_computation(setup, capsys, monkeypatch):
    root, store = setup
    monkeypatch.setattr(features, "load_i3d", lambda weights, cache: CheapI3D())
    main(["evaluate", str(root / "run"), "--data", str(root / "store"), "--metrics", "is,fid,fvd,kvd,swd",
          "--num", str(NUM), "--batch", "3", "--seed", "5", "--classifier", str(root / "clf.pt"),
          "--is-splits", "2"])
    out = capsys.readouterr().out
    record = json.loads((root / "run" / "metrics-000003.json").read_text())
    m = record["metrics"]
    assert record["clip_shape"] == [8, 16, 16] and record["level"] == 2
    assert {"is", "is_real", "fid", "fvd", "kvd", "swd", "swd_16"} <= set(m)
    assert all(np.isfinite(v) for v in m.values())
    assert "fvd" in out and "metrics-000003.json" in out

    # the same clips, by the documented protocol: store rows of a seeded permutation, latents 5..8
    from provgan.train.checkpoint import load_sampler

    tg = load_sampler(root / "run")
    real = torch.from_numpy(np.asarray(store.level((8, 16, 16))[real_indices(80, NUM, 5)]))
    real = real.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
    fake = tg.sample(tg.latents(range(5, 5 + NUM)))
    clf = features.classifier_net(root / "clf.pt")
    (lr, fr), (lf, ff) = clf(real), clf(fake)
    soft = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
    is_fake, is_real = inception_score(soft(lf), 2), inception_score(soft(lr), 2)
    assert (m["is"], m["is_std"]) == (pytest.approx(is_fake[0], rel=1e-5), pytest.approx(is_fake[1], rel=1e-4, abs=1e-7))
    assert (m["is_real"], m["is_real_std"]) == (pytest.approx(is_real[0], rel=1e-5),
                                                pytest.approx(is_real[1], rel=1e-4, abs=1e-7))
    assert m["fid"] == pytest.approx(frechet_distance_of(fr, ff), rel=1e-4)
    i3d = features.i3d_net()
    (ir, _), (if_, _) = i3d(real), i3d(fake)
    assert m["fvd"] == pytest.approx(frechet_distance_of(ir, if_), rel=1e-4)
    assert m["kvd"] == pytest.approx(kernel_distance(ir, if_), rel=1e-4, abs=1e-6)
    assert m["swd"] == pytest.approx(video_swd(real.split(3), fake.split(3))["swd"], rel=1e-4)


def test_a_real_set_scores_better_than_a_random_generator(setup):
    """Store clips as the "generator" (an oracle) beat the untrained generator on SWD."""
    root, store = setup
    from provgan.train.checkpoint import load_sampler

    tg = load_sampler(root / "run")
    level = np.asarray(store.level((8, 16, 16)))

    class Oracle:  # a TrainedGenerator look-alike that returns held-back real clips
        clip_shape, path, kimg = (8, 16, 16), tg.path, tg.kimg

        def latents(self, seeds):
            return torch.tensor(list(seeds))

        def sample(self, z):
            x = torch.from_numpy(level[(z.numpy() * 7 + 3) % 40]).permute(0, 4, 1, 2, 3)
            return x.float() / 127.5 - 1.0

    opts = EvalOptions(metrics=("swd",), num=16, batch=8)
    assert evaluate_generator(Oracle(), store, opts)["swd"] < evaluate_generator(tg, store, opts)["swd"]


def _one_line_error(capsys, *args):
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.startswith("error: ") and "\n" not in err
    return err


def test_bad_input_is_one_line_each(setup, capsys, tmp_path):
    root, _ = setup
    run, store = str(root / "run"), str(root / "store")
    err = _one_line_error(capsys, "evaluate", run, "--data", store, "--metrics", "swd", "--num", "1000")
    assert "holds 80 clips" in err and "--num 1000" in err
    err = _one_line_error(capsys, "evaluate", run, "--data", store, "--metrics", "is,swd", "--num", "4")
    assert "--classifier" in err
    err = _one_line_error(capsys, "evaluate", run, "--data", store, "--metrics", "fvd,ssim")
    assert "ssim" in err
    bad = torch.load(root / "clf.pt", weights_only=True)
    bad["state_dict"]["blocks.0.weight"] = torch.zeros(4, 3, 1, 1, 1)
    torch.save(bad, tmp_path / "bad.pt")
    err = _one_line_error(capsys, "evaluate", run, "--data", store, "--metrics", "is", "--num", "4",
                          "--classifier", str(tmp_path / "bad.pt"))
    assert "wrong shape" in err and "bad.pt" in err
    err = _one_line_error(capsys, "evaluate", run, "--data", store, "--metrics", "fvd", "--num", "4",
                          "--i3d-weights", str(tmp_path / "bad.pt"))
    assert "not a provgan I3D weights file" in err


def test_store_without_the_checkpoints_level_is_one_line(setup, capsys, tmp_path):
    root, _ = setup
    from provgan.train.checkpoint import save_checkpoint

    cfg = load_config("tiny", ["model.plan=[[4,4,4],[8,8,8]]", "model.g_channels=[8,8]"])
    (tmp_path / "run").mkdir()
    save_checkpoint({"config": cfg.to_dict(), "models": {"G_ema": Generator(cfg.model).state_dict()},
                     "position": {"level": 1, "alpha": 1.0, "nimg": 1000}}, tmp_path / "run", 1000, keep=1)
    err = _one_line_error(capsys, "evaluate", str(tmp_path / "run"), "--data", str(root / "store"),
                          "--metrics", "swd", "--num", "4")
    assert "8x8x8" in err


def test_metric_names_are_parsed_and_deduplicated():
    assert parse_metrics("FVD, swd,fvd") == ("fvd", "swd")
    with pytest.raises(ProvganError, match="choose from"):
        parse_metrics("")


def test_classifier_cli_trains_and_reports(setup, capsys, tmp_path):
    root, _ = setup
    main(["classifier", "train", "--data", str(root / "store"), "--out", str(tmp_path / "c.pt"),
          "--level", "4x8x8", "--epochs", "1", "--width", "4", "--holdout", "0.25"])
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "IS of held-out real clips" in out and (tmp_path / "c.pt").is_file()
    err = _one_line_error(capsys, "classifier", "train", "--data", str(root / "store"), "--out",
                          str(tmp_path / "d.pt"), "--level", "16x64x64")
    assert "4x4x4" in err and not (tmp_path / "d.pt").exists()
