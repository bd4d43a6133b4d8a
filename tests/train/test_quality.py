"""Quality measured during training: Metrics/ rows at the requested kimg, seeded apart from training."""

import json

import numpy as np
import pytest
import torch

from provgan.data.store import open_store
from provgan.metrics.classifier import ClassifierOptions, save_classifier, train_classifier
from provgan.shard import Shard
from provgan.train.distributed import DistContext
from provgan.train.loop import run_training
from provgan.train.quality import QualityProbe

CPU = DistContext(Shard(), torch.device("cpu"), 0)


def _rows(run):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def _metric_rows(run):
    return [r for r in _rows(run) if any(k.startswith("Metrics/") for k in r)]


@pytest.fixture(scope="module")
def tiny_classifier(tiny_store, tmp_path_factory):
    store = open_store(tiny_store)
    result = train_classifier(np.asarray(store.level((4, 8, 8))), store.labels, 40,
                              ClassifierOptions(epochs=1, width=4, batch_size=8, holdout=0.2))
    return save_classifier(result, tmp_path_factory.mktemp("clf") / "clf.pt")


def test_metrics_rows_at_every_interval_level_end_and_run_end(fast_cfg, tiny_store, tiny_classifier, tmp_path):
    cfg = fast_cfg("run.metrics_kimg=0.032", "run.metrics_num=8", f"run.classifier={tiny_classifier}",
                   "data.label=digit")
    run_training(cfg, tiny_store, tmp_path / "run", CPU, show_progress=False)
    rows = _metric_rows(tmp_path / "run")
    # every 32 clips (0.032, 0.064), the end of level 0 (stable 16 + fade... level 0 ends at 0.016) and the end
    kimgs = [r["kimg"] for r in rows]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == pytest.approx(0.08)
    assert {0.016, 0.032, 0.064, 0.08} <= {round(k, 3) for k in kimgs}
    for r in rows:
        for key in ("Metrics/swd", "Metrics/sure", "Metrics/classes", "Metrics/is", "Metrics/fid",
                    "Metrics/real/sure", "Metrics/real/is"):
            assert np.isfinite(r[key]), (key, r)
        assert 0.0 <= r["Metrics/sure"] <= 1.0 and 0.0 <= r["Metrics/classes"] <= 10.0
    # the real-clip ceiling is measured once per level: equal within a level
    by_level = {}
    for r in rows:
        by_level.setdefault(r["Progress/level"], set()).add(r["Metrics/real/is"])
    assert all(len(v) == 1 for v in by_level.values())


def test_probe_is_deterministic_and_leaves_the_training_rng_alone(fast_cfg, tiny_store):
    from provgan.nn import Generator

    cfg = fast_cfg("run.metrics_num=8")
    store = open_store(tiny_store)
    g = Generator(cfg.model).eval()
    probe = QualityProbe(cfg, store, torch.device("cpu"))
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a = probe.measure(g, 1, 1.0)
    assert torch.equal(torch.get_rng_state(), state)
    b = QualityProbe(cfg, store, torch.device("cpu")).measure(g, 1, 1.0)
    assert a == b and a["swd"] > 0
    # a different generator scores differently (the probe looks at G, not at a constant)
    torch.manual_seed(1)
    assert probe.measure(Generator(cfg.model).eval(), 1, 1.0)["swd"] != a["swd"]


def test_classifier_of_another_store_is_one_clear_error(fast_cfg, tiny_store, tmp_path):
    from provgan.errors import ProvganError

    store = open_store(tiny_store)
    result = train_classifier(np.asarray(store.level((4, 8, 8)))[:20], np.arange(20) % 5, 5,
                              ClassifierOptions(epochs=1, width=4, batch_size=8, holdout=0.25))
    path = save_classifier(result, tmp_path / "five.pt")
    with pytest.raises(ProvganError, match="5 classes but the store's labels have 40"):
        QualityProbe(fast_cfg(f"run.classifier={path}"), store, torch.device("cpu"))
    with pytest.raises(ProvganError, match="data.label"):
        QualityProbe(fast_cfg(f"run.classifier={path}", "data.label=colour"), store, torch.device("cpu"))


def test_resume_drops_the_stats_rows_written_after_its_checkpoint(tmp_path):
    from provgan.train.stats import StatsWriter

    stats = StatsWriter(tmp_path, tensorboard=False)
    for kimg in (0.1, 0.2, 0.3):
        stats.write(kimg, {"Metrics/swd": kimg})
    with open(tmp_path / "stats.jsonl", "a") as f:
        f.write('{"kimg": 0.4, "Metr')  # a line cut by the kill
    assert stats.truncate_after(0.2) == 2
    assert [r["kimg"] for r in _rows(tmp_path)] == [0.1, 0.2]
    assert stats.truncate_after(0.2) == 0
