"""`provgan evaluate --protocol`: named protocols end to end on a tiny store, checked against the
protocol's preprocessing and the score functions called directly; the cards round-trip."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from provgan.cli import main
from provgan.config import load_config
from provgan.metrics import features
from provgan.metrics import protocols as protos
from provgan.metrics.evaluate import EvalOptions, evaluate_generator, real_indices
from provgan.metrics.scores import frechet_distance_of, inception_score
from provgan.nn import Generator


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 40-clip moving-digits store (tiny plan) and a level-2 (8x16x16) checkpoint."""
    from provgan.data.prepare import prepare_builtin
    from provgan.data.store import open_store
    from provgan.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("evalp")
    prepare_builtin("moving-digits", root / "store", "tiny", num_clips=40, seed=1)
    cfg = load_config("tiny")
    torch.manual_seed(0)
    (root / "run").mkdir()
    save_checkpoint({"config": cfg.to_dict(), "models": {"G_ema": Generator(cfg.model).state_dict()},
                     "position": {"level": 2, "alpha": 1.0, "nimg": 3000}}, root / "run", 3000, keep=1)
    np.savez(root / "mean2.npz", mean=np.random.default_rng(0).random((3, 16, 128, 171), np.float32) * 50)
    (root / "c3d.npz").write_bytes(b"stand-in")  # hashed into the card; the loader is replaced
    return root, open_store(root / "store")


class CheapC3D(torch.nn.Module):
    """Stands in for C3D: checks the protocol's input shape; its 'dropout' draws from dropout_generator."""

    dropout_generator = None

    def forward(self, x):
        assert x.shape[1:] == (3, 16, 112, 112)
        h = torch.nn.functional.adaptive_avg_pool3d(x, (1, 2, 2)).flatten(1) / 50  # (N, 12)
        if self.dropout_generator is not None:
            h = h * torch.empty(h.shape).bernoulli_(0.5, generator=self.dropout_generator) * 2
        return h, h


class CheapI3D(torch.nn.Module):
    def forward(self, x):
        assert x.shape[1:] == (3, 16, 224, 224)
        logits = torch.nn.functional.adaptive_avg_pool3d(x, (4, 2, 2)).flatten(1)
        return logits, logits[:, :8]


@pytest.fixture
def small(monkeypatch):
    """is-tgan17 and fvd-stylegan-v at sizes the tiny store holds, their networks cheap."""
    monkeypatch.setitem(protos.PROTOCOLS, "is-tgan17", dataclasses.replace(
        protos.PROTOCOLS["is-tgan17"], num_fake=6, num_real=5, repeats=2, seeds=(0, 1)))
    monkeypatch.setitem(protos.PROTOCOLS, "fvd-stylegan-v", dataclasses.replace(
        protos.PROTOCOLS["fvd-stylegan-v"], num_fake=4, num_real=4))
    monkeypatch.setitem(protos.PROTOCOLS, "fvd-tf", dataclasses.replace(
        protos.PROTOCOLS["fvd-tf"], num_fake=4, num_real=4))
    monkeypatch.setattr(features, "load_any_c3d", lambda path: CheapC3D())
    monkeypatch.setattr(features, "load_i3d", lambda weights, cache: CheapI3D())


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_is_tgan17_repeats_follow_the_protocol(setup, small):
    root, store = setup
    from provgan.train.checkpoint import load_sampler

    tg = load_sampler(root / "run")
    opts = EvalOptions(metrics=("is",), num=4, batch=4, seed=3, protocol="is-tgan17", c3d=str(root / "c3d.npz"),
                       c3d_mean_clip=str(root / "mean2.npz"))
    m = evaluate_generator(tg, store, opts)
    p, mean = protos.get_protocol("is-tgan17"), protos.load_mean_clip(root / "mean2.npz")
    model, scores = CheapC3D(), []
    for r, seed in enumerate(p.seeds):  # repeat r: latents 3 + r*6 + i, dropout masks from seed r
        model.dropout_generator = torch.Generator().manual_seed(seed)
        fake = tg.sample(tg.latents(range(3 + r * 6, 3 + r * 6 + 6)))
        with torch.no_grad():
            logits = torch.cat([model(protos.prepare(p, x, mean=mean))[0] for x in fake.split(4)])
        scores.append(inception_score(_softmax(logits.numpy()), 1)[0])
    assert m["is_repeats"] == 2
    assert m["is"] == pytest.approx(np.mean(scores), rel=1e-5)
    assert m["is_std"] == pytest.approx(np.std(scores), rel=1e-4, abs=1e-7)
    assert m["is_best"] == pytest.approx(max(scores), rel=1e-5)
    assert np.isfinite(m["is_real"])


