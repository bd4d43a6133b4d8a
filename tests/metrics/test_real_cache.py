"""Cached real-clip features (provgan.metrics.real_cache): reused only by the same evaluation, equal to
computing them again, and a damaged file is computed again."""

from __future__ import annotations

import numpy as np
import pytest

from provgan.metrics import features
from provgan.metrics.evaluate import EvalOptions, build_nets, evaluate_generator
from tests.metrics.test_evaluate import CheapI3D, setup  # noqa: F401  (the module's store and run)


class Counting:
    """A feature network wrapper that counts the real clips it is given."""

    def __init__(self, net):
        self.net, self.real = net, 0

    def __getattr__(self, name):
        return getattr(self.net, name)

    def __call__(self, x, precision="fp32", real=False):
        self.real += len(x) if real else 0
        return self.net(x, precision, real=real)


def _nets(opts, root, monkeypatch):
    monkeypatch.setattr(features, "load_i3d", lambda weights, cache: CheapI3D())
    return {key: Counting(net) for key, net in build_nets(opts).items()}


def test_the_same_evaluation_reuses_the_real_features(setup, tmp_path, monkeypatch):  # noqa: F811
    from provgan.train.checkpoint import load_sampler

    root, store = setup
    tg = load_sampler(root / "run")
    common = dict(metrics=("is", "fid", "fvd", "swd"), num=6, batch=4, seed=2, is_splits=2,
                  classifier=str(root / "clf.pt"))
    plain = evaluate_generator(tg, store, EvalOptions(**common), _nets(EvalOptions(**common), root, monkeypatch))
    opts = EvalOptions(**common, real_cache=str(tmp_path / "cache"))
    first_nets = _nets(opts, root, monkeypatch)
    first = evaluate_generator(tg, store, opts, first_nets)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".npz", ".npz"]  # is and fvd
    again_nets = _nets(opts, root, monkeypatch)
    again = evaluate_generator(tg, store, opts, again_nets)
    assert [n.real for n in first_nets.values()] == [6, 6] and [n.real for n in again_nets.values()] == [0, 0]
    assert first == pytest.approx(plain, rel=1e-6) and again == pytest.approx(first, rel=1e-6)

    other = EvalOptions(**{**common, "seed": 3}, real_cache=str(tmp_path / "cache"))  # other real clips
    other_nets = _nets(other, root, monkeypatch)
    evaluate_generator(tg, store, other, other_nets)
    assert [n.real for n in other_nets.values()] == [6, 6] and len(list((tmp_path / "cache").iterdir())) == 4


def test_a_damaged_cache_file_is_computed_again(setup, tmp_path, monkeypatch):  # noqa: F811
    from provgan.train.checkpoint import load_sampler

    root, store = setup
    tg = load_sampler(root / "run")
    opts = EvalOptions(metrics=("fvd",), num=5, batch=4, real_cache=str(tmp_path / "cache"))
    first = evaluate_generator(tg, store, opts, _nets(opts, root, monkeypatch))
    (path,) = (tmp_path / "cache").iterdir()
    path.write_bytes(b"not an npz")
    nets = _nets(opts, root, monkeypatch)
    assert evaluate_generator(tg, store, opts, nets) == pytest.approx(first, rel=1e-6)
    assert nets["fvd"].real == 5 and np.load(path)["features"].shape[0] == 5  # rewritten whole


def test_the_cli_keeps_them_in_the_store_unless_told_not_to(setup, monkeypatch):  # noqa: F811
    from provgan.cli import main
    from provgan.metrics.real_cache import FOLDER

    root, _ = setup
    monkeypatch.setattr(features, "load_i3d", lambda weights, cache: CheapI3D())
    folder = root / "store" / FOLDER
    args = ["evaluate", str(root / "run"), "--data", str(root / "store"), "--metrics", "fvd", "--num", "3"]
    main(args + ["--no-real-cache"])
    assert not folder.exists()
    main(args)
    assert len(list(folder.glob("*.npz"))) == 1
