"""The classes of a class-conditional run: which label factor of the store, how many, their names.

``data.label`` names one factor of the store's labels (e.g. ``digit``; the store encodes labels in
mixed radix, first factor major, e.g. ``digit * 4 + motion``), or is empty for the whole label (every
factor combined). A conditional model has ``model.num_classes`` equal to that factor's size: taken
from the store when the config leaves it at 0, checked against the store when it is set, and saved
in the checkpoint's config with the class names, so ``provgan generate --class 3`` can say what it
draws and a checkpoint never meets a store whose classes differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from provgan.config import Config
from provgan.errors import ProvganError
from provgan.metrics.coverage import label_factor


@dataclass(frozen=True)
class ClassMap:
    """Store labels -> class indices of one factor (``factor`` -1: the whole label)."""

    sizes: tuple[int, ...]
    factor: int
    names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def index(self, labels: np.ndarray) -> np.ndarray:
        """Encoded store labels (N,) -> class indices (N,) in [0, num_classes)."""
        labels = np.asarray(labels, dtype=np.int64)
        if self.factor < 0:
            return labels
        below = int(np.prod(self.sizes[self.factor + 1:], dtype=np.int64))
        return (labels // below) % self.sizes[self.factor]


def class_map(store, factor_name: str) -> ClassMap:
    """The classes of ``store`` on the factor ``factor_name`` (``data.label``); one clear error if none."""
    if store.labels is None:
        raise ProvganError(f"model.conditional needs labelled clips, but store {store.path} has no labels "
                           f"(prepare it with labels, or train unconditionally)")
    try:
        sizes, factor = label_factor(store.label_names, factor_name)
    except ValueError as exc:
        raise ProvganError(f"data.label: {exc}") from None
    if not sizes:  # labels without names: the classes are the label values seen
        count = int(store.labels.max()) + 1 if len(store.labels) else 0
        return ClassMap((count,), -1, tuple(str(i) for i in range(count)))
    keys = list(store.label_names)
    if factor >= 0:
        names = tuple(store.label_names[keys[factor]])
    else:
        grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
        flat = [g.reshape(-1) for g in grids]
        names = tuple(" x ".join(store.label_names[k][int(f[i])] for k, f in zip(keys, flat))
                      for i in range(int(np.prod(sizes))))
    return ClassMap(tuple(sizes), factor, names)


def with_classes(cfg: Config, classes: ClassMap) -> Config:
    """``cfg`` with ``model.num_classes`` resolved from the store (or checked against it)."""
    if not cfg.model.conditional:
        return cfg
    given = cfg.model.num_classes
    if given and given != classes.num_classes:
        raise ProvganError(f"model.num_classes is {given} but data.label='{cfg.data.label}' of the store has "
                           f"{classes.num_classes} classes; leave model.num_classes at 0 to take the store's")
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_classes=classes.num_classes))


def with_pixel_mean(cfg: Config, store) -> Config:
    """``cfg`` with ``model.pixel_mean`` taken from ``store`` when ``data.center`` asks for it and the
    config leaves it empty (a progressive model only: the baselines keep their tanh outputs)."""
    if not cfg.data.center or cfg.model.pixel_mean or cfg.model.arch != "progressive":
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pixel_mean=store.pixel_mean()))