def test_cli_protocol_cards_round_trip(setup, small, capsys):
    root, store = setup
    main(["evaluate", str(root / "run"), "--data", str(root / "store"), "--metrics", "is,fvd",
          "--protocol", "is-tgan17,fvd-stylegan-v", "--c3d", str(root / "c3d.npz"), "--c3d-mean",
          str(root / "mean2.npz"), "--num", "4", "--batch", "3"])
    out = capsys.readouterr().out
    assert "protocol is-tgan17" in out and "protocol fvd-stylegan-v" in out
    record = json.loads((root / "run" / "metrics-000003.json").read_text())
    cards = record["protocol_cards"]
    assert protos.Protocol.from_dict(cards["is"]["protocol"]) == protos.get_protocol("is-tgan17")
    assert protos.Protocol.from_dict(cards["fvd"]["protocol"]) == protos.get_protocol("fvd-stylegan-v")
    assert cards["is"]["files"]["weights"]["sha256"] == protos.file_sha256(root / "c3d.npz")
    assert cards["is"]["files"]["mean_clip"]["sha256"] == protos.file_sha256(root / "mean2.npz")
    assert (cards["fvd"]["num_fake"], cards["fvd"]["num_real"], cards["is"]["num_fake"]) == (4, 4, 6)
    assert cards["fvd"]["provgan_version"] and cards["is"]["precision"] == "fp32"

    # FVD under fvd-stylegan-v by hand: real rows of the seed-0 permutation, each a random 8-frame
    # clip stretched to 16 (8 < 16: nearest repeats), fakes quantised
    from provgan.train.checkpoint import load_sampler

    tg = load_sampler(root / "run")
    p = protos.get_protocol("fvd-stylegan-v")
    real = torch.from_numpy(np.asarray(store.level((8, 16, 16))[real_indices(40, 4, 0)]))
    real = real.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
    fake = tg.sample(tg.latents(range(4)))
    net = CheapI3D()
    with torch.no_grad():
        fr = net(protos.prepare(p, real, real=True))[0].numpy()
        ff = net(protos.prepare(p, fake))[0].numpy()
    assert record["metrics"]["fvd"] == pytest.approx(frechet_distance_of(fr, ff), rel=1e-4)


def test_default_evaluation_carries_a_card_too(setup, small, monkeypatch):
    root, store = setup
    from provgan.metrics.evaluate import EvalOptions, load_evaluation, run_evaluation

    job = load_evaluation(root / "run", root / "store", EvalOptions(metrics=("fvd",), num=4, batch=4))
    record, _ = run_evaluation(job)
    card = record["protocol_cards"]["fvd"]
    assert protos.Protocol.from_dict(card["protocol"]).name == "provgan-fvd" and card["num_real"] == 4


def test_protocol_errors_are_one_line(setup, small, capsys):
    root, _ = setup
    run, store = str(root / "run"), str(root / "store")
    for args, words in ((["--protocol", "fvd-tf", "--metrics", "fvd"], "at least 9"),
                        (["--protocol", "is-tgan17", "--metrics", "is"], "--c3d"),
                        (["--protocol", "is-tgan17", "--metrics", "is", "--c3d", str(root / "c3d.npz")], "mean2"),
                        (["--protocol", "is-tganv2", "--metrics", "is", "--c3d", str(root / "c3d.npz"),
                          "--c3d-mean", str(root / "mean2.npz")], "2048 real clips"),
                        (["--protocol", "nope"], "unknown protocol")):
        with pytest.raises(SystemExit):
            main(["evaluate", run, "--data", store, "--num", "4", *args])
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and words in err, err


def test_list_protocols(capsys):
    main(["evaluate", "--list-protocols"])  # no checkpoint needed; exit status 0
    out = capsys.readouterr().out
    assert all(name in out for name in protos.PROTOCOLS) and "9984 fake" in out


def test_a_networks_real_set_does_not_depend_on_the_others(setup, small):
    """fvd-stylegan-v's 4 real clips are the same whether or not is-tgan17 (5 real) runs beside it."""
    root, store = setup
    from provgan.train.checkpoint import load_sampler

    tg = load_sampler(root / "run")
    common = dict(num=4, batch=4, c3d=str(root / "c3d.npz"), c3d_mean_clip=str(root / "mean2.npz"))
    alone = evaluate_generator(tg, store, EvalOptions(metrics=("fvd",), protocol="fvd-stylegan-v", **common))
    both = evaluate_generator(tg, store, EvalOptions(metrics=("fvd", "is"), protocol="fvd-stylegan-v,is-tgan17",
                                                     **common))
    assert both["fvd"] == pytest.approx(alone["fvd"], rel=1e-9)


def test_conditional_generators_get_their_labels(setup, small):
    """A generator with labels_for (class-conditional) samples every clip, IS repeats included, with them."""
    root, store = setup
    from provgan.train.checkpoint import load_sampler

    tg, seen = load_sampler(root / "run"), []

    class Conditional:
        clip_shape, path, kimg = tg.clip_shape, tg.path, tg.kimg

        def labels_for(self, seeds):
            return torch.tensor([s % 3 for s in seeds])

        def latents(self, seeds):
            return tg.latents(seeds)

        def sample(self, z, labels=None):
            seen.extend(labels.tolist())
            return tg.sample(z)

    opts = EvalOptions(metrics=("is",), num=4, batch=4, protocol="is-tgan17", c3d=str(root / "c3d.npz"),
                       c3d_mean_clip=str(root / "mean2.npz"))
    evaluate_generator(Conditional(), store, opts)
    assert seen == [s % 3 for s in range(12)]  # 2 repeats x 6 clips: latent seeds 0 .. 11
